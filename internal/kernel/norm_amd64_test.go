//go:build amd64 && !purego

package kernel

import (
	"fmt"
	"math"
	"testing"

	"ssl/internal/testutil"
)

// normPath is one setting of the kernel flags: the path it selects.
type normPath struct {
	name         string
	avx2, avx512 bool
}

// normPaths are the accelerated paths of norm_amd64.go this CPU can run.
func normPaths() []normPath {
	var p []normPath
	if haveAVX2FMA {
		p = append(p, normPath{"avx2", true, false})
	}
	if haveAVX512 {
		p = append(p, normPath{"avx512", true, true})
	}
	return p
}

// withPath runs f with the kernel flags set to avx2, avx512 and restores
// them.
func withPath(avx2, avx512 bool, f func()) {
	a2, a5 := haveAVX2FMA, haveAVX512
	haveAVX2FMA, haveAVX512 = avx2, avx512
	defer func() { haveAVX2FMA, haveAVX512 = a2, a5 }()
	f()
}

// normRowsInput is a rows×cols matrix (ld = cols + pad, the padding NaN)
// of N(0, 1) rows with, when rows > 2, a zero row, a row under the clamp
// eps = 1e-12 and a row of ±1e30.
func normRowsInput(seed uint64, rows, cols, pad int) []float32 {
	x := randPadded(testutil.Rand(seed), rows, cols, cols+pad)
	ld := cols + pad
	if rows > 2 {
		clear(x[ld : ld+cols])
		for j := range cols {
			x[2*ld+j] = 1e-16 * float32(1-2*(j&1)) // ‖row‖ = 1e-16·√cols < eps
		}
	}
	if rows > 3 {
		for j := range cols {
			x[3*ld+j] = 1e30 * float32(1-2*(j%3&1))
		}
	}
	return x
}

// TestNormKernelsSameBits checks the assembly row kernels directly: the
// AVX2 and AVX-512 sums give the same bits, the element-wise kernels give
// the bits of their portable twins, and nothing past n in a row (the
// padding up to ld) is read into a sum or written.
func TestNormKernelsSameBits(t *testing.T) {
	if !haveAVX2FMA {
		t.Skip("no AVX2 + FMA on this CPU")
	}
	for _, n := range []int{8, 16, 24, 32, 40, 56, 64, 72, 128, 136, 512, 520} {
		for _, rows := range []int{1, 2, 5} {
			for _, pad := range []int{0, 3, 8} {
				name := fmt.Sprintf("n=%d/rows=%d/pad=%d", n, rows, pad)
				ld := n + pad
				x := normRowsInput(uint64(n), rows, n, pad)
				y := normRowsInput(uint64(n)+1, rows, n, pad)
				s2, s5, sg := make([]float64, rows), make([]float64, rows), make([]float64, rows)
				sumSqRowsAVX2(&s2[0], &x[0], rows, n, ld)
				for i := range sg {
					sg[i] = sumSqGo(x[i*ld : i*ld+n])
				}
				if haveAVX512 {
					sumSqRowsAVX512(&s5[0], &x[0], rows, n, ld)
				}
				for i := range rows {
					if d := math.Abs(s2[i] - sg[i]); !(d <= sumOrderBound(x[i*ld:i*ld+n], x[i*ld:i*ld+n])) {
						t.Errorf("%s: sumSqRowsAVX2[%d] = %v, portable %v", name, i, s2[i], sg[i])
					}
					if haveAVX512 && math.Float64bits(s5[i]) != math.Float64bits(s2[i]) {
						t.Errorf("%s: sumSqRowsAVX512[%d] = %v, AVX2 %v", name, i, s5[i], s2[i])
					}
				}
				dotRowsAVX2(&s2[0], &x[0], &y[0], rows, n, ld)
				if haveAVX512 {
					dotRowsAVX512(&s5[0], &x[0], &y[0], rows, n, ld)
				}
				for i := range rows {
					xr, yr := x[i*ld:i*ld+n], y[i*ld:i*ld+n]
					if d := math.Abs(s2[i] - dotGo(xr, yr)); !(d <= sumOrderBound(xr, yr)) {
						t.Errorf("%s: dotRowsAVX2[%d] = %v, portable %v", name, i, s2[i], dotGo(xr, yr))
					}
					if haveAVX512 && math.Float64bits(s5[i]) != math.Float64bits(s2[i]) {
						t.Errorf("%s: dotRowsAVX512[%d] = %v, AVX2 %v", name, i, s5[i], s2[i])
					}
				}

				a, c := make([]float64, rows), make([]float64, rows)
				for i := range rows {
					a[i] = 1 / (0.5 + float64(i))
					c[i] = 0.3 - 0.2*float64(i)
				}
				a[0] = 1e12 // 1/eps: the backward's clamp
				want := make([]float32, len(x))
				for i := range want {
					want[i] = nan32
				}
				for i := range rows {
					scaleToGo(want[i*ld:i*ld+n], x[i*ld:i*ld+n], a[i])
				}
				kernels := []struct {
					name string
					f    func(dst, x *float32, a *float64, rows, n, ld int)
				}{{"scaleRowsAVX2", scaleRowsAVX2}, {"scaleRowsAVX512", scaleRowsAVX512}}
				for _, k := range kernels[:1+b2i(haveAVX512)] {
					got := make([]float32, len(x))
					for i := range got {
						got[i] = nan32
					}
					k.f(&got[0], &x[0], &a[0], rows, n, ld)
					sameBits(t, name+": "+k.name, got, want)
					inPlace := append([]float32(nil), x...)
					k.f(&inPlace[0], &inPlace[0], &a[0], rows, n, ld)
					for i := range rows {
						sameBits(t, name+": "+k.name+" in place", inPlace[i*ld:i*ld+n], want[i*ld:i*ld+n])
					}
				}

				for i := range want {
					want[i] = nan32
				}
				for i := range rows {
					projectOutGo(want[i*ld:i*ld+n], y[i*ld:i*ld+n], x[i*ld:i*ld+n], c[i], a[i])
				}
				pkernels := []struct {
					name string
					f    func(dst, dy, y *float32, c, a *float64, rows, n, ld int)
				}{{"projectOutRowsAVX2", projectOutRowsAVX2}, {"projectOutRowsAVX512", projectOutRowsAVX512}}
				for _, k := range pkernels[:1+b2i(haveAVX512)] {
					got := make([]float32, len(x))
					for i := range got {
						got[i] = nan32
					}
					k.f(&got[0], &y[0], &x[0], &c[0], &a[0], rows, n, ld)
					sameBits(t, name+": "+k.name, got, want)
					inPlace := append([]float32(nil), y...)
					k.f(&inPlace[0], &inPlace[0], &x[0], &c[0], &a[0], rows, n, ld)
					for i := range rows {
						sameBits(t, name+": "+k.name+" in place", inPlace[i*ld:i*ld+n], want[i*ld:i*ld+n])
					}
				}
			}
		}
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// TestL2NormalizeRowsPaths runs L2NormalizeRows, its backward, Dot and
// Norm on every accelerated path this CPU has against the portable twins
// (both flags off) at the odd row lengths of normSizes, 1, 3 and 70 rows
// (70 > normBlockRows), with zero rows, rows under the clamp and rows of
// ±1e30: norms and outputs within one float32 step of the portable ones,
// the backward within the bound L2NormalizeRowsBackward documents, and
// AVX2 and AVX-512 giving the same bits.
func TestL2NormalizeRowsPaths(t *testing.T) {
	const eps = 1e-12
	paths := normPaths()
	if len(paths) == 0 {
		t.Skip("no AVX2 + FMA on this CPU: the portable twins are all that runs")
	}
	for _, cols := range normSizes {
		for _, rows := range []int{1, 3, 70} {
			name := fmt.Sprintf("%dx%d", rows, cols)
			x := normRowsInput(uint64(rows*1000+cols), rows, cols, 0)
			dy := testutil.Data(testutil.RandN(testutil.Rand(uint64(cols)), 1, rows, cols))
			wantY, wantN := make([]float32, len(x)), make([]float32, rows)
			wantDx := make([]float32, len(x))
			withPath(false, false, func() {
				L2NormalizeRows(wantY, wantN, x, rows, cols, eps)
				L2NormalizeRowsBackward(wantDx, dy, wantY, wantN, rows, cols, eps)
			})
			var prevY, prevDx []float32
			for _, p := range paths {
				pname := p.name + "/" + name
				y, norms := testutil.Data(testutil.NaNs(rows, cols)), testutil.Data(testutil.NaNs(rows))
				dx := testutil.Data(testutil.NaNs(rows, cols))
				withPath(p.avx2, p.avx512, func() {
					L2NormalizeRows(y, norms, x, rows, cols, eps)
					// The backward from the portable forward, so only the
					// dot products differ.
					L2NormalizeRowsBackward(dx, dy, wantY, wantN, rows, cols, eps)
				})
				for i := range rows {
					if d := ulpsApart(norms[i], wantN[i]); d > 1 {
						t.Errorf("%s: norms[%d] = %v, portable %v (%d steps apart)", pname, i, norms[i], wantN[i], d)
					}
				}
				for i := range y {
					if d := ulpsApart(y[i], wantY[i]); d > 1 {
						t.Fatalf("%s: y[%d] = %v, portable %v (%d steps apart)", pname, i, y[i], wantY[i], d)
					}
				}
				for i := range rows {
					lo, hi := i*cols, (i+1)*cols
					n := float64(wantN[i])
					if n <= eps {
						sameBits(t, pname+": dx under the clamp", dx[lo:hi], wantDx[lo:hi])
						continue
					}
					dc := sumOrderBound(dy[lo:hi], wantY[lo:hi])
					c := math.Abs(dotGo(dy[lo:hi], wantY[lo:hi]))
					for j := lo; j < hi; j++ {
						// The documented bound before rounding, one float32
						// step of the larger result for the two roundings to
						// float32, and 8u·(|dy|+|c·y|)/n for the three
						// float64 roundings on each side.
						w, g := float64(wantDx[j]), float64(dx[j])
						big := math.Max(math.Abs(w), math.Abs(g))
						ulp := float64(math.Nextafter32(float32(big), float32(math.Inf(1)))) - big
						yj := math.Abs(float64(wantY[j]))
						bound := dc*yj/n + ulp + 0x1p-50*(math.Abs(float64(dy[j]))+c*yj)/n
						if !(math.Abs(g-w) <= bound) && !(math.IsNaN(g) && math.IsNaN(w)) {
							t.Fatalf("%s: dx[%d] = %v, portable %v: %g apart, bound %g", pname, j, g, w, math.Abs(g-w), bound)
						}
					}
				}
				if prevY != nil {
					sameBits(t, pname+": y, AVX-512 vs AVX2", y, prevY)
					sameBits(t, pname+": dx, AVX-512 vs AVX2", dx, prevDx)
				}
				prevY, prevDx = y, dx
			}
		}
	}
}

// BenchmarkL2NormalizeRowsPaths sets the three paths of this build side by
// side at bench_test.go's shapes and traffic models: impl=go (the portable
// twins, what -tags purego runs), impl=avx2, impl=avx512.
func BenchmarkL2NormalizeRowsPaths(b *testing.B) {
	impls := append([]normPath{{"go", false, false}}, normPaths()...)
	for _, dir := range []string{"fwd", "bwd"} {
		for _, sh := range normBenchShapes {
			for _, impl := range impls {
				b.Run(fmt.Sprintf("%s/%dx%d/impl=%s", dir, sh.rows, sh.cols, impl.name), func(b *testing.B) {
					r := testutil.Rand(4)
					x, dy := randPadded(r, sh.rows, sh.cols, sh.cols), randPadded(r, sh.rows, sh.cols, sh.cols)
					y, norms := make([]float32, len(x)), make([]float32, sh.rows)
					L2NormalizeRows(y, norms, x, sh.rows, sh.cols, 1e-12)
					dx := make([]float32, len(x))
					b.ReportAllocs()
					var cpu float64
					withPath(impl.avx2, impl.avx512, func() {
						cpu0 := cpuSeconds()
						for b.Loop() {
							if dir == "fwd" {
								L2NormalizeRows(dx, norms, x, sh.rows, sh.cols, 1e-12)
							} else {
								L2NormalizeRowsBackward(dx, dy, y, norms, sh.rows, sh.cols, 1e-12)
							}
						}
						cpu = cpuSeconds() - cpu0
					})
					bytes := 8.0 // read x, write dst
					if dir == "bwd" {
						bytes = 12 // read dy and y, write dx
					}
					perElement(b, sh.rows*sh.cols, cpu, bytes)
				})
			}
		}
	}
}
