package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"ssl/internal/testutil"
)

// lseNaive is log Σ exp(v) in float64: NaN if any v is NaN, +Inf if any is
// +Inf, -Inf if all are -Inf, else through the maximum.
func lseNaive(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		if math.IsNaN(x) {
			return math.NaN()
		}
		m = math.Max(m, x)
	}
	if math.IsInf(m, 0) {
		return m
	}
	var s float64
	for _, x := range v {
		s += math.Exp(x - m)
	}
	return m + math.Log(s)
}

// Tolerances of the row kernels against float64: x − max is rounded to
// float32 (half an ulp of up to |x − max| ≈ 30 here, 1e-6 absolute) and the
// exponential adds expRelTol.
const (
	lseATol = 4e-6
	lseRTol = 1e-6
	smRTol  = 4e-6
	smATol  = 1e-12
)

// specialMatrix returns a rows×cols matrix of N(0, std) entries with some
// rows overwritten by special patterns, and the names of those patterns.
func specialMatrix(r *rand.Rand, rows, cols int, std float64) []float32 {
	x := make([]float32, rows*cols)
	for i := range x {
		x[i] = float32(std * r.NormFloat64())
	}
	return x
}

var (
	inf32 = float32(math.Inf(1))
	nan32 = float32(math.NaN())
)

// lseSpecialRows are rows with ±Inf and NaN, with their log-sum-exp.
var lseSpecialRows = []struct {
	name string
	row  []float32
}{
	{"plus_inf", []float32{1, inf32, 2, 3, 4, 5, 6, 7, 8, 9}},
	{"all_minus_inf", []float32{-inf32, -inf32, -inf32, -inf32, -inf32, -inf32, -inf32, -inf32, -inf32, -inf32}},
	{"some_minus_inf", []float32{-inf32, 1, -inf32, 2, 3, -inf32, 4, 5, 6, 7}},
	{"nan_first", []float32{nan32, 1, 2, 3, 4, 5, 6, 7, 8, 9}},
	{"nan_last", []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, nan32}},
	{"nan_and_plus_inf", []float32{1, inf32, 2, 3, 4, 5, nan32, 7, 8, 9}},
	{"nan_and_minus_inf", []float32{-inf32, -inf32, nan32, -inf32, -inf32, -inf32, -inf32, -inf32, -inf32, -inf32}},
	{"all_nan", []float32{nan32, nan32, nan32, nan32, nan32, nan32, nan32, nan32, nan32, nan32}},
	{"plus_and_minus_inf", []float32{-inf32, inf32, -inf32, 0, 0, 0, 0, 0, 0, 0}},
	{"large", []float32{1e30, 3e38, -3e38, 0, 1, 2, 3, 4, 5, 6}},
	{"tiny_spread", []float32{-1e3, -1e3, -1e3, -1e3, -1e3, -1e3, -1e3, -1e3, -1e3, -1e3}},
}

var lseShapes = []struct{ rows, cols int }{
	{1, 1}, {1, 9}, {9, 1}, {7, 13}, {13, 7}, {33, 65}, {65, 33}, {3, 1000}, {1000, 3}, {300, 517}, {1100, 70},
}

func rowsOf(x []float32, rows, cols int) [][]float64 {
	out := make([][]float64, rows)
	for i := range rows {
		out[i] = testutil.F64s(x[i*cols : (i+1)*cols])
	}
	return out
}

func colsOf(x []float32, rows, cols int) [][]float64 {
	out := make([][]float64, cols)
	for j := range cols {
		out[j] = make([]float64, rows)
		for i := range rows {
			out[j][i] = float64(x[i*cols+j])
		}
	}
	return out
}

func checkLSE(t *testing.T, name string, got []float32, vecs [][]float64) {
	t.Helper()
	want := make([]float64, len(vecs))
	for i, v := range vecs {
		want[i] = lseNaive(v)
	}
	for i := range want {
		g := float64(got[i])
		if math.IsNaN(want[i]) {
			if !math.IsNaN(g) {
				t.Errorf("%s[%d] = %v, want NaN", name, i, g)
			}
			continue
		}
		if !testutil.Close(g, want[i], lseATol, lseRTol) {
			t.Errorf("%s[%d] = %.9g, want %.9g", name, i, g, want[i])
		}
	}
}

func TestLogSumExpRows(t *testing.T) {
	r := testutil.Rand(10)
	for _, sh := range lseShapes {
		for _, std := range []float64{1, 10} {
			t.Run(fmt.Sprintf("%dx%d_std%g", sh.rows, sh.cols, std), func(t *testing.T) {
				x := specialMatrix(r, sh.rows, sh.cols, std)
				x0 := append([]float32(nil), x...)
				dst := testutil.Data(testutil.NaNs(sh.rows + 1))
				LogSumExpRows(dst, x, sh.rows, sh.cols)
				sameBits(t, "x", x, x0)
				checkLSE(t, "LogSumExpRows", dst[:sh.rows], rowsOf(x, sh.rows, sh.cols))
				if dst[sh.rows] == dst[sh.rows] {
					t.Errorf("LogSumExpRows wrote past rows")
				}
			})
		}
	}
}

func TestLogSumExpCols(t *testing.T) {
	r := testutil.Rand(11)
	for _, sh := range lseShapes {
		for _, std := range []float64{1, 10} {
			t.Run(fmt.Sprintf("%dx%d_std%g", sh.rows, sh.cols, std), func(t *testing.T) {
				x := specialMatrix(r, sh.rows, sh.cols, std)
				x0 := append([]float32(nil), x...)
				dst := testutil.Data(testutil.NaNs(sh.cols + 1))
				LogSumExpCols(dst, x, sh.rows, sh.cols)
				sameBits(t, "x", x, x0)
				checkLSE(t, "LogSumExpCols", dst[:sh.cols], colsOf(x, sh.rows, sh.cols))
				if dst[sh.cols] == dst[sh.cols] {
					t.Errorf("LogSumExpCols wrote past cols")
				}
			})
		}
	}
}

// specialGrid returns a matrix whose rows are lseSpecialRows, repeated with
// ordinary rows between them, and the same matrix transposed, so the row and
// column kernels see the special values in every lane and block position.
func specialGrid(r *rand.Rand, reps int) (x, xt []float32, rows, cols int) {
	cols = len(lseSpecialRows[0].row)
	for rep := range reps {
		for _, sr := range lseSpecialRows {
			x = append(x, sr.row...)
			for range rep % 3 {
				for range cols {
					x = append(x, float32(r.NormFloat64()))
				}
			}
		}
	}
	rows = len(x) / cols
	xt = make([]float32, len(x))
	for i := range rows {
		for j := range cols {
			xt[j*rows+i] = x[i*cols+j]
		}
	}
	return x, xt, rows, cols
}

func TestLogSumExpSpecial(t *testing.T) {
	for _, reps := range []int{1, 40} {
		x, xt, rows, cols := specialGrid(testutil.Rand(12), reps)
		dst := make([]float32, rows)
		LogSumExpRows(dst, x, rows, cols)
		checkLSE(t, fmt.Sprintf("LogSumExpRows(special, reps=%d)", reps), dst, rowsOf(x, rows, cols))
		dst = make([]float32, rows)
		LogSumExpCols(dst, xt, cols, rows)
		checkLSE(t, fmt.Sprintf("LogSumExpCols(special, reps=%d)", reps), dst, colsOf(xt, cols, rows))
	}
	// Named cases, so a failure says which pattern broke.
	for _, sr := range lseSpecialRows {
		dst := []float32{0}
		LogSumExpRows(dst, sr.row, 1, len(sr.row))
		checkLSE(t, "LogSumExpRows("+sr.name+")", dst, [][]float64{testutil.F64s(sr.row)})
		LogSumExpCols(dst, sr.row, len(sr.row), 1)
		checkLSE(t, "LogSumExpCols("+sr.name+")", dst, [][]float64{testutil.F64s(sr.row)})
	}
}

// softmaxNaive is exp(v − lse(v)) in float64.
func softmaxNaive(v []float64) []float64 {
	l := lseNaive(v)
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Exp(x - l)
	}
	return out
}

func TestSoftmaxRows(t *testing.T) {
	r := testutil.Rand(13)
	for _, sh := range lseShapes {
		for _, std := range []float64{1, 10} {
			name := fmt.Sprintf("%dx%d_std%g", sh.rows, sh.cols, std)
			x := specialMatrix(r, sh.rows, sh.cols, std)
			if sh.cols > 2 {
				x[1] = -inf32 // a masked entry, as NT-Xent's diagonal
			}
			x0 := append([]float32(nil), x...)
			dst := testutil.Data(testutil.NaNs(sh.rows * sh.cols))
			SoftmaxRows(dst, x, sh.rows, sh.cols)
			sameBits(t, "x", x, x0)
			var want []float64
			for _, row := range rowsOf(x, sh.rows, sh.cols) {
				want = append(want, softmaxNaive(row)...)
			}
			testutil.AllClose32(t, "SoftmaxRows("+name+")", dst, want, smATol, smRTol)
			// In place.
			SoftmaxRows(x, x, sh.rows, sh.cols)
			sameBits(t, "SoftmaxRows in place ("+name+")", x, dst)
		}
	}
}

func TestLogSoftmaxRows(t *testing.T) {
	r := testutil.Rand(14)
	for _, sh := range lseShapes {
		for _, std := range []float64{1, 10} {
			name := fmt.Sprintf("%dx%d_std%g", sh.rows, sh.cols, std)
			x := specialMatrix(r, sh.rows, sh.cols, std)
			x0 := append([]float32(nil), x...)
			dst := testutil.Data(testutil.NaNs(sh.rows * sh.cols))
			LogSoftmaxRows(dst, x, sh.rows, sh.cols)
			sameBits(t, "x", x, x0)
			var want []float64
			for _, row := range rowsOf(x, sh.rows, sh.cols) {
				l := lseNaive(row)
				for _, v := range row {
					want = append(want, v-l)
				}
			}
			testutil.AllClose32(t, "LogSoftmaxRows("+name+")", dst, want, lseATol, lseRTol)
			LogSoftmaxRows(x, x, sh.rows, sh.cols)
			sameBits(t, "LogSoftmaxRows in place ("+name+")", x, dst)
		}
	}
	// A masked (-Inf) entry stays -Inf; the others are finite.
	row := []float32{-inf32, 0, 1}
	LogSoftmaxRows(row, row, 1, 3)
	if !math.IsInf(float64(row[0]), -1) || math.IsInf(float64(row[1]), 0) || row[1] != row[1] {
		t.Errorf("LogSoftmaxRows([-Inf 0 1]) = %v", row)
	}
}

// TestReductionsGOMAXPROCS checks that the row and column kernels are
// bit-identical for one and several threads.
func TestReductionsGOMAXPROCS(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	r := testutil.Rand(15)
	for _, sh := range []struct{ rows, cols int }{{2000, 300}, {300, 2000}, {5000, 40}, {40, 5000}} {
		x := specialMatrix(r, sh.rows, sh.cols, 5)
		type result struct{ rows, cols, sm, lsm []float32 }
		var res []result
		for _, procs := range []int{1, 2, 3} {
			runtime.GOMAXPROCS(procs)
			var o result
			o.rows = make([]float32, sh.rows)
			LogSumExpRows(o.rows, x, sh.rows, sh.cols)
			o.cols = make([]float32, sh.cols)
			LogSumExpCols(o.cols, x, sh.rows, sh.cols)
			o.sm = make([]float32, len(x))
			SoftmaxRows(o.sm, x, sh.rows, sh.cols)
			o.lsm = make([]float32, len(x))
			LogSoftmaxRows(o.lsm, x, sh.rows, sh.cols)
			res = append(res, o)
		}
		name := fmt.Sprintf("%dx%d", sh.rows, sh.cols)
		for i := 1; i < len(res); i++ {
			sameBits(t, "LogSumExpRows "+name, res[i].rows, res[0].rows)
			sameBits(t, "LogSumExpCols "+name, res[i].cols, res[0].cols)
			sameBits(t, "SoftmaxRows "+name, res[i].sm, res[0].sm)
			sameBits(t, "LogSoftmaxRows "+name, res[i].lsm, res[0].lsm)
		}
	}
}

// TestRowKernelsSmallAllocs checks that the row kernels and Exp allocate
// nothing when the input is one parallel block.
func TestRowKernelsSmallAllocs(t *testing.T) {
	const rows, cols = 64, 100
	x := specialMatrix(testutil.Rand(16), rows, cols, 1)
	d, y := make([]float32, rows), make([]float32, rows*cols)
	for name, f := range map[string]func(){
		"LogSumExpRows":  func() { LogSumExpRows(d, x, rows, cols) },
		"SoftmaxRows":    func() { SoftmaxRows(y, x, rows, cols) },
		"LogSoftmaxRows": func() { LogSoftmaxRows(y, x, rows, cols) },
		"Exp":            func() { Exp(y, x) },
	} {
		if got := testing.AllocsPerRun(50, f); got != 0 {
			t.Errorf("%s(%dx%d) allocates %v times per call, want 0", name, rows, cols, got)
		}
	}
}
