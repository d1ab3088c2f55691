package run

import (
	"math/rand/v2"

	"ssl"
	"ssl/backbone"
	"ssl/losses"
)

// Checkpointer is method state that a checkpoint holds beside the float32
// tensors of State.Extra: a queue with its position, pseudo-labels and
// neighbor lists as integers.
type Checkpointer interface {
	// Save stores the state in c under names that begin with prefix.
	Save(c *backbone.Checkpoint, prefix string) error
	// Load restores the state that Save stored under prefix.
	Load(c *backbone.Checkpoint, prefix string) error
}

// Queue is a losses.Queue that a checkpoint holds exactly: its rows in
// storage order (name+".keys", N×D float32) and its write position and fill
// (name+".head", name+".len"), so that a resumed run sees the same
// negatives in the same storage order (the losses' sums run in that order)
// as the uninterrupted run.
type Queue struct {
	*losses.Queue
	name string
}

// NewQueue returns an empty queue of n rows of dimension d, saved under
// name.
func NewQueue(name string, n, d int) (*Queue, error) {
	q, err := losses.NewQueue(n, d)
	if err != nil {
		return nil, err
	}
	return &Queue{Queue: q, name: name}, nil
}

// Save stores the queue's state in c.
func (q *Queue) Save(c *backbone.Checkpoint, prefix string) error {
	s := q.State()
	if err := c.SetFloat32(prefix+q.name+".keys", s.Keys); err != nil {
		return err
	}
	if err := c.SetInts(prefix+q.name+".head", []int{s.Head}); err != nil {
		return err
	}
	return c.SetInts(prefix+q.name+".len", []int{s.Len})
}

// Load restores the queue's state from c.
func (q *Queue) Load(c *backbone.Checkpoint, prefix string) error {
	name := prefix + q.name
	keys := ssl.New(q.Cap(), q.Dim())
	if err := c.Float32(keys, name+".keys"); err != nil {
		return err
	}
	head, err := c.Ints(name+".head", 1)
	if err != nil {
		return err
	}
	n, err := c.Ints(name+".len", 1)
	if err != nil {
		return err
	}
	return q.Restore(losses.QueueState{Keys: keys, Head: head[0], Len: n[0]})
}

// SetFrozen freezes or unfreezes parameters: the optimizers skip a frozen
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

// Copy copies src into dst elementwise (a batch's rows into a stacked
// matrix); the two must have the same size.
func Copy(dst, src ssl.Tensor) {
	_, d, _ := ssl.View(dst)
	_, s, _ := ssl.View(src)
	copy(d, s)
}

// Encoder returns ConvNet3 and the network ConvNet3 → projection MLP
// (128→256→BN→ReLU→dim), the encoder of the contrastive methods, named
// name, initialized from rng.
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
