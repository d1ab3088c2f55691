package kernel

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"ssl/internal/testutil"
)

// gemmNaive is the float64 oracle: the loop Gemm's doc gives, with the
// absolute sum Σ|alpha·a·b| + |beta·c| of each element returned alongside so
// the test can bound float32 rounding.
func gemmNaive(transA, transB bool, m, n, k int, alpha float64, a []float32, lda int, b []float32, ldb int, beta float64, c []float32, ldc int) (want, scale []float64) {
	want = make([]float64, m*n)
	scale = make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s, abs float64
			for p := range k {
				var av, bv float64
				if transA {
					av = float64(a[p*lda+i])
				} else {
					av = float64(a[i*lda+p])
				}
				if transB {
					bv = float64(b[j*ldb+p])
				} else {
					bv = float64(b[p*ldb+j])
				}
				s += av * bv
				abs += math.Abs(av * bv)
			}
			s *= alpha
			abs *= math.Abs(alpha)
			if beta != 0 {
				cv := float64(c[i*ldc+j])
				s += beta * cv
				abs += math.Abs(beta * cv)
			}
			want[i*n+j], scale[i*n+j] = s, abs
		}
	}
	return want, scale
}

// randPadded returns rows×ld floats: random in the first cols of each row,
// NaN in the padding, so a kernel that reads past the width returns NaN.
func randPadded(r *rand.Rand, rows, cols, ld int) []float32 {
	x := make([]float32, rows*ld)
	for i := range rows {
		for j := range ld {
			if j < cols {
				x[i*ld+j] = float32(r.NormFloat64())
			} else {
				x[i*ld+j] = float32(math.NaN())
			}
		}
	}
	return x
}

func transName(transA, transB bool) string {
	s := [2]string{"N", "T"}
	b2i := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	return s[b2i(transA)] + s[b2i(transB)]
}

// checkGemm runs one Gemm against the oracle: inputs unchanged, every element
// within the float32 rounding bound (k+2)·2^-23·Σ|terms|, C's padding
// untouched, and with beta = 0 C's old NaNs ignored.
func checkGemm(t *testing.T, gemmF gemmFunc, r *rand.Rand, transA, transB bool, m, n, k, pad int, alpha, beta float32) {
	t.Helper()
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	lda, ldb, ldc := ac+pad, bc+pad, n+pad
	a := randPadded(r, ar, ac, lda)
	b := randPadded(r, br, bc, ldb)
	c := randPadded(r, m, n, ldc)
	if beta == 0 {
		for i := range m {
			for j := range n {
				c[i*ldc+j] = float32(math.NaN())
			}
		}
	}
	// The last row needs no padding: trim it, capacity included, so a read
	// past the last element the product needs panics.
	a = a[: (ar-1)*lda+ac : (ar-1)*lda+ac]
	b = b[: (br-1)*ldb+bc : (br-1)*ldb+bc]
	c = c[: (m-1)*ldc+n : (m-1)*ldc+n]
	a0, b0, c0 := append([]float32(nil), a...), append([]float32(nil), b...), append([]float32(nil), c...)
	want, scale := gemmNaive(transA, transB, m, n, k, float64(alpha), a, lda, b, ldb, float64(beta), c, ldc)
	gemmF(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	name := fmt.Sprintf("Gemm(%s, m=%d n=%d k=%d pad=%d alpha=%g beta=%g)", transName(transA, transB), m, n, k, pad, alpha, beta)
	sameBits(t, name+" a", a, a0)
	sameBits(t, name+" b", b, b0)
	worst, excess := -1, 0.0
	for i := range m {
		for j := range n {
			got := float64(c[i*ldc+j])
			tol := float64(k+2)*0x1p-23*scale[i*n+j] + 1e-30
			e := math.Abs(got-want[i*n+j]) - tol
			if math.IsNaN(e) || e > excess {
				worst, excess = i*n+j, e
				if math.IsNaN(e) {
					excess = math.Inf(1)
				}
			}
		}
		for j := n; j < ldc && i*ldc+j < len(c); j++ {
			if math.Float32bits(c[i*ldc+j]) != math.Float32bits(c0[i*ldc+j]) {
				t.Fatalf("%s wrote C's padding at row %d col %d", name, i, j)
			}
		}
	}
	if worst >= 0 {
		i, j := worst/n, worst%n
		t.Fatalf("%s: C[%d,%d] = %.9g, want %.9g (scale %.3g)", name, i, j, c[i*ldc+j], want[worst], scale[worst])
	}
}

type gemmFunc func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// goKernels are the portable micro-kernels, the non-temporal slots filled
// with the ordinary ones so the driver's non-temporal path runs too.
var goKernels = gemmKernels{
	packed:   sgemm6x16Go,
	direct:   sgemm6x16dGo,
	packedNT: sgemm6x16Go,
	directNT: sgemm6x16dGo,
	fence:    func() {},
}

// gemmPackedGo is the packed driver with the portable micro-kernel, tested
// on every platform (Gemm's degenerate cases first, as Gemm does).
func gemmPackedGo(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemmPacked(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, &goKernels)
}

// gemmPackedGoNoDirect packs op(A) in every case.
func gemmPackedGoNoDirect(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemmPacked(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, &gemmKernels{packed: sgemm6x16Go})
}

// TestGemmPackedGo runs the packed driver with the portable micro-kernel:
// packing, edges and tiling are then tested on every platform and tag.
func TestGemmPackedGo(t *testing.T) {
	r := testutil.Rand(5)
	for _, sh := range append(gemmShapes[:len(gemmShapes)-3], struct{ m, n, k int }{130, 150, 300}, struct{ m, n, k int }{13, 4111, 20}) {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			checkGemm(t, gemmPackedGo, r, tr[0], tr[1], sh.m, sh.n, sh.k, 2, 1.5, 0)
			checkGemm(t, gemmPackedGo, r, tr[0], tr[1], sh.m, sh.n, sh.k, 0, -1, 0.5)
			checkGemm(t, gemmPackedGoNoDirect, r, tr[0], tr[1], sh.m, sh.n, sh.k, 1, 2, 0)
		}
	}
}

// goKernels512 are the portable twins of the AVX-512 kernels (14×32).
var goKernels512 = gemmKernels{
	mr: gemmMR512, nr: gemmNR512, ntAlign: 64,
	packed:   sgemm14x32Go,
	direct:   sgemm14x32dGo,
	packedNT: sgemm14x32Go,
	directNT: sgemm14x32dGo,
	fence:    func() {},
}

// TestGemmPacked512Go runs the packed driver with the 14×32 blocking and
// the portable twins at edge sizes, every transpose, with and without
// padding, on every platform and tag.
func TestGemmPacked512Go(t *testing.T) {
	r := testutil.Rand(12)
	g := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		gemmPacked(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, &goKernels512)
	}
	for _, sh := range []struct{ m, n, k int }{{1, 1, 1}, {7, 7, 7}, {17, 17, 17}, {33, 33, 33}, {14, 32, 3}, {29, 65, 321}, {130, 150, 40}} {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			checkGemm(t, g, r, tr[0], tr[1], sh.m, sh.n, sh.k, 3, 1.5, 0)
			checkGemm(t, g, r, tr[0], tr[1], sh.m, sh.n, sh.k, 0, -1, 0.5)
		}
	}
}

// TestGemmPackedGoStream runs the driver's non-temporal path (the portable
// kernels in its slots) on a product large enough to take it.
func TestGemmPackedGoStream(t *testing.T) {
	r := testutil.Rand(8)
	const m, n, k = gemmNTMin/16 + 5, 16, 3
	a, b := randPadded(r, m, k, k), randPadded(r, k, n, n)
	got, want := make([]float32, m*n), make([]float32, m*n)
	gemmPackedGo(false, false, m, n, k, 1, a, k, b, n, 0, got, n)
	gemmPacked(false, false, m, n, k, 1, a, k, b, n, 0, want, n, &gemmKernels{packed: sgemm6x16Go})
	sameBits(t, "gemmPacked with streaming slots", got, want)
	for _, i := range []int{0, m / 2, m - 1} { // spot rows against the oracle
		w, _ := gemmNaive(false, false, 1, n, k, 1, a[i*k:], k, b, n, 0, nil, n)
		testutil.AllClose32(t, fmt.Sprintf("row %d", i), got[i*n:(i+1)*n], w, 1e-6, 1e-5)
	}
}

// sameBits fails unless got and want are identical bit for bit.
func sameBits(t *testing.T, name string, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", name, len(got), len(want))
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("%s: [%d] = %v (bits %#x), want %v (bits %#x)", name, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
		}
	}
}

var gemmShapes = []struct{ m, n, k int }{
	{1, 1, 1}, {1, 7, 3}, {5, 1, 4}, {1, 1, 40}, {7, 13, 5}, {13, 7, 1},
	{6, 16, 8}, {5, 15, 9}, {7, 17, 11}, {12, 32, 2}, {33, 65, 17},
	{65, 33, 70}, {31, 47, 300}, {100, 3, 9}, {3, 100, 257},
	{97, 129, 513}, {200, 40, 64},
	{7, 4200, 5}, // more than gemmNC columns
}

func TestGemm(t *testing.T) {
	r := testutil.Rand(1)
	for _, sh := range gemmShapes {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			t.Run(fmt.Sprintf("%dx%dx%d_%s", sh.m, sh.n, sh.k, transName(tr[0], tr[1])), func(t *testing.T) {
				abs, pads := [][2]float32{{1, 0}, {-0.5, 0}, {1, 1}, {2, -1.5}, {0.75, 0.25}}, []int{0, 3}
				if sh.m*sh.n*sh.k > 1e5 { // the oracle's cost: fewer combinations
					abs, pads = [][2]float32{{-0.5, 0}, {2, -1.5}}, []int{3}
				}
				for _, ab := range abs {
					for _, pad := range pads {
						checkGemm(t, Gemm, r, tr[0], tr[1], sh.m, sh.n, sh.k, pad, ab[0], ab[1])
					}
				}
			})
		}
	}
}

// TestGemmLarge covers shapes with several cache blocks in every dimension.
func TestGemmLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large shapes skipped in -short mode")
	}
	r := testutil.Rand(2)
	for _, tc := range []struct {
		m, n, k        int
		transA, transB bool
	}{{200, 290, 530, false, false}, {200, 290, 530, true, true}, {1030, 70, 130, false, true}, {1030, 70, 130, true, false}} {
		checkGemm(t, Gemm, r, tc.transA, tc.transB, tc.m, tc.n, tc.k, 1, 1.5, 0.5)
	}
}

// TestGemmDegenerate covers k = 0 and alpha = 0: C = beta·C, and beta = 0
// clears C even where it held NaN.
func TestGemmDegenerate(t *testing.T) {
	nan := float32(math.NaN())
	for _, tc := range []struct {
		name        string
		k           int
		alpha, beta float32
		c, want     []float32
	}{
		{"k0_beta0", 0, 1, 0, []float32{nan, 1, 2, nan}, []float32{0, 0, 0, 0}},
		{"k0_beta2", 0, 1, 2, []float32{1, 2, 3, 4}, []float32{2, 4, 6, 8}},
		{"alpha0_beta0", 3, 0, 0, []float32{nan, nan, 5, 6}, []float32{0, 0, 0, 0}},
		{"alpha0_beta-1", 3, 0, -1, []float32{1, 2, 3, 4}, []float32{-1, -2, -3, -4}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := []float32{nan, nan, nan, nan, nan, nan} // never read: alpha or k is 0
			Gemm(false, false, 2, 2, tc.k, tc.alpha, a, 3, a, 2, tc.beta, tc.c, 2)
			sameBits(t, "C", tc.c, tc.want)
		})
	}
	// m = 0 or n = 0: nothing is touched.
	c := []float32{nan}
	Gemm(false, false, 0, 1, 1, 1, nil, 1, nil, 1, 0, c, 1)
	Gemm(false, false, 1, 0, 1, 1, nil, 1, nil, 1, 0, c, 1)
	if c[0] == c[0] {
		t.Errorf("Gemm with an empty C wrote C")
	}
}

// gemmDeterminismShapes are large enough to be split into many parallel
// blocks in every path.
var gemmDeterminismShapes = []struct{ m, n, k int }{{517, 301, 290}, {64, 700, 33}, {2000, 32, 9}}

// TestGemmGOMAXPROCS checks that the product is bit-identical for one and
// several threads.
func TestGemmGOMAXPROCS(t *testing.T) {
	r := testutil.Rand(3)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, sh := range gemmDeterminismShapes {
		for _, tr := range [][2]bool{{false, false}, {true, true}} {
			ar, ac := sh.m, sh.k
			if tr[0] {
				ar, ac = sh.k, sh.m
			}
			br, bc := sh.k, sh.n
			if tr[1] {
				br, bc = sh.n, sh.k
			}
			a, b := randPadded(r, ar, ac, ac), randPadded(r, br, bc, bc)
			c0 := randPadded(r, sh.m, sh.n, sh.n)
			var got [][]float32
			for _, procs := range []int{1, 2, 3} {
				runtime.GOMAXPROCS(procs)
				c := append([]float32(nil), c0...)
				Gemm(tr[0], tr[1], sh.m, sh.n, sh.k, 1.25, a, ac, b, bc, 0.5, c, sh.n)
				got = append(got, c)
			}
			name := fmt.Sprintf("Gemm(%s, %dx%dx%d)", transName(tr[0], tr[1]), sh.m, sh.n, sh.k)
			sameBits(t, name+" GOMAXPROCS=2 vs 1", got[1], got[0])
			sameBits(t, name+" GOMAXPROCS=3 vs 1", got[2], got[0])
		}
	}
}

// TestGemmConcurrent runs products from several goroutines at once, as the
// library's callers do, and checks each against a serial run.
func TestGemmConcurrent(t *testing.T) {
	r := testutil.Rand(4)
	const m, n, k = 70, 90, 110
	type job struct{ a, b, want []float32 }
	jobs := make([]job, 8)
	for i := range jobs {
		a, b := randPadded(r, m, k, k), randPadded(r, k, n, n)
		want := make([]float32, m*n)
		Gemm(false, false, m, n, k, 1, a, k, b, n, 0, want, n)
		jobs[i] = job{a, b, want}
	}
	var wg sync.WaitGroup
	got := make([][]float32, len(jobs))
	for i := range jobs {
		wg.Go(func() {
			for range 4 {
				c := make([]float32, m*n)
				Gemm(false, false, m, n, k, 1, jobs[i].a, k, jobs[i].b, n, 0, c, n)
				got[i] = c
			}
		})
	}
	wg.Wait()
	for i := range jobs {
		sameBits(t, fmt.Sprintf("concurrent Gemm %d", i), got[i], jobs[i].want)
	}
}
