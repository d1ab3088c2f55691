package backbone_test

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"ssl"
	"ssl/backbone"
	"ssl/internal/testutil"
)

// featureScale is a layer written with the exported API only: a learnable
// per-feature scale and shift of an N×D input, out = x·s + b, with
// ∂L/∂s_j = Σ_n dy_nj·x_nj, ∂L/∂b_j = Σ_n dy_nj and ∂L/∂x = dy·s.
type featureScale struct {
	D            int
	Scale, Shift *backbone.Param
}

func newFeatureScale(name string, d int) *featureScale {
	f := &featureScale{
		D:     d,
		Scale: &backbone.Param{Name: name + ".scale", Value: ssl.New(d), Grad: ssl.New(d)},
		Shift: &backbone.Param{Name: name + ".shift", Value: ssl.New(d), Grad: ssl.New(d)},
	}
	for j := range f.Scale.Data() {
		f.Scale.Data()[j] = 1 + 0.1*float32(j)
		f.Shift.Data()[j] = 0.05 * float32(j)
	}
	return f
}

func (f *featureScale) Params() []*backbone.Param  { return []*backbone.Param{f.Scale, f.Shift} }
func (f *featureScale) Buffers() []*backbone.Param { return nil }

func (f *featureScale) OutShape(in []int) ([]int, error) {
	if len(in) != 2 || in[1] != f.D {
		return nil, fmt.Errorf("featureScale: input shape %v, want N×%d: %w", in, f.D, ssl.ErrShape)
	}
	return []int{in[0], f.D}, nil
}

func (f *featureScale) Forward(ws *backbone.Workspace, dst, x ssl.Tensor, train bool) error {
	shape, xv, err := ssl.View(x)
	if err != nil {
		return fmt.Errorf("featureScale.Forward: x: %w", err)
	}
	if _, err := f.OutShape(shape); err != nil {
		return err
	}
	dv, err := ssl.ViewOf(dst, shape...)
	if err != nil {
		return fmt.Errorf("featureScale.Forward: dst: %w", err)
	}
	s, b := f.Scale.Data(), f.Shift.Data()
	for i, v := range xv {
		dv[i] = v*s[i%f.D] + b[i%f.D]
	}
	ws.Save(f, x)
	return nil
}

func (f *featureScale) Backward(ws *backbone.Workspace, dx, dy ssl.Tensor) error {
	saved, err := ws.Saved(f)
	if err != nil {
		return err
	}
	shape, xv, err := ssl.View(saved[0])
	if err != nil {
		return err
	}
	dyv, err := ssl.ViewOf(dy, shape...)
	if err != nil {
		return fmt.Errorf("featureScale.Backward: dy: %w", err)
	}
	gs, gb, s := f.Scale.GradData(), f.Shift.GradData(), f.Scale.Data()
	for i, g := range dyv {
		gs[i%f.D] += g * xv[i]
		gb[i%f.D] += g
	}
	if dx == nil {
		return nil
	}
	dxv, err := ssl.ViewOf(dx, shape...)
	if err != nil {
		return fmt.Errorf("featureScale.Backward: dx: %w", err)
	}
	for i, g := range dyv {
		dxv[i] = g * s[i%f.D]
	}
	return nil
}

// residual is a composite layer written with the exported API: out = x +
// inner(x). It runs inner in a child workspace and keeps inner's output and
// gradient in the workspace's scratch vectors.
type residual struct{ inner backbone.Layer }

func (r *residual) Params() []*backbone.Param        { return r.inner.Params() }
func (r *residual) Buffers() []*backbone.Param       { return r.inner.Buffers() }
func (r *residual) OutShape(in []int) ([]int, error) { return r.inner.OutShape(in) }

func (r *residual) Forward(ws *backbone.Workspace, dst, x ssl.Tensor, train bool) error {
	shape, xv, err := ssl.View(x)
	if err != nil {
		return err
	}
	dv, err := ssl.ViewOf(dst, shape...)
	if err != nil {
		return err
	}
	h := ws.Scratch(0, len(xv))
	if err := r.inner.Forward(ws.Child(0), ssl.FromSlice(h, shape...), x, train); err != nil {
		return err
	}
	for i := range dv {
		dv[i] = xv[i] + h[i]
	}
	ws.Save(r, x)
	return nil
}

func (r *residual) Backward(ws *backbone.Workspace, dx, dy ssl.Tensor) error {
	saved, err := ws.Saved(r)
	if err != nil {
		return err
	}
	shape := []int(saved[0].Shape())
	dyv, err := ssl.ViewOf(dy, shape...)
	if err != nil {
		return err
	}
	if dx == nil {
		return r.inner.Backward(ws.Child(0), nil, dy)
	}
	dxv, err := ssl.ViewOf(dx, shape...)
	if err != nil {
		return err
	}
	g := ws.Scratch(1, len(dyv))
	if err := r.inner.Backward(ws.Child(0), ssl.FromSlice(g, shape...), dy); err != nil {
		return err
	}
	for i := range dxv {
		dxv[i] = dyv[i] + g[i]
	}
	return nil
}

// customNet chains built-in layers with the two layers above.
func customNet(t *testing.T) (*backbone.Sequential, *featureScale) {
	t.Helper()
	rng := testutil.Rand(11)
	l1, err := backbone.NewLinear("fc1", 4, 6, true, rng)
	if err != nil {
		t.Fatal(err)
	}
	inner, err := backbone.NewLinear("res.fc", 6, 6, true, rng)
	if err != nil {
		t.Fatal(err)
	}
	bn, err := backbone.NewBatchNorm("bn", 6, nil)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := backbone.NewLinear("fc2", 6, 3, true, rng)
	if err != nil {
		t.Fatal(err)
	}
	fs := newFeatureScale("scale", 6)
	return backbone.NewSequential("custom", l1, bn, fs, &residual{inner}, l2), fs
}

// TestCustomLayerGrad checks the gradients of a Sequential that holds
// layers written outside the package, for its parameters (the custom
// layer's among them) and its input, against central differences of
// L = Σ out·up computed in float64 from the network's own forward pass
// (batch normalization in evaluation mode, so that L is a polynomial of
// every value and the differences are accurate).
func TestCustomLayerGrad(t *testing.T) {
	net, fs := customNet(t)
	rng := testutil.Rand(12)
	const n = 16
	x := testutil.RandN(rng, 1, n, 4)
	up := testutil.RandN(rng, 1, n, 3)
	out := ssl.New(n, 3)
	ws := backbone.NewWorkspace()
	loss := func() float64 {
		if err := net.Forward(ws, out, x, false); err != nil {
			t.Fatal(err)
		}
		var s float64
		for i, v := range testutil.Data(out) {
			s += float64(v) * float64(testutil.Data(up)[i])
		}
		return s
	}
	backbone.ZeroGrad(net.Params())
	loss()
	dx := ssl.New(n, 4)
	if err := net.Backward(ws, dx, up); err != nil {
		t.Fatal(err)
	}
	if got := len(net.Params()); got != 10 {
		t.Fatalf("Sequential has %d parameters, want 10 (custom layers' included)", got)
	}
	if fs.Scale.GradData()[0] == 0 {
		t.Fatal("the custom layer's scale got no gradient")
	}
	const h, atol, rtol = 1e-3, 2e-3, 1e-2
	probe := func(name string, data []float32, analytic []float32) {
		t.Helper()
		orig := append([]float32(nil), data...)
		f := func(v []float64) float64 {
			copy(data, testutil.F32s(v))
			defer copy(data, orig)
			return loss()
		}
		testutil.GradCheck(t, name, testutil.F64s(analytic), f, testutil.F64s(orig), h, atol, rtol)
	}
	for _, p := range net.Params() {
		probe(p.Name, p.Data(), append([]float32(nil), p.GradData()...))
	}
	probe("x", testutil.Data(x), append([]float32(nil), testutil.Data(dx)...))
}

// TestCustomLayerTrains trains a Sequential with custom layers by SGD on a
// linear regression and checks that the loss falls.
func TestCustomLayerTrains(t *testing.T) {
	net, fs := customNet(t)
	opt, err := backbone.NewSGD(net.Params(), &backbone.SGDOptions{Momentum: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	rng := testutil.Rand(13)
	const n = 32
	x := testutil.RandN(rng, 1, n, 4)
	teacher := testutil.RandN(rng, 1, 4, 3)
	target := make([]float64, n*3)
	for i := range n {
		for k := range 3 {
			for j := range 4 {
				target[i*3+k] += float64(testutil.Data(x)[i*4+j]) * float64(testutil.Data(teacher)[j*3+k])
			}
		}
	}
	out, dy := ssl.New(n, 3), ssl.New(n, 3)
	ws := backbone.NewWorkspace()
	scale0 := append([]float32(nil), fs.Scale.Data()...)
	var losses []float64
	for range 30 {
		backbone.ZeroGrad(net.Params())
		if err := net.Forward(ws, out, x, true); err != nil {
			t.Fatal(err)
		}
		var l float64
		for i, v := range testutil.Data(out) {
			d := float64(v) - target[i]
			l += d * d / n
			testutil.Data(dy)[i] = float32(2 * d / n)
		}
		losses = append(losses, l)
		if err := net.Backward(ws, nil, dy); err != nil {
			t.Fatal(err)
		}
		if err := opt.Step(0.02); err != nil {
			t.Fatal(err)
		}
	}
	first, last := losses[0], losses[len(losses)-1]
	t.Logf("loss %.4f → %.4f", first, last)
	if !(last < 0.2*first) {
		t.Errorf("loss fell from %v to %v, want below a fifth", first, last)
	}
	if fs.Scale.Data()[0] == scale0[0] {
		t.Error("SGD did not update the custom layer's scale")
	}
}

// TestCustomLayerErrors: Backward without a forward pass of the layer is an
// error, not a panic.
func TestCustomLayerErrors(t *testing.T) {
	fs := newFeatureScale("s", 3)
	err := fs.Backward(backbone.NewWorkspace(), nil, ssl.New(2, 3))
	if !errors.Is(err, ssl.ErrParam) {
		t.Errorf("Backward before Forward: %v, want ssl.ErrParam", err)
	}
	other := newFeatureScale("t", 3)
	ws := backbone.NewWorkspace()
	if err := other.Forward(ws, ssl.New(2, 3), ssl.New(2, 3), true); err != nil {
		t.Fatal(err)
	}
	if err := fs.Backward(ws, nil, ssl.New(2, 3)); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("Backward on another layer's workspace: %v, want ssl.ErrParam", err)
	}
	net := backbone.NewSequential("bad", fs)
	if err := net.Forward(backbone.NewWorkspace(), ssl.New(2, 3), ssl.New(2, 4), true); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("Sequential with a custom layer of the wrong width: %v, want ssl.ErrShape", err)
	}
}

// doubled embeds a built-in layer and overrides both passes: out =
// 2·Linear(x). Sequential must call the overrides, not the embedded
// layer's passes.
type doubled struct {
	*backbone.Linear
	forwards, backwards int
}

func (d *doubled) Forward(ws *backbone.Workspace, dst, x ssl.Tensor, train bool) error {
	d.forwards++
	if err := d.Linear.Forward(ws, dst, x, train); err != nil {
		return err
	}
	for i := range testutil.Data(dst) {
		testutil.Data(dst)[i] *= 2
	}
	return nil
}

func (d *doubled) Backward(ws *backbone.Workspace, dx, dy ssl.Tensor) error {
	d.backwards++
	g := testutil.Clone(dy)
	for i := range testutil.Data(g) {
		testutil.Data(g)[i] *= 2
	}
	return d.Linear.Backward(ws, dx, g)
}

func TestEmbeddedLayerOverride(t *testing.T) {
	lin, err := backbone.NewLinear("fc", 3, 2, true, testutil.Rand(3))
	if err != nil {
		t.Fatal(err)
	}
	d := &doubled{Linear: lin}
	net := backbone.NewSequential("net", backbone.NewReLU("relu"), d)
	x := testutil.RandN(testutil.Rand(4), 1, 4, 3)
	out, plain := ssl.New(4, 2), ssl.New(4, 2)
	ws := backbone.NewWorkspace()
	if err := net.Forward(ws, out, x, true); err != nil {
		t.Fatal(err)
	}
	up := testutil.RandN(testutil.Rand(5), 1, 4, 2)
	if err := net.Backward(ws, ssl.New(4, 3), up); err != nil {
		t.Fatal(err)
	}
	if d.forwards != 1 || d.backwards != 1 {
		t.Fatalf("overrides called %d/%d times, want 1/1", d.forwards, d.backwards)
	}
	gw := append([]float32(nil), lin.Weight.GradData()...)

	// The same computation by hand: ReLU then the plain layer.
	backbone.ZeroGrad(lin.Params())
	r := testutil.Clone(x)
	for i, v := range testutil.Data(r) {
		testutil.Data(r)[i] = float32(math.Max(float64(v), 0))
	}
	ws2 := backbone.NewWorkspace()
	if err := lin.Forward(ws2, plain, r, true); err != nil {
		t.Fatal(err)
	}
	for i, v := range testutil.Data(out) {
		if v != 2*testutil.Data(plain)[i] {
			t.Fatalf("out[%d] = %v, want 2·%v: the override was not used", i, v, testutil.Data(plain)[i])
		}
	}
	if err := lin.Backward(ws2, nil, up); err != nil {
		t.Fatal(err)
	}
	for i, v := range lin.Weight.GradData() {
		if gw[i] != 2*v {
			t.Fatalf("grad weight[%d] = %v, want 2·%v", i, gw[i], v)
		}
	}
}
