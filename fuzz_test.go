package ssl_test

import (
	"errors"
	"testing"

	"gorgonia.org/tensor"

	"ssl"
)

// FuzzMatrix builds tensors of arbitrary shape, dtype and layout (row
// slices, column slices, transposes) and checks that Matrix either returns
// an error wrapping ErrShape or a view whose every element equals the
// tensor's own element at that position. It must never panic.
func FuzzMatrix(f *testing.F) {
	f.Add(uint8(2), uint8(3), uint8(0), uint8(0), uint8(0))
	f.Add(uint8(1), uint8(1), uint8(1), uint8(0), uint8(0))
	f.Add(uint8(4), uint8(5), uint8(2), uint8(1), uint8(3))
	f.Add(uint8(0), uint8(3), uint8(3), uint8(0), uint8(1))
	f.Fuzz(func(t *testing.T, r, c, layout, lo, hi uint8) {
		rows, cols := int(r%9), int(c%9)
		if layout%5 != 0 && layout%5 != 4 {
			// gorgonia itself panics when slicing or transposing an empty tensor.
			rows, cols = max(rows, 1), max(cols, 1)
		}
		data := make([]float32, rows*cols)
		for i := range data {
			data[i] = float32(i)
		}
		var tt ssl.Tensor
		switch layout % 5 {
		case 0:
			tt = tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(data))
		case 1: // lazy transpose
			d := tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(data))
			if err := d.T(); err != nil {
				return
			}
			tt = d
		case 2: // row slice
			d := tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(data))
			a, b := int(lo)%(rows+1), int(hi)%(rows+1)
			if a >= b {
				return
			}
			v, err := d.Slice(tensor.S(a, b))
			if err != nil {
				return
			}
			tt = v.(*tensor.Dense)
		case 3: // column slice
			d := tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(data))
			a, b := int(lo)%(cols+1), int(hi)%(cols+1)
			if a >= b {
				return
			}
			v, err := d.Slice(nil, tensor.S(a, b))
			if err != nil {
				return
			}
			tt = v.(*tensor.Dense)
		case 4: // wrong dtype
			f64 := make([]float64, rows*cols)
			tt = tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(f64))
		}
		n, m, view, err := ssl.Matrix(tt)
		if err != nil {
			if !errors.Is(err, ssl.ErrShape) {
				t.Fatalf("Matrix: error %v does not wrap ErrShape", err)
			}
			return
		}
		if len(view) != n*m {
			t.Fatalf("Matrix: view has %d elements for %d×%d", len(view), n, m)
		}
		d := tt.(*tensor.Dense)
		for i := range n {
			for j := range m {
				want, err := d.At(i, j)
				if err != nil {
					t.Fatalf("At(%d, %d): %v", i, j, err)
				}
				if view[i*m+j] != want.(float32) {
					t.Fatalf("view[%d,%d] = %v, tensor has %v (layout %d)", i, j, view[i*m+j], want, layout%5)
				}
			}
		}
	})
}

// FuzzRowsReshape calls Rows, Row and Reshape with arbitrary ranges and
// shapes on a matrix: each either fails with an error wrapping ErrShape or
// ErrParam or returns a view of the right size whose elements are the
// matrix's own. None may panic.
func FuzzRowsReshape(f *testing.F) {
	f.Add(uint8(4), uint8(3), int8(1), int8(3), int8(2), int8(-1))
	f.Add(uint8(0), uint8(5), int8(0), int8(0), int8(-1), int8(0))
	f.Add(uint8(2), uint8(2), int8(-1), int8(9), int8(-1), int8(-1))
	f.Fuzz(func(t *testing.T, r, c uint8, lo, hi, d0, d1 int8) {
		rows, cols := int(r%9), int(c%9)
		data := make([]float32, rows*cols)
		for i := range data {
			data[i] = float32(i)
		}
		m := ssl.FromSlice(data, rows, cols)
		sentinel := func(err error) bool { return errors.Is(err, ssl.ErrShape) || errors.Is(err, ssl.ErrParam) }
		v, err := ssl.Rows(m, int(lo), int(hi))
		if err != nil {
			if !sentinel(err) {
				t.Fatalf("Rows(%d×%d, %d, %d) error %v wraps no sentinel", rows, cols, lo, hi, err)
			}
		} else {
			_, got, err := ssl.View(v)
			if err != nil || len(got) != (int(hi)-int(lo))*cols || (len(got) > 0 && got[0] != data[int(lo)*cols]) {
				t.Fatalf("Rows(%d×%d, %d, %d) = %v, %v", rows, cols, lo, hi, got, err)
			}
		}
		if row, err := ssl.Row(m, int(lo)); err != nil {
			if !sentinel(err) {
				t.Fatalf("Row error %v wraps no sentinel", err)
			}
		} else if len(row) != cols || (cols > 0 && row[0] != data[int(lo)*cols]) {
			t.Fatalf("Row(%d×%d, %d) = %v", rows, cols, lo, row)
		}
		w, err := ssl.Reshape(m, int(d0), int(d1))
		if err != nil {
			if !errors.Is(err, ssl.ErrShape) {
				t.Fatalf("Reshape error %v does not wrap ErrShape", err)
			}
			return
		}
		shape, got, err := ssl.View(w)
		if err != nil || len(got) != len(data) || shape[0]*shape[1] != len(data) {
			t.Fatalf("Reshape(%d×%d, %d, %d) = shape %v, %d elements, %v", rows, cols, d0, d1, shape, len(got), err)
		}
	})
}
