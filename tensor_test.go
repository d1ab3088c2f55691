package ssl_test

import (
	"errors"
	"math"
	"testing"

	"gorgonia.org/tensor"

	"ssl"
)

// The library's tensors are gorgonia's: *tensor.Dense must satisfy ssl.Tensor.
var _ ssl.Tensor = (*tensor.Dense)(nil)

// TestGorgoniaRuns proves that a program importing gorgonia.org/tensor
// starts and works on this Go version: an old go4.org/unsafe/assume-no-moving-gc
// panics at program start, before any test could run.
func TestGorgoniaRuns(t *testing.T) {
	d := tensor.New(tensor.WithShape(2, 3), tensor.WithBacking([]float32{1, 2, 3, 4, 5, 6}))
	s, err := tensor.Sum(d)
	if err != nil {
		t.Fatalf("tensor.Sum: %v", err)
	}
	if got := s.ScalarValue().(float32); got != 21 {
		t.Errorf("tensor.Sum = %v, want 21", got)
	}
}

func TestMatrix(t *testing.T) {
	data := []float32{1, 2, 3, 4, 5, 6}
	d := ssl.FromSlice(data, 2, 3)
	rows, cols, got, err := ssl.Matrix(d)
	if err != nil {
		t.Fatalf("Matrix(2×3): %v", err)
	}
	if rows != 2 || cols != 3 || len(got) != 6 || &got[0] != &data[0] {
		t.Errorf("Matrix(2×3) = %d, %d, len %d (aliases: %v), want 2, 3, len 6 aliasing the backing slice", rows, cols, len(got), &got[0] == &data[0])
	}
	if _, err := ssl.MatrixOf(d, 2, 3); err != nil {
		t.Errorf("MatrixOf(2×3, 2, 3): %v", err)
	}
	if _, err := ssl.MatrixOf(d, 3, 2); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("MatrixOf(2×3, 3, 2) error = %v, want ErrShape", err)
	}
	v, err := ssl.Vector(ssl.FromSlice([]float32{1, 2}, 2))
	if err != nil || len(v) != 2 {
		t.Errorf("Vector(len 2) = %v, %v", v, err)
	}
	if _, err := ssl.VectorOf(ssl.FromSlice([]float32{1, 2}, 2), 3); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("VectorOf(len 2, 3) error = %v, want ErrShape", err)
	}
	if _, err := ssl.ViewOf(ssl.New(2, 3, 4), 2, 3, 4); err != nil {
		t.Errorf("ViewOf(2×3×4): %v", err)
	}
	if _, err := ssl.ViewOf(ssl.New(2, 3, 4), 2, 12); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("ViewOf(2×3×4, 2, 12) error = %v, want ErrShape", err)
	}
}

func TestMatrixRejects(t *testing.T) {
	transposed := ssl.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	if err := transposed.T(); err != nil {
		t.Fatal(err)
	}
	sliced, err := ssl.FromSlice(make([]float32, 12), 3, 4).Slice(nil, tensor.S(1, 3))
	if err != nil {
		t.Fatal(err)
	}
	var nilDense *tensor.Dense
	for _, tc := range []struct {
		name string
		t    ssl.Tensor
	}{
		{"nil", nil},
		{"typed_nil", nilDense},
		{"float64", tensor.New(tensor.WithShape(2, 2), tensor.WithBacking([]float64{1, 2, 3, 4}))},
		{"int", tensor.New(tensor.WithShape(2), tensor.WithBacking([]int{1, 2}))},
		{"rank1", ssl.FromSlice([]float32{1, 2}, 2)},
		{"rank3", ssl.New(2, 2, 2)},
		{"scalar", tensor.New(tensor.FromScalar(float32(1)))},
		{"transposed", transposed},
		{"column_slice", sliced.(*tensor.Dense)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, _, err := ssl.Matrix(tc.t)
			if !errors.Is(err, ssl.ErrShape) {
				t.Errorf("Matrix(%s) error = %v, want ErrShape", tc.name, err)
			}
		})
	}
}

// TestViewRowSlice checks that a contiguous row slice of a matrix is
// accepted and views exactly its rows.
func TestViewRowSlice(t *testing.T) {
	d := ssl.FromSlice([]float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 4, 3)
	s, err := d.Slice(tensor.S(1, 3))
	if err != nil {
		t.Fatal(err)
	}
	rows, cols, got, err := ssl.Matrix(s.(*tensor.Dense))
	if err != nil {
		t.Fatalf("Matrix(rows 1:3): %v", err)
	}
	if rows != 2 || cols != 3 || got[0] != 3 || got[5] != 8 || len(got) != 6 {
		t.Errorf("Matrix(rows 1:3) = %d×%d %v, want 2×3 [3 … 8]", rows, cols, got)
	}
}

// TestNewZero checks New's shape and contents, and that FromSlice aliases.
func TestNewZero(t *testing.T) {
	d := ssl.New(3, 5)
	shape, data, err := ssl.View(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(shape) != 2 || shape[0] != 3 || shape[1] != 5 || len(data) != 15 {
		t.Fatalf("New(3, 5) = shape %v len %d", shape, len(data))
	}
	for i, v := range data {
		if v != 0 || math.Signbit(float64(v)) {
			t.Fatalf("New(3, 5)[%d] = %v, want +0", i, v)
		}
	}
}

// TestViewsAllocateNothing: the views every kernel call starts with must not
// allocate, so that calls with caller-supplied buffers allocate nothing.
func TestViewsAllocateNothing(t *testing.T) {
	m, v := ssl.New(4, 3), ssl.New(5)
	var sink int
	allocs := testing.AllocsPerRun(100, func() {
		_, _, d, _ := ssl.Matrix(m)
		e, _ := ssl.MatrixOf(m, 4, 3)
		f, _ := ssl.VectorOf(v, 5)
		g, _ := ssl.ViewOf(m, 4, 3)
		sink += len(d) + len(e) + len(f) + len(g)
	})
	if allocs != 0 {
		t.Errorf("Matrix, MatrixOf, VectorOf, ViewOf allocate %v times per call, want 0", allocs)
	}
}
