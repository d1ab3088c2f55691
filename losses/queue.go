package losses

import (
	"fmt"

	"gorgonia.org/tensor"

	"ssl"
	"ssl/internal/kernel"
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
	if n < 1 || d < 1 {
		return nil, fmt.Errorf("losses: NewQueue: capacity and dimension must be ≥ 1 (n=%d, d=%d): %w", n, d, ssl.ErrParam)
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
// given: MoCo pushes its normalised keys k̂. keys is only read.
//
// It returns an error wrapping ssl.ErrShape if keys is not a matrix with D
// columns, and ssl.ErrNotFinite if a key is NaN or infinite (a poisoned
// queue would spoil every later loss); the queue is unchanged then.
func (q *Queue) Push(keys ssl.Tensor) error {
	b, d, kv, err := ssl.Matrix(keys)
	if err != nil {
		return fmt.Errorf("losses: Queue.Push: keys: %w", err)
	}
	if d != q.d {
		return contrastiveColsErr("Queue.Push", "keys", b, d, q.d)
	}
	if !kernel.AllFinite(kv) {
		return fmt.Errorf("losses: Queue.Push: keys hold NaN or Inf: %w", ssl.ErrNotFinite)
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
