//go:build amd64 && !purego

package kernel

import (
	"fmt"
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
