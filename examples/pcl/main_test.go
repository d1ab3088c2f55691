package main

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"ssl"
	"ssl/dist"
	"ssl/examples/internal/run"
	"ssl/examples/internal/runtest"
	"ssl/losses"
)

func TestSmoke(t *testing.T) { runtest.Smoke(t, "pcl", pcl) }

// The prototypes join from the first epoch.
func TestSmokePrototypes(t *testing.T) { runtest.Smoke(t, "pcl", pcl, "-instance-epochs", "0") }

// The key encoder, the queue, the centroids, concentrations and labels are
// part of the state (the second epoch uses the prototypes).
func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, pcl) }

// TestClusterSharded checks the -dist relabelling: a spherical k-means over
// 2 and 3 ranks' row blocks of the keys (dist.Local), its labels and
// distances gathered, gives every rank the labels, centroids and
// concentrations of one process clustering all rows from the same initial
// centroids.
func TestClusterSharded(t *testing.T) {
	const n, k = 403, 10 // n not a multiple of the ranks: blocks of unequal size
	rng := rand.New(rand.NewPCG(5, 5))
	kv := make([]float32, n*dim)
	for i := range kv {
		kv[i] = float32(rng.NormFloat64()) + 2*float32(i/dim%k) // k blobs
	}
	keys, err := ssl.NormalizeRows(nil, ssl.FromSlice(kv, n, dim))
	if err != nil {
		t.Fatal(err)
	}
	// Initial centroids at the first k keys, one per blob, so that no
	// cluster starts empty: the splits of empty clusters draw differently
	// on ranks.
	_, nv, _ := ssl.View(keys)
	init := ssl.FromSlice(slices.Clone(nv[:k*dim]), k, dim)
	newProtos := func() losses.ProtoNCEClustering {
		return losses.ProtoNCEClustering{Centroids: ssl.New(k, dim), Density: ssl.New(k)}
	}
	want := newProtos()
	wlab, wres, err := cluster(nil, want, keys, n, k, rand.New(rand.NewPCG(1, 1)), init)
	if err != nil {
		t.Fatal(err)
	}
	if wres.Splits != 0 {
		t.Fatalf("one process split %d empty clusters; the comparison needs none", wres.Splits)
	}
	for _, ranks := range []int{2, 3} {
		t.Run(fmt.Sprintf("ranks=%d", ranks), func(t *testing.T) {
			got := make([]losses.ProtoNCEClustering, ranks)
			lab := make([][]int, ranks)
			errs := make([]error, ranks)
			var wg sync.WaitGroup
			for _, c := range dist.Local(ranks) {
				wg.Go(func() {
					r := c.Rank()
					lo, hi := run.Shard(c, n)
					mine, err := ssl.Rows(keys, lo, hi)
					if err != nil {
						errs[r] = err
						return
					}
					got[r] = newProtos()
					lab[r], _, errs[r] = cluster(c, got[r], mine, n, k, rand.New(rand.NewPCG(1, 1)), init)
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			for r := range ranks {
				if !slices.Equal(lab[r], wlab) {
					t.Errorf("rank %d of %d: labels differ from one process's", r, ranks)
				}
				for _, p := range []struct {
					name      string
					got, want ssl.Tensor
				}{{"centroids", got[r].Centroids, want.Centroids}, {"concentrations", got[r].Density, want.Density}} {
					_, g, _ := ssl.View(p.got)
					_, w, _ := ssl.View(p.want)
					for i := range w {
						if math.Abs(float64(g[i]-w[i])) > 1e-5*math.Abs(float64(w[i]))+1e-7 {
							t.Errorf("rank %d of %d: %s[%d] = %v, want %v", r, ranks, p.name, i, g[i], w[i])
							break
						}
					}
				}
			}
		})
	}
}

// TestDist runs a tiny two-epoch job of two in-process ranks with the
// prototypes from the first epoch: the ranks cluster together, share their
// keys' queue, stay in lockstep (their states are compared at every
// epoch's end) and rank 0 writes the results.
func TestDist(t *testing.T) { runDist(t, "pcl", pcl, "-instance-epochs", "0") }

// runDist runs main as a two-rank in-process job of two tiny epochs and
// checks rank 0's result.json.
func runDist(t *testing.T, method string, main runtest.Main, extra ...string) {
	out := t.TempDir()
	args := append(append(slices.Clone(runtest.Tiny), extra...), "-epochs", "2", "-out", out)
	if err := run.InProcess(2, main, args, io.Discard); err != nil {
		t.Fatalf("%s on 2 ranks: %v", method, err)
	}
	r := runtest.ReadResult(t, out)
	if r.Method != method || r.Batch != 64 || r.KNN <= 0.1 {
		t.Errorf("result.json = %+v: want %s, the global batch 64, kNN above chance", r, method)
	}
}
