package kernel

import (
	"fmt"
	"math"
	"testing"

	"ssl/internal/testutil"
)

// normalizeNaive is x_i / max(‖x_i‖, eps) per row, in float64.
func normalizeNaive(x []float64, rows, cols int, eps float64) (y, norms []float64) {
	y = make([]float64, len(x))
	norms = make([]float64, rows)
	for i := range rows {
		var s float64
		for j := range cols {
			s += x[i*cols+j] * x[i*cols+j]
		}
		n := math.Sqrt(s)
		norms[i] = n
		for j := range cols {
			y[i*cols+j] = x[i*cols+j] / math.Max(n, eps)
		}
	}
	return y, norms
}

const normEps = 1e-12 // torch.nn.functional.normalize's default

func TestL2NormalizeRows(t *testing.T) {
	r := testutil.Rand(20)
	for _, sh := range []struct{ rows, cols int }{{1, 1}, {1, 7}, {7, 1}, {7, 13}, {33, 65}} {
		for _, std := range []float64{1, 1e-3, 1e3} {
			name := fmt.Sprintf("%dx%d_std%g", sh.rows, sh.cols, std)
			x := testutil.Data(testutil.RandN(r, std, sh.rows, sh.cols))
			if sh.rows > 2 {
				clear(x[sh.cols : 2*sh.cols]) // a zero row takes the eps branch
			}
			x0 := append([]float32(nil), x...)
			dst := testutil.Data(testutil.NaNs(sh.rows, sh.cols))
			norms := testutil.Data(testutil.NaNs(sh.rows))
			L2NormalizeRows(dst, norms, x, sh.rows, sh.cols, normEps)
			sameBits(t, "x", x, x0)
			wantY, wantN := normalizeNaive(testutil.F64s(x), sh.rows, sh.cols, normEps)
			testutil.AllClose32(t, "L2NormalizeRows y ("+name+")", dst, wantY, 1e-7, 1e-6)
			testutil.AllClose32(t, "L2NormalizeRows norms ("+name+")", norms, wantN, 0, 1e-6)
			// nil norms and in place give the same y.
			L2NormalizeRows(x, nil, x, sh.rows, sh.cols, normEps)
			sameBits(t, "L2NormalizeRows in place ("+name+")", x, dst)
		}
	}
}

func TestL2NormalizeRowsBackward(t *testing.T) {
	r := testutil.Rand(21)
	for _, sh := range []struct{ rows, cols int }{{1, 1}, {1, 5}, {4, 1}, {7, 13}, {9, 33}} {
		for _, std := range []float64{1, 1e-2, 1e2} {
			name := fmt.Sprintf("%dx%d_std%g", sh.rows, sh.cols, std)
			x := testutil.Data(testutil.RandN(r, std, sh.rows, sh.cols))
			w := testutil.Data(testutil.RandN(r, 1, sh.rows, sh.cols))
			y := make([]float32, len(x))
			norms := make([]float32, sh.rows)
			L2NormalizeRows(y, norms, x, sh.rows, sh.cols, normEps)
			y0, w0 := append([]float32(nil), y...), append([]float32(nil), w...)
			dx := testutil.Data(testutil.NaNs(sh.rows, sh.cols))
			L2NormalizeRowsBackward(dx, w, y, norms, sh.rows, sh.cols, normEps)
			sameBits(t, "y", y, y0)
			sameBits(t, "dy", w, w0)
			// f(x) = Σ w ⊙ normalize(x): its gradient is the backward of dy = w.
			wf := testutil.F64s(w)
			f := func(x []float64) float64 {
				yy, _ := normalizeNaive(x, sh.rows, sh.cols, normEps)
				var s float64
				for i := range yy {
					s += wf[i] * yy[i]
				}
				return s
			}
			testutil.GradCheck(t, "L2NormalizeRowsBackward("+name+")", testutil.F64s(dx), f, testutil.F64s(x), 1e-6*std, 1e-4/std, 1e-4)
			// dx may be dy itself.
			L2NormalizeRowsBackward(w, w, y, norms, sh.rows, sh.cols, normEps)
			sameBits(t, "L2NormalizeRowsBackward in place ("+name+")", w, dx)
		}
	}
	// Under the clamp (‖x‖ ≤ eps) the map is x/eps, so dx = dy/eps.
	dy := []float32{1, -2}
	dx := []float32{nan32, nan32}
	L2NormalizeRowsBackward(dx, dy, []float32{0, 0}, []float32{0}, 1, 2, 0.5)
	if dx[0] != 2 || dx[1] != -4 {
		t.Errorf("L2NormalizeRowsBackward under the clamp = %v, want [2 -4]", dx)
	}
}
