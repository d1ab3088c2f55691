package assign

import (
	"errors"
	"fmt"
	"math/rand/v2"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// HierarchicalKMeansOptions holds the optional settings of
// [HierarchicalKMeans]. A nil *HierarchicalKMeansOptions means the
// defaults.
type HierarchicalKMeansOptions struct {
	// Super and Sub are the [KMeansOptions] of the first level (k1
	// super-classes over all points) and of every second-level run (k2
	// clusters within one super-class), Iterations and Tol included. nil
	// means the defaults; Init must be nil in both.
	Super, Sub *KMeansOptions
}

// HierarchicalKMeansResult is the outcome of [HierarchicalKMeans].
type HierarchicalKMeansResult struct {
	// Labels[n] = Super[n]·k2 + sub-cluster of x_n within its super-class.
	Labels []int
	// Super[n] is the super-class of x_n.
	Super []int
	// SuperCentroids is k1×D; Centroids is (k1·k2)×D, row s·k2 + j the
	// centroid of sub-cluster j of super-class s.
	SuperCentroids, Centroids ssl.Tensor
	// Inertia is Σ_n ‖x_n − Centroids[Labels[n]]‖².
	Inertia float64
	// Empty counts the (k1·k2) clusters with no point.
	Empty int
	// Residual is the largest [KMeansResult] Residual of the first-level
	// run and every second-level run.
	Residual float64
}

// HierarchicalKMeans is DeeperCluster's two-level clustering: [KMeans]
// splits the rows of x (N×D) into k1 super-classes, then each super-class is
// clustered on its own into k2 sub-classes, and the label of a point is
//
//	label_n = s_n·k2 + j_n   (s the super-class, j the sub-cluster in it)
//
// giving k1·k2 clusters. The k1 second-level runs are independent and run
// concurrently (kernel.ParallelFor over super-classes, each with its own
// generator seeded from rng before they start), so the result is the same
// for any GOMAXPROCS. A super-class with n_s < k2 points is clustered into
// n_s sub-clusters; its remaining k2 − n_s clusters are empty, with the
// super-class centroid as their centroid.
//
// It returns the errors of [KMeans] for either level, and an error wrapping
// ssl.ErrParam if k1 < 1, k2 < 1, k1·k2 > N, rng is nil or an option sets
// Init. A run that misses its Tol does not stop the others: the complete
// result comes back with an error wrapping ErrNotConverged that names the
// first such run.
//
// Reference: Caron et al., Unsupervised Pre-Training of Image Features on
// Non-Curated Data, ICCV 2019, Sec. 3.2 (hierarchical clustering;
// facebookresearch/DeeperCluster src/clustering.py).
func HierarchicalKMeans(x ssl.Tensor, k1, k2 int, rng *rand.Rand, opts *HierarchicalKMeansOptions) (HierarchicalKMeansResult, error) {
	const fn = "assign: HierarchicalKMeans"
	var o HierarchicalKMeansOptions
	if opts != nil {
		o = *opts
	}
	n, d, xv, err := check.Matrix(fn, "x", x)
	if err != nil {
		return HierarchicalKMeansResult{}, err
	}
	if k1 < 1 || k2 < 1 || k1*k2 > n {
		return HierarchicalKMeansResult{}, check.Errorf(fn, ssl.ErrParam, "need k1 ≥ 1, k2 ≥ 1 and k1·k2 ≤ N=%d (k1=%d, k2=%d)", n, k1, k2)
	}
	if err := check.Rand(fn, rng); err != nil {
		return HierarchicalKMeansResult{}, err
	}
	if (o.Super != nil && !check.IsNil(o.Super.Init)) || (o.Sub != nil && !check.IsNil(o.Sub.Init)) {
		return HierarchicalKMeansResult{}, check.Errorf(fn, ssl.ErrParam, "Init must be nil in Super and Sub options")
	}
	top, err := KMeans(nil, nil, x, k1, rng, o.Super)
	var notConverged error
	if errors.Is(err, ErrNotConverged) {
		notConverged = fmt.Errorf("%s: first level: %w", fn, err)
	} else if err != nil {
		return HierarchicalKMeansResult{}, fmt.Errorf("%s: first level: %w", fn, err)
	}
	// Gather each super-class's points; seed each second-level run.
	members := make([][]int, k1)
	for i, s := range top.Labels {
		members[s] = append(members[s], i)
	}
	seeds := make([][2]uint64, k1)
	for s := range seeds {
		seeds[s] = [2]uint64{rng.Uint64(), rng.Uint64()}
	}
	res := HierarchicalKMeansResult{
		Labels: make([]int, n), Super: top.Labels, SuperCentroids: top.Centroids,
		Centroids: ssl.New(k1*k2, d), Residual: top.Residual,
	}
	cv := res.Centroids.Data().([]float32)
	supv := top.Centroids.Data().([]float32)
	errs := make([]error, k1)
	dist := make([][]float32, k1)
	resid := make([]float64, k1)
	kernel.ParallelFor(k1, 1, func(lo, hi int) {
		for s := lo; s < hi; s++ {
			idx := members[s]
			for j := range k2 {
				copy(cv[(s*k2+j)*d:(s*k2+j+1)*d], supv[s*d:(s+1)*d])
			}
			if len(idx) == 0 {
				continue
			}
			sub := make([]float32, len(idx)*d)
			for r, i := range idx {
				copy(sub[r*d:(r+1)*d], xv[i*d:(i+1)*d])
			}
			ks := min(k2, len(idx))
			sr, err := KMeans(ssl.FromSlice(cv[s*k2*d:(s*k2+ks)*d], ks, d), nil, ssl.FromSlice(sub, len(idx), d), ks,
				rand.New(rand.NewPCG(seeds[s][0], seeds[s][1])), o.Sub)
			if err != nil {
				errs[s] = fmt.Errorf("%s: super-class %d: %w", fn, s, err)
				if !errors.Is(err, ErrNotConverged) {
					continue
				}
			}
			resid[s] = sr.Residual
			for r, i := range idx {
				res.Labels[i] = s*k2 + sr.Labels[r]
			}
			dist[s] = sr.Dist
		}
	})
	for _, err := range errs {
		if err != nil && !errors.Is(err, ErrNotConverged) {
			return HierarchicalKMeansResult{}, err
		}
	}
	for s, err := range errs {
		if err != nil && notConverged == nil {
			notConverged = err
		}
		res.Residual = max(res.Residual, resid[s])
		for _, v := range dist[s] {
			res.Inertia += float64(v)
		}
	}
	counts := make([]int, k1*k2)
	for _, l := range res.Labels {
		counts[l]++
	}
	for _, c := range counts {
		if c == 0 {
			res.Empty++
		}
	}
	return res, notConverged
}
