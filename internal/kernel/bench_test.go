package kernel

import (
	"fmt"
	"testing"

	"ssl/internal/testutil"
)

// gemmBenchShapes are 512³ and the library's real products: NT-Xent's
// similarity matrix (B 512, D 128), SwAV's prototype scores (B 4096, D 128,
// K 3000), ConvNet3's im2col convolutions at batch 256 (m = 256·H·W,
// n = output channels, k = 9·input channels), and the products
// backbone.Conv2D runs per block of images in its backward pass (input
// gradient Wᵀ·dY: m = 9·C, n = images·H·W ≈ 512, k = O; weight gradient,
// computed transposed as col·dYᵀ: m = 9·C, n = O, k ≈ 512), beside the
// weight gradient's other orientation, dY·colᵀ (m = O, n = 9·C), for
// comparison.
var gemmBenchShapes = []struct{ m, n, k int }{
	{512, 512, 512},
	{512, 512, 128},
	{4096, 3000, 128},
	{256 * 28 * 28, 32, 9},
	{256 * 14 * 14, 64, 288},
	{256 * 7 * 7, 128, 576},
	{288, 392, 64},
	{576, 490, 128},
	{64, 288, 392},
	{128, 576, 490},
	{288, 64, 392},
	{576, 128, 490},
}

func benchGemm(b *testing.B, f gemmFunc, m, n, k int, transA, transB bool) {
	r := testutil.Rand(1)
	a := randPadded(r, m, k, k) // as a k×m matrix when transA: same length
	bb := randPadded(r, k, n, n)
	c := make([]float32, m*n)
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	b.ReportAllocs()
	cpu0 := cpuSeconds()
	for b.Loop() {
		f(transA, transB, m, n, k, 1, a, lda, bb, ldb, 0, c, n)
	}
	cpu := cpuSeconds() - cpu0
	// Work model: 2·m·n·k floating-point operations per product.
	flop := 2 * float64(m) * float64(n) * float64(k) * float64(b.N)
	b.ReportMetric(flop/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	if cpu > 0 {
		b.ReportMetric(flop/cpu/1e9, "GFLOP/cpu-s")
	}
}

func BenchmarkGemm(b *testing.B) {
	for _, sh := range gemmBenchShapes {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			b.Run(fmt.Sprintf("%dx%dx%d_%s", sh.m, sh.n, sh.k, transName(tr[0], tr[1])), func(b *testing.B) {
				benchGemm(b, Gemm, sh.m, sh.n, sh.k, tr[0], tr[1])
			})
		}
	}
}

// BenchmarkGemmPortable is the pure-Go product (what -tags purego and
// other architectures run), for comparison.
func BenchmarkGemmPortable(b *testing.B) {
	for _, sh := range gemmBenchShapes[:2] {
		b.Run(fmt.Sprintf("%dx%dx%d_NN", sh.m, sh.n, sh.k), func(b *testing.B) {
			benchGemm(b, gemmGo, sh.m, sh.n, sh.k, false, false)
		})
	}
}

// perElement reports ns/element (wall time), cpu-ns/element (CPU time of
// all threads per element: the cost per element per core, which other
// processes on the machine disturb far less) and GB/s for a kernel that
// touches bytesPerElem bytes of memory per element; cpu is the CPU time the
// loop took.
func perElement(b *testing.B, elems int, cpu, bytesPerElem float64) {
	n := float64(b.N) * float64(elems)
	ns := float64(b.Elapsed().Nanoseconds()) / n
	b.ReportMetric(ns, "ns/element")
	if cpu > 0 {
		b.ReportMetric(cpu*1e9/n, "cpu-ns/element")
	}
	b.ReportMetric(bytesPerElem/ns, "GB/s")
}

var expBenchSizes = []int{4096, 1 << 22}

func BenchmarkExp(b *testing.B) {
	for _, n := range expBenchSizes {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			x := randPadded(testutil.Rand(2), 1, n, n)
			dst := make([]float32, n)
			b.ReportAllocs()
			cpu0 := cpuSeconds()
			for b.Loop() {
				Exp(dst, x)
			}
			// Traffic model: read x and write dst, 8 bytes per element.
			perElement(b, n, cpuSeconds()-cpu0, 8)
		})
	}
}

var lseBenchShapes = []struct{ rows, cols int }{{512, 1024}, {4096, 3000}, {16, 1 << 20}}

func benchRows(b *testing.B, f func(dst, x []float32, rows, cols int), outLen func(rows, cols int) int, bytesPerElem float64) {
	for _, sh := range lseBenchShapes {
		b.Run(fmt.Sprintf("%dx%d", sh.rows, sh.cols), func(b *testing.B) {
			x := randPadded(testutil.Rand(3), sh.rows, sh.cols, sh.cols)
			for i := range x {
				x[i] *= 5
			}
			dst := make([]float32, outLen(sh.rows, sh.cols))
			b.ReportAllocs()
			cpu0 := cpuSeconds()
			for b.Loop() {
				f(dst, x, sh.rows, sh.cols)
			}
			perElement(b, sh.rows*sh.cols, cpuSeconds()-cpu0, bytesPerElem)
		})
	}
}

// Traffic models: the log-sum-exp kernels read x once (4 bytes per element);
// the softmax kernels read x and write dst (8 bytes).

func BenchmarkLogSumExpRows(b *testing.B) {
	benchRows(b, LogSumExpRows, func(r, c int) int { return r }, 4)
}

func BenchmarkLogSumExpCols(b *testing.B) {
	benchRows(b, LogSumExpCols, func(r, c int) int { return c }, 4)
}

func BenchmarkSoftmaxRows(b *testing.B) {
	benchRows(b, SoftmaxRows, func(r, c int) int { return r * c }, 8)
}

func BenchmarkLogSoftmaxRows(b *testing.B) {
	benchRows(b, LogSoftmaxRows, func(r, c int) int { return r * c }, 8)
}

// normBenchShapes are NT-Xent's normalisation (2B = 1024 rows of D 128) and
// SwAV's (B 4096, D 128).
var normBenchShapes = []struct{ rows, cols int }{{1024, 128}, {4096, 128}}

// Traffic model: the forward reads x and writes dst (8 bytes per element;
// the norms, 4 bytes per row, are left out); the backward reads dy and y and
// writes dx (12 bytes per element).

func BenchmarkL2NormalizeRows(b *testing.B) {
	for _, sh := range normBenchShapes {
		b.Run(fmt.Sprintf("%dx%d", sh.rows, sh.cols), func(b *testing.B) {
			x := randPadded(testutil.Rand(4), sh.rows, sh.cols, sh.cols)
			dst, norms := make([]float32, len(x)), make([]float32, sh.rows)
			b.ReportAllocs()
			cpu0 := cpuSeconds()
			for b.Loop() {
				L2NormalizeRows(dst, norms, x, sh.rows, sh.cols, 1e-12)
			}
			perElement(b, sh.rows*sh.cols, cpuSeconds()-cpu0, 8)
		})
	}
}

func BenchmarkL2NormalizeRowsBackward(b *testing.B) {
	for _, sh := range normBenchShapes {
		b.Run(fmt.Sprintf("%dx%d", sh.rows, sh.cols), func(b *testing.B) {
			r := testutil.Rand(5)
			x, dy := randPadded(r, sh.rows, sh.cols, sh.cols), randPadded(r, sh.rows, sh.cols, sh.cols)
			y, norms := make([]float32, len(x)), make([]float32, sh.rows)
			L2NormalizeRows(y, norms, x, sh.rows, sh.cols, 1e-12)
			dx := make([]float32, len(x))
			b.ReportAllocs()
			cpu0 := cpuSeconds()
			for b.Loop() {
				L2NormalizeRowsBackward(dx, dy, y, norms, sh.rows, sh.cols, 1e-12)
			}
			perElement(b, sh.rows*sh.cols, cpuSeconds()-cpu0, 12)
		})
	}
}

// bnBenchShapes are ConvNet3's batch normalisations at batch 256: N×C×H·W
// of the three blocks (25.7, 12.8 and 6.4 MB per tensor).
var bnBenchShapes = []struct{ n, c, hw int }{{256, 32, 784}, {256, 64, 196}, {256, 128, 49}}

// benchBN runs one training-mode batch normalisation with the fused ReLU
// over a whole N×C×H·W tensor, channel after channel on one goroutine, as
// backbone's BatchNorm does within a block of channels: fwd is BNStats
// then BNAffine per channel, bwd BNGradSums then BNGrad. Traffic model
// (what must cross the memory bus at least): fwd reads x and writes dst,
// 8 bytes per element; bwd reads x and dy and writes dx, 12 bytes. Each
// pass reads a channel twice; the second read finds it in cache when a
// channel fits (N·H·W·4 = 800 KB for the first block, in a 1 MB L2).
func benchBN(b *testing.B, dir string, n, c, hw int) {
	r := testutil.Rand(6)
	x, dy := randPadded(r, n*c, hw, hw), randPadded(r, n*c, hw, hw)
	dst := make([]float32, len(x))
	ld := c * hw
	b.ReportAllocs()
	cpu0 := cpuSeconds()
	for b.Loop() {
		for ch := range c {
			xc, gc, dc := x[ch*hw:], dy[ch*hw:], dst[ch*hw:]
			if dir == "fwd" {
				s, q := BNStats(xc, n, hw, ld, xc[0])
				a := float32(1 / (1 + q*1e-9))
				BNAffine(dc, xc, n, hw, ld, a, float32(s*1e-9), true)
				continue
			}
			sg, sgx := BNGradSums(xc, gc, n, hw, ld, 0.1, 1.2, 0.3, true)
			BNGrad(dc, xc, gc, n, hw, ld, 0.1, 1.2, 0.3, 1.2, float32(sg*1e-9), float32(sgx*1e-9), true, true)
		}
	}
	bytes := 8.0
	if dir == "bwd" {
		bytes = 12
	}
	perElement(b, n*c*hw, cpuSeconds()-cpu0, bytes)
}

func BenchmarkBN(b *testing.B) {
	for _, dir := range []string{"fwd", "bwd"} {
		for _, sh := range bnBenchShapes {
			b.Run(fmt.Sprintf("%s/%dx%dx%d", dir, sh.n, sh.c, sh.hw), func(b *testing.B) {
				benchBN(b, dir, sh.n, sh.c, sh.hw)
			})
		}
	}
}

// BenchmarkCopyFloor is the memory floor the element-wise kernels are
// measured against: copy between two buffers of the given size (MB),
// reading one and writing the other, 8 bytes per element.
func BenchmarkCopyFloor(b *testing.B) {
	for _, mb := range []int{1, 6, 13, 26} {
		b.Run(fmt.Sprintf("MB=%d", mb), func(b *testing.B) {
			n := mb << 18
			x, dst := make([]float32, n), make([]float32, n)
			for i := range x {
				x[i] = float32(i)
			}
			b.ReportAllocs()
			cpu0 := cpuSeconds()
			for b.Loop() {
				copy(dst, x)
			}
			perElement(b, n, cpuSeconds()-cpu0, 8)
		})
	}
}

// tapBenchShapes are the im2col blocks of ConvNet3's three convolutions
// (3×3, padding 1) as backbone builds them: C input channels of nb images
// of h×h per block, a 9·C × nb·h² patch matrix (28 KB, 451 KB, 1.1 MB).
var tapBenchShapes = []struct{ c, h, nb int }{{1, 28, 1}, {32, 14, 2}, {64, 7, 10}}

// benchTaps runs the 9·C taps of one block: Im2ColTap per tap (dir
// "im2col") or Col2Im per channel ("col2im"). Traffic model:
// im2col writes the patch matrix and col2im reads it, 4 bytes per element
// of it; the images (a ninth of that or less, in L1/L2) are left out.
func benchTaps(b *testing.B, dir string, c, h, nb int) {
	r := testutil.Rand(7)
	hw := h * h
	x := randPadded(r, nb*c, hw, hw)
	col := randPadded(r, 9*c, nb*hw, nb*hw)
	b.ReportAllocs()
	cpu0 := cpuSeconds()
	for b.Loop() {
		for ch := range c {
			if dir == "col2im" {
				Col2Im(x[ch*hw:], col[ch*9*nb*hw:], nb, c*hw, h, h, h, h, 3, 1, nb*hw)
				continue
			}
			for u := range 3 {
				for v := range 3 {
					row := col[((ch*3+u)*3+v)*nb*hw:][:nb*hw]
					Im2ColTap(row, x[ch*hw:], nb, c*hw, h, h, h, h, u-1, v-1)
				}
			}
		}
	}
	perElement(b, 9*c*nb*hw, cpuSeconds()-cpu0, 4)
}

func BenchmarkIm2Col(b *testing.B) {
	for _, dir := range []string{"im2col", "col2im"} {
		for _, sh := range tapBenchShapes {
			b.Run(fmt.Sprintf("%s/c%d_%dx%d_nb%d", dir, sh.c, sh.h, sh.h, sh.nb), func(b *testing.B) {
				benchTaps(b, dir, sh.c, sh.h, sh.nb)
			})
		}
	}
}

// poolBenchShapes are ConvNet3's two poolings at batch 256: 256·32 planes
// of 28×28 (25.7 MB) and 256·64 of 14×14 (12.8 MB).
var poolBenchShapes = []struct{ planes, h int }{{256 * 32, 28}, {256 * 64, 14}}

// benchMaxPool runs MaxPool2x2 over the whole tensor. Traffic model per
// input element: read it (4 bytes) and write a quarter of a value and of
// an index (2 bytes): 6 bytes.
func benchMaxPool(b *testing.B, planes, h int) {
	x := poolInput(8, planes, h, h, false)
	n := planes * (h / 2) * (h / 2)
	dst, at := make([]float32, n), make([]int32, n)
	b.ReportAllocs()
	cpu0 := cpuSeconds()
	for b.Loop() {
		MaxPool2x2(dst, at, x, planes, h, h)
	}
	perElement(b, planes*h*h, cpuSeconds()-cpu0, 6)
}

func BenchmarkMaxPool2x2(b *testing.B) {
	for _, sh := range poolBenchShapes {
		b.Run(fmt.Sprintf("%dx%dx%d", sh.planes, sh.h, sh.h), func(b *testing.B) { benchMaxPool(b, sh.planes, sh.h) })
	}
}
