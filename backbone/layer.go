package backbone

import (
	"fmt"

	"ssl"
	"ssl/internal/kernel"
)

// Layer is a network or one of its layers: a function of a batch with a
// hand-written backward pass. Every layer of the package implements it, and
// [Sequential] chains them.
//
// Forward checks its arguments, writes the output for the input x into dst
// (whose shape OutShape gives) and records in ws what Backward needs; train
// selects training mode (batch statistics in batch normalisation). Backward
// takes the gradient dy of the output of the forward pass recorded in ws,
// adds the parameter gradients into [Param].Grad and overwrites dx (of x's
// shape) with the gradient of the input; a nil dx is skipped. Neither
// modifies x or dy. See the package documentation for the conventions.
type Layer interface {
	// Params returns the trainable parameters, in a fixed order.
	Params() []*Param
	// Buffers returns the non-trainable state (running statistics).
	Buffers() []*Param
	// OutShape returns the output shape for an input of shape in, or an
	// error wrapping ssl.ErrShape if the layer does not accept it.
	OutShape(in []int) ([]int, error)
	// Forward runs the layer on x, writing dst.
	Forward(ws *Workspace, dst, x ssl.Tensor, train bool) error
	// Backward carries dy back through the forward pass recorded in ws.
	Backward(ws *Workspace, dx, dy ssl.Tensor) error

	label() string
	forward(ws *Workspace, dst, x []float32, shape []int, train bool) error
	backward(ws *Workspace, dx, dy []float32) error
}

// Workspace records what one forward pass of a [Layer] saves for its
// backward pass (references to the input and the intermediate activations,
// batch statistics) and the scratch memory both reuse. The zero value is
// ready to use; it grows on first use. One workspace holds one forward pass
// at a time and is not safe for concurrent use.
type Workspace struct {
	owner    Layer
	x        []float32
	shape    []int
	outShape []int
	train    bool

	saved [][]float32 // per-layer saved vectors (statistics, norms)
	idx   []int32     // saved indices (max-pooling argmax)
	kids  []*Workspace

	// Sequential: intermediate activations and two gradient buffers.
	acts   [][]float32
	shapes [][]int
	g      [2][]float32
}

// NewWorkspace returns an empty workspace; new(Workspace) is the same.
func NewWorkspace() *Workspace { return new(Workspace) }

// begin records the forward pass of l on x in ws.
func (ws *Workspace) begin(l Layer, x []float32, shape, out []int, train bool) {
	ws.owner, ws.x, ws.train = l, x, train
	ws.shape = append(ws.shape[:0], shape...)
	ws.outShape = append(ws.outShape[:0], out...)
}

// kid returns the i-th child workspace, creating it if needed.
func (ws *Workspace) kid(i int) *Workspace {
	for len(ws.kids) <= i {
		ws.kids = append(ws.kids, new(Workspace))
	}
	return ws.kids[i]
}

// vec returns the i-th saved vector resized to n.
func (ws *Workspace) vec(i, n int) []float32 {
	for len(ws.saved) <= i {
		ws.saved = append(ws.saved, nil)
	}
	ws.saved[i] = grow(ws.saved[i], n)
	return ws.saved[i]
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// runForward is the checked Forward shared by every layer.
func runForward(l Layer, ws *Workspace, dst, x ssl.Tensor, train bool) error {
	fn := l.label() + ".Forward"
	if ws == nil {
		return fmt.Errorf("backbone: %s: workspace is nil: %w", fn, ssl.ErrParam)
	}
	shape, xv, err := ssl.View(x)
	if err != nil {
		return fmt.Errorf("backbone: %s: x: %w", fn, err)
	}
	if shape[0] == 0 {
		return fmt.Errorf("backbone: %s: x: batch of 0 (shape %v): %w", fn, shape, ssl.ErrShape)
	}
	out, err := l.OutShape(shape)
	if err != nil {
		return fmt.Errorf("backbone: %s: x: %w", fn, err)
	}
	dv, err := ssl.ViewOf(dst, out...)
	if err != nil {
		return fmt.Errorf("backbone: %s: dst: %w", fn, err)
	}
	if kernel.Overlaps(dv, xv) {
		return fmt.Errorf("backbone: %s: dst aliases x: %w", fn, ssl.ErrShape)
	}
	if err := checkFinite(fn, "x", xv); err != nil {
		return err
	}
	ws.begin(l, xv, shape, out, train)
	if err := l.forward(ws, dv, xv, shape, train); err != nil {
		ws.owner = nil
		return err
	}
	if !kernel.AllFinite(dv) {
		ws.owner = nil
		return fmt.Errorf("backbone: %s: output is not finite (a parameter is not finite or the activations overflowed): %w", fn, ssl.ErrNotFinite)
	}
	return nil
}

// runBackward is the checked Backward shared by every layer.
func runBackward(l Layer, ws *Workspace, dx, dy ssl.Tensor) error {
	fn := l.label() + ".Backward"
	if ws == nil || ws.owner != l {
		return fmt.Errorf("backbone: %s: the workspace holds no forward pass of this layer: %w", fn, ssl.ErrParam)
	}
	dyv, err := ssl.ViewOf(dy, ws.outShape...)
	if err != nil {
		return fmt.Errorf("backbone: %s: dy: %w", fn, err)
	}
	var dxv []float32
	if dx != nil {
		if dxv, err = ssl.ViewOf(dx, ws.shape...); err != nil {
			return fmt.Errorf("backbone: %s: dx: %w", fn, err)
		}
		if kernel.Overlaps(dxv, dyv) || kernel.Overlaps(dxv, ws.x) {
			return fmt.Errorf("backbone: %s: dx aliases dy or x: %w", fn, ssl.ErrShape)
		}
	}
	if err := checkFinite(fn, "dy", dyv); err != nil {
		return err
	}
	return l.backward(ws, dxv, dyv)
}

// Sequential chains layers: the output of each is the input of the next.
type Sequential struct {
	Layers []Layer
	Name   string // used in error messages
}

// NewSequential returns the chain of the given layers.
func NewSequential(name string, layers ...Layer) *Sequential {
	return &Sequential{Layers: layers, Name: name}
}

func (s *Sequential) label() string { return "Sequential(" + s.Name + ")" }

// Params returns the parameters of every layer, in order.
func (s *Sequential) Params() []*Param {
	var ps []*Param
	for _, l := range s.Layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// Buffers returns the buffers of every layer, in order.
func (s *Sequential) Buffers() []*Param {
	var ps []*Param
	for _, l := range s.Layers {
		ps = append(ps, l.Buffers()...)
	}
	return ps
}

// OutShape chains the layers' output shapes.
func (s *Sequential) OutShape(in []int) ([]int, error) {
	cur := in
	for _, l := range s.Layers {
		out, err := l.OutShape(cur)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", l.label(), err)
		}
		cur = out
	}
	return cur, nil
}

// Forward runs the layers in order; see [Layer].
func (s *Sequential) Forward(ws *Workspace, dst, x ssl.Tensor, train bool) error {
	return runForward(s, ws, dst, x, train)
}

// Backward runs the layers' backward passes in reverse order; see [Layer].
func (s *Sequential) Backward(ws *Workspace, dx, dy ssl.Tensor) error {
	return runBackward(s, ws, dx, dy)
}

func (s *Sequential) forward(ws *Workspace, dst, x []float32, shape []int, train bool) error {
	n := len(s.Layers)
	for len(ws.acts) < n {
		ws.acts = append(ws.acts, nil)
		ws.shapes = append(ws.shapes, nil)
	}
	cur, curShape := x, shape
	for i, l := range s.Layers {
		out, err := l.OutShape(curShape)
		if err != nil {
			return fmt.Errorf("backbone: %s: %s: %w", s.label(), l.label(), err)
		}
		ws.shapes[i] = append(ws.shapes[i][:0], out...)
		o := dst
		if i < n-1 {
			ws.acts[i] = grow(ws.acts[i], numel(out))
			o = ws.acts[i]
		}
		kid := ws.kid(i)
		kid.begin(l, cur, curShape, ws.shapes[i], train)
		if err := l.forward(kid, o, cur, curShape, train); err != nil {
			return err
		}
		cur, curShape = o, ws.shapes[i]
	}
	return nil
}

func (s *Sequential) backward(ws *Workspace, dx, dy []float32) error {
	g, k := dy, 0
	for i := len(s.Layers) - 1; i >= 0; i-- {
		kid := ws.kids[i]
		var d []float32
		if i == 0 {
			d = dx
		} else {
			ws.g[k] = grow(ws.g[k], numel(kid.shape))
			d = ws.g[k]
			k = 1 - k
		}
		if err := s.Layers[i].backward(kid, d, g); err != nil {
			return err
		}
		g = d
	}
	return nil
}
