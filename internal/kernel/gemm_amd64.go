//go:build amd64 && !purego

package kernel

// The AVX2 + FMA micro-kernels of gemm_amd64.s and the AVX-512 ones of
// gemm512_amd64.s, run by the driver of gemm_packed.go, whose portable
// twins (sgemm6x16Go, sgemm14x32Go, …) the tests hold them to: the files
// change together.

import "golang.org/x/sys/cpu"

// haveAVX2FMA reports whether the AVX2 + FMA kernels can run here.
var haveAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// haveAVX512 reports whether the AVX-512 kernels (AVX512F only) can run here.
var haveAVX512 = haveAVX2FMA && cpu.X86.HasAVX512F

//go:noescape
func sgemm6x16(k int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemm6x16d(k int, a *float32, rs, ps int, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemm6x16nt(k int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemm6x16dnt(k int, a *float32, rs, ps int, b, c *float32, ldc int, alpha, beta float32)

func sfence()

// packRows16 copies rows × 16 floats: dst[p·ldd + j] = src[p·lds + j].
//
//go:noescape
func packRows16(dst *float32, ldd int, src *float32, lds, rows int)

// packCols16 gathers 16 rows into columns: dst[p·ldd + j] = src[j·lds + p]
// for j < 16 and p < pk, a multiple of 8.
//
//go:noescape
func packCols16(dst *float32, ldd int, src *float32, lds, pk int)

//go:noescape
func sgemm14x32(k int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemm14x32d(k int, a *float32, rs, ps int, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemm14x32nt(k int, a, b, c *float32, ldc int, alpha, beta float32)

//go:noescape
func sgemm14x32dnt(k int, a *float32, rs, ps int, b, c *float32, ldc int, alpha, beta float32)

var avx2Kernels = gemmKernels{
	packed:   sgemm6x16,
	direct:   sgemm6x16d,
	packedNT: sgemm6x16nt,
	directNT: sgemm6x16dnt,
	fence:    sfence,
	packRows: packRows16,
	packCols: packCols16,
}

var avx512Kernels = gemmKernels{
	mr:       gemmMR512,
	nr:       gemmNR512,
	ntAlign:  64,
	packed:   sgemm14x32,
	direct:   sgemm14x32d,
	packedNT: sgemm14x32nt,
	directNT: sgemm14x32dnt,
	fence:    sfence,
	packRows: packRows16,
	packCols: packCols16,
}

// gemm512Min is the smallest m·n·k for which the AVX-512 kernels run:
// below it the AVX2 ones, whose 6×16 block wastes less on edges, win
// (measured per CPU-second on a Zen 5 core: 16³ AVX2 24, AVX-512 17
// GFLOP/s; 32×30×64 AVX2 30, AVX-512 67).
const gemm512Min = 1 << 14

// gemmKernelsFor returns the micro-kernels for an m×n×k product on this CPU.
// Both sets give the same bits, so the choice never changes the result.
func gemmKernelsFor(m, n, k int) *gemmKernels {
	if haveAVX512 && m*n*k >= gemm512Min {
		return &avx512Kernels
	}
	return &avx2Kernels
}

func gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if !haveAVX2FMA {
		gemmGo(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	gemmPacked(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, gemmKernelsFor(m, n, k))
}
