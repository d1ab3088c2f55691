package probe

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// lcgLabels makes the label vectors of sklearnCases with a generator that
// is easy to repeat outside Go: x ← x·6364136223846793005 +
// 1442695040888963407 (mod 2⁶⁴), draws are x>>33. a_i is a draw mod ka;
// with probability p% b_i = a_i mod kb, otherwise a fresh draw mod kb.
func lcgLabels(seed uint64, n, ka, kb, p int) (a, b []int) {
	x := seed
	r := func() uint64 {
		x = x*6364136223846793005 + 1442695040888963407
		return x >> 33
	}
	for range n {
		ai := int(r() % uint64(ka))
		var bi int
		if int(r()%100) < p {
			bi = ai % kb
		} else {
			bi = int(r() % uint64(kb))
		}
		a, b = append(a, ai), append(b, bi)
	}
	return a, b
}

// sklearnCases hold scikit-learn 1.2.1's normalized_mutual_info_score(a, b)
// and adjusted_rand_score(a, b), and the accuracy of the matching scipy
// 1.10.1's linear_sum_assignment(N − W) finds for W[b, a] (clusters b
// against classes a, rectangular when kb ≠ ka), on the vectors lcgLabels
// makes. The Python generator is a line-for-line copy of lcgLabels.
var sklearnCases = []struct {
	seed          uint64
	n, ka, kb, p  int
	nmi, ari, acc float64
}{
	{1, 1, 1, 1, 0, 1.0, 1.0, 1.0},
	{2, 2, 1, 1, 0, 1.0, 1.0, 1.0},
	{3, 2, 2, 2, 0, 0.0, 0.0, 0.5},
	{4, 2, 2, 1, 0, 0.0, 0.0, 0.5},
	{5, 10, 3, 3, 0, 0.21152648142104793, -0.08173076923076923, 0.5},
	{6, 50, 5, 5, 50, 0.3772677860287525, 0.2519674952280501, 0.62},
	{7, 100, 10, 10, 0, 0.2340918046570705, 0.01852628466262932, 0.25},
	{8, 100, 10, 4, 70, 0.32714463584434156, 0.18045977293889595, 0.35},
	{9, 1000, 10, 10, 60, 0.402258381582394, 0.3701226523200794, 0.649},
	{10, 1000, 20, 10, 30, 0.12154248016687626, 0.04982156554566206, 0.199},
	{11, 500, 3, 12, 50, 0.23168684701047187, 0.2643002829045323, 0.518},
	{12, 60000, 10, 10, 70, 0.4902946300440577, 0.4910641855898597, 0.7307},
	{13, 60000, 50, 10, 40, 0.13871836553837807, 0.04976097346901205, 0.09551666666666667},
	{14, 200, 1, 5, 0, 0.0, 0.0, 0.24},
	{15, 200, 5, 1, 0, 0.0, 0.0, 0.245},
	{16, 64, 64, 8, 0, 0.5470955199507457, -0.013476598069568385, 0.15625},
}

func TestMetricsSklearn(t *testing.T) {
	for _, tc := range sklearnCases {
		name := fmt.Sprintf("seed%d_n%d_ka%d_kb%d_p%d", tc.seed, tc.n, tc.ka, tc.kb, tc.p)
		t.Run(name, func(t *testing.T) {
			a, b := lcgLabels(tc.seed, tc.n, tc.ka, tc.kb, tc.p)
			a0, b0 := slices.Clone(a), slices.Clone(b)
			nmi, err := NMI(a, b)
			if err != nil {
				t.Fatal(err)
			}
			ari, err := ARI(a, b)
			if err != nil {
				t.Fatal(err)
			}
			// Both symmetric.
			nmi2, _ := NMI(b, a)
			ari2, _ := ARI(b, a)
			// The same formulas as sklearn, summed in another order: a few ulp.
			for _, c := range []struct {
				name      string
				got, want float64
			}{{"NMI", nmi, tc.nmi}, {"NMI(b,a)", nmi2, tc.nmi}, {"ARI", ari, tc.ari}, {"ARI(b,a)", ari2, tc.ari}} {
				if !testutil.Close(c.got, c.want, 1e-15, 1e-12) {
					t.Errorf("%s(%s) = %.17g, want %.17g (sklearn)", c.name, name, c.got, c.want)
				}
			}
			// Clusters b (kb of them) against classes a.
			s, err := EvaluateClusters(b, a, tc.kb, tc.ka, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !testutil.Close(s.ACC, tc.acc, 0, 1e-15) || !testutil.Close(s.NMI, tc.nmi, 1e-15, 1e-12) || s.ARI != ari {
				t.Errorf("EvaluateClusters(%s) = %+v, want ACC %.17g NMI %v ARI %v", name, s, tc.acc, nmi, ari)
			}
			checkMatch(t, s.Match, tc.kb, tc.ka)
			if !slices.Equal(a, a0) || !slices.Equal(b, b0) {
				t.Errorf("metrics modified their inputs")
			}
		})
	}
}

// checkMatch checks that a one-to-one matching of k clusters into c
// classes matches min(k, c) clusters to distinct classes.
func checkMatch(t *testing.T, match []int, k, c int) {
	t.Helper()
	seen := map[int]bool{}
	for _, m := range match {
		if m < 0 {
			continue
		}
		if m >= c || seen[m] {
			t.Fatalf("match %v is not one-to-one into [0, %d)", match, c)
		}
		seen[m] = true
	}
	if len(match) != k || len(seen) != min(k, c) {
		t.Errorf("match %v matches %d clusters, want %d", match, len(seen), min(k, c))
	}
}

// ariNaive counts the ordered pairs of distinct samples literally.
func ariNaive(a, b []int) float64 {
	var tp, tn, fp, fn float64
	for i := range a {
		for j := range a {
			if i == j {
				continue
			}
			sa, sb := a[i] == a[j], b[i] == b[j]
			switch {
			case sa && sb:
				tp++
			case !sa && !sb:
				tn++
			case sb:
				fp++
			default:
				fn++
			}
		}
	}
	if fn == 0 && fp == 0 {
		return 1
	}
	return 2 * (tp*tn - fn*fp) / ((tp+fn)*(fn+tn) + (tp+fp)*(fp+tn))
}

// nmiNaive is the textbook definition with probabilities p_ij = n_ij/N.
func nmiNaive(a, b []int) float64 {
	n := float64(len(a))
	pa, pb, pab := map[int]float64{}, map[int]float64{}, map[[2]int]float64{}
	for i := range a {
		pa[a[i]] += 1 / n
		pb[b[i]] += 1 / n
		pab[[2]int{a[i], b[i]}] += 1 / n
	}
	if len(pa) == 1 && len(pb) == 1 {
		return 1
	}
	mi := 0.0
	for k, p := range pab {
		mi += p * math.Log(p/(pa[k[0]]*pb[k[1]]))
	}
	if len(pa) == 1 || len(pb) == 1 || math.Abs(mi) < 1e-12 {
		return 0
	}
	h := func(m map[int]float64) float64 {
		s := 0.0
		for _, p := range m {
			s -= p * math.Log(p)
		}
		return s
	}
	return mi / ((h(pa) + h(pb)) / 2)
}

func TestMetricsNaive(t *testing.T) {
	r := testutil.Rand(7)
	for trial := range 200 {
		n := 1 + r.IntN(40)
		ka, kb := 1+r.IntN(6), 1+r.IntN(6)
		a, b := make([]int, n), make([]int, n)
		for i := range n {
			a[i] = r.IntN(ka)*7 - 10 // any ints, negative included
			b[i] = r.IntN(kb)
			if r.IntN(2) == 0 {
				b[i] = (a[i] + 10) / 7
			}
		}
		nmi, err1 := NMI(a, b)
		ari, err2 := ARI(a, b)
		if err1 != nil || err2 != nil {
			t.Fatal(err1, err2)
		}
		if want := nmiNaive(a, b); !testutil.Close(nmi, want, 1e-12, 1e-9) {
			t.Errorf("trial %d: NMI(%v, %v) = %v, want %v", trial, a, b, nmi, want)
		}
		if want := ariNaive(a, b); !testutil.Close(ari, want, 1e-12, 1e-9) {
			t.Errorf("trial %d: ARI(%v, %v) = %v, want %v", trial, a, b, ari, want)
		}
	}
}

// TestMetricsDegenerate pins the values sklearn defines for degenerate
// labelings.
func TestMetricsDegenerate(t *testing.T) {
	for _, tc := range []struct {
		name     string
		a, b     []int
		nmi, ari float64
	}{
		{"one_sample", []int{3}, []int{5}, 1, 1},
		{"one_class_one_cluster", []int{0, 0, 0}, []int{1, 1, 1}, 1, 1},
		{"one_cluster", []int{0, 1, 2, 0}, []int{0, 0, 0, 0}, 0, 0},
		{"one_class", []int{0, 0, 0, 0}, []int{0, 1, 2, 0}, 0, 0},
		{"all_singletons", []int{0, 1, 2, 3}, []int{3, 2, 1, 0}, 1, 1},
		{"permuted_perfect", []int{0, 0, 1, 1, 2}, []int{2, 2, 0, 0, 1}, 1, 1},
	} {
		nmi, _ := NMI(tc.a, tc.b)
		ari, _ := ARI(tc.a, tc.b)
		if nmi != tc.nmi || ari != tc.ari {
			t.Errorf("%s: NMI %v ARI %v, want %v %v", tc.name, nmi, ari, tc.nmi, tc.ari)
		}
	}
}

func TestClusterACC(t *testing.T) {
	pred := []int{0, 0, 1, 1, 2, 2, 3, 3, 3}
	target := []int{1, 1, 0, 0, 1, 1, 0, 0, 2}
	// One-to-one: clusters 0 and 2 both hold class 1; only one gets it.
	r, err := ClusterACC(pred, target, 4, 3, nil)
	if err != nil {
		t.Fatal(err)
	}
	acc, match := r.ACC, r.Match
	if want := 5.0 / 9; acc != want {
		t.Errorf("ClusterACC one-to-one = %v (match %v), want %v", acc, match, want)
	}
	checkMatch(t, match, 4, 3)
	// Many-to-one: every cluster takes its majority class.
	r, err = ClusterACC(pred, target, 4, 3, &ClusterACCOptions{Majority: true})
	if err != nil {
		t.Fatal(err)
	}
	acc, match = r.ACC, r.Match
	if want := 8.0 / 9; acc != want || !slices.Equal(match, []int{1, 0, 1, 0}) {
		t.Errorf("ClusterACC majority = %v, %v, want %v, [1 0 1 0]", acc, match, want)
	}
	w, err := Confusion(nil, pred, target, 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(w, []int{0, 2, 0, 2, 0, 0, 0, 2, 0, 2, 0, 1}) {
		t.Errorf("Confusion = %v", w)
	}
}

func TestMetricsErrors(t *testing.T) {
	for _, tc := range []struct {
		name         string
		pred, target []int
		k, c         int
		want         error
		msg          string
	}{
		{"length", []int{0, 1}, []int{0}, 2, 2, ssl.ErrShape, "len(target) is 1, want 2"},
		{"empty", nil, nil, 2, 2, ssl.ErrShape, "len(pred) is 0"},
		{"clusters_zero", []int{0}, []int{0}, 0, 1, ssl.ErrParam, "numClusters=0"},
		{"classes_zero", []int{0}, []int{0}, 1, 0, ssl.ErrParam, "numClasses=0"},
		{"pred_range", []int{0, 2}, []int{0, 1}, 2, 2, ssl.ErrParam, "pred[1]=2"},
		{"target_range", []int{0, 1}, []int{-1, 1}, 2, 2, ssl.ErrParam, "target[0]=-1"},
	} {
		_, err := ClusterACC(tc.pred, tc.target, tc.k, tc.c, nil)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "probe: ClusterACC: ") {
			t.Errorf("ClusterACC(%s) error = %v, want %v naming %q", tc.name, err, tc.want, tc.msg)
		}
		if _, err := EvaluateClusters(tc.pred, tc.target, tc.k, tc.c, nil); !errors.Is(err, tc.want) {
			t.Errorf("EvaluateClusters(%s) error = %v, want %v", tc.name, err, tc.want)
		}
		dst := []int{-7, -7, -7, -7}
		if _, err := Confusion(dst, tc.pred, tc.target, tc.k, tc.c); !errors.Is(err, tc.want) || !slices.Equal(dst, []int{-7, -7, -7, -7}) {
			t.Errorf("Confusion(%s) error = %v, dst %v; want %v and dst untouched", tc.name, err, dst, tc.want)
		}
	}
	if _, err := Confusion(make([]int, 3), []int{0}, []int{0}, 2, 2); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("Confusion(short dst) error = %v, want ErrShape", err)
	}
	for _, f := range []func(a, b []int) (float64, error){NMI, ARI} {
		if _, err := f([]int{1}, []int{1, 2}); !errors.Is(err, ssl.ErrShape) {
			t.Errorf("length mismatch: error = %v, want ErrShape", err)
		}
		if _, err := f(nil, nil); !errors.Is(err, ssl.ErrShape) {
			t.Errorf("empty: error = %v, want ErrShape", err)
		}
	}
}

// hungarianBrute tries every injective map of the smaller side.
func hungarianBrute(cost []float64, rows, cols int) float64 {
	best := math.Inf(1)
	used := make([]bool, max(rows, cols))
	var rec func(i int, s float64)
	if rows <= cols {
		rec = func(i int, s float64) {
			if i == rows {
				best = math.Min(best, s)
				return
			}
			for j := range cols {
				if !used[j] {
					used[j] = true
					rec(i+1, s+cost[i*cols+j])
					used[j] = false
				}
			}
		}
	} else {
		rec = func(j int, s float64) {
			if j == cols {
				best = math.Min(best, s)
				return
			}
			for i := range rows {
				if !used[i] {
					used[i] = true
					rec(j+1, s+cost[i*cols+j])
					used[i] = false
				}
			}
		}
	}
	rec(0, 0)
	return best
}

func TestHungarian(t *testing.T) {
	r := testutil.Rand(9)
	for trial := range 300 {
		rows, cols := 1+r.IntN(7), 1+r.IntN(7)
		cost := make([]float64, rows*cols)
		for i := range cost {
			if trial%2 == 0 {
				cost[i] = float64(r.IntN(5)) // many ties
			} else {
				cost[i] = r.NormFloat64() * 1e3
			}
		}
		c0 := slices.Clone(cost)
		match, total, err := Hungarian(nil, cost, rows, cols)
		if err != nil {
			t.Fatal(err)
		}
		want := hungarianBrute(cost, rows, cols)
		if !testutil.Close(total, want, 1e-9, 1e-12) {
			t.Errorf("Hungarian(%d×%d, trial %d) total %v, want %v", rows, cols, trial, total, want)
		}
		seen := map[int]bool{}
		sum, matched := 0.0, 0
		for i, j := range match {
			if j < 0 {
				continue
			}
			if j >= cols || seen[j] {
				t.Fatalf("Hungarian(trial %d) match %v not one-to-one", trial, match)
			}
			seen[j] = true
			sum += cost[i*cols+j]
			matched++
		}
		if matched != min(rows, cols) || sum != total {
			t.Errorf("Hungarian(trial %d): %d matched (want %d), sum %v vs total %v", trial, matched, min(rows, cols), sum, total)
		}
		if !slices.Equal(cost, c0) {
			t.Fatal("Hungarian modified cost")
		}
	}
	for _, tc := range []struct {
		name       string
		dst        []int
		cost       []float64
		rows, cols int
		want       error
	}{
		{"empty", nil, nil, 0, 3, ssl.ErrShape},
		{"short", nil, []float64{1, 2, 3}, 2, 2, ssl.ErrShape},
		{"dst", make([]int, 1), []float64{1, 2, 3, 4}, 2, 2, ssl.ErrShape},
		{"nan", nil, []float64{1, math.NaN(), 3, 4}, 2, 2, ssl.ErrNotFinite},
		{"inf", nil, []float64{1, 2, math.Inf(1), 4}, 2, 2, ssl.ErrNotFinite},
	} {
		if _, _, err := Hungarian(tc.dst, tc.cost, tc.rows, tc.cols); !errors.Is(err, tc.want) || !strings.HasPrefix(err.Error(), "probe: Hungarian: ") {
			t.Errorf("Hungarian(%s) error = %v, want %v", tc.name, err, tc.want)
		}
	}
}

// BenchmarkHungarian solves a random n×n assignment; the figure is the
// seconds per solve.
func BenchmarkHungarian(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			r := testutil.Rand(1)
			cost := make([]float64, n*n)
			for i := range cost {
				cost[i] = r.Float64()
			}
			dst := make([]int, n)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := Hungarian(dst, cost, n, n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/op")
		})
	}
}

// BenchmarkEvaluateClusters scores 60,000 samples in 10 clusters.
func BenchmarkEvaluateClusters(b *testing.B) {
	a, p := lcgLabels(12, 60000, 10, 10, 70)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := EvaluateClusters(p, a, 10, 10, nil); err != nil {
			b.Fatal(err)
		}
	}
}
