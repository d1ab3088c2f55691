package assign

import (
	"fmt"
	"math/rand/v2"

	"ssl"
	"ssl/dist"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// Defaults of [KMeansOptions].
const (
	// defaultKMeansIterations is DeepCluster's and PCL's niter
	// (deepcluster clustering.py run_kmeans, PCL main_pcl.py run_kmeans).
	defaultKMeansIterations = 20
	// splitEps is faiss's relative perturbation of a split centroid
	// (faiss/Clustering.cpp, split_clusters: EPS = 1/1024).
	splitEps = 1.0 / 1024
)

// KMeansOptions holds the optional settings of [KMeans]. A nil
// *KMeansOptions means the defaults.
type KMeansOptions struct {
	// Iterations is the number of Lloyd iterations of each run (the most,
	// when Tol > 0), ≥ 0; 0 means 20 (DeepCluster's and PCL's niter). To
	// run no iteration at all (only the final assignment) use [Nearest].
	Iterations int
	// Tol, if > 0, ends a run after the first iteration whose residual (the
	// fraction of points whose label changed in its assignment step, see
	// [KMeansResult]) is ≤ Tol; if the kept run's residual is still above
	// Tol after Iterations, KMeans returns the complete result with an
	// error wrapping ErrNotConverged. 0 (the default) runs exactly
	// Iterations, as faiss does.
	Tol float64
	// Restarts is the number of independent runs, each from its own
	// initialisation (k-means++ or RandomInit) drawn from rng; the run with the lowest
	// final inertia is kept (faiss's nredo). ≥ 0; 0 means 1.
	Restarts int
	// Spherical normalises the centroids to unit norm after every update
	// (and after initialisation), as faiss's spherical flag does. With
	// ‖c‖ = 1, argmin_k ‖x − c_k‖² = argmin_k (‖x‖² − 2x·c_k + 1) is the
	// argmax of x·c_k, that is of the cosine, for any x; Dist and Obj stay
	// squared distances. A centroid whose members sum to zero stays zero.
	Spherical bool
	// RandomInit draws the initial centroids as K distinct points chosen
	// uniformly (faiss's own initialisation, which DeepCluster and PCL get)
	// instead of k-means++. k-means++ costs about one Lloyd iteration's
	// multiply-adds (N·K·D, without the GEMM, K sequential rounds); random
	// points cost nothing. Default false.
	RandomInit bool
	// Init, if not nil, is the K×D matrix of initial centroids, used instead
	// of k-means++ (faiss with clus.centroids preset, as the reference
	// vectors call it). Restarts must then be 0 or 1. It is read, never
	// written; it may be the same tensor as the centroids destination.
	Init ssl.Tensor
	// Comm, when not nil, makes the call one rank of a k-means over the
	// rows of every rank, as DeepCluster-v2 runs it across GPUs (swav
	// main_deepclusterv2.py, cluster_memory): x and labels are this rank's
	// rows; rank 0 draws the initial centroids from its own rows (k ≤ its N)
	// or takes opts.Init and broadcasts them; each iteration all-reduces
	// the K×D sums and the K counts, and the objective and the number of
	// changed labels. Centroids, Obj, Iterations, Residual, Inertia,
	// Splits and Empty are the global ones, the same on every rank; Labels
	// and Dist are this rank's. Every rank calls KMeans with the same k,
	// D and options; rng is used by rank 0 (for the initialisation and the
	// seed of the empty-cluster splits it broadcasts). Bad arguments on any
	// rank are an error on every rank (see dist.Agree).
	Comm dist.Comm
}

// KMeansResult describes the run [KMeans] kept.
type KMeansResult struct {
	// Centroids is the K×D tensor of final centroids: the caller's
	// destination, or a new tensor when it was nil.
	Centroids ssl.Tensor
	// Labels[n] is the index of the centroid nearest to x_n under the final
	// centroids (faiss's index.search(x, 1) after training).
	Labels []int
	// Dist[n] is the squared Euclidean distance from x_n to that centroid.
	Dist []float32
	// Inertia is Σ_n Dist[n].
	Inertia float64
	// Obj[it] is the objective Σ_n min_k ‖x_n − c_k‖² of iteration it's
	// assignment step, before that iteration's update (faiss's obj; what
	// DeepCluster's run_kmeans returns as its loss is Obj[len(Obj)−1]).
	Obj []float64
	// Iterations is the number of Lloyd iterations of the kept run
	// (len(Obj)).
	Iterations int
	// Residual is the fraction of the N points whose label changed in the
	// last iteration's assignment step (1 for the first iteration, which
	// has no earlier labels; 0 at a fixed point of Lloyd's algorithm).
	Residual float64
	// Restart is the index of the kept run among the restarts.
	Restart int
	// Splits counts the empty clusters re-seeded during the kept run. An
	// empty cluster is an outcome of the data, repaired and reported here,
	// never an error.
	Splits int
	// Empty counts the clusters with no point in the final assignment
	// (possible when the data hold fewer than K distinct points, or after a
	// split in the last iteration).
	Empty int
}

// KMeans clusters the rows of x (N×D) into k clusters with Lloyd's
// algorithm as faiss runs it for DeepCluster and PCL, minimising
//
//	Σ_n min_k ‖x_n − c_k‖²
//
// Each iteration assigns every point to its nearest centroid (squared
// distances as ‖x‖² − 2x·c + ‖c‖² through the blocked GEMM of [Nearest],
// never all N×K at once; ties to the lowest index), records the objective,
// then moves each centroid to the mean of its points (summed in float64, in
// index order). After the last iteration the points are assigned once more
// to the final centroids, which gives Labels, Dist and Inertia. With
// opts.Tol > 0 a run stops after the first iteration in which at most a
// fraction Tol of the points changed label.
//
// Initialisation: opts.Init if given; K distinct random points with
// opts.RandomInit (faiss's default); otherwise k-means++ (Arthur and
// Vassilvitskii 2007): the first centroid a uniformly drawn point, each next
// one a point drawn with probability proportional to its squared distance
// to the nearest centroid chosen so far (uniformly if all distances are 0).
//
// Empty clusters are repaired as faiss's split_clusters does: for each empty
// cluster i, the clusters j = 0, 1, … are visited cyclically and j is
// accepted with probability (n_j − 1)/(N − K) (n_j its size); centroid i
// becomes a copy of centroid j, and the two are pushed apart by the relative
// perturbation ε = 1/1024: c_i[d] ·= 1 ± ε and c_j[d] ·= 1 ∓ ε (+ on even
// d for i); n_j is then split evenly between them. Spherical centroids are
// normalised after this step.
//
// Every random choice comes from rng, so a seed gives the same result, and
// the result does not depend on GOMAXPROCS. centroids (K×D) and labels
// (len N) receive the result; either may be nil and is then allocated.
//
// It returns an error wrapping ssl.ErrParam if k ≤ 0, k > N, rng is nil or
// an option is out of range; ssl.ErrShape if x is not a matrix, D = 0, or a
// destination or opts.Init has the wrong shape or centroids overlaps x; and
// ssl.ErrNotFinite if x or opts.Init holds a NaN or an infinity, or a
// centroid update overflows. Nothing is written on a bad argument. If
// opts.Tol > 0 is not met it returns the complete result with an error
// wrapping ErrNotConverged. Empty clusters are repaired and counted in the
// result (Splits, Empty), not reported as errors.
//
// Reference: Caron et al., Deep Clustering for Unsupervised Learning of
// Visual Features, ECCV 2018, eq. 2 (deepcluster clustering.py run_kmeans
// @ 2d1927e8); Li et al., Prototypical Contrastive Learning of Unsupervised
// Representations, ICLR 2021, Sec. 3.3 (PCL main_pcl.py @ 964da1fb); faiss
// 1.7.3 Clustering::train.
func KMeans(centroids ssl.Tensor, labels []int, x ssl.Tensor, k int, rng *rand.Rand, opts *KMeansOptions) (KMeansResult, error) {
	const fn = "assign: KMeans"
	var o KMeansOptions
	if opts != nil {
		o = *opts
	}
	fail := func(err error) (KMeansResult, error) {
		if o.Comm != nil {
			dist.Agree(o.Comm, err)
		}
		return KMeansResult{}, err
	}
	n, d, xv, err := check.Matrix(fn, "x", x)
	if err != nil {
		return fail(err)
	}
	if d == 0 {
		return fail(check.Errorf(fn, ssl.ErrShape, "x has D=0 columns"))
	}
	if k <= 0 || (k > n && (o.Comm == nil || o.Comm.Rank() == 0)) || n == 0 {
		return fail(check.Errorf(fn, ssl.ErrParam, "k must be in [1, N=%d] (k=%d)", n, k))
	}
	if err := check.Rand(fn, rng); err != nil {
		return fail(err)
	}
	if o.Iterations < 0 {
		return fail(check.Errorf(fn, ssl.ErrParam, "Iterations must be ≥ 0 (Iterations=%d)", o.Iterations))
	}
	if o.Restarts < 0 {
		return fail(check.Errorf(fn, ssl.ErrParam, "Restarts must be ≥ 0 (Restarts=%d)", o.Restarts))
	}
	if err := check.NonNegative(fn, "Tol", o.Tol); err != nil {
		return fail(err)
	}
	iters, restarts := o.Iterations, max(o.Restarts, 1)
	if iters == 0 {
		iters = defaultKMeansIterations
	}
	var initv []float32
	if !check.IsNil(o.Init) {
		if restarts > 1 || o.RandomInit {
			return fail(check.Errorf(fn, ssl.ErrParam, "Init is set with Restarts=%d, RandomInit=%v (both need a drawn initialisation)", restarts, o.RandomInit))
		}
		if initv, err = check.MatrixOf(fn, "opts.Init", o.Init, k, d); err != nil {
			return fail(err)
		}
	}
	var cv []float32
	if !check.IsNil(centroids) {
		if cv, err = check.MatrixOf(fn, "centroids", centroids, k, d); err != nil {
			return fail(err)
		}
		if kernel.Overlaps(cv, xv) {
			return fail(check.Errorf(fn, ssl.ErrShape, "centroids overlaps x"))
		}
	}
	if labels != nil && len(labels) != n {
		return fail(check.Errorf(fn, ssl.ErrShape, "labels has len %d, want N=%d", len(labels), n))
	}
	if err := check.FiniteData(fn, "x", xv, n, d); err != nil {
		return fail(err)
	}
	if initv != nil {
		if err := check.FiniteData(fn, "opts.Init", initv, k, d); err != nil {
			return fail(err)
		}
	}
	km := newKMeansState(xv, n, d, k, o.Spherical)
	if err := checkNorms(fn, "x", km.xn); err != nil {
		return fail(err)
	}
	if o.Comm != nil {
		if err := dist.Agree(o.Comm, nil); err != nil {
			return KMeansResult{}, fmt.Errorf("%s: %w", fn, err)
		}
		if km.dist, err = newKMeansDist(o.Comm, n, k, rng); err != nil {
			return KMeansResult{}, fmt.Errorf("%s: %w", fn, err)
		}
	}

	var best *kmeansRun
	for r := range restarts {
		run := km.newRun(iters)
		switch {
		case initv != nil:
			copy(run.c, initv)
			if o.Spherical {
				normalizeRows(run.c, k, d)
			}
		case o.Comm != nil && o.Comm.Rank() != 0:
			// Rank 0 draws; the broadcast below brings its centroids.
		case o.RandomInit:
			km.randomPoints(run.c, rng)
		default:
			km.plusPlus(run.c, rng)
		}
		splitRng := rng
		if km.dist != nil {
			if err := o.Comm.Broadcast(run.c, 0); err != nil {
				return KMeansResult{}, fmt.Errorf("%s: broadcast of the initial centroids: %w", fn, err)
			}
			splitRng = km.dist.splitRng
		}
		if err := km.lloyd(run, iters, o.Tol, splitRng); err != nil {
			return KMeansResult{}, err
		}
		if best == nil || run.inertia < best.inertia {
			best, run.restart = run, r
		}
	}

	if check.IsNil(centroids) {
		centroids = ssl.New(k, d)
		cv = centroids.Data().([]float32)
	}
	copy(cv, best.c)
	if labels == nil {
		labels = make([]int, n)
	}
	copy(labels, best.lab)
	empty := 0
	for _, c := range best.counts {
		if c == 0 {
			empty++
		}
	}
	res := KMeansResult{
		Centroids: centroids, Labels: labels, Dist: best.dist, Inertia: best.inertia,
		Obj: best.obj, Iterations: len(best.obj), Residual: best.residual,
		Restart: best.restart, Splits: best.splits, Empty: empty,
	}
	if o.Tol > 0 && res.Residual > o.Tol {
		return res, check.Errorf(fn, ErrNotConverged, "residual %.3g > Tol=%g after %d iterations", res.Residual, o.Tol, res.Iterations)
	}
	return res, nil
}

// kmeansState holds the data and scratch shared by the runs of one KMeans
// call.
type kmeansState struct {
	x, xn     []float32 // N×D data and squared row norms
	n, d, k   int
	spherical bool
	ip        []float32   // one block of inner products (see assignBlockRows)
	prev      []int       // the labels of the previous assignment step
	perm      []int32     // point indices grouped by label (counting sort)
	start     []int       // start[j] … start[j+1] is cluster j's range of perm
	sums      []float64   // K×D float64 centroid sums
	partial   []float64   // per-block partial sums (sumStreaming)
	dist      *kmeansDist // nil for a single-process k-means
}

// kmeansDist is the distributed part of a KMeans with a Comm.
type kmeansDist struct {
	comm     dist.Comm
	nTotal   int        // Σ N over the ranks
	splitRng *rand.Rand // the same stream on every rank
	counts   []int64
	stat     []float64
}

// newKMeansDist learns the total number of rows and gives every rank the
// same split stream, seeded by rank 0's rng.
func newKMeansDist(c dist.Comm, n, k int, rng *rand.Rand) (*kmeansDist, error) {
	v := []int64{int64(n), 0, 0}
	if c.Rank() == 0 {
		v[1], v[2] = int64(rng.Uint64()>>1), int64(rng.Uint64()>>1)
	}
	if err := c.AllReduceInt64(v, dist.Sum); err != nil {
		return nil, err
	}
	return &kmeansDist{
		comm: c, nTotal: int(v[0]), splitRng: rand.New(rand.NewPCG(uint64(v[1]), uint64(v[2]))),
		counts: make([]int64, k), stat: make([]float64, 2),
	}, nil
}

// reduceCounts replaces counts by their sum over the ranks.
func (kd *kmeansDist) reduceCounts(counts []int) error {
	for j, c := range counts {
		kd.counts[j] = int64(c)
	}
	if err := kd.comm.AllReduceInt64(kd.counts, dist.Sum); err != nil {
		return err
	}
	for j, c := range kd.counts {
		counts[j] = int(c)
	}
	return nil
}

// reduceStat sums two scalars over the ranks.
func (kd *kmeansDist) reduceStat(a, b float64) (float64, float64, error) {
	kd.stat[0], kd.stat[1] = a, b
	err := kd.comm.AllReduce(kd.stat, dist.Sum)
	return kd.stat[0], kd.stat[1], err
}

// kmeansRun is one run's state.
type kmeansRun struct {
	c, cn    []float32 // K×D centroids and squared norms
	lab      []int
	dist     []float32
	counts   []int // cluster sizes of the final assignment
	obj      []float64
	residual float64
	inertia  float64
	splits   int
	restart  int
}

func newKMeansState(x []float32, n, d, k int, spherical bool) *kmeansState {
	s := &kmeansState{x: x, xn: make([]float32, n), n: n, d: d, k: k, spherical: spherical}
	rowNorms2(s.xn, x, n, d)
	s.ip = make([]float32, assignBlockRows(n, k)*k)
	s.prev = make([]int, n)
	s.perm = make([]int32, n)
	s.start = make([]int, k+1)
	s.sums = make([]float64, k*d)
	return s
}

func (s *kmeansState) newRun(iters int) *kmeansRun {
	return &kmeansRun{
		c: make([]float32, s.k*s.d), cn: make([]float32, s.k),
		lab: make([]int, s.n), dist: make([]float32, s.n),
		counts: make([]int, s.k), obj: make([]float64, iters),
	}
}

// lloyd runs iters Lloyd iterations from run.c (fewer when tol > 0 is
// met), then the final assignment.
func (s *kmeansState) lloyd(run *kmeansRun, iters int, tol float64, rng *rand.Rand) error {
	for it := range iters {
		rowNorms2(run.cn, run.c, s.k, s.d)
		copy(s.prev, run.lab)
		nearest(run.lab, run.dist, s.x, s.xn, s.n, s.d, run.c, run.cn, s.k, s.ip)
		obj, changed, nTotal := kernel.Sum(run.dist), 0, s.n
		for i, l := range run.lab {
			if l != s.prev[i] {
				changed++
			}
		}
		fchanged := float64(changed)
		if s.dist != nil {
			var err error
			if obj, fchanged, err = s.dist.reduceStat(obj, fchanged); err != nil {
				return distErr(err)
			}
			nTotal = s.dist.nTotal
		}
		run.obj[it] = obj
		run.residual = 1
		if it > 0 {
			run.residual = fchanged / float64(nTotal)
		}
		if err := s.update(run.c, run.counts, run.lab); err != nil {
			return distErr(err)
		}
		run.splits += splitClusters(run.c, run.counts, nTotal, s.k, s.d, rng)
		if s.spherical {
			normalizeRows(run.c, s.k, s.d)
		}
		if !kernel.AllFinite(run.c) {
			return check.Errorf("assign: KMeans", ssl.ErrNotFinite, "centroid update at iteration %d is not finite (x too large for float32 sums)", it)
		}
		if tol > 0 && run.residual <= tol {
			run.obj = run.obj[:it+1]
			break
		}
	}
	rowNorms2(run.cn, run.c, s.k, s.d)
	if err := checkNorms("assign: KMeans", "centroids", run.cn); err != nil {
		return err
	}
	nearest(run.lab, run.dist, s.x, s.xn, s.n, s.d, run.c, run.cn, s.k, s.ip)
	run.inertia = kernel.Sum(run.dist)
	clear(run.counts)
	for _, l := range run.lab {
		run.counts[l]++
	}
	if s.dist != nil {
		var err error
		if run.inertia, _, err = s.dist.reduceStat(run.inertia, 0); err != nil {
			return distErr(err)
		}
		if err := s.dist.reduceCounts(run.counts); err != nil {
			return distErr(err)
		}
	}
	return nil
}

func distErr(err error) error { return fmt.Errorf("assign: KMeans: %w", err) }

// Centroid sums: when updateBlocks partial K×D float64 sums fit in
// updateStreamFloats (32 MiB), the points are streamed in index order, each
// of at most updateBlocks fixed row blocks summing into its own partial
// (sequential reads of x); otherwise the points are grouped by label and
// each cluster sums its members (O(K·D) memory, gathered reads). Both sum
// in float64 in a fixed order, so the result does not depend on GOMAXPROCS.
const (
	updateBlocks       = 8
	updateStreamFloats = 1 << 22
)

// update sets each non-empty centroid to the mean of its points and counts
// the cluster sizes. Empty clusters' centroids are zeroed (faiss
// compute_centroids), to be re-seeded by splitClusters.
//
// With a Comm the sums and counts are those of every rank's points: the
// rank's own, all-reduced (DeepCluster-v2's all_reduce of the K×D
// embedding sums and the K counts).
func (s *kmeansState) update(c []float32, counts []int, lab []int) error {
	k, d := s.k, s.d
	clear(counts)
	for _, l := range lab {
		counts[l]++
	}
	if updateBlocks*k*d <= updateStreamFloats {
		s.sumStreaming(lab)
	} else {
		s.sumGathered(counts, lab)
	}
	if s.dist != nil {
		if err := s.dist.comm.AllReduce(s.sums, dist.Sum); err != nil {
			return err
		}
		if err := s.dist.reduceCounts(counts); err != nil {
			return err
		}
	}
	kernel.ParallelFor(k, kernel.Grain(k, d, 1<<12), func(lo, hi int) {
		for j := lo; j < hi; j++ {
			cj := c[j*d : (j+1)*d]
			if counts[j] == 0 {
				clear(cj)
				continue
			}
			inv := 1 / float64(counts[j])
			for t, v := range s.sums[j*d : (j+1)*d] {
				cj[t] = float32(v * inv)
			}
		}
	})
	return nil
}

// sumStreaming sets s.sums to the per-cluster sums of x: fixed row blocks
// (at most updateBlocks) sum into their own partials, which are added in
// block order.
func (s *kmeansState) sumStreaming(lab []int) {
	k, d, n := s.k, s.d, s.n
	grain := max(1, (n+updateBlocks-1)/updateBlocks)
	blocks := (n + grain - 1) / grain
	if len(s.partial) < blocks*k*d {
		s.partial = make([]float64, blocks*k*d)
	}
	kernel.ParallelFor(n, grain, func(lo, hi int) {
		part := s.partial[lo/grain*k*d : (lo/grain+1)*k*d]
		clear(part)
		for i := lo; i < hi; i++ {
			acc := part[lab[i]*d : (lab[i]+1)*d]
			for t, v := range s.x[i*d : (i+1)*d] {
				acc[t] += float64(v)
			}
		}
	})
	copy(s.sums, s.partial[:k*d])
	for b := 1; b < blocks; b++ {
		for t, v := range s.partial[b*k*d : (b+1)*k*d] {
			s.sums[t] += v
		}
	}
}

// sumGathered sets s.sums to the per-cluster sums of x: the points are
// grouped by label with a counting sort and each cluster sums its members
// in index order, clusters in parallel.
func (s *kmeansState) sumGathered(counts, lab []int) {
	k, d := s.k, s.d
	s.start[0] = 0
	for j := range k {
		s.start[j+1] = s.start[j] + counts[j]
	}
	pos := make([]int, k)
	copy(pos, s.start[:k])
	for i, l := range lab {
		s.perm[pos[l]] = int32(i)
		pos[l]++
	}
	kernel.ParallelFor(k, kernel.Grain(k, s.n/k*d+d, 1<<15), func(lo, hi int) {
		for j := lo; j < hi; j++ {
			acc := s.sums[j*d : (j+1)*d]
			clear(acc)
			members := s.perm[s.start[j]:s.start[j+1]]
			p := 0
			for ; p+4 <= len(members); p += 4 {
				x0 := s.x[int(members[p])*d : int(members[p])*d+d]
				x1 := s.x[int(members[p+1])*d : int(members[p+1])*d+d]
				x2 := s.x[int(members[p+2])*d : int(members[p+2])*d+d]
				x3 := s.x[int(members[p+3])*d : int(members[p+3])*d+d]
				for t := range acc {
					acc[t] += (float64(x0[t]) + float64(x1[t])) + (float64(x2[t]) + float64(x3[t]))
				}
			}
			for ; p < len(members); p++ {
				for t, v := range s.x[int(members[p])*d : int(members[p])*d+d] {
					acc[t] += float64(v)
				}
			}
		}
	})
}

// splitClusters re-seeds every empty cluster by splitting a large one,
// exactly as faiss's split_clusters (faiss/Clustering.cpp, 1.7.3) does, and
// returns the number of splits. counts is updated with the assumed even
// split.
func splitClusters(c []float32, counts []int, n, k, d int, rng *rand.Rand) int {
	splits := 0
	for i := range k {
		if counts[i] != 0 {
			continue
		}
		j := 0
		for ; ; j = (j + 1) % k {
			// Probability to pick cluster j for the split; with N = K the
			// denominator is 0 and only clusters of ≥ 2 points (p = +Inf)
			// are picked, as in faiss.
			p := float64(counts[j]-1) / float64(n-k)
			if rng.Float64() < p {
				break
			}
		}
		ci, cj := c[i*d:(i+1)*d], c[j*d:(j+1)*d]
		copy(ci, cj)
		for t := range d {
			if t%2 == 0 {
				ci[t] *= 1 + splitEps
				cj[t] *= 1 - splitEps
			} else {
				ci[t] *= 1 - splitEps
				cj[t] *= 1 + splitEps
			}
		}
		counts[i] = counts[j] / 2
		counts[j] -= counts[i]
		splits++
	}
	return splits
}

// normalizeRows scales each row of the rows×cols matrix c to unit norm; a
// zero row stays zero (faiss fvec_renorm_L2).
func normalizeRows(c []float32, rows, cols int) {
	for i := range rows {
		r := c[i*cols : (i+1)*cols]
		nrm := kernel.Norm(r)
		if nrm == 0 {
			continue
		}
		inv := 1 / nrm
		for t, v := range r {
			r[t] = float32(float64(v) * inv)
		}
	}
}

// randomPoints writes K distinct points of x, drawn uniformly with a
// partial Fisher–Yates shuffle of the indices, into c (K×D), normalised if
// spherical.
func (s *kmeansState) randomPoints(c []float32, rng *rand.Rand) {
	n, d, k := s.n, s.d, s.k
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i
	}
	for j := range k {
		t := j + rng.IntN(n-j)
		perm[j], perm[t] = perm[t], perm[j]
		copy(c[j*d:(j+1)*d], s.x[perm[j]*d:(perm[j]+1)*d])
	}
	if s.spherical {
		normalizeRows(c, k, d)
	}
}

// plusPlus writes k-means++ initial centroids into c (K×D). The squared
// distance of every point to its nearest chosen centroid is updated after
// each choice, in parallel over fixed blocks of points; a point is skipped
// when the triangle inequality proves the new centroid cannot be nearer
// (‖c_new − c_a‖² ≥ 4·d_a, a the point's current nearest centroid).
func (s *kmeansState) plusPlus(c []float32, rng *rand.Rand) {
	n, d, k, x := s.n, s.d, s.k, s.x
	mind := make([]float32, n)
	near := make([]int32, n)
	cc := make([]float32, k) // squared distances from the newest centroid to the earlier ones
	first := rng.IntN(n)
	copy(c[:d], x[first*d:(first+1)*d])
	grain := kernel.Grain(n, d, 1<<15)
	kernel.ParallelFor(n, grain, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			mind[i] = sqDist(x[i*d:(i+1)*d], c[:d])
		}
	})
	for j := 1; j < k; j++ {
		var total float64
		for _, v := range mind {
			total += float64(v)
		}
		pick := -1
		if total > 0 {
			r := rng.Float64() * total
			var cum float64
			for i, v := range mind {
				if v == 0 {
					continue
				}
				cum += float64(v)
				pick = i
				if cum > r {
					break
				}
			}
		} else {
			pick = rng.IntN(n)
		}
		cj := c[j*d : (j+1)*d]
		copy(cj, x[pick*d:(pick+1)*d])
		for t := range j {
			cc[t] = sqDist(cj, c[t*d:(t+1)*d])
		}
		kernel.ParallelFor(n, grain, func(lo, hi int) {
			for i := lo; i < hi; i++ {
				if cc[near[i]] >= 4*mind[i] {
					continue
				}
				if v := sqDist(x[i*d:(i+1)*d], cj); v < mind[i] {
					mind[i], near[i] = v, int32(j)
				}
			}
		})
	}
	if s.spherical {
		normalizeRows(c, k, d)
	}
}

// sqDist returns ‖a − b‖² accumulated in float32 over four lanes.
func sqDist(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		d0, d1, d2, d3 := a[i]-b[i], a[i+1]-b[i+1], a[i+2]-b[i+2], a[i+3]-b[i+3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(a); i++ {
		di := a[i] - b[i]
		s0 += di * di
	}
	return (s0 + s1) + (s2 + s3)
}
