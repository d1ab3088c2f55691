// Package testutil holds what the library's tests share: tolerance checks,
// finite-difference gradients, seeded random tensors and poisoned buffers.
package testutil

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"
)

// Tolerances for float32 results compared with float64 references, as
// FORMAT.md of the reference vectors states them: |got − want| ≤
// RTol32·|want| + ATol32·max|want|.
const (
	RTol32 = 1e-4
	ATol32 = 1e-5
)

// Close reports whether |got − want| ≤ atol + rtol·|want|. NaN never passes;
// equal infinities do.
func Close(got, want, atol, rtol float64) bool {
	if math.IsNaN(got) || math.IsNaN(want) {
		return false
	}
	if got == want {
		return true
	}
	return math.Abs(got-want) <= atol+rtol*math.Abs(want)
}

// Worst returns the index of the element of got that exceeds the tolerance
// |got−want| ≤ atol + rtol·|want| by the most (NaN counts as the worst), or
// -1 if all pass.
func Worst(got, want []float64, atol, rtol float64) int {
	worst, excess := -1, 0.0
	for i := range want {
		if got[i] == want[i] {
			continue
		}
		e := math.Abs(got[i]-want[i]) - (atol + rtol*math.Abs(want[i]))
		if math.IsNaN(e) {
			return i
		}
		if e > excess {
			worst, excess = i, e
		}
	}
	return worst
}

// AllClose fails t at the worst element where |got−want| > atol + rtol·|want|,
// naming the index, both values and the absolute and relative error.
func AllClose(t testing.TB, name string, got, want []float64, atol, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: len = %d, want %d", name, len(got), len(want))
		return
	}
	if i := Worst(got, want, atol, rtol); i >= 0 {
		abs := math.Abs(got[i] - want[i])
		t.Errorf("%s[%d] = %.9g, want %.9g (abs err %.3g, rel err %.3g; atol %g, rtol %g)",
			name, i, got[i], want[i], abs, abs/math.Abs(want[i]), atol, rtol)
	}
}

// AllClose32 is AllClose for a float32 result against a float64 reference.
func AllClose32(t testing.TB, name string, got []float32, want []float64, atol, rtol float64) {
	t.Helper()
	AllClose(t, name, F64s(got), want, atol, rtol)
}

// NumGrad returns the central-difference gradient of f at x with step h:
//
//	g[i] = (f(x + h·e_i) − f(x − h·e_i)) / 2h
//
// x is restored exactly. f works in float64, as gradient checks must.
func NumGrad(f func(x []float64) float64, x []float64, h float64) []float64 {
	g := make([]float64, len(x))
	for i, xi := range x {
		x[i] = xi + h
		fp := f(x)
		x[i] = xi - h
		g[i] = (fp - f(x)) / (2 * h)
		x[i] = xi
	}
	return g
}

// GradCheck compares an analytic gradient with central differences of the
// float64 function f at x (step h) and fails t at the worst element, naming
// it. It returns the index of the worst element, or -1 if all pass.
func GradCheck(t testing.TB, name string, analytic []float64, f func(x []float64) float64, x []float64, h, atol, rtol float64) int {
	t.Helper()
	num := NumGrad(f, x, h)
	if len(analytic) != len(num) {
		t.Errorf("%s: gradient has %d elements, want %d", name, len(analytic), len(num))
		return 0
	}
	i := Worst(analytic, num, atol, rtol)
	if i >= 0 {
		t.Errorf("%s: gradient[%d] = %.9g, finite differences %.9g (abs err %.3g; atol %g, rtol %g)",
			name, i, analytic[i], num[i], math.Abs(analytic[i]-num[i]), atol, rtol)
	}
	return i
}

// Rand returns a seeded generator; the same seed gives the same stream.
func Rand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed)) }

// RandN returns a float32 tensor of the given shape with normal entries of
// standard deviation std.
func RandN(r *rand.Rand, std float64, shape ...int) *tensor.Dense {
	t := newTensor(shape...)
	d := t.Data().([]float32)
	for i := range d {
		d[i] = float32(r.NormFloat64() * std)
	}
	return t
}

// RandU returns a float32 tensor of the given shape with entries uniform in
// [lo, hi).
func RandU(r *rand.Rand, lo, hi float64, shape ...int) *tensor.Dense {
	t := newTensor(shape...)
	d := t.Data().([]float32)
	for i := range d {
		d[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return t
}

// NaNs returns a float32 tensor of the given shape filled with NaN, so a test
// sees every element a function fails to write.
func NaNs(shape ...int) *tensor.Dense {
	t := newTensor(shape...)
	d := t.Data().([]float32)
	nan := float32(math.NaN())
	for i := range d {
		d[i] = nan
	}
	return t
}

// Data returns the float32 backing slice of a tensor made here.
func Data(t Tensor) []float32 { return t.Data().([]float32) }

// F64 returns the elements of a float32 tensor as float64.
func F64(t Tensor) []float64 { return F64s(Data(t)) }

// F64s converts a float32 slice to float64.
func F64s(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// F32s converts a float64 slice to float32.
func F32s(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}

// Clone returns a deep copy of a float32 tensor made here, for comparing an
// input before and after a call.
func Clone(t Tensor) *tensor.Dense {
	d, ok := t.Data().([]float32)
	if !ok {
		panic(fmt.Sprintf("testutil.Clone: data is %T, want []float32", t.Data()))
	}
	shape := append([]int(nil), t.Shape()...)
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(append([]float32(nil), d...)))
}

// Tensor is what the helpers read of a tensor: ssl.Tensor and gorgonia's
// *tensor.Dense satisfy it. The package does not import the root package ssl
// so that internal/kernel, which ssl imports, can use it in its tests.
type Tensor interface {
	Shape() tensor.Shape
	Data() interface{}
}

// newTensor returns a zeroed float32 tensor of the given shape.
func newTensor(shape ...int) *tensor.Dense {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(make([]float32, n)))
}

// Unchanged fails t if the data of got differs bit for bit from want (a
// clone taken before the call), naming the first differing index.
func Unchanged(t testing.TB, name string, got, want Tensor) {
	t.Helper()
	g, w := Data(got), Data(want)
	for i := range w {
		if math.Float32bits(g[i]) != math.Float32bits(w[i]) {
			t.Errorf("%s was modified: [%d] = %v, was %v", name, i, g[i], w[i])
			return
		}
	}
}

// MaxAbs returns max_i |x[i]|.
func MaxAbs(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		m = math.Max(m, math.Abs(v))
	}
	return m
}
