package assign

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// kmeansNaive is Lloyd's algorithm transcribed literally in float64: assign
// each point to the centroid of least squared distance (lowest index on
// ties), record the objective, move each centroid to its points' mean.
// Empty clusters keep their centroid (the tests avoid them).
func kmeansNaive(x, c []float64, n, d, k, iters int) (labels []int, obj []float64, inertia float64) {
	c = slices.Clone(c)
	labels = make([]int, n)
	assignAll := func() float64 {
		var tot float64
		for i := range n {
			best, bj := math.Inf(1), 0
			for j := range k {
				var s float64
				for t := range d {
					diff := x[i*d+t] - c[j*d+t]
					s += diff * diff
				}
				if s < best {
					best, bj = s, j
				}
			}
			labels[i] = bj
			tot += best
		}
		return tot
	}
	for range iters {
		obj = append(obj, assignAll())
		sum, cnt := make([]float64, k*d), make([]int, k)
		for i := range n {
			cnt[labels[i]]++
			for t := range d {
				sum[labels[i]*d+t] += x[i*d+t]
			}
		}
		for j := range k {
			if cnt[j] > 0 {
				for t := range d {
					c[j*d+t] = sum[j*d+t] / float64(cnt[j])
				}
			}
		}
	}
	inertia = assignAll()
	return labels, obj, inertia
}

func TestKMeansHand(t *testing.T) {
	// KINDS.md assign.kmeans n6_d2_k2_it3_hand.
	x := ssl.FromSlice([]float32{0, 0, 1, 0, 0, 1, 4, 4, 5, 4, 4, 5}, 6, 2)
	init := ssl.FromSlice([]float32{0, 0, 1, 0}, 2, 2)
	xc := testutil.Clone(x)
	cent := testutil.NaNs(2, 2)
	labels := []int{-1, -1, -1, -1, -1, -1}
	res, err := KMeans(cent, labels, x, 2, testutil.Rand(1), &KMeansOptions{Iterations: 3, Init: init})
	if err != nil {
		t.Fatal(err)
	}
	testutil.Unchanged(t, "x", x, xc)
	testutil.AllClose32(t, "centroids", testutil.Data(cent), []float64{1.0 / 3, 1.0 / 3, 13.0 / 3, 13.0 / 3}, 1e-6, 1e-6)
	if !slices.Equal(labels, []int{0, 0, 0, 1, 1, 1}) || !slices.Equal(res.Labels, labels) {
		t.Errorf("labels = %v, want [0 0 0 1 1 1]", labels)
	}
	testutil.AllClose(t, "obj", res.Obj, []float64{92, 8.6875, 8.0 / 3}, 1e-5, 1e-6)
	if !testutil.Close(res.Inertia, 8.0/3, 1e-5, 1e-6) {
		t.Errorf("inertia = %v, want 8/3", res.Inertia)
	}
	if res.Centroids != ssl.Tensor(cent) {
		t.Errorf("Centroids is not the destination")
	}
}

func TestKMeansNaive(t *testing.T) {
	for _, tc := range []struct{ n, d, k, iters int }{
		{50, 3, 4, 10}, {200, 16, 10, 5}, {37, 5, 37, 3}, {300, 8, 1, 4}, {2000, 33, 20, 6},
	} {
		t.Run(fmt.Sprintf("n%d_d%d_k%d", tc.n, tc.d, tc.k), func(t *testing.T) {
			seed := uint64(tc.n*100 + tc.k)
			rng := testutil.Rand(seed)
			x := blobs(rng, tc.n, tc.d, tc.k)
			// Initial centroids: the first k points, so no cluster starts empty.
			init := ssl.FromSlice(slices.Clone(testutil.Data(x)[:tc.k*tc.d]), tc.k, tc.d)
			res, err := KMeans(nil, nil, x, tc.k, rng, &KMeansOptions{Iterations: tc.iters, Init: init})
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			wl, wobj, winertia := kmeansNaive(testutil.F64(x), testutil.F64(init), tc.n, tc.d, tc.k, tc.iters)
			if res.Splits == 0 && !slices.Equal(res.Labels, wl) {
				t.Errorf("seed %d: labels differ from the float64 oracle", seed)
			}
			if res.Splits == 0 {
				// float32 cancellation in ‖x‖² − 2x·c + ‖c‖²: about 1e-6 of Σ‖x‖².
				atol := 1e-6 * sq64(testutil.Data(x))
				testutil.AllClose(t, "obj", res.Obj, wobj, atol, 1e-4)
				if !testutil.Close(res.Inertia, winertia, atol, 1e-4) {
					t.Errorf("seed %d: inertia %v, want %v", seed, res.Inertia, winertia)
				}
			}
		})
	}
}

// blobs draws n points in d dimensions around k centres spread with
// standard deviation 4, each point with unit noise.
func blobs(rng *rand.Rand, n, d, k int) ssl.Tensor {
	centres := make([]float64, k*d)
	for i := range centres {
		centres[i] = 4 * rng.NormFloat64()
	}
	x := make([]float32, n*d)
	for i := range n {
		j := rng.IntN(k)
		for t := range d {
			x[i*d+t] = float32(centres[j*d+t] + rng.NormFloat64())
		}
	}
	return ssl.FromSlice(x, n, d)
}

func TestKMeansProperties(t *testing.T) {
	for _, seed := range []uint64{1, 2, 3} {
		rng := testutil.Rand(seed)
		n, d, k := 500, 8, 12
		x := blobs(rng, n, d, 6) // fewer true blobs than clusters: many moves
		for _, spherical := range []bool{false, true} {
			xs := x
			if spherical {
				xs = testutil.Clone(x)
				normalizeRows(testutil.Data(xs), n, d)
			}
			res, err := KMeans(nil, nil, xs, k, testutil.Rand(seed), &KMeansOptions{Iterations: 15, Spherical: spherical})
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			// Inertia never increases over Lloyd iterations (a split may
			// raise it by the perturbation only, which these data avoid).
			for it := 1; it < len(res.Obj); it++ {
				if res.Obj[it] > res.Obj[it-1]*(1+1e-5) {
					t.Errorf("seed %d spherical %v: obj[%d] = %v > obj[%d] = %v", seed, spherical, it, res.Obj[it], it-1, res.Obj[it-1])
				}
			}
			if res.Inertia > res.Obj[len(res.Obj)-1]*(1+1e-5) {
				t.Errorf("seed %d: inertia %v > last obj %v", seed, res.Inertia, res.Obj[len(res.Obj)-1])
			}
			// Labels and Dist are the nearest centroid under the final centroids.
			nr, err := Nearest(nil, nil, xs, res.Centroids)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(nr.Labels, res.Labels) || !slices.Equal(nr.Dist, res.Dist) || nr.Inertia != res.Inertia {
				t.Errorf("seed %d: final assignment differs from Nearest", seed)
			}
			if spherical {
				c := testutil.Data(res.Centroids)
				for j := range k {
					if nrm := math.Sqrt(sq64(c[j*d : (j+1)*d])); math.Abs(nrm-1) > 1e-5 {
						t.Errorf("seed %d: spherical centroid %d has norm %v", seed, j, nrm)
					}
				}
			}
		}
	}
}

func sq64(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return s
}

func TestKMeansRestartsDeterministic(t *testing.T) {
	rng := testutil.Rand(7)
	x := blobs(rng, 400, 6, 9)
	run := func(procs int) KMeansResult {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		res, err := KMeans(nil, nil, x, 9, testutil.Rand(11), &KMeansOptions{Iterations: 8, Restarts: 4})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	a, b := run(1), run(4)
	// RandomInit: K distinct points of x as the start, then the same Lloyd.
	ri, err := KMeans(nil, nil, x, 9, testutil.Rand(11), &KMeansOptions{Iterations: 8, RandomInit: true})
	if err != nil || ri.Inertia > ri.Obj[0] {
		t.Errorf("RandomInit: %v, inertia %v vs first objective", err, ri)
	}
	if !slices.Equal(testutil.Data(a.Centroids), testutil.Data(b.Centroids)) || !slices.Equal(a.Labels, b.Labels) {
		t.Errorf("results differ between GOMAXPROCS 1 and 4")
	}
	// The kept run has the lowest inertia of the four: rerun each one alone
	// by replaying the generator.
	for r := range 4 {
		rng := testutil.Rand(11)
		var last KMeansResult
		for range r + 1 {
			var err error
			if last, err = KMeans(nil, nil, x, 9, rng, &KMeansOptions{Iterations: 8}); err != nil {
				t.Fatal(err)
			}
		}
		if last.Inertia < a.Inertia {
			t.Errorf("restart %d has inertia %v < kept %v", r, last.Inertia, a.Inertia)
		}
	}
}

func TestKMeansEmptyClusterSplit(t *testing.T) {
	// Two tight groups, three clusters, and an initial centroid far from
	// every point: its cluster is empty after the first assignment and must
	// be re-seeded by splitting a cluster of ≥ 2 points.
	x := ssl.FromSlice([]float32{0, 0, 0.1, 0, 0, 0.1, 10, 10, 10.1, 10, 10, 10.1}, 6, 2)
	init := ssl.FromSlice([]float32{0, 0, 10, 10, 100, -100}, 3, 2)
	res, err := KMeans(nil, nil, x, 3, testutil.Rand(3), &KMeansOptions{Iterations: 5, Init: init})
	if err != nil {
		t.Fatal(err)
	}
	if res.Splits == 0 {
		t.Errorf("no split recorded")
	}
	c := testutil.Data(res.Centroids)
	for j := range 3 {
		if math.Abs(float64(c[j*2])) > 11 || math.Abs(float64(c[j*2+1])) > 11 {
			t.Errorf("centroid %d = %v was not re-seeded near the data", j, c[j*2:j*2+2])
		}
	}
	if res.Empty != 0 {
		t.Errorf("Empty = %d after repair, want 0", res.Empty)
	}
	// Fewer distinct points than clusters: repair cannot fill every
	// cluster; the result says how many stay empty and nothing panics.
	dup := ssl.FromSlice([]float32{1, 1, 1, 1, 1, 1, 2, 2}, 4, 2)
	res, err = KMeans(nil, nil, dup, 3, testutil.Rand(4), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Empty != 1 {
		t.Errorf("duplicates: Empty = %d, want 1", res.Empty)
	}
}

func TestKMeansErrors(t *testing.T) {
	x := testutil.RandN(testutil.Rand(1), 1, 10, 3)
	nanX := testutil.Clone(x)
	testutil.Data(nanX)[7] = float32(math.NaN())
	infInit := ssl.FromSlice([]float32{0, 0, float32(math.Inf(1)), 1, 1, 1}, 2, 3)
	cent := testutil.NaNs(2, 3)
	for _, tc := range []struct {
		name      string
		cent      ssl.Tensor
		labels    []int
		x         ssl.Tensor
		k         int
		nilRand   bool
		opts      *KMeansOptions
		sentinel  error
		substring string
	}{
		{"k0", cent, nil, x, 0, false, nil, ssl.ErrParam, "k=0"},
		{"kGtN", nil, nil, x, 11, false, nil, ssl.ErrParam, "k=11"},
		{"nilRand", cent, nil, x, 2, true, nil, ssl.ErrParam, "rng"},
		{"nan", cent, nil, nanX, 2, false, nil, ssl.ErrNotFinite, "x[2,1]"},
		{"infInit", cent, nil, x, 2, false, &KMeansOptions{Init: infInit}, ssl.ErrNotFinite, "opts.Init"},
		{"centShape", ssl.New(3, 3), nil, x, 2, false, nil, ssl.ErrShape, "centroids"},
		{"labelsLen", cent, make([]int, 9), x, 2, false, nil, ssl.ErrShape, "labels"},
		{"iters", cent, nil, x, 2, false, &KMeansOptions{Iterations: -1}, ssl.ErrParam, "Iterations"},
		{"restarts", cent, nil, x, 2, false, &KMeansOptions{Restarts: -2}, ssl.ErrParam, "Restarts"},
		{"tol", cent, nil, x, 2, false, &KMeansOptions{Tol: -1}, ssl.ErrParam, "Tol=-1"},
		{"tolNaN", cent, nil, x, 2, false, &KMeansOptions{Tol: math.NaN()}, ssl.ErrParam, "Tol"},
		{"initRestarts", cent, nil, x, 2, false, &KMeansOptions{Init: ssl.New(2, 3), Restarts: 2}, ssl.ErrParam, "Restarts"},
		{"initRandom", cent, nil, x, 2, false, &KMeansOptions{Init: ssl.New(2, 3), RandomInit: true}, ssl.ErrParam, "RandomInit"},
		{"initShape", cent, nil, x, 2, false, &KMeansOptions{Init: ssl.New(3, 3)}, ssl.ErrShape, "opts.Init"},
		{"alias", x, nil, x, 10, false, nil, ssl.ErrShape, "overlaps"},
		{"nilX", cent, nil, nil, 2, false, nil, ssl.ErrShape, "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := testutil.Rand(1)
			if tc.nilRand {
				rng = nil
			}
			xc := tc.x
			if xc != nil {
				xc = testutil.Clone(tc.x)
			}
			_, err := KMeans(tc.cent, tc.labels, tc.x, tc.k, rng, tc.opts)
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("err = %v, want %v", err, tc.sentinel)
			}
			if !strings.Contains(err.Error(), tc.substring) {
				t.Errorf("err %q does not name %q", err, tc.substring)
			}
			for i, v := range testutil.Data(cent) {
				if !math.IsNaN(float64(v)) {
					t.Fatalf("centroids[%d] written on error", i)
				}
			}
			if tc.x != nil {
				testutil.Unchanged(t, "x", tc.x, xc)
			}
		})
	}
}

// TestKMeansSumPaths checks the two centroid-sum strategies (streamed
// partials for small K·D, gathered members for large) against each other
// and a naive float64 sum.
func TestKMeansSumPaths(t *testing.T) {
	rng := testutil.Rand(31)
	n, d, k := 1000, 7, 13
	x := testutil.RandN(rng, 1, n, d)
	lab := make([]int, n)
	for i := range lab {
		lab[i] = rng.IntN(k)
	}
	s := newKMeansState(testutil.Data(x), n, d, k, false)
	counts := make([]int, k)
	for _, l := range lab {
		counts[l]++
	}
	s.sumStreaming(lab)
	streamed := slices.Clone(s.sums)
	s.sumGathered(counts, lab)
	want := make([]float64, k*d)
	xv := testutil.F64(x)
	for i, l := range lab {
		for t := range d {
			want[l*d+t] += xv[i*d+t]
		}
	}
	testutil.AllClose(t, "streamed", streamed, want, 1e-12, 1e-12)
	testutil.AllClose(t, "gathered", s.sums, want, 1e-12, 1e-12)
}

func TestKMeansRandomPoints(t *testing.T) {
	n, d, k := 50, 3, 50 // K = N: every point exactly once
	x := testutil.RandN(testutil.Rand(4), 1, n, d)
	s := newKMeansState(testutil.Data(x), n, d, k, false)
	c := make([]float32, k*d)
	s.randomPoints(c, testutil.Rand(5))
	seen := map[int]bool{}
	xv := testutil.Data(x)
	for j := range k {
		found := -1
		for i := range n {
			if slices.Equal(c[j*d:(j+1)*d], xv[i*d:(i+1)*d]) {
				found = i
			}
		}
		if found < 0 || seen[found] {
			t.Fatalf("centroid %d is not a new point of x (found %d)", j, found)
		}
		seen[found] = true
	}
}

// TestKMeansTol checks the stopping rule: Tol = 0 runs exactly Iterations;
// Tol > 0 stops at the first iteration whose fraction of changed labels is
// ≤ Tol; a Tol the cap cannot meet returns the complete result with an
// error wrapping ErrNotConverged (and ssl.ErrNotConverged, not ErrParam).
func TestKMeansTol(t *testing.T) {
	x := blobs(testutil.Rand(3), 500, 4, 5)
	init := ssl.FromSlice(append([]float32(nil), testutil.Data(x)[:5*4]...), 5, 4)
	exact, err := KMeans(nil, nil, x, 5, testutil.Rand(1), &KMeansOptions{Iterations: 40, Init: init})
	if err != nil {
		t.Fatal(err)
	}
	if exact.Iterations != 40 || len(exact.Obj) != 40 {
		t.Errorf("Tol=0: %d iterations (%d objectives), want 40", exact.Iterations, len(exact.Obj))
	}
	conv, err := KMeans(nil, nil, x, 5, testutil.Rand(1), &KMeansOptions{Iterations: 40, Tol: 1e-9, Init: init})
	if err != nil {
		t.Fatal(err)
	}
	if conv.Iterations >= 40 || conv.Residual != 0 || len(conv.Obj) != conv.Iterations {
		t.Errorf("Tol>0: %d iterations, residual %v, %d objectives", conv.Iterations, conv.Residual, len(conv.Obj))
	}
	// At the fixed point the later iterations change nothing.
	if !slices.Equal(conv.Labels, exact.Labels) {
		t.Errorf("the converged labels differ from 40 iterations'")
	}
	short, err := KMeans(nil, nil, x, 5, testutil.Rand(1), &KMeansOptions{Iterations: 1, Tol: 1e-9, Init: init})
	if !errors.Is(err, ErrNotConverged) || !errors.Is(err, ssl.ErrNotConverged) || errors.Is(err, ssl.ErrParam) {
		t.Fatalf("err = %v, want ErrNotConverged", err)
	}
	if short.Iterations != 1 || short.Residual != 1 || len(short.Labels) != 500 || short.Centroids == nil {
		t.Errorf("unconverged result incomplete: %+v", short)
	}
	one, err := KMeans(nil, nil, x, 5, testutil.Rand(1), &KMeansOptions{Iterations: 1, Init: init})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(one.Labels, short.Labels) || one.Inertia != short.Inertia {
		t.Errorf("the unconverged result differs from Iterations=1 without Tol")
	}
}
