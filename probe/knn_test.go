package probe

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"

	"ssl"
	sslassign "ssl/assign"
	"ssl/internal/testutil"
)

// knnNaive is a literal float64 transcription of DINO's knn_classifier on
// F.normalize'd features: all similarities, a full sort, exp(s/T) votes.
// It also returns, per query, the neighbour indices and the margins that
// decide whether float32 rounding could change the answer: the gap between
// the k-th and (k+1)-th similarity and the relative gap between the two
// largest votes.
func knnNaive(bank []float64, labels []int, q []float64, n, m, d, k, numClasses int, tau float64) (pred []int, nn [][]int, simGap, voteGap []float64) {
	norm := func(x []float64) []float64 {
		s := 0.0
		for _, v := range x {
			s += v * v
		}
		r := make([]float64, len(x))
		for i, v := range x {
			r[i] = v / math.Max(math.Sqrt(s), 1e-12)
		}
		return r
	}
	bn := make([][]float64, n)
	for j := range n {
		bn[j] = norm(bank[j*d : (j+1)*d])
	}
	for i := range m {
		qi := norm(q[i*d : (i+1)*d])
		type e struct {
			s float64
			j int
		}
		all := make([]e, n)
		for j := range n {
			s := 0.0
			for t := range d {
				s += qi[t] * bn[j][t]
			}
			all[j] = e{s, j}
		}
		slices.SortStableFunc(all, func(a, b e) int { return cmp.Compare(b.s, a.s) })
		votes := make([]float64, numClasses)
		ids := make([]int, k)
		for t := range k {
			votes[labels[all[t].j]] += math.Exp(all[t].s / tau)
			ids[t] = all[t].j
		}
		best := 0
		for c := range votes {
			if votes[c] > votes[best] {
				best = c
			}
		}
		second := 0.0
		for c := range votes {
			if c != best {
				second = math.Max(second, votes[c])
			}
		}
		gap := math.Inf(1)
		if k < n {
			gap = all[k-1].s - all[k].s
		}
		pred = append(pred, best)
		nn = append(nn, ids)
		simGap = append(simGap, gap)
		voteGap = append(voteGap, (votes[best]-second)/votes[best])
	}
	return pred, nn, simGap, voteGap
}

// clustered returns n rows of d features around nc random centres (spread
// std) and their centre ids as labels.
func clustered(r *rand.Rand, n, d, nc int, spread float64) (x []float32, labels []int) {
	centres := make([]float64, nc*d)
	for i := range centres {
		centres[i] = r.NormFloat64()
	}
	x = make([]float32, n*d)
	labels = make([]int, n)
	for i := range n {
		c := r.IntN(nc)
		labels[i] = c
		for t := range d {
			x[i*d+t] = float32(centres[c*d+t] + spread*r.NormFloat64())
		}
	}
	return x, labels
}

func TestKNN(t *testing.T) {
	for _, tc := range []struct {
		name          string
		n, m, d, c, k int
		tau           float64
	}{
		{"n1_m1_k1", 1, 1, 4, 2, 1, 0.07},
		{"n50_m30_d8_k1", 50, 30, 8, 5, 1, 0.07},
		{"n50_m30_d8_kN", 50, 30, 8, 5, 50, 0.5},
		{"n200_m100_d16_k20", 200, 100, 16, 10, 20, 0.07},
		{"n300_m40_d3_k7_t002", 300, 40, 3, 4, 7, 0.02},
		// Several bank tiles (4096 rows) and query tiles (256 rows).
		{"n4500_m300_d8_k20_tiles", 4500, 300, 8, 10, 20, 0.07},
		// k larger than a bank tile: the heaps fill across tiles.
		{"n5000_m5_d4_k4500_fill", 5000, 5, 4, 3, 4500, 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed := uint64(tc.n*1000 + tc.m)
			r := testutil.Rand(seed)
			bx, bl := clustered(r, tc.n, tc.d, tc.c, 1)
			qx, _ := clustered(r, tc.m, tc.d, tc.c, 1)
			bank, queries := ssl.FromSlice(bx, tc.n, tc.d), ssl.FromSlice(qx, tc.m, tc.d)
			bank0, queries0, bl0 := testutil.Clone(bank), testutil.Clone(queries), slices.Clone(bl)
			dst := make([]int, tc.m)
			for i := range dst {
				dst[i] = -7
			}
			got, err := KNN(dst, bank, bl, queries, tc.c, &KNNOptions{K: tc.k, T: tc.tau})
			if err != nil {
				t.Fatalf("KNN(%s, seed %d): %v", tc.name, seed, err)
			}
			if &got[0] != &dst[0] {
				t.Errorf("KNN(%s) did not return dst", tc.name)
			}
			testutil.Unchanged(t, "bank", bank, bank0)
			testutil.Unchanged(t, "queries", queries, queries0)
			if !slices.Equal(bl, bl0) {
				t.Errorf("bankLabels was modified")
			}
			want, wantNN, simGap, voteGap := knnNaive(testutil.F64s(bx), bl, testutil.F64s(qx), tc.n, tc.m, tc.d, tc.k, tc.c, tc.tau)
			// KNN votes over assign.Search's cosine neighbours.
			idx, sims, err := sslassign.Search(nil, nil, queries, bank, tc.k, &sslassign.SearchOptions{Normalize: true})
			if err != nil {
				t.Fatalf("Search(%s): %v", tc.name, err)
			}
			checked := 0
			for i := range tc.m {
				// Float32 similarities may reorder neighbours closer than
				// a few ulp; only decide where the float64 margins are clear.
				if simGap[i] < 1e-5 || voteGap[i] < 1e-4 {
					continue
				}
				checked++
				if got[i] != want[i] {
					t.Errorf("KNN(%s, seed %d): query %d predicted %d, want %d", tc.name, seed, i, got[i], want[i])
				}
				g := slices.Clone(idx[i*tc.k : (i+1)*tc.k])
				w := slices.Clone(wantNN[i])
				slices.Sort(g)
				slices.Sort(w)
				if !slices.Equal(g, w) {
					t.Errorf("Search(%s): query %d neighbours %v, want %v", tc.name, i, g, w)
				}
				for j := 1; j < tc.k; j++ {
					if sims[i*tc.k+j] > sims[i*tc.k+j-1] {
						t.Errorf("Search(%s): query %d similarities not sorted: %v", tc.name, i, sims[i*tc.k:(i+1)*tc.k])
						break
					}
				}
			}
			if checked < tc.m*9/10 {
				t.Errorf("KNN(%s): only %d of %d queries had clear margins", tc.name, checked, tc.m)
			}
		})
	}
}

// TestKNNTies checks the documented tie rules: duplicated bank rows keep
// the lower index (assign.Search's rule), equal votes go to the lower
// class.
func TestKNNTies(t *testing.T) {
	bank := ssl.FromSlice([]float32{
		1, 0, // 0: class 1
		1, 0, // 1: class 0, identical to row 0
		0, 1, // 2: class 0
		0, 1, // 3: class 1
	}, 4, 2)
	queries := ssl.FromSlice([]float32{2, 0, 0, 3}, 2, 2)
	// K=1: the nearest of the duplicates 0 (class 1) and 1 (class 0) is 0.
	pred, err := KNN(nil, bank, []int{1, 0, 0, 1}, queries, 2, &KNNOptions{K: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pred, []int{1, 0}) {
		t.Errorf("KNN ties, K=1: %v, want [1 0]", pred)
	}
	// k=2: each query's two neighbours are equally similar and of different
	// classes, so the votes tie and the lower class wins.
	pred, err = KNN(nil, bank, []int{1, 0, 0, 1}, queries, 2, &KNNOptions{K: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pred, []int{0, 0}) {
		t.Errorf("KNN ties: %v, want [0 0]", pred)
	}
}

// TestKNNExtremes: tiny temperatures must not overflow, zero rows are
// valid (similarity 0 to everything), classes absent from the bank are
// never predicted.
func TestKNNExtremes(t *testing.T) {
	r := testutil.Rand(3)
	bx, bl := clustered(r, 60, 4, 3, 0.3)
	for i := range bl {
		bl[i] *= 3 // labels 0, 3, 6 of 9 classes
	}
	qx, _ := clustered(r, 20, 4, 3, 0.3)
	clear(qx[:4]) // a zero query
	bank, queries := ssl.FromSlice(bx, 60, 4), ssl.FromSlice(qx, 20, 4)
	for _, tau := range []float64{1e-4, 0.07, 100} {
		pred, err := KNN(nil, bank, bl, queries, 9, &KNNOptions{K: 10, T: tau})
		if err != nil {
			t.Fatalf("KNN(T=%g): %v", tau, err)
		}
		for i, p := range pred {
			if p%3 != 0 {
				t.Errorf("KNN(T=%g): query %d predicted class %d, absent from the bank", tau, i, p)
			}
		}
	}
}

// TestKNNThreads checks that the result is the same for any GOMAXPROCS.
func TestKNNThreads(t *testing.T) {
	r := testutil.Rand(11)
	bx, bl := clustered(r, 5000, 16, 10, 2)
	qx, _ := clustered(r, 300, 16, 10, 2)
	bank, queries := ssl.FromSlice(bx, 5000, 16), ssl.FromSlice(qx, 300, 16)
	run := func(procs int) []int {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		pred, err := KNN(nil, bank, bl, queries, 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		return pred
	}
	if !slices.Equal(run(1), run(4)) {
		t.Errorf("KNN results differ between GOMAXPROCS 1 and 4")
	}
}

func TestKNNErrors(t *testing.T) {
	r := testutil.Rand(5)
	bank := testutil.RandN(r, 1, 10, 4)
	queries := testutil.RandN(r, 1, 6, 4)
	labels := []int{0, 1, 2, 0, 1, 2, 0, 1, 2, 0}
	nanBank := testutil.Clone(bank)
	testutil.Data(nanBank)[13] = float32(math.NaN())
	infQ := testutil.Clone(queries)
	testutil.Data(infQ)[5] = float32(math.Inf(-1))
	for _, tc := range []struct {
		name    string
		dst     []int
		bank    ssl.Tensor
		labels  []int
		queries ssl.Tensor
		classes int
		opts    *KNNOptions
		want    error
		msg     string
	}{
		{"k_over_n", nil, bank, labels, queries, 3, &KNNOptions{K: 11}, ssl.ErrParam, "k=11"},
		{"k_negative", nil, bank, labels, queries, 3, &KNNOptions{K: -1}, ssl.ErrParam, "k=-1"},
		{"default_k_over_n", nil, bank, labels, queries, 3, nil, ssl.ErrParam, "k=20"},
		{"t_negative", nil, bank, labels, queries, 3, &KNNOptions{K: 3, T: -1}, ssl.ErrParam, "T=-1"},
		{"t_nan", nil, bank, labels, queries, 3, &KNNOptions{K: 3, T: math.NaN()}, ssl.ErrParam, "T=NaN"},
		{"classes_zero", nil, bank, labels, queries, 0, &KNNOptions{K: 3}, ssl.ErrParam, "numClasses=0"},
		{"label_out_of_range", nil, bank, []int{0, 1, 2, 0, 1, 2, 0, 1, 3, 0}, queries, 3, &KNNOptions{K: 3}, ssl.ErrParam, "bankLabels[8]=3"},
		{"label_negative", nil, bank, []int{0, -1, 2, 0, 1, 2, 0, 1, 2, 0}, queries, 3, &KNNOptions{K: 3}, ssl.ErrParam, "bankLabels[1]=-1"},
		{"labels_short", nil, bank, labels[:9], queries, 3, &KNNOptions{K: 3}, ssl.ErrShape, "len(bankLabels) is 9"},
		{"width_mismatch", nil, bank, labels, testutil.RandN(r, 1, 6, 5), 3, &KNNOptions{K: 3}, ssl.ErrShape, "queries have 5 features"},
		{"empty_queries", nil, bank, labels, ssl.New(0, 4), 3, &KNNOptions{K: 3}, ssl.ErrShape, "queries is empty"},
		{"empty_bank", nil, ssl.New(0, 4), nil, queries, 3, &KNNOptions{K: 3}, ssl.ErrShape, "bank is empty"},
		{"rank3_bank", nil, ssl.New(2, 5, 4), labels, queries, 3, &KNNOptions{K: 3}, ssl.ErrShape, "bank"},
		{"nil_queries", nil, bank, labels, nil, 3, &KNNOptions{K: 3}, ssl.ErrShape, "queries"},
		{"dst_short", make([]int, 5), bank, labels, queries, 3, &KNNOptions{K: 3}, ssl.ErrShape, "dst has 5"},
		{"nan_bank", make([]int, 6), nanBank, labels, queries, 3, &KNNOptions{K: 3}, ssl.ErrNotFinite, "bank[3,1]"},
		{"inf_query", make([]int, 6), bank, labels, infQ, 3, &KNNOptions{K: 3}, ssl.ErrNotFinite, "queries[1,1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range tc.dst {
				tc.dst[i] = -7
			}
			_, err := KNN(tc.dst, tc.bank, tc.labels, tc.queries, tc.classes, tc.opts)
			if !errors.Is(err, tc.want) {
				t.Fatalf("KNN(%s) error = %v, want %v", tc.name, err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "probe: KNN: ") {
				t.Errorf("KNN(%s) error %q does not name %q", tc.name, err, tc.msg)
			}
			for i, v := range tc.dst {
				if v != -7 {
					t.Fatalf("KNN(%s) wrote dst[%d] = %d after failing", tc.name, i, v)
				}
			}
		})
	}
}

func TestEvaluateKNN(t *testing.T) {
	r := testutil.Rand(21)
	bx, bl := clustered(r, 400, 8, 4, 0.3)
	qx, ql := clustered(r, 100, 8, 4, 0.3)
	bank, queries := ssl.FromSlice(bx, 400, 8), ssl.FromSlice(qx, 100, 8)
	got, err := EvaluateKNN(bank, bl, queries, ql, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	pred, _ := KNN(nil, bank, bl, queries, 4, nil)
	if want, _ := Accuracy(pred, ql); got != want {
		t.Errorf("EvaluateKNN = %v, KNN then Accuracy = %v", got, want)
	}
	if _, err := EvaluateKNN(bank, bl, queries, ql[:99], 4, nil); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("EvaluateKNN(short labels) error = %v", err)
	}
	bad := slices.Clone(ql)
	bad[3] = 4
	if _, err := EvaluateKNN(bank, bl, queries, bad, 4, nil); !errors.Is(err, ssl.ErrParam) || !strings.Contains(err.Error(), "queryLabels[3]=4") {
		t.Errorf("EvaluateKNN(label out of range) error = %v", err)
	}
}

func TestAccuracy(t *testing.T) {
	if got, err := Accuracy([]int{1, 2, 3, 4}, []int{1, 0, 3, 0}); err != nil || got != 0.5 {
		t.Errorf("Accuracy = %v, %v, want 0.5", got, err)
	}
	if _, err := Accuracy([]int{1}, []int{1, 2}); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("Accuracy(length mismatch) error = %v, want ErrShape", err)
	}
	if _, err := Accuracy(nil, nil); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("Accuracy(empty) error = %v, want ErrShape", err)
	}
}

// BenchmarkKNN runs the DINO evaluation at Fashion-MNIST scale: a
// 60,000-row bank of 128-d features, 10,000 queries, k = 20. The work is
// the N·M·D multiply-adds of the similarities (2·N·M·D flops); the figures
// are queries per second and GFLOP/s.
func BenchmarkKNN(b *testing.B) {
	for _, sz := range []struct{ n, m, d, k int }{
		{6000, 1000, 128, 20},
		{60000, 10000, 128, 20},
	} {
		b.Run(fmt.Sprintf("bank%d_query%d_d%d_k%d", sz.n, sz.m, sz.d, sz.k), func(b *testing.B) {
			r := testutil.Rand(1)
			bx, bl := clustered(r, sz.n, sz.d, 10, 2)
			qx, _ := clustered(r, sz.m, sz.d, 10, 2)
			bank, queries := ssl.FromSlice(bx, sz.n, sz.d), ssl.FromSlice(qx, sz.m, sz.d)
			dst := make([]int, sz.m)
			opts := &KNNOptions{K: sz.k}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := KNN(dst, bank, bl, queries, 10, opts); err != nil {
					b.Fatal(err)
				}
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(sz.m)/sec, "queries/s")
			b.ReportMetric(2*float64(sz.n)*float64(sz.m)*float64(sz.d)/sec/1e9, "GFLOP/s")
			b.ReportMetric(sec, "s/op")
		})
	}
}
