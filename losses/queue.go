package losses

import (
	"gorgonia.org/tensor"

	"ssl"
	"ssl/internal/check"
)

// Queue is a ring buffer of N embeddings of dimension D: MoCo's queue of
// negative keys, the feature queue of SwAV, PCL's instance queue. It is a
// plain value the caller owns; it changes only through [Queue.Push] and
// [Queue.Reset], never as a side effect of a loss.
//
// Rows are stored in place: Push writes a batch at the write position and
// advances it modulo N, overwriting the oldest rows, as MoCo's
// _dequeue_and_enqueue does (queue[:, ptr:ptr+B] = keys.T; ptr = (ptr+B) % K)
// but without requiring N to be a multiple of B. The losses do not depend on
// the order of the negatives, so [Queue.Tensor] gives the stored rows in
// storage order. A Queue is not safe for concurrent use.
type Queue struct {
	data       []float32
	n, d       int
	head, size int
}

// NewQueue returns an empty queue of capacity n rows of dimension d. It
// returns an error wrapping ssl.ErrParam if n or d is less than 1.
func NewQueue(n, d int) (*Queue, error) {
	const fn = "losses: NewQueue"
	if err := check.Count(fn, "n", n, 1); err != nil {
		return nil, err
	}
	if err := check.Count(fn, "d", d, 1); err != nil {
		return nil, err
	}
	return &Queue{data: make([]float32, n*d), n: n, d: d}, nil
}

// Cap returns the capacity N.
func (q *Queue) Cap() int { return q.n }

// Dim returns the dimension D of a row.
func (q *Queue) Dim() int { return q.d }

// Len returns the number of rows stored, min(N, rows pushed since the last
// Reset).
func (q *Queue) Len() int { return q.size }

// Push stores the B×D rows of keys, overwriting the oldest rows once the
// queue is full; if B > N only the last N rows are kept. Rows are stored as
// given: MoCo pushes its normalized keys k̂. keys is only read.
//
// It returns an error wrapping ssl.ErrShape if keys is not a matrix with D
// columns, and ssl.ErrNotFinite if a key is NaN or infinite (a poisoned
// queue would spoil every later loss); the queue is unchanged then.
func (q *Queue) Push(keys ssl.Tensor) error {
	const fn = "losses: Queue.Push"
	b, d, kv, err := check.Matrix(fn, "keys", keys)
	if err != nil {
		return err
	}
	if d != q.d {
		return colsErr(fn, "keys", b, d, q.d)
	}
	if err := check.FiniteData(fn, "keys", kv, b, d); err != nil {
		return err
	}
	if b > q.n {
		kv = kv[(b-q.n)*d:]
		b = q.n
	}
	for b > 0 {
		w := min(b, q.n-q.head)
		copy(q.data[q.head*d:(q.head+w)*d], kv[:w*d])
		kv, b = kv[w*d:], b-w
		q.head = (q.head + w) % q.n
		q.size = min(q.n, q.size+w)
	}
	return nil
}

// Tensor returns the Len()×D stored rows as a tensor that aliases the
// queue's storage, in storage order: pass it as the queue argument of
// [InfoNCEQueue] or [ProtoNCE]. It stays valid until the next Push or
// Reset; do not write to it.
func (q *Queue) Tensor() *tensor.Dense {
	return ssl.FromSlice(q.data[:q.size*q.d:q.size*q.d], q.size, q.d)
}

// Reset empties the queue.
func (q *Queue) Reset() { q.head, q.size = 0, 0 }

// QueueState is the complete state of a [Queue], as plain values a
// checkpoint can store (the rows as a float32 tensor, the positions as
// integers): restoring it into a queue of the same capacity and dimension
// gives a queue that behaves identically, bit for bit.
type QueueState struct {
	// Keys is the N×D storage of the queue in storage order, all N rows
	// including those not filled yet (zero in a new queue).
	Keys ssl.Tensor
	// Head is the row the next Push writes first, in [0, N).
	Head int
	// Len is the number of rows filled, in [0, N]. While the queue is not
	// full (Len < N) rows fill in order from row 0, so Head == Len.
	Len int
}

// State returns a copy of the queue's state; the queue is unchanged and
// later pushes do not alter the copy.
func (q *Queue) State() QueueState {
	keys := ssl.New(q.n, q.d)
	copy(keys.Data().([]float32), q.data)
	return QueueState{Keys: keys, Head: q.head, Len: q.size}
}

// Restore replaces the queue's contents with s, as [Queue.State] returned
// it (for this queue or another of the same capacity and dimension). s is
// copied; the caller keeps it.
//
// It returns an error wrapping ssl.ErrShape if s.Keys is not N×D for this
// queue's capacity N and dimension D; ssl.ErrParam if s.Head is outside
// [0, N), s.Len outside [0, N], or s.Head ≠ s.Len while the queue is not
// full; ssl.ErrNotFinite if a key is NaN or infinite. The queue is
// unchanged then.
func (q *Queue) Restore(s QueueState) error {
	const fn = "losses: Queue.Restore"
	kv, err := check.MatrixOf(fn, "Keys", s.Keys, q.n, q.d)
	if err != nil {
		return err
	}
	if err := check.Within(fn, "Head", float64(s.Head), 0, float64(q.n-1)); err != nil {
		return err
	}
	if err := check.Within(fn, "Len", float64(s.Len), 0, float64(q.n)); err != nil {
		return err
	}
	if s.Len < q.n && s.Head != s.Len {
		return check.Errorf(fn, ssl.ErrParam, "Head must equal Len while the queue is not full (Head=%d, Len=%d, N=%d)", s.Head, s.Len, q.n)
	}
	if err := check.FiniteData(fn, "Keys", kv, q.n, q.d); err != nil {
		return err
	}
	copy(q.data, kv)
	q.head, q.size = s.Head, s.Len
	return nil
}
