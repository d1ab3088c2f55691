package backbone

import (
	"fmt"
	"reflect"

	"gorgonia.org/tensor"

	"ssl"
	"ssl/internal/kernel"
)

// Layer is a network or one of its layers: a function of a batch with a
// hand-written backward pass. Every layer of the package implements it,
// [Sequential] chains any of them, and a program writes its own by
// implementing these five methods (see "Writing a layer" in the package
// documentation).
//
// Forward checks its arguments, writes the output for the input x into dst
// (whose shape OutShape gives) and records in ws what Backward needs; train
// selects training mode (batch statistics in batch normalization). Backward
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
}

// builtin is implemented by the package's own layers: the passes on
// already-checked slices that [Sequential] and [BasicBlock] chain without
// checking every intermediate activation again.
type builtin interface {
	Layer
	label() string
	forward(ws *Workspace, dst, x []float32, shape []int, train bool) error
	backward(ws *Workspace, dx, dy []float32) error
}

// asBuiltin returns l's unchecked passes if l is one of the package's own
// layer types. It selects by concrete type, not by method set: a program's
// type that embeds a built-in layer is not one of them, so Sequential calls
// its exported Forward and Backward, overridden or promoted.
func asBuiltin(l Layer) (builtin, bool) {
	switch l.(type) {
	case *Conv2D, *BatchNorm, *Linear, *Prototypes, *ReLU, *L2Normalize,
		*MaxPool2D, *GlobalAvgPool, *BasicBlock, *Sequential, *MLP, *ConvNet3, *ResNet18:
		b, ok := l.(builtin)
		return b, ok
	}
	return nil, false
}

// labelOf names l in error messages.
func labelOf(l Layer) string {
	if b, ok := asBuiltin(l); ok {
		return b.label()
	}
	return fmt.Sprintf("%T", l)
}

// sameLayer reports whether a and b are the same layer, without the panic
// of == on two values of one non-comparable type (which it reports as the
// same when their types match).
func sameLayer(a, b Layer) bool {
	if a == nil || b == nil {
		return false
	}
	ta := reflect.TypeOf(a)
	if ta != reflect.TypeOf(b) {
		return false
	}
	if !ta.Comparable() {
		return true
	}
	return a == b
}

// Workspace records what one forward pass of a [Layer] saves for its
// backward pass (references to the input and the intermediate activations,
// batch statistics) and the scratch memory both reuse. The zero value is
// ready to use; it grows on first use. One workspace holds one forward pass
// at a time and is not safe for concurrent use.
//
// A layer written outside the package records its forward pass with
// [Workspace.Save] and finds it again with [Workspace.Saved]; it keeps
// vectors from Forward to Backward in [Workspace.Scratch] and gives each of
// its sub-layers a workspace of its own with [Workspace.Child].
type Workspace struct {
	owner    Layer
	x        []float32
	shape    []int
	outShape []int
	train    bool

	saved   [][]float32 // per-layer saved vectors (statistics, norms); Scratch
	idx     []int32     // saved indices (max-pooling argmax)
	count   float64     // a synchronized BatchNorm's global count per channel
	kids    []*Workspace
	tensors []ssl.Tensor // Save

	// Sequential: intermediate activations, two gradient buffers, and the
	// tensor views handed to layers that are not built in.
	acts   [][]float32
	shapes [][]int
	g      [2][]float32
	views  []*tensor.Dense
}

// NewWorkspace returns an empty workspace; new(Workspace) is the same.
func NewWorkspace() *Workspace { return new(Workspace) }

// Save records in ws that it now holds the forward pass of l, with the
// tensors ts (typically the input x, and any output or intermediate that
// Backward needs). ws keeps the references, not copies: the tensors must
// not change before Backward. Save replaces what ws held before, so a
// layer calls it once per Forward, after checking its arguments.
func (ws *Workspace) Save(l Layer, ts ...ssl.Tensor) {
	ws.owner = l
	ws.x, ws.shape, ws.outShape = nil, ws.shape[:0], ws.outShape[:0]
	ws.tensors = append(ws.tensors[:0], ts...)
}

// Saved returns the tensors that the last [Workspace.Save] of l recorded, in
// the order given. It returns an error wrapping ssl.ErrParam if ws is nil
// or holds no forward pass of l (Backward before Forward, or a workspace
// that another layer has used since). The slice is ws's own: read it, do
// not keep it.
func (ws *Workspace) Saved(l Layer) ([]ssl.Tensor, error) {
	if ws == nil || !sameLayer(ws.owner, l) {
		return nil, fmt.Errorf("backbone: %s.Backward: the workspace holds no forward pass of this layer: %w", labelOf(l), ssl.ErrParam)
	}
	return ws.tensors, nil
}

// Scratch returns ws's i-th scratch vector (i ≥ 0) resized to n elements:
// memory that a layer fills in Forward and reads in Backward (norms, masks,
// statistics), reused from one forward pass to the next. Its contents are
// what the layer last wrote there when the size is unchanged and
// unspecified after a resize.
func (ws *Workspace) Scratch(i, n int) []float32 { return ws.vec(i, n) }

// Child returns ws's i-th child workspace (i ≥ 0), created on first use: a
// layer that runs sub-layers gives each of them its own.
func (ws *Workspace) Child(i int) *Workspace { return ws.kid(i) }

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

// view returns the i-th cached tensor over data with the given shape,
// making a new one only when the storage or the shape has changed, so that a
// warmed-up pass allocates nothing.
func (ws *Workspace) view(i int, data []float32, shape []int) ssl.Tensor {
	for len(ws.views) <= i {
		ws.views = append(ws.views, nil)
	}
	v := ws.views[i]
	if v == nil || !sameInts(v.Shape(), shape) || !sameStorage(v.Float32s(), data) {
		v = ssl.FromSlice(data, shape...)
		ws.views[i] = v
	}
	return v
}

func sameStorage(a, b []float32) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0])
}

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// runForward is the checked Forward shared by every built-in layer.
func runForward(l builtin, ws *Workspace, dst, x ssl.Tensor, train bool) error {
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

// runBackward is the checked Backward shared by every built-in layer.
func runBackward(l builtin, ws *Workspace, dx, dy ssl.Tensor) error {
	fn := l.label() + ".Backward"
	if ws == nil || ws.x == nil || !sameLayer(ws.owner, l) {
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
// The layers may be the package's or a program's own: a built-in layer runs
// on the intermediate activations directly, any other [Layer] through its
// Forward and Backward on tensors that view them.
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
		if l == nil {
			return nil, fmt.Errorf("%s: a layer is nil: %w", s.label(), ssl.ErrParam)
		}
		out, err := l.OutShape(cur)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", labelOf(l), err)
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

// Tensor views of a Sequential's workspace, four per layer.
const (
	viewX = iota
	viewOut
	viewDy
	viewDx
	viewsPerLayer
)

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
			return fmt.Errorf("backbone: %s: %s: %w", s.label(), labelOf(l), err)
		}
		ws.shapes[i] = append(ws.shapes[i][:0], out...)
		o := dst
		if i < n-1 {
			ws.acts[i] = grow(ws.acts[i], numel(out))
			o = ws.acts[i]
		}
		kid := ws.kid(i)
		if b, ok := asBuiltin(l); ok {
			kid.begin(l, cur, curShape, ws.shapes[i], train)
			err = b.forward(kid, o, cur, curShape, train)
		} else {
			v := viewsPerLayer * i
			err = l.Forward(kid, ws.view(v+viewOut, o, ws.shapes[i]), ws.view(v+viewX, cur, curShape), train)
			if err != nil {
				err = fmt.Errorf("backbone: %s: layer %d: %w", s.label(), i, err)
			}
		}
		if err != nil {
			return err
		}
		cur, curShape = o, ws.shapes[i]
	}
	return nil
}

func (s *Sequential) backward(ws *Workspace, dx, dy []float32) error {
	g, k := dy, 0
	for i := len(s.Layers) - 1; i >= 0; i-- {
		l, kid := s.Layers[i], ws.kids[i]
		inShape := ws.shape
		if i > 0 {
			inShape = ws.shapes[i-1]
		}
		var d []float32
		if i == 0 {
			d = dx
		} else {
			ws.g[k] = grow(ws.g[k], numel(inShape))
			d = ws.g[k]
			k = 1 - k
		}
		var err error
		if b, ok := asBuiltin(l); ok {
			err = b.backward(kid, d, g)
		} else {
			v := viewsPerLayer * i
			var dt ssl.Tensor // nil, not a nil *tensor.Dense, when d is skipped
			if d != nil {
				dt = ws.view(v+viewDx, d, inShape)
			}
			if err = l.Backward(kid, dt, ws.view(v+viewDy, g, ws.shapes[i])); err != nil {
				err = fmt.Errorf("backbone: %s: layer %d: %w", s.label(), i, err)
			}
		}
		if err != nil {
			return err
		}
		g = d
	}
	return nil
}
