package main

import (
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"ssl"
	"ssl/dist"
	"ssl/examples/internal/run"
	"ssl/examples/internal/runtest"
	"ssl/sinkhorn"
)

func TestSmoke(t *testing.T) { runtest.Smoke(t, "sela", sela) }

// The pseudo-labels are part of the state.
func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, sela) }

// TestSelfLabelSharded checks the -dist relabelling: SeLa over 2 and 3
// ranks' row blocks of the probabilities (dist.Local), its labels
// all-gathered, gives every rank the labels and update count of one
// process solving all rows.
func TestSelfLabelSharded(t *testing.T) {
	const n = 403 // not a multiple of the ranks: blocks of unequal size
	rng := rand.New(rand.NewPCG(7, 7))
	pv := make([]float32, n*k)
	for i := range pv {
		pv[i] = float32(rng.ExpFloat64())
	}
	probs := ssl.FromSlice(pv, n, k)
	if _, err := ssl.SoftmaxRows(probs, probs, 1); err != nil {
		t.Fatal(err)
	}
	opts := func() *sinkhorn.SeLaOptions { return &sinkhorn.SeLaOptions{Tol: 0.1} }
	want, wres, err := selfLabel(nil, probs, n, opts())
	if err != nil {
		t.Fatal(err)
	}
	for _, ranks := range []int{2, 3} {
		t.Run(fmt.Sprintf("ranks=%d", ranks), func(t *testing.T) {
			got := make([][]int, ranks)
			iters := make([]int, ranks)
			errs := make([]error, ranks)
			var wg sync.WaitGroup
			for _, c := range dist.Local(ranks) {
				wg.Go(func() {
					lo, hi := run.Shard(c, n)
					mine, err := ssl.Rows(probs, lo, hi)
					if err != nil {
						errs[c.Rank()] = err
						return
					}
					o := opts()
					o.Reducer = c
					var res sinkhorn.SeLaResult
					got[c.Rank()], res, errs[c.Rank()] = selfLabel(c, mine, n, o)
					iters[c.Rank()] = res.Iterations
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			for r := range ranks {
				if !slices.Equal(got[r], want) || iters[r] != wres.Iterations {
					t.Errorf("rank %d of %d: %d updates, labels equal %v; want %d updates, the one-process labels",
						r, ranks, iters[r], slices.Equal(got[r], want), wres.Iterations)
				}
			}
		})
	}
}

// TestDist runs a tiny two-epoch job of two in-process ranks: the ranks
// relabel together, stay in lockstep (their states are compared at every
// epoch's end) and rank 0 writes the results.
func TestDist(t *testing.T) { runDist(t, "sela", sela) }

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
