package dist_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"ssl"
	"ssl/assign"
	"ssl/sinkhorn"
)

// shard returns rank's rows [lo, hi) of n, uneven: rank r gets about
// (r+1)/Σ of them.
func shard(n, rank, size int) (lo, hi int) {
	tot := size * (size + 1) / 2
	before := rank * (rank + 1) / 2
	return n * before / tot, n * (before + rank + 1) / tot
}

func randMatrix(seed uint64, n, k int, scale float64) []float32 {
	rng := rand.New(rand.NewPCG(seed, seed))
	x := make([]float32, n*k)
	for i := range x {
		x[i] = float32(scale * rng.NormFloat64())
	}
	return x
}

// TestMPIBalance checks that SwAV's Sinkhorn over the ranks' shards (every
// rank of the MPI job, one rank outside mpirun) gives each rank the rows
// the single process computes on all of them.
func TestMPIBalance(t *testing.T) {
	c := world(t)
	const n, k = 97, 11
	scores := randMatrix(3, n, k, 1)
	want := ssl.New(n, k)
	if _, err := sinkhorn.Balance(want, ssl.FromSlice(scores, n, k), 0.05, nil); err != nil {
		t.Fatal(err)
	}
	lo, hi := shard(n, c.Rank(), c.Size())
	got := ssl.New(hi-lo, k)
	_, err := sinkhorn.Balance(got, ssl.FromSlice(scores[lo*k:hi*k], hi-lo, k), 0.05, &sinkhorn.BalanceOptions{Reducer: c})
	if err != nil {
		t.Fatal(err)
	}
	closeTo(t, "Balance", got.Data().([]float32), want.Data().([]float32)[lo*k:hi*k], 1e-6)
}

// TestMPIKMeans checks DeepCluster-v2's k-means over the ranks' shards
// against the single process on all the rows.
func TestMPIKMeans(t *testing.T) {
	c := world(t)
	const n, d, k = 300, 5, 6
	x := randMatrix(4, n, d, 1)
	init := ssl.FromSlice(slices.Clone(x[:k*d]), k, d)
	opts := assign.KMeansOptions{Init: init, Iterations: 6}
	want, err := assign.KMeans(nil, nil, ssl.FromSlice(x, n, d), k, rand.New(rand.NewPCG(1, 1)), &opts)
	if err != nil {
		t.Fatal(err)
	}
	lo, hi := shard(n, c.Rank(), c.Size())
	opts.Comm = c
	got, err := assign.KMeans(nil, nil, ssl.FromSlice(x[lo*d:hi*d], hi-lo, d), k, rand.New(rand.NewPCG(1, 1)), &opts)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Labels, want.Labels[lo:hi]) {
		t.Errorf("rank %d: labels differ from the single process's", c.Rank())
	}
	closeTo(t, "KMeans centroids", got.Centroids.Data().([]float32), want.Centroids.Data().([]float32), 1e-6)
	if math.Abs(got.Inertia-want.Inertia) > 1e-9*want.Inertia {
		t.Errorf("rank %d: inertia %v, want %v", c.Rank(), got.Inertia, want.Inertia)
	}
}

func closeTo(t *testing.T, name string, got, want []float32, tol float64) {
	t.Helper()
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > tol*(1+math.Abs(float64(want[i]))) {
			t.Errorf("%s [%d] = %v, want %v", name, i, got[i], want[i])
			return
		}
	}
}
