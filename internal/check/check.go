// Package check holds the argument checks every public package runs before
// it writes anything: tensor views that name the argument, destination shape
// and aliasing checks, parameter ranges, label ranges and the finiteness of a
// result. Each returns an error that reads "fn: what is wrong (name=value)"
// and wraps one of the root package's sentinels, where fn is the calling
// function as "pkg: Func" (for example "losses: NTXent").
//
// It imports only the root package ssl (for the Tensor type and the
// sentinels) and internal/kernel; the root package never imports it.
package check

import (
	"fmt"
	"math"
	"math/rand/v2"

	"gorgonia.org/tensor"

	"ssl"
	"ssl/internal/kernel"
)

// Errorf returns an error "fn: msg: sentinel" that wraps sentinel.
func Errorf(fn string, sentinel error, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", fn, fmt.Sprintf(format, args...), sentinel)
}

// IsNil reports whether t is nil or a typed nil *tensor.Dense: both mean
// "skip this output" where a destination is optional.
func IsNil(t ssl.Tensor) bool {
	if t == nil {
		return true
	}
	d, ok := t.(*tensor.Dense)
	return ok && d == nil
}

// Matrix views t as a contiguous rows×cols matrix, naming the argument in
// the error.
func Matrix(fn, name string, t ssl.Tensor) (rows, cols int, data []float32, err error) {
	if IsNil(t) {
		return 0, 0, nil, Errorf(fn, ssl.ErrShape, "%s is nil", name)
	}
	rows, cols, data, err = ssl.Matrix(t)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("%s: %s: %w", fn, name, err)
	}
	return rows, cols, data, nil
}

// NonEmptyMatrix is [Matrix] for a matrix that must have at least one row
// and one column.
func NonEmptyMatrix(fn, name string, t ssl.Tensor) (rows, cols int, data []float32, err error) {
	rows, cols, data, err = Matrix(fn, name, t)
	if err != nil {
		return 0, 0, nil, err
	}
	if rows < 1 || cols < 1 {
		return 0, 0, nil, Errorf(fn, ssl.ErrShape, "%s is empty (shape (%d, %d))", name, rows, cols)
	}
	return rows, cols, data, nil
}

// MatrixOf views t, which must be rows×cols.
func MatrixOf(fn, name string, t ssl.Tensor, rows, cols int) ([]float32, error) {
	if IsNil(t) {
		return nil, Errorf(fn, ssl.ErrShape, "%s is nil", name)
	}
	data, err := ssl.MatrixOf(t, rows, cols)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", fn, name, err)
	}
	return data, nil
}

// VectorOf views t, which must be a vector of length n.
func VectorOf(fn, name string, t ssl.Tensor, n int) ([]float32, error) {
	if IsNil(t) {
		return nil, Errorf(fn, ssl.ErrShape, "%s is nil", name)
	}
	data, err := ssl.VectorOf(t, n)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", fn, name, err)
	}
	return data, nil
}

// Shape is a tensor shape of rank ≤ 4 passed by value, so that checking a
// destination allocates nothing.
type Shape struct {
	rank int
	dims [4]int
}

// Shape1 to Shape4 build a Shape of that rank.
func Shape1(n int) Shape          { return Shape{1, [4]int{n}} }
func Shape2(r, c int) Shape       { return Shape{2, [4]int{r, c}} }
func Shape3(a, b, c int) Shape    { return Shape{3, [4]int{a, b, c}} }
func Shape4(a, b, c, d int) Shape { return Shape{4, [4]int{a, b, c, d}} }

// Dst views an optional destination: a nil t gives a nil slice and no
// error. Otherwise t must have shape want and overlap none of inputs.
func Dst(fn, name string, t ssl.Tensor, want Shape, inputs ...[]float32) ([]float32, error) {
	if IsNil(t) {
		return nil, nil
	}
	// ViewOf allocates nothing on success (View would copy the shape).
	data, err := ssl.ViewOf(t, want.dims[:want.rank]...)
	if err != nil {
		return nil, fmt.Errorf("%s: %s: %w", fn, name, err)
	}
	for _, in := range inputs {
		if kernel.Overlaps(data, in) {
			return nil, Errorf(fn, ssl.ErrShape, "%s overlaps an input", name)
		}
	}
	return data, nil
}

// Distinct returns an error wrapping ssl.ErrShape if two of the (non-nil)
// destinations overlap; names[i] names dsts[i].
func Distinct(fn string, names []string, dsts ...[]float32) error {
	for i := range dsts {
		for j := i + 1; j < len(dsts); j++ {
			if kernel.Overlaps(dsts[i], dsts[j]) {
				return Errorf(fn, ssl.ErrShape, "%s and %s overlap", names[i], names[j])
			}
		}
	}
	return nil
}

// Positive returns an error wrapping ssl.ErrParam unless v is finite and > 0.
func Positive(fn, name string, v float64) error {
	if !(v > 0) || math.IsInf(v, 0) {
		return Errorf(fn, ssl.ErrParam, "%s must be finite and > 0 (%s=%v)", name, name, v)
	}
	return nil
}

// NonNegative returns an error wrapping ssl.ErrParam unless v is finite and
// ≥ 0.
func NonNegative(fn, name string, v float64) error {
	if !(v >= 0) || math.IsInf(v, 0) {
		return Errorf(fn, ssl.ErrParam, "%s must be finite and ≥ 0 (%s=%v)", name, name, v)
	}
	return nil
}

// Finite returns an error wrapping ssl.ErrParam unless the parameter v is
// finite.
func Finite(fn, name string, v float64) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Errorf(fn, ssl.ErrParam, "%s must be finite (%s=%v)", name, name, v)
	}
	return nil
}

// Within returns an error wrapping ssl.ErrParam unless lo ≤ v ≤ hi.
func Within(fn, name string, v, lo, hi float64) error {
	if !(v >= lo && v <= hi) {
		return Errorf(fn, ssl.ErrParam, "%s must be in [%v, %v] (%s=%v)", name, lo, hi, name, v)
	}
	return nil
}

// Count returns an error wrapping ssl.ErrParam unless n ≥ min.
func Count(fn, name string, n, min int) error {
	if n < min {
		return Errorf(fn, ssl.ErrParam, "%s must be ≥ %d (%s=%d)", name, min, name, n)
	}
	return nil
}

// AtLeast returns an error wrapping ssl.ErrShape unless the size n, which
// what names (a batch size, a number of rows), is ≥ min.
func AtLeast(fn, what string, n, min int) error {
	if n < min {
		return Errorf(fn, ssl.ErrShape, "%s is %d, want ≥ %d", what, n, min)
	}
	return nil
}

// Result returns an error wrapping ssl.ErrNotFinite if the scalar result v
// (a loss) is NaN or infinite; what names the inputs that can drive it
// there.
func Result(fn string, v float64, what string) error {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return Errorf(fn, ssl.ErrNotFinite, "result is %v (non-finite values in %s?)", v, what)
	}
	return nil
}

// FiniteData returns an error wrapping ssl.ErrNotFinite naming the first
// element of the rows×cols matrix x that is NaN or infinite.
func FiniteData(fn, name string, x []float32, rows, cols int) error {
	for i := range rows {
		for j, v := range x[i*cols : (i+1)*cols] {
			if v-v != 0 {
				return Errorf(fn, ssl.ErrNotFinite, "%s[%d,%d] is %v", name, i, j, v)
			}
		}
	}
	return nil
}

// Labels checks that labels has length n and every label is in [0, k).
func Labels(fn, name string, labels []int, n, k int) error {
	if len(labels) != n {
		return Errorf(fn, ssl.ErrShape, "len(%s) is %d, want %d", name, len(labels), n)
	}
	for i, y := range labels {
		if y < 0 || y >= k {
			return Errorf(fn, ssl.ErrParam, "%s[%d] is out of range [0, %d) (%s[%d]=%d)", name, i, k, name, i, y)
		}
	}
	return nil
}

// Rand returns an error wrapping ssl.ErrParam if rng is nil.
func Rand(fn string, rng *rand.Rand) error {
	if rng == nil {
		return Errorf(fn, ssl.ErrParam, "rng is nil (pass a seeded *rand.Rand)")
	}
	return nil
}
