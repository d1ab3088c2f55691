package assign

import (
	"fmt"
	"math/rand/v2"

	"ssl"
	"ssl/internal/kernel"
)

// HierarchicalOptions holds the optional settings of [HierarchicalKMeans].
// A nil *HierarchicalOptions means the defaults.
type HierarchicalOptions struct {
	// Super and Sub are the [KMeansOptions] of the first level (k1
	// super-classes over all points) and of every second-level run (k2
	// clusters within one super-class). nil means the defaults; Init must
	// be nil in both.
	Super, Sub *KMeansOptions
}

// HierarchicalResult is the outcome of [HierarchicalKMeans].
type HierarchicalResult struct {
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
// Init.
//
// Reference: Caron et al., Unsupervised Pre-Training of Image Features on
// Non-Curated Data, ICCV 2019, Sec. 3.2 (hierarchical clustering;
// facebookresearch/DeeperCluster src/clustering.py).
func HierarchicalKMeans(x ssl.Tensor, k1, k2 int, rng *rand.Rand, opts *HierarchicalOptions) (*HierarchicalResult, error) {
	const fn = "HierarchicalKMeans"
	var o HierarchicalOptions
	if opts != nil {
		o = *opts
	}
	n, d, xv, err := matrix(fn, "x", x)
	if err != nil {
		return nil, err
	}
	if k1 < 1 || k2 < 1 || k1*k2 > n {
		return nil, fmt.Errorf("assign: %s: need k1 ≥ 1, k2 ≥ 1 and k1·k2 ≤ N=%d (k1=%d, k2=%d): %w", fn, n, k1, k2, ssl.ErrParam)
	}
	if err := checkRand(fn, rng); err != nil {
		return nil, err
	}
	if (o.Super != nil && o.Super.Init != nil) || (o.Sub != nil && o.Sub.Init != nil) {
		return nil, fmt.Errorf("assign: %s: Init must be nil in Super and Sub options: %w", fn, ssl.ErrParam)
	}
	top, err := KMeans(nil, nil, x, k1, rng, o.Super)
	if err != nil {
		return nil, fmt.Errorf("assign: %s: first level: %w", fn, err)
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
	res := &HierarchicalResult{
		Labels: make([]int, n), Super: top.Labels, SuperCentroids: top.Centroids,
		Centroids: ssl.New(k1*k2, d),
	}
	cv := res.Centroids.Data().([]float32)
	supv := top.Centroids.Data().([]float32)
	errs := make([]error, k1)
	dist := make([][]float32, k1)
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
				errs[s] = fmt.Errorf("assign: %s: super-class %d: %w", fn, s, err)
				continue
			}
			for r, i := range idx {
				res.Labels[i] = s*k2 + sr.Labels[r]
			}
			dist[s] = sr.Dist
		}
	})
	for s, err := range errs {
		if err != nil {
			return nil, err
		}
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
	return res, nil
}
