package run

import (
	"fmt"
	"math/rand/v2"

	"ssl"
	"ssl/backbone"
	"ssl/internal/kernel"
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

// Encoder returns ConvNet3 and the network ConvNet3 → projection MLP
// (128→256→BN→ReLU→dim), the encoder of the contrastive methods, named
// name, initialised from rng.
func Encoder(name string, dim int, rng *rand.Rand) (*backbone.ConvNet3, *backbone.Sequential, error) {
	net, err := backbone.NewConvNet3(rng, nil)
	if err != nil {
		return nil, nil, err
	}
	proj, err := backbone.NewMLP("projection", 128, 256, dim, rng)
	if err != nil {
		return nil, nil, err
	}
	return net, backbone.NewSequential(name, net, proj), nil
}

// Forward runs l in training mode on each view x[v] into y[v], recording
// the pass in ws[v] for Backward.
func Forward(l backbone.Layer, ws []*backbone.Workspace, y, x []ssl.Tensor) error {
	for v := range x {
		if err := l.Forward(ws[v], y[v], x[v], true); err != nil {
			return err
		}
	}
	return nil
}

// Backward carries each view's gradient dy[v] back through the pass
// recorded in ws[v], accumulating the parameters' gradients.
func Backward(l backbone.Layer, ws []*backbone.Workspace, dy []ssl.Tensor) error {
	for v := range dy {
		if err := l.Backward(ws[v], nil, dy[v]); err != nil {
			return err
		}
	}
	return nil
}

// Workspaces returns n fresh workspaces, one per view.
func Workspaces(n int) []*backbone.Workspace {
	ws := make([]*backbone.Workspace, n)
	for i := range ws {
		ws[i] = backbone.NewWorkspace()
	}
	return ws
}

// Tensors returns n tensors of the given shape, one per view.
func Tensors(n int, shape ...int) []ssl.Tensor {
	ts := make([]ssl.Tensor, n)
	for i := range ts {
		ts[i] = ssl.New(shape...)
	}
	return ts
}

// Unit writes the rows of the matrix src scaled to unit L2 norm into dst
// (nil allocates) and returns dst: what MoCo pushes on its queue and what
// PCL clusters.
func Unit(dst, src ssl.Tensor) (ssl.Tensor, error) {
	rows, cols, s, err := ssl.Matrix(src)
	if err != nil {
		return nil, err
	}
	if dst == nil {
		dst = ssl.New(rows, cols)
	}
	_, d, err := ssl.View(dst)
	if err != nil || len(d) != len(s) {
		return nil, fmt.Errorf("run: Unit: dst does not match the %d×%d source: %w", rows, cols, ssl.ErrShape)
	}
	kernel.L2NormalizeRows(d, nil, s, rows, cols, 1e-12)
	return dst, nil
}
