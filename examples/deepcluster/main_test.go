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
	"ssl/assign"
	"ssl/dist"
	"ssl/examples/internal/run"
	"ssl/examples/internal/runtest"
)

func TestSmoke(t *testing.T) { runtest.Smoke(t, "deepcluster", deepcluster) }

// The pseudo-labels and the uniform order built from them survive a resume.
func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, deepcluster) }

// TestClusterSharded checks the -dist relabelling: the features of 2 and 3
// ranks' row blocks (dist.Local), gathered, whitened and clustered by a
// k-means over the blocks, give every rank the labels and inertia of one
// process clustering all rows from the same initial centroids.
func TestClusterSharded(t *testing.T) {
	const n, d = 403, 128 // n not a multiple of the ranks: blocks of unequal size
	rng := rand.New(rand.NewPCG(3, 3))
	fv := make([]float32, n*d)
	for i := range fv {
		fv[i] = float32(rng.NormFloat64()) + float32(i/d%5) // 5 blobs
	}
	feats := ssl.FromSlice(fv, n, d)
	// Initial centroids at whitened points (every 13th), so that no cluster
	// starts empty: the splits of empty clusters draw differently on ranks.
	x, _, err := assign.PCAWhiten(nil, feats, pcaDim, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, xv, _ := ssl.View(x)
	iv := make([]float32, 0, k*pcaDim)
	for j := range k {
		iv = append(iv, xv[13*j*pcaDim:(13*j+1)*pcaDim]...)
	}
	init := ssl.FromSlice(iv, k, pcaDim)
	want, wres, err := cluster(nil, feats, n, rand.New(rand.NewPCG(1, 1)), init)
	if err != nil {
		t.Fatal(err)
	}
	if wres.Splits != 0 {
		t.Fatalf("one process split %d empty clusters; the comparison needs none", wres.Splits)
	}
	for _, ranks := range []int{2, 3} {
		t.Run(fmt.Sprintf("ranks=%d", ranks), func(t *testing.T) {
			got := make([][]int, ranks)
			res := make([]assign.KMeansResult, ranks)
			errs := make([]error, ranks)
			var wg sync.WaitGroup
			for _, c := range dist.Local(ranks) {
				wg.Go(func() {
					lo, hi := run.Shard(c, n)
					mine, err := ssl.Rows(feats, lo, hi)
					if err != nil {
						errs[c.Rank()] = err
						return
					}
					got[c.Rank()], res[c.Rank()], errs[c.Rank()] = cluster(c, mine, n, rand.New(rand.NewPCG(1, 1)), init)
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			for r := range ranks {
				if !slices.Equal(got[r], want) {
					t.Errorf("rank %d of %d: labels differ from one process's", r, ranks)
				}
				if math.Abs(res[r].Inertia-wres.Inertia) > 1e-6*wres.Inertia || res[r].Iterations != wres.Iterations {
					t.Errorf("rank %d of %d: inertia %v after %d iterations, want %v after %d", r, ranks,
						res[r].Inertia, res[r].Iterations, wres.Inertia, wres.Iterations)
				}
			}
		})
	}
}

// TestDist runs a tiny two-epoch job of two in-process ranks: the ranks
// cluster together, stay in lockstep (their states are compared at every
// epoch's end) and rank 0 writes the results.
func TestDist(t *testing.T) { runDist(t, "deepcluster", deepcluster) }

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
