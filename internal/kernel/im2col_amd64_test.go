//go:build amd64 && !purego

package kernel

import (
	"fmt"
	"testing"
)

// TestIm2ColTapPaths runs the Im2ColTap and Col2Im tests on every path this CPU has: the
// portable twins (both flags off), AVX2 and AVX-512, each to the bit.
func TestIm2ColTapPaths(t *testing.T) {
	for _, p := range append([]normPath{{"go", false, false}}, normPaths()...) {
		withPath(p.avx2, p.avx512, func() {
			checkTaps(t, p.name+"/")
			checkCol2Im(t, p.name+"/")
		})
	}
}

// BenchmarkIm2ColPaths sets the three paths of this build side by side at
// bench_test.go's shapes and traffic model: impl=go (the portable twins),
// impl=avx2, impl=avx512.
func BenchmarkIm2ColPaths(b *testing.B) {
	impls := append([]normPath{{"go", false, false}}, normPaths()...)
	for _, dir := range []string{"im2col", "col2im"} {
		for _, sh := range tapBenchShapes {
			for _, impl := range impls {
				b.Run(fmt.Sprintf("%s/c%d_%dx%d_nb%d/impl=%s", dir, sh.c, sh.h, sh.h, sh.nb, impl.name), func(b *testing.B) {
					withPath(impl.avx2, impl.avx512, func() { benchTaps(b, dir, sh.c, sh.h, sh.nb) })
				})
			}
		}
	}
}
