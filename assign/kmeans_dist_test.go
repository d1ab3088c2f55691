package assign

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"ssl"
	"ssl/dist"
	"ssl/internal/testutil"
)

// onRanks runs fn on every communicator of dist.Local(n), each on its
// goroutine, and returns the ranks' errors.
func onRanks(n int, fn func(c dist.Comm) error) []error {
	cs := dist.Local(n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() { errs[c.Rank()] = fn(c) })
	}
	wg.Wait()
	return errs
}

// TestKMeansDistributed checks that a k-means over 2 and 4 ranks' shards
// (uneven, in order) returns what one process returns on all the rows.
func TestKMeansDistributed(t *testing.T) {
	const n, d, k = 403, 6, 7
	x := blobs(testutil.Rand(21), n, d, k)
	xv := testutil.Data(x)
	init := ssl.FromSlice(slices.Clone(xv[:k*d]), k, d) // the first k points
	for _, spherical := range []bool{false, true} {
		want, err := KMeans(nil, nil, x, k, testutil.Rand(1), &KMeansOptions{Init: init, Iterations: 8, Spherical: spherical})
		if err != nil {
			t.Fatal(err)
		}
		for _, ranks := range []int{2, 4} {
			t.Run(fmt.Sprintf("spherical=%v/ranks=%d", spherical, ranks), func(t *testing.T) {
				labels := make([]int, n)
				results := make([]KMeansResult, ranks)
				errs := onRanks(ranks, func(c dist.Comm) error {
					lo, hi := c.Rank()*n/ranks+c.Rank(), (c.Rank()+1)*n/ranks+c.Rank()+1 // uneven
					lo, hi = min(lo, n), min(hi, n)
					if c.Rank() == ranks-1 {
						hi = n
					}
					mine := ssl.FromSlice(xv[lo*d:hi*d], hi-lo, d)
					res, err := KMeans(nil, labels[lo:hi], mine, k, testutil.Rand(1),
						&KMeansOptions{Init: init, Iterations: 8, Spherical: spherical, Comm: c})
					results[c.Rank()] = res
					return err
				})
				if err := errors.Join(errs...); err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(labels, want.Labels) {
					t.Errorf("labels differ from the single process's")
				}
				for r, res := range results {
					name := fmt.Sprintf("rank %d", r)
					testutil.AllClose(t, name+" centroids", testutil.F64(res.Centroids), testutil.F64(want.Centroids), 1e-6, 1e-6)
					testutil.AllClose(t, name+" obj", res.Obj, want.Obj, 0, 1e-9)
					testutil.AllClose(t, name+" inertia", []float64{res.Inertia, res.Residual}, []float64{want.Inertia, want.Residual}, 0, 1e-9)
					if res.Iterations != want.Iterations || res.Empty != want.Empty || res.Splits != want.Splits {
						t.Errorf("%s: iterations %d empty %d splits %d, want %d %d %d", name,
							res.Iterations, res.Empty, res.Splits, want.Iterations, want.Empty, want.Splits)
					}
				}
			})
		}
	}
}

// TestKMeansDistributedDrawn checks the drawn initialisation (rank 0's
// points, broadcast) and the empty-cluster splits: every rank ends with the
// same centroids, counts and objective.
func TestKMeansDistributedDrawn(t *testing.T) {
	const n, d, k = 120, 3, 12
	x := blobs(testutil.Rand(5), n, d, 3) // 3 blobs, 12 clusters: splits happen
	xv := testutil.Data(x)
	for _, randomInit := range []bool{false, true} {
		results := make([]KMeansResult, 3)
		errs := onRanks(3, func(c dist.Comm) error {
			lo, hi := c.Rank()*n/3, (c.Rank()+1)*n/3
			res, err := KMeans(nil, nil, ssl.FromSlice(xv[lo*d:hi*d], hi-lo, d), k, testutil.Rand(uint64(9+c.Rank())),
				&KMeansOptions{RandomInit: randomInit, Restarts: 2, Tol: 1e-9, Iterations: 30, Comm: c})
			results[c.Rank()] = res
			if errors.Is(err, ErrNotConverged) {
				err = nil
			}
			return err
		})
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		for r, res := range results[1:] {
			if !slices.Equal(testutil.Data(res.Centroids), testutil.Data(results[0].Centroids)) ||
				!slices.Equal(res.Obj, results[0].Obj) || res.Restart != results[0].Restart || res.Empty != results[0].Empty {
				t.Errorf("randomInit=%v: rank %d's result differs from rank 0's", randomInit, r+1)
			}
		}
		if results[0].Inertia <= 0 || results[0].Iterations == 0 {
			t.Errorf("randomInit=%v: result %+v", randomInit, results[0])
		}
	}
}

// TestKMeansDistributedBadArgument checks that a bad argument on one rank
// is an error on every rank rather than a hang.
func TestKMeansDistributedBadArgument(t *testing.T) {
	x := blobs(testutil.Rand(3), 40, 2, 2)
	errs := onRanks(3, func(c dist.Comm) error {
		labels := make([]int, 40)
		if c.Rank() == 2 {
			labels = labels[:3]
		}
		_, err := KMeans(nil, labels, x, 4, testutil.Rand(1), &KMeansOptions{Comm: c})
		return err
	})
	for r, err := range errs {
		if !errors.Is(err, ssl.ErrShape) {
			t.Errorf("rank %d: err = %v, want ErrShape", r, err)
		}
	}
}
