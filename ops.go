package ssl

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"ssl/internal/kernel"
)

// errorf returns an error "ssl: fn: msg: sentinel" wrapping sentinel.
func errorf(fn string, sentinel error, format string, args ...any) error {
	return fmt.Errorf("ssl: %s: %s: %w", fn, fmt.Sprintf(format, args...), sentinel)
}

// viewArg is view with the function and argument named in the error.
func viewArg(fn, name string, t Tensor) ([]int, []float32, error) {
	shape, data, err := view(t)
	if err != nil {
		return nil, nil, fmt.Errorf("ssl: %s: %s: %w", fn, name, err)
	}
	return shape, data, nil
}

// matrixArg is Matrix with the function and argument named in the error.
func matrixArg(fn, name string, t Tensor) (rows, cols int, data []float32, err error) {
	shape, data, err := viewArg(fn, name, t)
	if err != nil {
		return 0, 0, nil, err
	}
	if len(shape) != 2 {
		return 0, 0, nil, errorf(fn, ErrShape, "%s: shape %v has rank %d, want 2", name, shape, len(shape))
	}
	return shape[0], shape[1], data, nil
}

// dstMatrix views the destination dst, which must be rows×cols, or
// allocates it when dst is nil. It must not overlap any of inputs, except
// that it may be exactly same (when same is not nil).
func dstMatrix(fn string, dst Tensor, rows, cols int, same []float32, inputs ...[]float32) (Tensor, []float32, error) {
	if isNil(dst) {
		t := New(rows, cols)
		return t, t.Float32s(), nil
	}
	r, c, data, err := matrixArg(fn, "dst", dst)
	if err != nil {
		return nil, nil, err
	}
	if r != rows || c != cols {
		return nil, nil, errorf(fn, ErrShape, "dst: shape (%d, %d), want (%d, %d)", r, c, rows, cols)
	}
	if same != nil && kernel.Overlaps(data, same) && !identical(data, same) {
		return nil, nil, errorf(fn, ErrShape, "dst overlaps x without being x")
	}
	for _, in := range inputs {
		if kernel.Overlaps(data, in) {
			return nil, nil, errorf(fn, ErrShape, "dst overlaps an input")
		}
	}
	return dst, data, nil
}

// identical reports whether a and b are the same non-empty slice of memory.
func identical(a, b []float32) bool {
	return len(a) == len(b) && len(a) > 0 && &a[0] == &b[0]
}

// rowLen returns the number of elements in one row (one index of the first
// dimension) of a tensor of the given shape.
func rowLen(shape []int) int {
	n := 1
	for _, d := range shape[1:] {
		n *= d
	}
	return n
}

// Rows returns the rows [lo, hi) of t along its first dimension as a tensor
// of shape [hi−lo, shape[1:]...] that shares t's storage: writing to one
// writes to the other. t may have any rank ≥ 1. It returns an error
// wrapping [ErrShape] if t is not a contiguous float32 tensor and one
// wrapping [ErrParam] unless 0 ≤ lo ≤ hi ≤ shape[0].
func Rows(t Tensor, lo, hi int) (*tensor.Dense, error) {
	shape, data, err := viewArg("Rows", "t", t)
	if err != nil {
		return nil, err
	}
	if lo < 0 || lo > hi || hi > shape[0] {
		return nil, errorf("Rows", ErrParam, "row range [%d, %d) is outside [0, %d] (lo=%d, hi=%d)", lo, hi, shape[0], lo, hi)
	}
	n := rowLen(shape)
	out := append([]int{hi - lo}, shape[1:]...)
	return FromSlice(data[lo*n:hi*n:hi*n], out...), nil
}

// Row returns row i of t along its first dimension, flattened, as a slice
// that shares t's storage: for a rows×cols matrix, the cols values of row
// i. It returns an error wrapping [ErrShape] if t is not a contiguous
// float32 tensor and one wrapping [ErrParam] unless 0 ≤ i < shape[0].
func Row(t Tensor, i int) ([]float32, error) {
	shape, data, err := viewArg("Row", "t", t)
	if err != nil {
		return nil, err
	}
	if i < 0 || i >= shape[0] {
		return nil, errorf("Row", ErrParam, "row %d is outside [0, %d) (i=%d)", i, shape[0], i)
	}
	n := rowLen(shape)
	return data[i*n : (i+1)*n : (i+1)*n], nil
}

// Reshape returns t with a new shape, sharing its storage. One dimension
// may be −1: it is inferred from the number of elements. It returns an
// error wrapping [ErrShape] if t is not a contiguous float32 tensor, if the
// new shape is empty, has a dimension below −1 or more than one −1, or
// holds a different number of elements than t.
func Reshape(t Tensor, shape ...int) (*tensor.Dense, error) {
	old, data, err := viewArg("Reshape", "t", t)
	if err != nil {
		return nil, err
	}
	if len(shape) == 0 {
		return nil, errorf("Reshape", ErrShape, "new shape is empty, want rank ≥ 1")
	}
	out := append([]int(nil), shape...)
	infer, known := -1, 1
	for k, d := range out {
		switch {
		case d == -1 && infer < 0:
			infer = k
		case d == -1:
			return nil, errorf("Reshape", ErrShape, "shape %v has more than one −1", shape)
		case d < 0:
			return nil, errorf("Reshape", ErrShape, "shape %v has a negative dimension", shape)
		default:
			known *= d
		}
	}
	if infer >= 0 {
		if known == 0 || len(data)%known != 0 {
			return nil, errorf("Reshape", ErrShape, "cannot infer the −1 of %v from %d elements (shape %v)", shape, len(data), old)
		}
		out[infer] = len(data) / known
		known = len(data)
	}
	if known != len(data) {
		return nil, errorf("Reshape", ErrShape, "shape %v holds %d elements, t (shape %v) holds %d", shape, known, old, len(data))
	}
	return FromSlice(data, out...), nil
}

// Clone returns a new tensor with t's shape and a copy of its values. It
// returns an error wrapping [ErrShape] if t is not a contiguous float32
// tensor.
func Clone(t Tensor) (*tensor.Dense, error) {
	shape, data, err := viewArg("Clone", "t", t)
	if err != nil {
		return nil, err
	}
	return FromSlice(append([]float32(nil), data...), shape...), nil
}

// ArgmaxRows writes into dst[i] the column of the largest value of row i of
// the rows×cols matrix t (the first such column on ties; +Inf and −Inf are
// ordinary values) and returns dst. A nil dst is allocated; otherwise it
// must have length rows. It returns an error wrapping [ErrShape] if t is not
// a matrix, has no column while it has rows, or dst has the wrong length,
// and one wrapping [ErrNotFinite] naming the first NaN in t, since a NaN has
// no rank; dst is not written then.
func ArgmaxRows(dst []int, t Tensor) ([]int, error) {
	rows, cols, x, err := matrixArg("ArgmaxRows", "t", t)
	if err != nil {
		return nil, err
	}
	if rows > 0 && cols < 1 {
		return nil, errorf("ArgmaxRows", ErrShape, "t has %d rows and no column", rows)
	}
	if dst == nil {
		dst = make([]int, rows)
	} else if len(dst) != rows {
		return nil, errorf("ArgmaxRows", ErrShape, "len(dst) is %d, want %d", len(dst), rows)
	}
	for k, v := range x {
		if v != v {
			return nil, errorf("ArgmaxRows", ErrNotFinite, "t[%d,%d] is NaN", k/cols, k%cols)
		}
	}
	for i := range rows {
		_, dst[i] = kernel.Max(x[i*cols : (i+1)*cols])
	}
	return dst, nil
}

// MatMul writes the matrix product op(a)·op(b) into dst and returns dst,
// where op(a) is a, or aᵀ when transA, and op(b) is b, or bᵀ when transB:
//
//	dst[i,j] = Σ_p op(a)[i,p] · op(b)[p,j]
//
// op(a) is m×k, op(b) is k×n and dst is m×n; a nil dst is allocated. The
// product runs on all cores in a fixed tiling, so the result does not depend
// on GOMAXPROCS. It returns an error wrapping [ErrShape] if an argument is
// not a matrix, the inner dimensions differ, dst has the wrong shape or dst
// overlaps a or b.
func MatMul(dst, a, b Tensor, transA, transB bool) (Tensor, error) {
	ar, ac, ad, err := matrixArg("MatMul", "a", a)
	if err != nil {
		return nil, err
	}
	br, bc, bd, err := matrixArg("MatMul", "b", b)
	if err != nil {
		return nil, err
	}
	m, k := ar, ac
	if transA {
		m, k = ac, ar
	}
	kb, n := br, bc
	if transB {
		kb, n = bc, br
	}
	if k != kb {
		return nil, errorf("MatMul", ErrShape, "inner dimensions differ: op(a) is (%d, %d), op(b) is (%d, %d) (transA=%v, transB=%v)", m, k, kb, n, transA, transB)
	}
	dst, c, err := dstMatrix("MatMul", dst, m, n, nil, ad, bd)
	if err != nil {
		return nil, err
	}
	kernel.Gemm(transA, transB, m, n, k, 1, ad, max(ac, 1), bd, max(bc, 1), 0, c, max(n, 1))
	return dst, nil
}

// NormalizeRows writes each row of the rows×cols matrix x divided by its L2
// norm into dst and returns dst:
//
//	dst_i = x_i / max(‖x_i‖₂, 1e-12)
//
// as torch.nn.functional.normalize(x, dim=1) (norms accumulate in float64;
// a zero row stays zero). A nil dst is allocated; dst may be x itself (in
// place) but must not overlap it otherwise. It returns an error wrapping
// [ErrShape] if x or dst is not a matrix of the same shape.
func NormalizeRows(dst, x Tensor) (Tensor, error) {
	rows, cols, xd, err := matrixArg("NormalizeRows", "x", x)
	if err != nil {
		return nil, err
	}
	dst, d, err := dstMatrix("NormalizeRows", dst, rows, cols, xd)
	if err != nil {
		return nil, err
	}
	kernel.L2NormalizeRows(d, nil, xd, rows, cols, 1e-12)
	return dst, nil
}

// SoftmaxRows writes the softmax at temperature tau of each row of the
// rows×cols matrix x into dst and returns dst:
//
//	dst[i,j] = exp(x[i,j]/τ) / Σ_k exp(x[i,k]/τ)
//
// computed with the row maximum subtracted and a float64 denominator. A row
// holding NaN or +Inf gives NaN; a −Inf entry gets 0. tau = 1 is the plain
// softmax. A nil dst is allocated; dst may be x itself (in place) but must
// not overlap it otherwise. It returns an error wrapping [ErrShape] if x or
// dst is not a matrix of the same shape and one wrapping [ErrParam] unless
// tau is finite and > 0.
func SoftmaxRows(dst, x Tensor, tau float64) (Tensor, error) {
	rows, cols, xd, err := matrixArg("SoftmaxRows", "x", x)
	if err != nil {
		return nil, err
	}
	if !(tau > 0) || math.IsInf(tau, 0) {
		return nil, errorf("SoftmaxRows", ErrParam, "tau must be finite and > 0 (tau=%v)", tau)
	}
	dst, d, err := dstMatrix("SoftmaxRows", dst, rows, cols, xd)
	if err != nil {
		return nil, err
	}
	src := xd
	if tau != 1 {
		inv := 1 / tau
		for k, v := range xd {
			d[k] = float32(float64(v) * inv)
		}
		src = d
	}
	kernel.SoftmaxRows(d, src, rows, cols)
	return dst, nil
}
