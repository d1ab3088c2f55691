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

// normSizes are the row lengths the normalisation tests run: odd sizes
// around the 8-, 16- and 32-element blocks of the assembly, NT-Xent's 128
// and a long row.
var normSizes = []int{1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 40, 63, 64, 65, 127, 128, 129, 513}

// sumOrderBound is 2·γ(n−1)·Σ|x[i]·y[i]|, γ(k) = k·u/(1−k·u), u = 2⁻⁵³: how
// far two float64 sums of the exact products x[i]·y[i] in different orders
// can be apart (Higham, Accuracy and Stability of Numerical Algorithms,
// eq. 4.4, once for each).
func sumOrderBound(x, y []float32) float64 {
	var s float64
	for i, v := range x {
		s += math.Abs(float64(v) * float64(y[i]))
	}
	k := float64(max(len(x)-1, 0)) * 0x1p-53
	return 2 * k / (1 - k) * s
}

// ulpsApart returns how many float32 values lie between a and b, counting
// b (0 when they have the same bits, 1 for neighbours; +0 and −0 are 1
// apart); NaN is 0 apart from NaN and far from anything else.
func ulpsApart(a, b float32) int64 {
	if a != a || b != b {
		if a != a && b != b {
			return 0
		}
		return math.MaxInt64
	}
	key := func(v float32) int64 {
		u := int64(math.Float32bits(v))
		if u&(1<<31) != 0 {
			return -(u &^ (1 << 31)) - 1
		}
		return u
	}
	d := key(a) - key(b)
	if d < 0 {
		d = -d
	}
	return d
}

// TestDotNorm checks Dot and Norm (accelerated where the build has it)
// against the portable twins within the summation-order bound, and that
// Norm(x) is math.Sqrt(Dot(x, x)) to the bit, at every length of
// normSizes and at data scales that stress the float64 range of float32
// products.
func TestDotNorm(t *testing.T) {
	r := testutil.Rand(22)
	for _, n := range append([]int{0}, normSizes...) {
		for _, std := range []float64{1, 1e-30, 1e30} {
			x := testutil.Data(testutil.RandN(r, std, n+1))[:n]
			y := testutil.Data(testutil.RandN(r, std, n+1))[:n]
			x0, y0 := append([]float32(nil), x...), append([]float32(nil), y...)
			got, want := Dot(x, y), dotGo(x, y)
			if d := math.Abs(got - want); !(d <= sumOrderBound(x, y)) {
				t.Errorf("Dot n=%d std=%g = %v, portable %v: %g apart, bound %g", n, std, got, want, d, sumOrderBound(x, y))
			}
			if sq, sqGo := sumSq(x), sumSqGo(x); math.Float64bits(sq) != math.Float64bits(Dot(x, x)) || math.Float64bits(sqGo) != math.Float64bits(dotGo(x, x)) {
				t.Errorf("sumSq n=%d std=%g = %v (portable %v), want Dot(x, x) = %v (portable %v)", n, std, sq, sqGo, Dot(x, x), dotGo(x, x))
			}
			if got, want := Norm(x), math.Sqrt(Dot(x, x)); math.Float64bits(got) != math.Float64bits(want) {
				t.Errorf("Norm n=%d std=%g = %v, want math.Sqrt(Dot(x, x)) = %v", n, std, got, want)
			}
			sameBits(t, "Dot x", x, x0)
			sameBits(t, "Dot y", y, y0)
		}
	}
}

// TestL2NormalizeRowsBlocks runs the normalisation and its backward over
// more rows than one pass takes (normBlock), with zero rows and rows under
// the clamp between ordinary ones (so the backward's runs are split),
// against the float64 formulas.
func TestL2NormalizeRowsBlocks(t *testing.T) {
	const eps = 1e-12
	r := testutil.Rand(23)
	for _, sh := range []struct{ rows, cols int }{{70, 128}, {130, 33}, {5, 3000}, {9, 8193}} {
		name := fmt.Sprintf("%dx%d", sh.rows, sh.cols)
		x := testutil.Data(testutil.RandN(r, 1, sh.rows, sh.cols))
		for _, i := range []int{1, sh.rows / 2, sh.rows - 1} {
			row := x[i*sh.cols : (i+1)*sh.cols]
			if i == 1 {
				clear(row)
				continue
			}
			for j := range row {
				row[j] = 1e-16 // ‖row‖ = 1e-16·√cols < eps
			}
		}
		y := testutil.Data(testutil.NaNs(sh.rows, sh.cols))
		norms := testutil.Data(testutil.NaNs(sh.rows))
		L2NormalizeRows(y, norms, x, sh.rows, sh.cols, eps)
		wantY, wantN := normalizeNaive(testutil.F64s(x), sh.rows, sh.cols, eps)
		testutil.AllClose32(t, "L2NormalizeRows y ("+name+")", y, wantY, 1e-7, 1e-6)
		testutil.AllClose32(t, "L2NormalizeRows norms ("+name+")", norms, wantN, 0, 1e-6)

		dy := testutil.Data(testutil.RandN(r, 1, sh.rows, sh.cols))
		want := make([]float64, len(dy))
		for i := range sh.rows {
			lo, hi := i*sh.cols, (i+1)*sh.cols
			n := float64(norms[i])
			if n <= eps {
				for j := lo; j < hi; j++ {
					want[j] = float64(dy[j]) / eps
				}
				continue
			}
			var c float64
			for j := lo; j < hi; j++ {
				c += float64(dy[j]) * float64(y[j])
			}
			for j := lo; j < hi; j++ {
				want[j] = (float64(dy[j]) - c*float64(y[j])) / n
			}
		}
		dx := testutil.Data(testutil.NaNs(sh.rows, sh.cols))
		L2NormalizeRowsBackward(dx, dy, y, norms, sh.rows, sh.cols, eps)
		testutil.AllClose32(t, "L2NormalizeRowsBackward ("+name+")", dx, want, 1e-6, 1e-5)
		L2NormalizeRowsBackward(dy, dy, y, norms, sh.rows, sh.cols, eps)
		sameBits(t, "L2NormalizeRowsBackward in place ("+name+")", dy, dx)
	}
}
