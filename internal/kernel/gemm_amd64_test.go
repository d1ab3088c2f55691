//go:build amd64 && !purego

package kernel

import (
	"fmt"
	"math"
	"testing"

	"ssl/internal/testutil"
)

// TestGemmDirectSameBits checks that the assembly kernel reading op(A) in
// place (A, or Aᵀ for small k) gives exactly the bits of the packed one, as
// gemmPacked requires.
func TestGemmDirectSameBits(t *testing.T) {
	if !haveAVX2FMA {
		t.Skip("no AVX2+FMA on this CPU")
	}
	r := testutil.Rand(6)
	for _, sh := range []struct{ m, n, k int }{{6, 16, 1}, {13, 35, 9}, {130, 70, 32}, {130, 70, 300}, {61, 33, 600}} {
		for _, transA := range []bool{false, true} {
			ar, ac := sh.m, sh.k
			if transA {
				ar, ac = sh.k, sh.m
			}
			a := randPadded(r, ar, ac, ac+1)
			b := randPadded(r, sh.k, sh.n, sh.n)
			c0 := randPadded(r, sh.m, sh.n, sh.n)
			for _, beta := range []float32{0, 0.5} {
				got, want := append([]float32(nil), c0...), append([]float32(nil), c0...)
				gemmPacked(transA, false, sh.m, sh.n, sh.k, 1.5, a, ac+1, b, sh.n, beta, got, sh.n, &gemmKernels{packed: sgemm6x16, direct: sgemm6x16d})
				gemmPacked(transA, false, sh.m, sh.n, sh.k, 1.5, a, ac+1, b, sh.n, beta, want, sh.n, &gemmKernels{packed: sgemm6x16})
				sameBits(t, fmt.Sprintf("direct vs packed %dx%dx%d transA=%v beta=%g", sh.m, sh.n, sh.k, transA, beta), got, want)
			}
		}
	}
}

// TestGemmStream covers products large enough for non-temporal stores of C:
// they must give the bits of ordinary stores, aligned or not.
func TestGemmStream(t *testing.T) {
	if !haveAVX2FMA {
		t.Skip("no AVX2+FMA on this CPU")
	}
	r := testutil.Rand(7)
	const m, n, k = gemmNTMin/32 + 7, 32, 5
	a := randPadded(r, m, k, k)
	b := randPadded(r, n, k, k) // n×k: op(B) = Bᵀ when transB
	for _, tc := range []struct {
		transA, transB bool
		off            int // offset of C in its buffer: 1 makes it unaligned
	}{{false, true, 0}, {true, true, 0}, {false, true, 1}} {
		lda := k
		if tc.transA {
			lda = m // a read as k×m: same length
		}
		buf := make([]float32, m*n+8)
		got := buf[tc.off : tc.off+m*n]
		for i := range got {
			got[i] = nan32
		}
		want := make([]float32, m*n)
		Gemm(tc.transA, tc.transB, m, n, k, 0.5, a, lda, b, k, 0, got, n)
		gemmPacked(tc.transA, tc.transB, m, n, k, 0.5, a, lda, b, k, 0, want, n, &gemmKernels{packed: sgemm6x16, direct: sgemm6x16d})
		sameBits(t, fmt.Sprintf("streamed Gemm(%s, off=%d)", transName(tc.transA, tc.transB), tc.off), got, want)
	}
}

// TestGemmSmallAllocs checks that a product small enough for one tile
// allocates nothing once the scratch pools are warm.
func TestGemmSmallAllocs(t *testing.T) {
	if !haveAVX2FMA {
		t.Skip("no AVX2+FMA on this CPU")
	}
	if raceEnabled {
		t.Skip("the packed panels come from a sync.Pool, which drops a quarter of them under the race detector")
	}
	const m, n, k = 7, 13, 5
	a, b, c := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	for _, tr := range [][2]bool{{false, false}, {true, true}} {
		lda, ldb := k, n
		if tr[0] {
			lda = m
		}
		if tr[1] {
			ldb = k
		}
		got := testing.AllocsPerRun(100, func() { Gemm(tr[0], tr[1], m, n, k, 1, a, lda, b, ldb, 0.5, c, n) })
		if got != 0 {
			t.Errorf("Gemm(%s, %dx%dx%d) allocates %v times per call, want 0", transName(tr[0], tr[1]), m, n, k, got)
		}
	}
}

// gemmWith returns Gemm run by the packed driver with the kernels ks.
func gemmWith(ks *gemmKernels) gemmFunc {
	return func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		if k == 0 || alpha == 0 {
			Gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
			return
		}
		gemmPacked(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, ks)
	}
}

// gemmEdgeShapes are sizes at and around the blocks of both kernel sets
// (6×16, 14×32, kc 320, mc 120) and the edges 1, 7, 17, 33, 513.
var gemmEdgeShapes = []struct{ m, n, k int }{
	{1, 1, 1}, {7, 7, 7}, {17, 17, 17}, {33, 33, 33}, {14, 32, 1}, {13, 31, 5},
	{15, 33, 4}, {28, 64, 9}, {29, 65, 321}, {127, 95, 32}, {126, 30, 128},
	{256, 30, 128}, {513, 17, 7}, {7, 513, 33}, {17, 33, 513}, {141, 129, 641},
}

// TestGemmAVX512 runs the AVX-512 kernels against the oracle at edge sizes,
// every transpose, with and without padding (lda, ldb, ldc > width), and
// checks that they give exactly the bits of the AVX2 kernels.
func TestGemmAVX512(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512 on this CPU")
	}
	r := testutil.Rand(9)
	g512, g2 := gemmWith(&avx512Kernels), gemmWith(&avx2Kernels)
	for _, sh := range gemmEdgeShapes {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			for _, ab := range [][2]float32{{1, 0}, {-0.5, 0.75}} {
				for _, pad := range []int{0, 5} {
					checkGemm(t, g512, r, tr[0], tr[1], sh.m, sh.n, sh.k, pad, ab[0], ab[1])
				}
			}
			ar, ac := sh.m, sh.k
			if tr[0] {
				ar, ac = sh.k, sh.m
			}
			br, bc := sh.k, sh.n
			if tr[1] {
				br, bc = sh.n, sh.k
			}
			a, b := randPadded(r, ar, ac, ac+3), randPadded(r, br, bc, bc+1)
			c0 := randPadded(r, sh.m, sh.n, sh.n+2)
			for _, beta := range []float32{0, 0.5} {
				got, want := append([]float32(nil), c0...), append([]float32(nil), c0...)
				g512(tr[0], tr[1], sh.m, sh.n, sh.k, 1.25, a, ac+3, b, bc+1, beta, got, sh.n+2)
				g2(tr[0], tr[1], sh.m, sh.n, sh.k, 1.25, a, ac+3, b, bc+1, beta, want, sh.n+2)
				sameBits(t, fmt.Sprintf("AVX-512 vs AVX2 %dx%dx%d %s beta=%g", sh.m, sh.n, sh.k, transName(tr[0], tr[1]), beta), got, want)
			}
		}
	}
}

// TestGemmAVX512Direct checks that the AVX-512 kernel reading op(A) in
// place gives the bits of the packed one.
func TestGemmAVX512Direct(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512 on this CPU")
	}
	r := testutil.Rand(10)
	for _, sh := range []struct{ m, n, k int }{{14, 32, 1}, {15, 35, 9}, {130, 70, 32}, {130, 70, 300}, {61, 33, 600}} {
		for _, transA := range []bool{false, true} {
			ar, ac := sh.m, sh.k
			if transA {
				ar, ac = sh.k, sh.m
			}
			a := randPadded(r, ar, ac, ac+1)
			b := randPadded(r, sh.k, sh.n, sh.n)
			c0 := randPadded(r, sh.m, sh.n, sh.n)
			for _, beta := range []float32{0, 0.5} {
				got, want := append([]float32(nil), c0...), append([]float32(nil), c0...)
				ks := avx512Kernels
				ks.packedNT, ks.directNT = nil, nil
				gemmPacked(transA, false, sh.m, sh.n, sh.k, 1.5, a, ac+1, b, sh.n, beta, got, sh.n, &ks)
				ks.direct = nil
				gemmPacked(transA, false, sh.m, sh.n, sh.k, 1.5, a, ac+1, b, sh.n, beta, want, sh.n, &ks)
				sameBits(t, fmt.Sprintf("direct vs packed %dx%dx%d transA=%v beta=%g", sh.m, sh.n, sh.k, transA, beta), got, want)
			}
		}
	}
}

// TestGemmAVX512Stream covers the AVX-512 non-temporal stores (64-byte
// aligned C) and their fallback when C is not aligned.
func TestGemmAVX512Stream(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512 on this CPU")
	}
	r := testutil.Rand(11)
	const m, n = gemmNTMin/32 + 9, 32
	for _, tc := range []struct {
		transA, transB bool
		off, k         int // k > gemmDirectTK: Aᵀ packed, the packed kernel streams
	}{{false, true, 0, 5}, {true, true, 0, 5}, {false, false, 0, 5}, {false, true, 8, 5}, {true, false, 0, 40}} {
		k := tc.k
		a := randPadded(r, m, k, k)
		br, bc := k, n
		if tc.transB {
			br, bc = n, k
		}
		b := randPadded(r, br, bc, bc)
		lda := k
		if tc.transA {
			lda = m
		}
		buf := make([]float32, m*n+16)
		got := buf[tc.off : tc.off+m*n]
		for i := range got {
			got[i] = nan32
		}
		want := make([]float32, m*n)
		gemmPacked(tc.transA, tc.transB, m, n, k, 0.5, a, lda, b, bc, 0, got, n, &avx512Kernels)
		gemmPacked(tc.transA, tc.transB, m, n, k, 0.5, a, lda, b, bc, 0, want, n, &avx2Kernels)
		sameBits(t, fmt.Sprintf("streamed AVX-512 (%s, off=%d)", transName(tc.transA, tc.transB), tc.off), got, want)
	}
}

// BenchmarkGemmKernels compares the AVX2 and AVX-512 kernel sets on small
// products (the losses' B 256, K 30, D 128) and 512³, to place gemm512Min.
func BenchmarkGemmKernels(b *testing.B) {
	sets := []struct {
		name string
		ks   *gemmKernels
		ok   bool
	}{{"avx2", &avx2Kernels, haveAVX2FMA}, {"avx512", &avx512Kernels, haveAVX512}}
	for _, sh := range []struct{ m, n, k int }{{16, 16, 16}, {32, 30, 64}, {64, 64, 64}, {256, 30, 128}, {256, 128, 30}, {128, 256, 30}, {256, 256, 128}, {512, 512, 512}} {
		for _, s := range sets {
			if !s.ok {
				continue
			}
			b.Run(fmt.Sprintf("%dx%dx%d_NN/%s", sh.m, sh.n, sh.k, s.name), func(b *testing.B) {
				benchGemm(b, gemmWith(s.ks), sh.m, sh.n, sh.k, false, false)
			})
		}
	}
}

// TestPackBPaths checks the assembly packers of op(B)'s panels against
// packB's portable loops: every float, NaN payloads included, lands where
// the loops put it, for both panel widths, both layouts of B, k blocks that
// are and are not multiples of 8, and offsets into B; nothing is written
// past the panel.
func TestPackBPaths(t *testing.T) {
	if !haveAVX2FMA {
		t.Skip("no AVX2+FMA on this CPU")
	}
	r := testutil.Rand(21)
	for _, w := range []int{16, 32} {
		for _, transB := range []bool{false, true} {
			for _, pk := range []int{1, 7, 8, 9, 15, 16, 17, 40, 320} {
				for _, off := range []struct{ p0, j0, pad int }{{0, 0, 0}, {3, 5, 1}, {1, 16, 7}} {
					rows, cols := off.p0+pk, off.j0+w // op(B) is rows×cols
					ldb := cols + off.pad
					if transB {
						ldb = rows + off.pad
					}
					n := rows * ldb
					if transB {
						n = cols * ldb
					}
					b := make([]float32, n)
					for i := range b {
						b[i] = math.Float32frombits(r.Uint32()) // any bits, NaNs included
					}
					want := make([]float32, pk*w+8)
					got := make([]float32, pk*w+8)
					for i := range got {
						got[i], want[i] = nan32, nan32
					}
					packB(want[:pk*w], w, b, ldb, transB, off.p0, pk, off.j0, w, &gemmKernels{})
					packB(got[:pk*w], w, b, ldb, transB, off.p0, pk, off.j0, w, &avx2Kernels)
					for i := range got {
						if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
							t.Fatalf("w %d transB %v pk %d %+v: panel[%d] = %#x, want %#x", w, transB, pk, off, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
						}
					}
				}
			}
		}
	}
}
