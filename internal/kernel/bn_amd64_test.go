//go:build amd64 && !purego

package kernel

import (
	"fmt"
	"math"
	"testing"
)

// TestBNPaths runs the batch-normalisation kernels on every accelerated
// path this CPU has against the portable twins (both flags off), at the
// odd spans of bnSpans, 1, 3 and 7 rows and padding between the spans:
// the sums within the order bound of the twins' sums, the element-wise
// outputs to the bit, AVX2 and AVX-512 giving the same bits (sums
// included), and, through checkBN, each path against the definitions.
func TestBNPaths(t *testing.T) {
	paths := normPaths()
	if len(paths) == 0 {
		t.Skip("no AVX2 + FMA on this CPU: the portable twins are all that runs")
	}
	for _, span := range bnSpans {
		for _, rows := range []int{1, 3, 7} {
			for _, pad := range []int{0, 5} {
				name := fmt.Sprintf("rows=%d/span=%d/pad=%d", rows, span, pad)
				in := newBNInput(uint64(span*1000+rows*10+pad), rows, span, pad)
				type result struct {
					s, q    float64
					sg, sgx [2]float64
					aff     [2][]float32
					grad    [2][2][]float32
				}
				run := func() (r result) {
					r.s, r.q = BNStats(in.x, rows, span, in.ld, in.x[0])
					for ri, relu := range []bool{false, true} {
						r.sg[ri], r.sgx[ri] = BNGradSums(in.x, in.dy, rows, span, in.ld, in.mu, in.a, in.b, relu)
						r.aff[ri] = in.poisoned()
						BNAffine(r.aff[ri], in.x, rows, span, in.ld, in.a, in.b, relu)
						for ti, train := range []bool{false, true} {
							r.grad[ri][ti] = in.poisoned()
							BNGrad(r.grad[ri][ti], in.x, in.dy, rows, span, in.ld, in.mu, in.a, in.b, in.k, in.c0, in.c1, relu, train)
						}
					}
					return r
				}
				var want result
				withPath(false, false, func() { want = run() })
				d, d2, _, _ := in.terms(false)
				var prev *result
				for _, p := range paths {
					pname := p.name + "/" + name
					var got result
					withPath(p.avx2, p.avx512, func() {
						got = run()
						checkBN(t, pname, in)
					})
					if !(math.Abs(got.s-want.s) <= bnSumBound(d)) || !(math.Abs(got.q-want.q) <= bnSumBound(d2)) {
						t.Errorf("%s: BNStats = %v, %v, portable %v, %v", pname, got.s, got.q, want.s, want.q)
					}
					for ri := range 2 {
						_, _, g, gt := in.terms(ri == 1)
						if !(math.Abs(got.sg[ri]-want.sg[ri]) <= bnSumBound(g)) || !(math.Abs(got.sgx[ri]-want.sgx[ri]) <= bnSumBound(gt)) {
							t.Errorf("%s/relu=%v: BNGradSums = %v, %v, portable %v, %v", pname, ri == 1, got.sg[ri], got.sgx[ri], want.sg[ri], want.sgx[ri])
						}
						sameBits(t, fmt.Sprintf("%s/relu=%v: BNAffine vs portable", pname, ri == 1), got.aff[ri], want.aff[ri])
						for ti := range 2 {
							sameBits(t, fmt.Sprintf("%s/relu=%v/train=%v: BNGrad vs portable", pname, ri == 1, ti == 1), got.grad[ri][ti], want.grad[ri][ti])
						}
					}
					if prev != nil {
						same := func(a, b float64) bool { return math.Float64bits(a) == math.Float64bits(b) }
						if !same(got.s, prev.s) || !same(got.q, prev.q) {
							t.Errorf("%s: BNStats = %v, %v, AVX2 %v, %v", pname, got.s, got.q, prev.s, prev.q)
						}
						for ri := range 2 {
							if !same(got.sg[ri], prev.sg[ri]) || !same(got.sgx[ri], prev.sgx[ri]) {
								t.Errorf("%s/relu=%v: BNGradSums = %v, %v, AVX2 %v, %v", pname, ri == 1, got.sg[ri], got.sgx[ri], prev.sg[ri], prev.sgx[ri])
							}
						}
					}
					prev = &got
				}
			}
		}
	}
}

// BenchmarkBNPaths sets the three paths of this build side by side at
// bench_test.go's shapes and traffic model: impl=go (the portable twins,
// what -tags purego runs), impl=avx2, impl=avx512.
func BenchmarkBNPaths(b *testing.B) {
	impls := append([]normPath{{"go", false, false}}, normPaths()...)
	for _, dir := range []string{"fwd", "bwd"} {
		for _, sh := range bnBenchShapes {
			for _, impl := range impls {
				b.Run(fmt.Sprintf("%s/%dx%dx%d/impl=%s", dir, sh.n, sh.c, sh.hw, impl.name), func(b *testing.B) {
					withPath(impl.avx2, impl.avx512, func() { benchBN(b, dir, sh.n, sh.c, sh.hw) })
				})
			}
		}
	}
}
