package sinkhorn

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"ssl"
	"ssl/internal/kernel"
	"ssl/internal/testutil"
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
			q := ssl.New(sz.n, sz.k)
			opts := &BalanceOptions{Iterations: 3, Workspace: NewWorkspace(sz.n, sz.k)}
			b.ReportAllocs()
			c0 := cpuTime()
			for b.Loop() {
				if _, err := Balance(q, scores, 0.05, opts); err != nil {
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
