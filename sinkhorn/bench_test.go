package sinkhorn_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

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
			for b.Loop() {
				if _, err := sinkhorn.Balance(q, scores, 0.05, ws, opts); err != nil {
					b.Fatal(err)
				}
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(sec*1e3, "ms/op")
			b.ReportMetric(float64(4*sz.n*sz.k*(opts.Iterations+4))/sec/1e9, "GB/s")
		})
	}
}

// selaProbs returns N×K softmax outputs of random logits with standard
// deviation 2, so rows are moderately peaked as in training.
func selaProbs(r *rand.Rand, n, k int) *ssl.Tensor {
	t := testutil.RandN(r, 2, n, k)
	d := testutil.Data(t)
	kernel.SoftmaxRows(d, d, n, k)
	var x ssl.Tensor = t
	return &x
}

// BenchmarkSeLa times SeLa's update at λ = 25 (SeLa's default). One
// update streams the N×K float32 kernel once (the r update of one step and
// the c update of the next share the pass): traffic 4·N·K bytes per
// update. The set-up (kernel) is timed separately as setup_s.
func BenchmarkSeLa(b *testing.B) {
	sizes := []struct{ n, k int }{{16384, 3000}, {262144, 3000}}
	for _, sz := range sizes {
		b.Run(fmt.Sprintf("n%d_k%d", sz.n, sz.k), func(b *testing.B) {
			if testing.Short() && sz.n > 20000 {
				b.Skip("large")
			}
			probs := *selaProbs(rand.New(rand.NewPCG(2, 2)), sz.n, sz.k)
			ws := sinkhorn.NewWorkspace(sz.n, sz.k)
			labels := make([]int, sz.n)
			// Fixed work per op: StopErr 0 stops only at MaxIter, so every
			// op runs exactly `updates` updates (the expected
			// ErrNotConverged is ignored).
			const updates = 10
			opts := &sinkhorn.SeLaOptions{StopErr: 1e-300, MaxIter: updates}
			b.ReportAllocs()
			var res sinkhorn.SeLaResult
			for b.Loop() {
				res, _ = sinkhorn.SeLa(labels, nil, probs, 25, ws, opts)
			}
			if res.Iterations != updates || res.LogDomain {
				b.Fatalf("ran %d updates (log domain %v), want %d in the exp domain", res.Iterations, res.LogDomain, updates)
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(sec, "s/op")
			_ = sec
		})
	}
}
