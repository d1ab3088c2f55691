//go:build amd64 && !purego

package kernel

import (
	"fmt"
	"testing"

	"ssl/internal/testutil"
)

// TestGemmDirectSameBits checks that the assembly kernel reading A in place
// gives exactly the bits of the packed one, as gemmPacked requires.
func TestGemmDirectSameBits(t *testing.T) {
	if !haveAVX2FMA {
		t.Skip("no AVX2+FMA on this CPU")
	}
	r := testutil.Rand(6)
	for _, sh := range []struct{ m, n, k int }{{6, 16, 1}, {13, 35, 9}, {130, 70, 300}, {61, 33, 600}} {
		a := randPadded(r, sh.m, sh.k, sh.k+1)
		b := randPadded(r, sh.k, sh.n, sh.n)
		c0 := randPadded(r, sh.m, sh.n, sh.n)
		for _, beta := range []float32{0, 0.5} {
			got, want := append([]float32(nil), c0...), append([]float32(nil), c0...)
			gemmPacked(false, false, sh.m, sh.n, sh.k, 1.5, a, sh.k+1, b, sh.n, beta, got, sh.n, sgemm6x16, sgemm6x16d)
			gemmPacked(false, false, sh.m, sh.n, sh.k, 1.5, a, sh.k+1, b, sh.n, beta, want, sh.n, sgemm6x16, nil)
			sameBits(t, fmt.Sprintf("direct vs packed %dx%dx%d beta=%g", sh.m, sh.n, sh.k, beta), got, want)
		}
	}
}
