package assign

import (
	"fmt"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// BenchmarkKMeansIter times Lloyd iterations on N(0, 1) data (the peer,
// bench/peer.py kmeans_iter, runs faiss's k-means on the same
// sizes with 2 threads). Each op is one KMeans call of 10 iterations from
// given centroids plus its final assignment; the metric divides by 10.
func BenchmarkKMeansIter(b *testing.B) {
	for _, sz := range []struct{ n, d, k int }{{60000, 128, 100}, {60000, 128, 1000}} {
		b.Run(fmt.Sprintf("n%d_d%d_k%d", sz.n, sz.d, sz.k), func(b *testing.B) {
			x := testutil.RandN(testutil.Rand(1), 1, sz.n, sz.d)
			init := ssl.FromSlice(append([]float32(nil), testutil.Data(x)[:sz.k*sz.d]...), sz.k, sz.d)
			cent := ssl.New(sz.k, sz.d)
			labels := make([]int, sz.n)
			const iters = 10
			opts := &KMeansOptions{Iterations: iters, Init: init}
			rng := testutil.Rand(2)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := KMeans(cent, labels, x, sz.k, rng, opts); err != nil {
					b.Fatal(err)
				}
			}
			s := b.Elapsed().Seconds() / float64(b.N) / iters
			b.ReportMetric(s, "s/iter")
			// Work model: one N×K×D GEMM (2 flops per multiply-add) per iteration.
			b.ReportMetric(2*float64(sz.n*sz.k*sz.d)/s/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkKNNMine times the full mining of top-k cosine neighbours of
// every row among N rows (the peer, peer.py knn_mine, is a faiss
// IndexFlatIP search of the normalised data against itself, k+1 = 21).
func BenchmarkKNNMine(b *testing.B) {
	for _, sz := range []struct{ n, d, k int }{{60000, 128, 20}} {
		b.Run(fmt.Sprintf("n%d_d%d_k%d", sz.n, sz.d, sz.k), func(b *testing.B) {
			x := testutil.RandN(testutil.Rand(1), 1, sz.n, sz.d)
			idx := make([]int, sz.n*(sz.k+1))
			sims := make([]float32, sz.n*(sz.k+1))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := MineNeighbors(idx, sims, x, sz.k, nil); err != nil {
					b.Fatal(err)
				}
			}
			s := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(s, "s/op")
			// Work model: the upper triangle of the N×N×D product.
			b.ReportMetric(float64(sz.n)*float64(sz.n)*float64(sz.d)/s/1e9, "GFLOP/s")
		})
	}
}
