//go:build amd64 && !purego

package kernel

import (
	"fmt"
	"testing"
)

// TestMaxPool2x2Paths runs the pooling test on every path this CPU has:
// the portable twin (both flags off), AVX2 and AVX-512.
func TestMaxPool2x2Paths(t *testing.T) {
	for _, p := range append([]normPath{{"go", false, false}}, normPaths()...) {
		withPath(p.avx2, p.avx512, func() { checkMaxPool(t, p.name+"/") })
	}
}

// BenchmarkMaxPool2x2Paths sets the three paths of this build side by side
// at bench_test.go's shapes and traffic model.
func BenchmarkMaxPool2x2Paths(b *testing.B) {
	for _, sh := range poolBenchShapes {
		for _, impl := range append([]normPath{{"go", false, false}}, normPaths()...) {
			b.Run(fmt.Sprintf("%dx%dx%d/impl=%s", sh.planes, sh.h, sh.h, impl.name), func(b *testing.B) {
				withPath(impl.avx2, impl.avx512, func() { benchMaxPool(b, sh.planes, sh.h) })
			})
		}
	}
}
