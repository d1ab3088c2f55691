package sinkhorn_test

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"ssl"
	"ssl/internal/kernel"
	"ssl/internal/testutil"
	"ssl/sinkhorn"
)

// swavScores returns B×K SwAV-like scores: dot products of L2-normalised
// 128-dimensional embeddings with L2-normalised prototypes, in [−1, 1].
func swavScores(r *rand.Rand, b, k int) []float32 {
	const d = 128
	z := testutil.Data(testutil.RandN(r, 1, b, d))
	c := testutil.Data(testutil.RandN(r, 1, k, d))
	kernel.L2NormalizeRows(z, nil, z, b, d, 1e-12)
	kernel.L2NormalizeRows(c, nil, c, k, d, 1e-12)
	s := make([]float32, b*k)
	kernel.Gemm(false, true, b, k, d, 1, z, d, c, d, 0, s, k)
	return s
}

// BenchmarkBalance times SwAV's per-batch codes at SwAV's settings
// (ε = 0.05, 3 iterations). Traffic model: the column-extrema pass and the
// kernel pass read the scores (2 reads) and write the kernel once; each of
// the T−1 middle iterations streams the kernel once; the last one reads
// and rewrites it: 4 bytes·B·K·(T + 4).
func BenchmarkBalance(b *testing.B) {
	for _, sz := range []struct{ n, k int }{{256, 3000}, {4096, 3000}} {
		b.Run(fmt.Sprintf("b%d_k%d", sz.n, sz.k), func(b *testing.B) {
			scores := ssl.FromSlice(swavScores(rand.New(rand.NewPCG(1, 1)), sz.n, sz.k), sz.n, sz.k)
			q, ws := ssl.New(sz.n, sz.k), sinkhorn.NewWorkspace(sz.n, sz.k)
			opts := &sinkhorn.BalanceOptions{Iterations: 3}
			b.ReportAllocs()
			c0 := cpuTime()
			for b.Loop() {
				if _, err := sinkhorn.Balance(q, scores, 0.05, ws, opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuTime()-c0).Microseconds())/1e3/float64(b.N), "cpu-ms/op")
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(sec*1e3, "ms/op")
			b.ReportMetric(float64(4*sz.n*sz.k*(opts.Iterations+4))/sec/1e9, "GB/s")
		})
	}
}

// selaProbs returns N×K softmax outputs of random logits with standard
// deviation 2, so rows are moderately peaked as in training.
func selaProbs(r *rand.Rand, n, k int) ssl.Tensor {
	t := ssl.New(n, k)
	d := t.Data().([]float32)
	for i := range d {
		d[i] = float32(r.NormFloat64() * 2)
	}
	kernel.SoftmaxRows(d, d, n, k)
	return t
}

// BenchmarkSeLa times SeLa's update at λ = 25 (SeLa's default). Traffic
// model: one update streams the N×K float32 kernel once (the r update of
// one step and the c update of the next share the pass), 4·N·K bytes. Each
// op runs SeLa twice on the same input, once stopping after update 0 (the
// set-up: two float64 passes over P and the kernel pass) and once after
// 1 + updates updates; the difference gives s/iter and GB/s, the first
// call setup_s.
func BenchmarkSeLa(b *testing.B) {
	for _, sz := range []struct{ n, k int }{{16384, 3000}, {262144, 3000}} {
		b.Run(fmt.Sprintf("n%d_k%d", sz.n, sz.k), func(b *testing.B) {
			if testing.Short() && sz.n > 20000 {
				b.Skip("large")
			}
			probs := selaProbs(rand.New(rand.NewPCG(2, 2)), sz.n, sz.k)
			ws := sinkhorn.NewWorkspace(sz.n, sz.k)
			labels := make([]int, sz.n)
			const updates = 10
			// StopErr 1e-300 is never met: each call runs exactly MaxIter
			// updates and returns ErrNotConverged, which is expected here.
			short := &sinkhorn.SeLaOptions{StopErr: 1e-300, MaxIter: 1}
			long := &sinkhorn.SeLaOptions{StopErr: 1e-300, MaxIter: 1 + updates}
			b.ReportAllocs()
			var setup, iter, cpuIter time.Duration
			for b.Loop() {
				t0, c0 := time.Now(), cpuTime()
				r1, _ := sinkhorn.SeLa(labels, nil, probs, 25, ws, short)
				t1, c1 := time.Now(), cpuTime()
				r2, _ := sinkhorn.SeLa(labels, nil, probs, 25, ws, long)
				t2, c2 := time.Now(), cpuTime()
				cpuIter += (c2 - c1) - (c1 - c0)
				if r1.Iterations != 1 || r2.Iterations != 1+updates || r2.LogDomain {
					b.Fatalf("ran %d and %d updates (log domain %v)", r1.Iterations, r2.Iterations, r2.LogDomain)
				}
				setup += t1.Sub(t0)
				iter += t2.Sub(t1) - t1.Sub(t0)
			}
			perIter := iter.Seconds() / float64(b.N) / updates
			b.ReportMetric(perIter, "s/iter")
			b.ReportMetric(float64(4*sz.n*sz.k)/perIter/1e9, "GB/s")
			b.ReportMetric(setup.Seconds()/float64(b.N), "setup_s")
			b.ReportMetric(cpuIter.Seconds()/float64(b.N)/updates, "cpu-s/iter")
		})
	}
}
