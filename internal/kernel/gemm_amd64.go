//go:build amd64 && !purego

package kernel

// The AVX2 + FMA micro-kernels of gemm_amd64.s, run by the driver of
// gemm_packed.go, whose portable twins (sgemm6x16Go, sgemm6x16dGo) the
// tests hold them to: the four files change together.

import "golang.org/x/sys/cpu"

// haveAVX2FMA reports whether the AVX2 + FMA kernels can run here.
var haveAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func sgemm6x16(k int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemm6x16d(k int, a *float32, rs, ps int, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemm6x16nt(k int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemm6x16dnt(k int, a *float32, rs, ps int, b, c *float32, ldc int, alpha, beta float32)

func sfence()

var avx2Kernels = gemmKernels{
	packed:   sgemm6x16,
	direct:   sgemm6x16d,
	packedNT: sgemm6x16nt,
	directNT: sgemm6x16dnt,
	fence:    sfence,
}

func gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !haveAVX2FMA {
		gemmGo(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	gemmPacked(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, &avx2Kernels)
}
