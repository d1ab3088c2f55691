package assign

import (
	"errors"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

func TestHierarchicalKMeans(t *testing.T) {
	rng := testutil.Rand(21)
	n, d, k1, k2 := 600, 5, 3, 4
	x := blobs(rng, n, d, 12)
	run := func(procs int) HierarchicalKMeansResult {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		res, err := HierarchicalKMeans(x, k1, k2, testutil.Rand(5), &HierarchicalKMeansOptions{Sub: &KMeansOptions{Iterations: 10}})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	res := run(4)
	if again := run(1); !slices.Equal(res.Labels, again.Labels) || !slices.Equal(testutil.Data(res.Centroids), testutil.Data(again.Centroids)) {
		t.Errorf("results differ between GOMAXPROCS 1 and 4")
	}
	cv := testutil.Data(res.Centroids)
	xv := testutil.Data(x)
	var inertia float64
	for i, l := range res.Labels {
		if l/k2 != res.Super[i] || l < 0 || l >= k1*k2 {
			t.Fatalf("label %d of point %d is not in super-class %d", l, i, res.Super[i])
		}
		inertia += float64(sqDist(xv[i*d:(i+1)*d], cv[l*d:(l+1)*d]))
	}
	if !testutil.Close(res.Inertia, inertia, 1e-6*inertia, 1e-4) {
		t.Errorf("Inertia %v, recomputed %v", res.Inertia, inertia)
	}
	// Each sub-cluster's centroid is the mean of its points after the
	// second level's last update, and each point is nearest to its own
	// sub-centroid among those of its super-class.
	for i, l := range res.Labels {
		s := res.Super[i]
		own := sqDist(xv[i*d:(i+1)*d], cv[l*d:(l+1)*d])
		for j := s * k2; j < (s+1)*k2; j++ {
			if o := sqDist(xv[i*d:(i+1)*d], cv[j*d:(j+1)*d]); o < own*(1-1e-5)-1e-5 {
				t.Fatalf("point %d: sub-centroid %d is nearer (%v) than its own %d (%v)", i, j, o, l, own)
			}
		}
	}
	if _, err := HierarchicalKMeans(x, 30, 30, testutil.Rand(1), nil); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("k1·k2 > N: err = %v", err)
	}
	if _, err := HierarchicalKMeans(x, 2, 2, testutil.Rand(1), &HierarchicalKMeansOptions{Sub: &KMeansOptions{Init: x}}); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("Init: err = %v", err)
	}
	// A super-class smaller than k2 keeps the extra clusters empty.
	small := ssl.FromSlice([]float32{0, 0, 0.1, 0, 50, 50, 50.1, 50, 50, 50.1, 50.2, 50, 50, 50.2}, 7, 2)
	r, err := HierarchicalKMeans(small, 2, 3, testutil.Rand(2), nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Empty != 1 {
		t.Errorf("Empty = %d, want 1 (the two-point super-class has one empty sub-cluster)", r.Empty)
	}
}

func TestSearchAndLocalAggregation(t *testing.T) {
	rng := testutil.Rand(8)
	b, n, d, k := 7, 1200, 6, 9
	bank := testutil.RandN(rng, 1, n, d)
	normalizeRows(testutil.Data(bank), n, d)
	idx := []int{0, 5, 17, 1100, 3, 999, 5}
	v := ssl.New(b, d)
	for r, i := range idx {
		copy(testutil.Data(v)[r*d:(r+1)*d], testutil.Data(bank)[i*d:(i+1)*d])
	}
	labels := [][]int{make([]int, n), make([]int, n)}
	for i := range n {
		labels[0][i], labels[1][i] = rng.IntN(5), rng.IntN(7)
	}
	la, err := LocalAggregationNeighbors(v, idx, bank, labels, k)
	if err != nil {
		t.Fatal(err)
	}
	bv, vv := testutil.F64(bank), testutil.F64(v)
	for r, i := range idx {
		// Brute force: all inner products, sorted.
		type cand struct {
			j int
			s float64
		}
		var cs []cand
		for j := range n {
			var s float64
			for p := range d {
				s += vv[r*d+p] * bv[j*d+p]
			}
			cs = append(cs, cand{j, s})
		}
		sort.Slice(cs, func(a, b int) bool { return cs[a].s > cs[b].s || (cs[a].s == cs[b].s && cs[a].j < cs[b].j) })
		for p := range k {
			g := la.Background[r*k+p]
			if g != cs[p].j && math.Abs(cs[p].s-float64(la.Sims[r*k+p])) > 1e-6 {
				t.Fatalf("row %d position %d: %d, want %d", r, p, g, cs[p].j)
			}
			want := labels[0][g] == labels[0][i] || labels[1][g] == labels[1][i]
			if la.Close[r*k+p] != want {
				t.Errorf("row %d: Close[%d] = %v, want %v", r, p, la.Close[r*k+p], want)
			}
		}
		if la.Background[r*k] != i || !la.Close[r*k] {
			t.Errorf("row %d: its own bank entry %d is not first and close", r, i)
		}
		c, err := CloseNeighbors(nil, labels, i)
		if err != nil {
			t.Fatal(err)
		}
		for _, j := range c {
			if labels[0][j] != labels[0][i] && labels[1][j] != labels[1][i] {
				t.Fatalf("CloseNeighbors(%d) lists %d", i, j)
			}
		}
		if !sort.IntsAreSorted(c) || !slices.Contains(c, i) {
			t.Errorf("CloseNeighbors(%d) unsorted or without i", i)
		}
	}
	if _, err := LocalAggregationNeighbors(v, idx[:3], bank, labels, k); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("idx length: err = %v", err)
	}
	if _, err := LocalAggregationNeighbors(v, []int{0, 1, 2, 3, 4, 5, n}, bank, labels, k); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("idx range: err = %v", err)
	}
	if _, _, err := Search(nil, nil, v, bank, n+1, nil); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("k > M: err = %v", err)
	}
	if _, err := CloseNeighbors(nil, [][]int{{0, 1}, {0}}, 0); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("ragged labels: err = %v", err)
	}
}

func TestUniformLabelSample(t *testing.T) {
	// Cluster 0 holds 90 points, cluster 1 nine, cluster 2 one, cluster 3
	// none: an epoch of 99 draws s = 99/3 + 1 = 34 per non-empty cluster.
	labels := make([]int, 100)
	for i := 90; i < 99; i++ {
		labels[i] = 1
	}
	labels[99] = 2
	got, err := UniformLabelSample(nil, labels, 4, 99, testutil.Rand(3))
	if err != nil {
		t.Fatal(err)
	}
	per := make([]int, 4)
	seen0 := map[int]bool{}
	for _, i := range got {
		per[labels[i]]++
		if labels[i] == 0 {
			if seen0[i] {
				t.Errorf("index %d of the large cluster drawn twice (it has more than s members)", i)
			}
			seen0[i] = true
		}
	}
	// 102 draws, 3 dropped after shuffling: each cluster keeps 31…34.
	for c := range 3 {
		if per[c] < 31 || per[c] > 34 {
			t.Errorf("cluster %d drawn %d times, want 31…34", c, per[c])
		}
	}
	again, _ := UniformLabelSample(nil, labels, 4, 99, testutil.Rand(3))
	if !slices.Equal(got, again) {
		t.Errorf("same seed, different epoch")
	}
	if _, err := UniformLabelSample(nil, labels, 2, 10, testutil.Rand(1)); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("label ≥ k: err = %v", err)
	}
	if _, err := UniformLabelSample(make([]int, 3), labels, 4, 10, testutil.Rand(1)); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("dst length: err = %v", err)
	}
	if _, err := UniformLabelSample(nil, labels, 4, 10, nil); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("nil rng: err = %v", err)
	}
}

func TestUniformTranslate(t *testing.T) {
	for _, tc := range []struct{ n, k int }{{100, 4}, {1000, 10}, {997, 30}, {5, 5}} {
		rng := testutil.Rand(uint64(tc.n + tc.k))
		z := testutil.RandN(rng, 1, tc.n, tc.k)
		zv := testutil.Data(z)
		// Skew: cluster 0 is preferred by a wide margin.
		for i := range tc.n {
			zv[i*tc.k] += 2
		}
		zc := testutil.Clone(z)
		dst := testutil.NaNs(tc.n, tc.k)
		res, err := UniformTranslate(dst, nil, z, nil)
		if err != nil {
			t.Fatal(err)
		}
		testutil.Unchanged(t, "outputs", z, zc)
		if res.Imbalance != 0 {
			t.Errorf("n%d k%d: imbalance %d after %d sweeps, counts %v", tc.n, tc.k, res.Imbalance, res.Iterations, res.Counts)
		}
		// Translation: dst − z is the same vector b in every row, so every
		// pairwise distance between outputs is unchanged; labels are the
		// argmax of dst.
		dv := testutil.Data(dst)
		for i := range tc.n {
			bj := 0
			for j := range tc.k {
				if diff := float64(dv[i*tc.k+j]) - float64(zv[i*tc.k+j]); math.Abs(diff-res.Shift[j]) > 1e-5*(1+math.Abs(res.Shift[j])) {
					t.Fatalf("dst − z at (%d, %d) = %v, shift %v", i, j, diff, res.Shift[j])
				}
				if float64(zv[i*tc.k+j])+res.Shift[j] > float64(zv[i*tc.k+bj])+res.Shift[bj] {
					bj = j
				}
			}
			if res.Labels[i] != bj {
				t.Fatalf("label %d = %d, argmax %d", i, res.Labels[i], bj)
			}
		}
	}
	if _, err := UniformTranslate(nil, nil, ssl.New(3, 4), nil); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("N < K: err = %v", err)
	}
	bad := testutil.RandN(testutil.Rand(1), 1, 8, 2)
	testutil.Data(bad)[3] = float32(math.Inf(1))
	if _, err := UniformTranslate(nil, nil, bad, nil); !errors.Is(err, ssl.ErrNotFinite) || !strings.Contains(err.Error(), "outputs[1,1]") {
		t.Errorf("Inf: err = %v", err)
	}
}

func TestHierarchicalKMeansNotConverged(t *testing.T) {
	x := blobs(testutil.Rand(21), 300, 4, 6)
	tight := &KMeansOptions{Iterations: 1, Tol: 1e-12}
	res, err := HierarchicalKMeans(x, 2, 3, testutil.Rand(5), &HierarchicalKMeansOptions{Super: tight, Sub: tight})
	if !errors.Is(err, ErrNotConverged) || !errors.Is(err, ssl.ErrNotConverged) {
		t.Fatalf("err = %v, want ErrNotConverged", err)
	}
	if len(res.Labels) != 300 || res.Centroids == nil || res.Residual <= 1e-12 {
		t.Errorf("unconverged result incomplete: residual %v", res.Residual)
	}
	plain, err := HierarchicalKMeans(x, 2, 3, testutil.Rand(5), &HierarchicalKMeansOptions{Super: &KMeansOptions{Iterations: 1}, Sub: &KMeansOptions{Iterations: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(plain.Labels, res.Labels) || plain.Inertia != res.Inertia {
		t.Errorf("the unconverged result differs from the same iterations without Tol")
	}
}

func TestUniformTranslateTol(t *testing.T) {
	z := testutil.RandN(testutil.Rand(2), 1, 1000, 10)
	zv := testutil.Data(z)
	for i := range 1000 {
		zv[i*10] += 3
	}
	// One sweep cannot balance this skew; Tol = 0.5 asks for exact balance.
	res, err := UniformTranslate(nil, nil, z, &UniformTranslateOptions{Iterations: 1, Tol: 0.5})
	if res.Imbalance > 0 {
		if !errors.Is(err, ErrNotConverged) || !errors.Is(err, ssl.ErrNotConverged) {
			t.Fatalf("imbalance %d, err = %v; want ErrNotConverged", res.Imbalance, err)
		}
		if res.Iterations != 1 || len(res.Labels) != 1000 {
			t.Errorf("unconverged result incomplete: %+v", res)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	// A loose Tol stops as soon as it is met.
	loose, err := UniformTranslate(nil, nil, z, &UniformTranslateOptions{Tol: 1e9})
	if err != nil || loose.Iterations != 0 {
		t.Errorf("Tol=1e9: %d sweeps, err %v; want 0 sweeps", loose.Iterations, err)
	}
	full, err := UniformTranslate(nil, nil, z, &UniformTranslateOptions{Tol: 0.5})
	if err != nil || full.Imbalance != 0 {
		t.Errorf("Tol=0.5: imbalance %d, err %v", full.Imbalance, err)
	}
	for _, o := range []*UniformTranslateOptions{{Iterations: -1}, {Tol: -1}, {Tol: math.Inf(1)}} {
		if _, err := UniformTranslate(nil, nil, z, o); !errors.Is(err, ssl.ErrParam) {
			t.Errorf("%+v: err = %v, want ErrParam", o, err)
		}
	}
}
