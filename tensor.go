package ssl

import (
	"fmt"

	"gorgonia.org/tensor"
)

// Tensor is the small interface the whole API takes. *tensor.Dense from
// gorgonia.org/tensor satisfies it, so gorgonia users pass their tensors
// straight in; [New] and [FromSlice] make one from a shape or a slice.
//
// The library reads and writes a Tensor through its float32 backing slice in
// row-major order, so it must hold float32 data, be contiguous (no strided
// view, no lazy transpose, no mask) and live in Go memory. [Matrix], [View]
// and their siblings check all of that and return an error wrapping
// [ErrShape] otherwise.
type Tensor interface {
	// Shape returns the size of each dimension.
	Shape() tensor.Shape
	// Strides returns the step, in elements, between neighbours along each
	// dimension.
	Strides() []int
	// Dtype returns the element type.
	Dtype() tensor.Dtype
	// Data returns the backing slice ([]float32 for the tensors the library
	// takes).
	Data() interface{}
	// RequiresIterator reports whether the elements are not laid out
	// contiguously in row-major order (a strided view, a lazy transpose or a
	// masked tensor).
	RequiresIterator() bool
	// IsNativelyAccessible reports whether the data lives in Go-accessible
	// memory (false for device memory).
	IsNativelyAccessible() bool
}

// The library's tensors are gorgonia's dense tensors.
var _ Tensor = (*tensor.Dense)(nil)

// New returns a zeroed float32 tensor of the given shape.
func New(shape ...int) *tensor.Dense {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return FromSlice(make([]float32, n), shape...)
}

// FromSlice returns a tensor of the given shape backed by data, which it does
// not copy. It panics if len(data) is not the product of shape, as
// gorgonia's constructor does; it is meant for literals and allocations whose
// size the caller controls.
func FromSlice(data []float32, shape ...int) *tensor.Dense {
	return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
}

// View returns the shape and the contiguous row-major float32 data of t.
// The returned slice aliases t's storage and has exactly one element per
// position of the shape. It returns an error wrapping [ErrShape] if t is nil,
// not float32, a scalar, not contiguous, or not in Go memory.
func View(t Tensor) (shape []int, data []float32, err error) {
	shape, data, err = view(t)
	if err != nil {
		return nil, nil, err
	}
	return append([]int(nil), shape...), data, nil
}

// float32s is implemented by *tensor.Dense (through its storage header): it
// returns the backing slice without boxing it in an interface, so a view
// allocates nothing.
type float32s interface{ Float32s() []float32 }

// view is View without the copy of the shape: the returned shape is t's own
// and must not be modified or kept. Nothing is allocated on success.
func view(t Tensor) (shape []int, data []float32, err error) {
	if isNil(t) {
		return nil, nil, fmt.Errorf("tensor is nil: %w", ErrShape)
	}
	if t.Dtype() != tensor.Float32 {
		return nil, nil, fmt.Errorf("dtype is %v, want float32: %w", t.Dtype(), ErrShape)
	}
	if !t.IsNativelyAccessible() {
		return nil, nil, fmt.Errorf("data is not in Go memory: %w", ErrShape)
	}
	shape = []int(t.Shape())
	if len(shape) == 0 {
		return nil, nil, fmt.Errorf("tensor is a scalar, want rank >= 1: %w", ErrShape)
	}
	n := 1
	for _, d := range shape {
		if d < 0 {
			return nil, nil, fmt.Errorf("shape %v has a negative dimension: %w", shape, ErrShape)
		}
		n *= d
	}
	if n > 1 && (t.RequiresIterator() || !rowMajor(shape, t.Strides())) {
		return nil, nil, fmt.Errorf("tensor of shape %v with strides %v is not contiguous row-major: %w", shape, t.Strides(), ErrShape)
	}
	if n == 0 {
		// gorgonia's Data panics on an empty tensor; there is nothing to view.
		return shape, []float32{}, nil
	}
	if f, ok := t.(float32s); ok {
		data = f.Float32s()
	} else {
		var ok bool
		if data, ok = t.Data().([]float32); !ok {
			return nil, nil, fmt.Errorf("data is %T, want []float32: %w", t.Data(), ErrShape)
		}
	}
	if len(data) < n {
		return nil, nil, fmt.Errorf("data has %d elements, shape %v needs %d: %w", len(data), shape, n, ErrShape)
	}
	return shape, data[:n:n], nil
}

// Matrix views t, which must have rank 2, as a contiguous row-major
// rows×cols float32 matrix. The returned slice aliases t's storage. It
// returns an error wrapping [ErrShape] for any tensor [View] rejects and for
// a rank other than 2.
func Matrix(t Tensor) (rows, cols int, data []float32, err error) {
	shape, data, err := view(t)
	if err != nil {
		return 0, 0, nil, err
	}
	if len(shape) != 2 {
		return 0, 0, nil, fmt.Errorf("shape %v has rank %d, want 2: %w", shape, len(shape), ErrShape)
	}
	return shape[0], shape[1], data, nil
}

// MatrixOf is [Matrix] for a tensor whose shape the caller knows: it returns
// an error wrapping [ErrShape] unless t is rows×cols.
func MatrixOf(t Tensor, rows, cols int) ([]float32, error) {
	r, c, data, err := Matrix(t)
	if err != nil {
		return nil, err
	}
	if r != rows || c != cols {
		return nil, fmt.Errorf("shape (%d, %d), want (%d, %d): %w", r, c, rows, cols, ErrShape)
	}
	return data, nil
}

// Vector views t, which must have rank 1, as a contiguous float32 slice.
func Vector(t Tensor) ([]float32, error) {
	shape, data, err := view(t)
	if err != nil {
		return nil, err
	}
	if len(shape) != 1 {
		return nil, fmt.Errorf("shape %v has rank %d, want 1: %w", shape, len(shape), ErrShape)
	}
	return data, nil
}

// VectorOf is [Vector] for a tensor whose length the caller knows.
func VectorOf(t Tensor, n int) ([]float32, error) {
	data, err := Vector(t)
	if err != nil {
		return nil, err
	}
	if len(data) != n {
		return nil, fmt.Errorf("length %d, want %d: %w", len(data), n, ErrShape)
	}
	return data, nil
}

// ViewOf is [View] for a tensor whose full shape the caller knows.
func ViewOf(t Tensor, shape ...int) ([]float32, error) {
	got, data, err := view(t)
	if err != nil {
		return nil, err
	}
	if !sameShape(got, shape) {
		// Copies keep shape from escaping, so a successful call allocates nothing.
		return nil, fmt.Errorf("shape %v, want %v: %w", append([]int(nil), got...), append([]int(nil), shape...), ErrShape)
	}
	return data, nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// rowMajor reports whether strides are the contiguous row-major strides of
// shape. Dimensions of size 1 may carry any stride.
func rowMajor(shape, strides []int) bool {
	if len(strides) == 0 && len(shape) == 1 {
		return true
	}
	if len(strides) != len(shape) {
		return false
	}
	want := 1
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 && strides[i] != want {
			return false
		}
		want *= shape[i]
	}
	return true
}

// isNil reports whether t is nil or a typed nil *tensor.Dense.
func isNil(t Tensor) bool {
	if t == nil {
		return true
	}
	d, ok := t.(*tensor.Dense)
	return ok && d == nil
}
