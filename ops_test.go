package ssl_test

import (
	"errors"
	"math"
	"slices"
	"testing"

	"gorgonia.org/tensor"

	"ssl"
)

// seq returns a tensor of the given shape holding 0, 1, 2, … in row-major
// order.
func seq(shape ...int) *tensor.Dense {
	t := ssl.New(shape...)
	_, d, _ := ssl.View(t)
	for i := range d {
		d[i] = float32(i)
	}
	return t
}

func data(t *testing.T, x ssl.Tensor) []float32 {
	t.Helper()
	_, d, err := ssl.View(x)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestRows(t *testing.T) {
	for _, tc := range []struct {
		name      string
		t         ssl.Tensor
		lo, hi    int
		shape     []int
		first     float32
		wantError error
	}{
		{"matrix", seq(4, 3), 1, 3, []int{2, 3}, 3, nil},
		{"all", seq(4, 3), 0, 4, []int{4, 3}, 0, nil},
		{"empty_range", seq(4, 3), 2, 2, []int{0, 3}, 0, nil},
		{"vector", seq(5), 3, 5, []int{2}, 3, nil},
		{"rank4", seq(3, 2, 2, 2), 2, 3, []int{1, 2, 2, 2}, 16, nil},
		{"lo_negative", seq(4, 3), -1, 2, nil, 0, ssl.ErrParam},
		{"hi_past_end", seq(4, 3), 1, 5, nil, 0, ssl.ErrParam},
		{"lo_after_hi", seq(4, 3), 3, 2, nil, 0, ssl.ErrParam},
		{"nil", nil, 0, 0, nil, 0, ssl.ErrShape},
		{"float64", tensor.New(tensor.WithShape(2), tensor.WithBacking([]float64{1, 2})), 0, 1, nil, 0, ssl.ErrShape},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ssl.Rows(tc.t, tc.lo, tc.hi)
			if tc.wantError != nil {
				if !errors.Is(err, tc.wantError) {
					t.Fatalf("Rows error = %v, want %v", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal([]int(got.Shape()), tc.shape) {
				t.Fatalf("Rows shape %v, want %v", got.Shape(), tc.shape)
			}
			d := data(t, got)
			if len(d) > 0 && d[0] != tc.first {
				t.Errorf("Rows first value %v, want %v", d[0], tc.first)
			}
		})
	}
}

// TestViewsShareStorage: Rows, Row and Reshape write through to the
// original, and a row view cannot grow into the rows after it.
func TestViewsShareStorage(t *testing.T) {
	x := seq(4, 3)
	xd := data(t, x)
	r, err := ssl.Rows(x, 1, 3)
	if err != nil {
		t.Fatal(err)
	}
	rd := data(t, r)
	rd[0] = 100
	if xd[3] != 100 {
		t.Errorf("Rows: write to view gave x[1,0] = %v, want 100", xd[3])
	}
	if cap(rd) != 6 {
		t.Errorf("Rows: cap of the view's data %d, want 6 (no access past hi)", cap(rd))
	}
	row, err := ssl.Row(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	row[2] = 200
	if xd[8] != 200 || len(row) != 3 || cap(row) != 3 {
		t.Errorf("Row: x[2,2] = %v, len %d cap %d; want 200, 3, 3", xd[8], len(row), cap(row))
	}
	v, err := ssl.Reshape(x, -1)
	if err != nil {
		t.Fatal(err)
	}
	data(t, v)[11] = 300
	if xd[11] != 300 {
		t.Errorf("Reshape: x[3,2] = %v, want 300", xd[11])
	}
	c, err := ssl.Clone(x)
	if err != nil {
		t.Fatal(err)
	}
	data(t, c)[0] = -1
	if xd[0] != 0 || !slices.Equal([]int(c.Shape()), []int{4, 3}) {
		t.Errorf("Clone: x[0] = %v after writing the clone, shape %v", xd[0], c.Shape())
	}
}

func TestRow(t *testing.T) {
	x := seq(3, 2, 2)
	got, err := ssl.Row(x, 1)
	if err != nil || !slices.Equal(got, []float32{4, 5, 6, 7}) {
		t.Errorf("Row(3×2×2, 1) = %v, %v; want [4 5 6 7]", got, err)
	}
	for _, i := range []int{-1, 3} {
		if _, err := ssl.Row(x, i); !errors.Is(err, ssl.ErrParam) {
			t.Errorf("Row(3×2×2, %d) error = %v, want ErrParam", i, err)
		}
	}
	if _, err := ssl.Row(nil, 0); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("Row(nil) error = %v, want ErrShape", err)
	}
}

func TestReshape(t *testing.T) {
	for _, tc := range []struct {
		name      string
		t         ssl.Tensor
		shape     []int
		want      []int
		wantError error
	}{
		{"flatten", seq(2, 3, 4), []int{-1}, []int{24}, nil},
		{"infer_middle", seq(2, 3, 4), []int{2, -1, 2}, []int{2, 6, 2}, nil},
		{"explicit", seq(6), []int{2, 3}, []int{2, 3}, nil},
		{"empty_tensor", seq(0, 3), []int{3, 0}, []int{3, 0}, nil},
		{"size_differs", seq(2, 3), []int{4, 2}, nil, ssl.ErrShape},
		{"not_divisible", seq(2, 3), []int{4, -1}, nil, ssl.ErrShape},
		{"two_inferred", seq(2, 3), []int{-1, -1}, nil, ssl.ErrShape},
		{"negative", seq(2, 3), []int{-2, -3}, nil, ssl.ErrShape},
		{"no_dims", seq(1), nil, nil, ssl.ErrShape},
		{"infer_from_zero", seq(0, 3), []int{0, -1}, nil, ssl.ErrShape},
		{"nil", nil, []int{1}, nil, ssl.ErrShape},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ssl.Reshape(tc.t, tc.shape...)
			if tc.wantError != nil {
				if !errors.Is(err, tc.wantError) {
					t.Fatalf("Reshape error = %v, want %v", err, tc.wantError)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal([]int(got.Shape()), tc.want) {
				t.Errorf("Reshape shape %v, want %v", got.Shape(), tc.want)
			}
		})
	}
	// The caller's shape slice is not kept.
	shape := []int{3, -1}
	r, err := ssl.Reshape(seq(6), shape...)
	if err != nil {
		t.Fatal(err)
	}
	shape[0] = 99
	if r.Shape()[0] != 3 || shape[1] != -1 {
		t.Errorf("Reshape kept or modified the caller's shape: %v, %v", r.Shape(), shape)
	}
}

func TestArgmaxRows(t *testing.T) {
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	for _, tc := range []struct {
		name      string
		x         ssl.Tensor
		dst       []int
		want      []int
		wantError error
	}{
		{"basic", ssl.FromSlice([]float32{1, 3, 2, 5, 4, 0}, 2, 3), nil, []int{1, 0}, nil},
		{"ties_first", ssl.FromSlice([]float32{2, 2, 1, 7, 7, 7}, 2, 3), nil, []int{0, 0}, nil},
		{"infinities", ssl.FromSlice([]float32{-inf, -inf, 1, inf}, 2, 2), nil, []int{0, 1}, nil},
		{"dst_given", ssl.FromSlice([]float32{0, 1}, 1, 2), make([]int, 1), []int{1}, nil},
		{"no_rows", ssl.New(0, 4), nil, []int{}, nil},
		{"nan", ssl.FromSlice([]float32{1, 2, 3, nan}, 2, 2), nil, nil, ssl.ErrNotFinite},
		{"dst_short", ssl.FromSlice([]float32{1, 2, 3, 4}, 2, 2), make([]int, 1), nil, ssl.ErrShape},
		{"no_columns", ssl.New(2, 0), nil, nil, ssl.ErrShape},
		{"rank1", seq(3), nil, nil, ssl.ErrShape},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ssl.ArgmaxRows(tc.dst, tc.x)
			if tc.wantError != nil {
				if !errors.Is(err, tc.wantError) {
					t.Fatalf("ArgmaxRows error = %v, want %v", err, tc.wantError)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("ArgmaxRows = %v, %v; want %v", got, err, tc.want)
			}
			if tc.dst != nil && &got[0] != &tc.dst[0] {
				t.Errorf("ArgmaxRows did not write into dst")
			}
		})
	}
	// A NaN leaves dst untouched.
	dst := []int{-7, -7}
	if _, err := ssl.ArgmaxRows(dst, ssl.FromSlice([]float32{1, 2, nan, 0}, 2, 2)); err == nil || dst[0] != -7 {
		t.Errorf("ArgmaxRows with NaN: err %v, dst %v; want an error and dst unchanged", err, dst)
	}
}

// naiveMatMul is the defining loop of op(a)·op(b).
func naiveMatMul(a []float32, ar, ac int, b []float32, br, bc int, transA, transB bool) (m, n int, c []float32) {
	at := func(i, p int) float32 {
		if transA {
			return a[p*ac+i]
		}
		return a[i*ac+p]
	}
	bt := func(p, j int) float32 {
		if transB {
			return b[j*bc+p]
		}
		return b[p*bc+j]
	}
	m, k, n := ar, ac, bc
	if transA {
		m, k = ac, ar
	}
	if transB {
		n = br
	}
	c = make([]float32, m*n)
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				s += float64(at(i, p)) * float64(bt(p, j))
			}
			c[i*n+j] = float32(s)
		}
	}
	return m, n, c
}

func TestMatMul(t *testing.T) {
	for _, tc := range []struct {
		name           string
		ar, ac, br, bc int
		transA, transB bool
	}{
		{"nn", 3, 4, 4, 5, false, false},
		{"tn", 4, 3, 4, 5, true, false},
		{"nt", 3, 4, 5, 4, false, true},
		{"tt", 4, 3, 5, 4, true, true},
		{"large", 37, 65, 65, 19, false, false},
		{"inner_zero", 3, 0, 0, 2, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := seq(tc.ar, tc.ac), seq(tc.br, tc.bc)
			for _, v := range [][]float32{data(t, a), data(t, b)} {
				for i := range v {
					v[i] = float32(math.Sin(float64(v[i])))
				}
			}
			m, n, want := naiveMatMul(data(t, a), tc.ar, tc.ac, data(t, b), tc.br, tc.bc, tc.transA, tc.transB)
			got, err := ssl.MatMul(nil, a, b, tc.transA, tc.transB)
			if err != nil {
				t.Fatal(err)
			}
			if s := []int(got.Shape()); !slices.Equal(s, []int{m, n}) {
				t.Fatalf("MatMul shape %v, want [%d %d]", s, m, n)
			}
			dst := ssl.New(m, n)
			data(t, dst)[0] = float32(math.NaN()) // overwritten, not accumulated
			if _, err := ssl.MatMul(dst, a, b, tc.transA, tc.transB); err != nil {
				t.Fatal(err)
			}
			for _, g := range [][]float32{data(t, got), data(t, dst)} {
				for i := range want {
					if math.Abs(float64(g[i]-want[i])) > 1e-4 {
						t.Fatalf("MatMul[%d] = %v, want %v", i, g[i], want[i])
					}
				}
			}
		})
	}
}

func TestMatMulRejects(t *testing.T) {
	a, b := seq(2, 3), seq(3, 4)
	for _, tc := range []struct {
		name           string
		dst, a, b      ssl.Tensor
		transA, transB bool
		want           error
	}{
		{"inner", nil, a, seq(4, 3), false, false, ssl.ErrShape},
		{"inner_trans", nil, a, b, true, false, ssl.ErrShape},
		{"dst_shape", ssl.New(2, 3), a, b, false, false, ssl.ErrShape},
		{"dst_is_a", a, a, seq(3, 3), false, false, ssl.ErrShape},
		{"dst_overlaps_b", ssl.FromSlice(data(t, b)[:8], 2, 4), a, b, false, false, ssl.ErrShape},
		{"rank1", nil, seq(3), b, false, false, ssl.ErrShape},
		{"nil_b", nil, a, nil, false, false, ssl.ErrShape},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ssl.MatMul(tc.dst, tc.a, tc.b, tc.transA, tc.transB); !errors.Is(err, tc.want) {
				t.Errorf("MatMul error = %v, want %v", err, tc.want)
			}
		})
	}
}

func TestNormalizeRows(t *testing.T) {
	x := ssl.FromSlice([]float32{3, 4, 0, 0, 1e-20, 0}, 3, 2)
	got, err := ssl.NormalizeRows(nil, x)
	if err != nil {
		t.Fatal(err)
	}
	// The last row's norm is below eps = 1e-12: it is divided by eps.
	want := []float32{0.6, 0.8, 0, 0, 1e-8, 0}
	for i, w := range want {
		if g := data(t, got)[i]; math.Abs(float64(g-w)) > 1e-7*math.Max(1, math.Abs(float64(w))) {
			t.Errorf("NormalizeRows[%d] = %v, want %v", i, g, w)
		}
	}
	if data(t, x)[0] != 3 {
		t.Errorf("NormalizeRows modified x")
	}
	// In place.
	if _, err := ssl.NormalizeRows(x, x); err != nil {
		t.Fatal(err)
	}
	if d := data(t, x); d[0] != data(t, got)[0] || d[1] != data(t, got)[1] {
		t.Errorf("NormalizeRows in place = %v, want %v", d, data(t, got))
	}
	xd := data(t, seq(3, 2))
	shifted := ssl.FromSlice(xd[2:], 2, 2)
	for _, tc := range []struct {
		name   string
		dst, x ssl.Tensor
	}{
		{"dst_shape", ssl.New(2, 3), seq(3, 2)},
		{"partial_overlap", shifted, ssl.FromSlice(xd[:4], 2, 2)},
		{"rank3", nil, seq(2, 2, 2)},
		{"nil_x", nil, nil},
	} {
		if _, err := ssl.NormalizeRows(tc.dst, tc.x); !errors.Is(err, ssl.ErrShape) {
			t.Errorf("NormalizeRows(%s) error = %v, want ErrShape", tc.name, err)
		}
	}
}

func TestSoftmaxRows(t *testing.T) {
	x := ssl.FromSlice([]float32{0, 0, float32(math.Log(3)), 1, 1, 1}, 2, 3)
	got, err := ssl.SoftmaxRows(nil, x, 1)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{0.2, 0.2, 0.6, 1.0 / 3, 1.0 / 3, 1.0 / 3}
	for i, w := range want {
		if g := data(t, got)[i]; math.Abs(float64(g-w)) > 1e-6 {
			t.Errorf("SoftmaxRows[%d] = %v, want %v", i, g, w)
		}
	}
	// tau = 0.5 doubles the logits: softmax(0, 0, 2 log 3) = (1, 1, 9)/11.
	if _, err := ssl.SoftmaxRows(got, x, 0.5); err != nil {
		t.Fatal(err)
	}
	if g := data(t, got)[2]; math.Abs(float64(g)-9.0/11) > 1e-6 {
		t.Errorf("SoftmaxRows(tau=0.5)[0,2] = %v, want %v", g, 9.0/11)
	}
	// In place with a temperature.
	if _, err := ssl.SoftmaxRows(x, x, 0.5); err != nil {
		t.Fatal(err)
	}
	if g := data(t, x)[2]; math.Abs(float64(g)-9.0/11) > 1e-6 {
		t.Errorf("SoftmaxRows in place (tau=0.5)[0,2] = %v, want %v", g, 9.0/11)
	}
	for _, tau := range []float64{0, -1, math.Inf(1), math.NaN()} {
		if _, err := ssl.SoftmaxRows(nil, x, tau); !errors.Is(err, ssl.ErrParam) {
			t.Errorf("SoftmaxRows(tau=%v) error = %v, want ErrParam", tau, err)
		}
	}
	if _, err := ssl.SoftmaxRows(ssl.New(3, 2), x, 1); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("SoftmaxRows(dst 3×2, x 2×3) error = %v, want ErrShape", err)
	}
}

// TestOpsAllocation: with a destination, MatMul on a small product,
// NormalizeRows, SoftmaxRows and ArgmaxRows allocate nothing.
func TestOpsAllocation(t *testing.T) {
	a, b, c := seq(4, 3), seq(3, 5), ssl.New(4, 5)
	idx := make([]int, 4)
	rows := testing.AllocsPerRun(50, func() {
		ssl.NormalizeRows(c, c)
		ssl.SoftmaxRows(c, c, 0.1)
		ssl.ArgmaxRows(idx, c)
	})
	if rows != 0 {
		t.Errorf("NormalizeRows, SoftmaxRows, ArgmaxRows with destinations allocate %v times per call, want 0", rows)
	}
	if raceEnabled {
		// MatMul's packed panels come from a sync.Pool, which drops a
		// quarter of them under the race detector.
		t.Log("MatMul's allocations are not checked under the race detector")
		return
	}
	if mm := testing.AllocsPerRun(50, func() { ssl.MatMul(c, a, b, false, false) }); mm != 0 {
		t.Errorf("MatMul with a destination allocates %v times per call, want 0", mm)
	}
}
