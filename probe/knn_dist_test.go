package probe

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"ssl"
	"ssl/dist"
	"ssl/internal/testutil"
)

// shardedKNN runs KNN over an in-process job whose ranks hold the given
// row ranges of bank and returns every rank's predictions and errors.
func shardedKNN(bank ssl.Tensor, labels []int, queries ssl.Tensor, numClasses int, bounds []int, opts KNNOptions) ([][]int, []error) {
	size := len(bounds) - 1
	_, d := bank.Shape()[0], bank.Shape()[1]
	preds, errs := make([][]int, size), make([]error, size)
	var wg sync.WaitGroup
	for r, c := range dist.Local(size) {
		wg.Go(func() {
			lo, hi := bounds[r], bounds[r+1]
			shard := ssl.FromSlice(testutil.Data(bank)[lo*d:hi*d], hi-lo, d)
			o := opts
			o.Comm = c
			preds[r], errs[r] = KNN(nil, shard, labels[lo:hi], queries, numClasses, &o)
		})
	}
	wg.Wait()
	return preds, errs
}

// TestKNNSharded checks that KNN over a bank sharded on 2 and 4 ranks, in
// shards of unequal sizes (some smaller than K), predicts on every rank
// what KNN predicts on the whole bank.
func TestKNNSharded(t *testing.T) {
	const n, m, d, classes = 41, 29, 6, 4
	rng := testutil.Rand(5)
	bank := testutil.RandN(rng, 1, n, d)
	queries := testutil.RandN(rng, 1, m, d)
	labels := make([]int, n)
	for i := range labels {
		labels[i] = rng.IntN(classes)
	}
	for _, bounds := range [][]int{{0, 20, n}, {0, 7, 20, 25, n}, {0, 1, 2, 3, n}} {
		for _, k := range []int{1, 5, 20} {
			t.Run(fmt.Sprintf("%v/K=%d", bounds, k), func(t *testing.T) {
				want, err := KNN(nil, bank, labels, queries, classes, &KNNOptions{K: k, T: 0.1})
				if err != nil {
					t.Fatal(err)
				}
				preds, errs := shardedKNN(bank, labels, queries, classes, bounds, KNNOptions{K: k, T: 0.1})
				if err := errors.Join(errs...); err != nil {
					t.Fatal(err)
				}
				for r, p := range preds {
					if !slices.Equal(p, want) {
						t.Errorf("rank %d: %v, want %v", r, p, want)
					}
				}
			})
		}
	}
}

// TestKNNShardedTies: duplicates on different ranks are ordered by their
// index in the whole bank, as KNN orders them.
func TestKNNShardedTies(t *testing.T) {
	// Rows 0 and 3 are identical (classes 1 and 0), and so are rows 1 and 2
	// (classes 0 and 1): with K = 1 the lower index decides.
	bank := ssl.FromSlice([]float32{1, 0, 0, 1, 0, 1, 1, 0}, 4, 2)
	labels := []int{1, 0, 1, 0}
	queries := ssl.FromSlice([]float32{2, 0, 0, 3}, 2, 2)
	want, err := KNN(nil, bank, labels, queries, 2, &KNNOptions{K: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(want, []int{1, 0}) {
		t.Fatalf("KNN: %v, want [1 0]", want)
	}
	for _, bounds := range [][]int{{0, 2, 4}, {0, 1, 2, 3, 4}} {
		preds, errs := shardedKNN(bank, labels, queries, 2, bounds, KNNOptions{K: 1})
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		for r, p := range preds {
			if !slices.Equal(p, want) {
				t.Errorf("%v: rank %d: %v, want %v", bounds, r, p, want)
			}
		}
	}
}

// TestKNNShardedErrors: a bad argument on one rank and a K larger than
// the whole bank are errors on every rank.
func TestKNNShardedErrors(t *testing.T) {
	rng := testutil.Rand(2)
	bank := testutil.RandN(rng, 1, 6, 3)
	queries := testutil.RandN(rng, 1, 2, 3)
	labels := []int{0, 1, 0, 1, 0, 1}
	bad := slices.Clone(labels)
	bad[4] = 7 // on rank 1's shard
	for _, tc := range []struct {
		name   string
		labels []int
		k      int
		want   error
		msg    string
	}{
		{"label", bad, 2, ssl.ErrParam, "rank 1"},
		{"K", labels, 7, ssl.ErrParam, "bank size 6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errs := shardedKNN(bank, tc.labels, queries, 2, []int{0, 3, 6}, KNNOptions{K: tc.k})
			for r, err := range errs {
				if !errors.Is(err, tc.want) {
					t.Errorf("rank %d: err = %v, want %v", r, err, tc.want)
				} else if r == 0 && !strings.Contains(err.Error(), tc.msg) {
					t.Errorf("rank 0: err = %v, want it to name %q", err, tc.msg)
				}
			}
		})
	}
}
