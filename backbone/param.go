package backbone

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"ssl"
	"ssl/internal/kernel"
)

// Param is one named tensor of a network: a trainable parameter with its
// gradient, or a buffer (a batch-norm running statistic) whose Grad is nil.
//
// Name follows PyTorch's state_dict ("conv1.weight", "bn1.running_var").
// Value and Grad are float32 tensors of the same shape, updated in place by
// the layers and optimizers; callers may read and write their elements but
// must not replace the tensors. Grad accumulates over Backward calls until
// [ZeroGrad]. Frozen parameters are skipped by the optimizers entirely (no
// update, no weight decay, no momentum), as PyTorch skips a parameter whose
// .grad is None; SwAV freezes its prototypes this way for the first
// iterations.
type Param struct {
	Name   string
	Value  *tensor.Dense
	Grad   *tensor.Dense
	Frozen bool
}

// Shape returns the shape of p's value.
func (p *Param) Shape() []int { return []int(p.Value.Shape().Clone()) }

// Data returns the float32 backing slice of p's value.
func (p *Param) Data() []float32 { return p.Value.Data().([]float32) }

// GradData returns the float32 backing slice of p's gradient, or nil for a
// buffer.
func (p *Param) GradData() []float32 {
	if p.Grad == nil {
		return nil
	}
	return p.Grad.Data().([]float32)
}

// newParam returns a trainable parameter of the given shape with a zero
// gradient.
func newParam(name string, shape ...int) *Param {
	return &Param{Name: name, Value: ssl.New(shape...), Grad: ssl.New(shape...)}
}

// newBuffer returns a buffer (no gradient) filled with v.
func newBuffer(name string, v float32, shape ...int) *Param {
	t := ssl.New(shape...)
	d := t.Data().([]float32)
	for i := range d {
		d[i] = v
	}
	return &Param{Name: name, Value: t}
}

// initUniform fills d with U(−bound, bound): PyTorch's default
// initialization of Conv2d and Linear (kaiming_uniform with a = √5 for the
// weight, the same bound 1/√fan_in for the bias).
func initUniform(d []float32, fanIn int, rng *rand.Rand) {
	bound := 1 / math.Sqrt(float64(fanIn))
	for i := range d {
		d[i] = float32((2*rng.Float64() - 1) * bound)
	}
}

// ZeroGrad sets the gradient of every parameter in ps to zero.
func ZeroGrad(ps []*Param) {
	for _, p := range ps {
		clear(p.GradData())
	}
}

// CopyParams copies the values of src into dst, which must hold the same
// names with the same shapes in the same order (two networks built alike:
// an online network and its EMA target or MoCo key encoder). Gradients are
// not copied. It returns an error wrapping ssl.ErrShape, and copies
// nothing, if the lists differ.
func CopyParams(dst, src []*Param) error {
	if err := sameParams("CopyParams", dst, src); err != nil {
		return err
	}
	for i, p := range dst {
		copy(p.Data(), src[i].Data())
	}
	return nil
}

func sameParams(fn string, dst, src []*Param) error {
	if len(dst) != len(src) {
		return fmt.Errorf("backbone: %s: %d destination tensors, %d source tensors: %w", fn, len(dst), len(src), ssl.ErrShape)
	}
	for i, p := range dst {
		q := src[i]
		if p.Name != q.Name || !p.Value.Shape().Eq(q.Value.Shape()) {
			return fmt.Errorf("backbone: %s: tensor %d is %s%v, source has %s%v: %w", fn, i, p.Name, p.Value.Shape(), q.Name, q.Value.Shape(), ssl.ErrShape)
		}
		if kernel.Overlaps(p.Data(), q.Data()) {
			return fmt.Errorf("backbone: %s: %s: destination aliases the source: %w", fn, p.Name, ssl.ErrShape)
		}
	}
	return nil
}

// prefixed returns ps with every name prefixed by prefix + ".".
func prefixed(prefix string, ps []*Param) []*Param {
	if prefix == "" {
		return ps
	}
	for _, p := range ps {
		p.Name = prefix + "." + p.Name
	}
	return ps
}

// checkFinite returns an error wrapping ssl.ErrNotFinite naming what and the
// first offending index if x holds a NaN or an infinity.
func checkFinite(fn, what string, x []float32) error {
	if kernel.AllFinite(x) {
		return nil
	}
	for i, v := range x {
		if v-v != 0 {
			return fmt.Errorf("backbone: %s: %s[%d] = %v: %w", fn, what, i, v, ssl.ErrNotFinite)
		}
	}
	return nil
}

// grow returns buf resized to n elements, reusing its storage when it is
// large enough. The contents are unspecified.
func grow(buf []float32, n int) []float32 {
	if cap(buf) >= n {
		return buf[:n]
	}
	return make([]float32, n)
}
