package run

import (
	"fmt"

	"ssl"
	"ssl/backbone"
	"ssl/losses"
)

// Queue is a losses.Queue whose contents and write position are
// checkpointable state: Rows mirrors the queue's storage row for row and
// Pos holds [write position, rows stored], so that a run resumed from a
// checkpoint sees the same negatives in the same storage order (the losses'
// sums run in that order) as the uninterrupted run.
type Queue struct {
	*losses.Queue
	Rows *backbone.Param // N×D, the storage
	Pos  *backbone.Param // [write position, rows stored]
	n, d int
}

// NewQueue returns an empty queue of n rows of dimension d whose state is
// saved under name+".rows" and name+".pos".
func NewQueue(name string, n, d int) (*Queue, error) {
	q, err := losses.NewQueue(n, d)
	if err != nil {
		return nil, err
	}
	return &Queue{
		Queue: q,
		Rows:  &backbone.Param{Name: name + ".rows", Value: ssl.New(n, d)},
		Pos:   &backbone.Param{Name: name + ".pos", Value: ssl.New(2)},
		n:     n, d: d,
	}, nil
}

// Params returns the queue's state for State.Extra.
func (q *Queue) Params() []*backbone.Param { return []*backbone.Param{q.Rows, q.Pos} }

// Push stores the B×D rows of keys as losses.Queue.Push does and mirrors
// them into Rows and Pos.
func (q *Queue) Push(keys ssl.Tensor) error {
	if err := q.Queue.Push(keys); err != nil {
		return err
	}
	_, _, kv, _ := ssl.Matrix(keys) // checked by Push
	b := len(kv) / q.d
	if b > q.n {
		kv, b = kv[(b-q.n)*q.d:], q.n
	}
	rows, pos := q.Rows.Data(), q.Pos.Data()
	head, size := int(pos[0]), int(pos[1])
	for b > 0 {
		w := min(b, q.n-head)
		copy(rows[head*q.d:(head+w)*q.d], kv[:w*q.d])
		kv, b = kv[w*q.d:], b-w
		head = (head + w) % q.n
		size = min(q.n, size+w)
	}
	pos[0], pos[1] = float32(head), float32(size)
	return nil
}

// Reload rebuilds the queue from Rows and Pos, as a checkpoint restored
// them: call it once after NewTrainer (it is a no-op on a fresh run).
func (q *Queue) Reload() error {
	rows, pos := q.Rows.Data(), q.Pos.Data()
	head, size := int(pos[0]), int(pos[1])
	if head < 0 || head >= q.n || size < 0 || size > q.n || (size < q.n && head != size) {
		return fmt.Errorf("run: Queue.Reload: %s holds position %d and %d rows, capacity %d", q.Pos.Name, head, size, q.n)
	}
	q.Queue.Reset()
	if size < q.n {
		if size == 0 {
			return nil
		}
		return q.Queue.Push(ssl.FromSlice(rows[:size*q.d], size, q.d))
	}
	// Full: advance the write position to head, then write every row in
	// storage order from there, which leaves the position at head again.
	if head > 0 {
		if err := q.Queue.Push(ssl.FromSlice(rows[:head*q.d], head, q.d)); err != nil {
			return err
		}
	}
	if err := q.Queue.Push(ssl.FromSlice(rows[head*q.d:], q.n-head, q.d)); err != nil {
		return err
	}
	if head > 0 {
		return q.Queue.Push(ssl.FromSlice(rows[:head*q.d], head, q.d))
	}
	return nil
}

// SetFrozen freezes or unfreezes parameters: the optimisers skip a frozen
// one entirely (no update, no weight decay, no momentum), as PyTorch skips a
// parameter without a gradient. Methods that train different heads in
// different phases freeze the idle ones.
func SetFrozen(ps []*backbone.Param, frozen bool) {
	for _, p := range ps {
		p.Frozen = frozen
	}
}

// Scale multiplies every element of t by s (a loss term's weight on its
// gradient).
func Scale(t ssl.Tensor, s float32) {
	_, d, _ := ssl.View(t)
	for i := range d {
		d[i] *= s
	}
}

// Add adds src into dst elementwise (gradients of one tensor from two
// heads); the two must have the same size.
func Add(dst, src ssl.Tensor) {
	_, d, _ := ssl.View(dst)
	_, s, _ := ssl.View(src)
	for i := range d {
		d[i] += s[i]
	}
}
