package assign

import (
	"cmp"
	"errors"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// searchNaive is the brute-force oracle of Search: every similarity in
// float64 (rows normalised first if normalize), all M candidates sorted by
// decreasing similarity then increasing index, the first k kept. gap[b] is
// the margin between the k-th and (k+1)-th similarity.
func searchNaive(q, db []float64, b, m, d, k int, normalize bool) (idx [][]int, sims [][]float64, gap []float64) {
	unit := func(x []float64, rows int) []float64 {
		if !normalize {
			return x
		}
		u := make([]float64, len(x))
		for i := range rows {
			var s float64
			for p := range d {
				s += x[i*d+p] * x[i*d+p]
			}
			s = math.Max(math.Sqrt(s), 1e-12)
			for p := range d {
				u[i*d+p] = x[i*d+p] / s
			}
		}
		return u
	}
	q, db = unit(q, b), unit(db, m)
	type cand struct {
		j int
		s float64
	}
	for i := range b {
		cs := make([]cand, m)
		for j := range m {
			var s float64
			for p := range d {
				s += q[i*d+p] * db[j*d+p]
			}
			cs[j] = cand{j, s}
		}
		slices.SortStableFunc(cs, func(a, b cand) int { return cmp.Compare(b.s, a.s) })
		ids, ss := make([]int, k), make([]float64, k)
		for t := range k {
			ids[t], ss[t] = cs[t].j, cs[t].s
		}
		g := math.Inf(1)
		if k < m {
			g = cs[k-1].s - cs[k].s
		}
		idx, sims, gap = append(idx, ids), append(sims, ss), append(gap, g)
	}
	return idx, sims, gap
}

func TestSearch(t *testing.T) {
	for _, tc := range []struct {
		name      string
		b, m, d   int
		k         int
		normalize bool
	}{
		{"small", 7, 30, 5, 4, false},
		{"small_cosine", 7, 30, 5, 4, true},
		{"k_eq_m", 5, 9, 3, 9, true},
		{"k1", 40, 100, 8, 1, false},
		{"k_over_64", 6, 300, 4, 100, true},
		{"two_tiles", 600, 5000, 6, 20, true}, // 2 query blocks, 2 database tiles
	} {
		t.Run(tc.name, func(t *testing.T) {
			rng := testutil.Rand(uint64(tc.b*7 + tc.m))
			q := testutil.RandN(rng, 1, tc.b, tc.d)
			db := testutil.RandN(rng, 2, tc.m, tc.d)
			q0, db0 := testutil.Clone(q), testutil.Clone(db)
			indices, sims := make([]int, tc.b*tc.k), make([]float32, tc.b*tc.k)
			gi, gs, err := Search(indices, sims, q, db, tc.k, &SearchOptions{Normalize: tc.normalize})
			if err != nil {
				t.Fatal(err)
			}
			if &gi[0] != &indices[0] || &gs[0] != &sims[0] {
				t.Errorf("the destinations were not returned")
			}
			testutil.Unchanged(t, "queries", q, q0)
			testutil.Unchanged(t, "database", db, db0)
			wi, ws, gap := searchNaive(testutil.F64(q), testutil.F64(db), tc.b, tc.m, tc.d, tc.k, tc.normalize)
			for i := range tc.b {
				row := indices[i*tc.k : (i+1)*tc.k]
				for t2 := range tc.k {
					if math.Abs(float64(sims[i*tc.k+t2])-ws[i][t2]) > 1e-5*(1+math.Abs(ws[i][t2])) {
						t.Fatalf("query %d position %d: sim %v, want %v", i, t2, sims[i*tc.k+t2], ws[i][t2])
					}
					if t2 > 0 && sims[i*tc.k+t2] > sims[i*tc.k+t2-1] {
						t.Fatalf("query %d: similarities not sorted: %v", i, sims[i*tc.k:(i+1)*tc.k])
					}
				}
				if gap[i] < 1e-5 {
					continue // float32 rounding may pick another member of a near-tie
				}
				g, w := slices.Clone(row), slices.Clone(wi[i])
				slices.Sort(g)
				slices.Sort(w)
				if !slices.Equal(g, w) {
					t.Fatalf("query %d: neighbours %v, want %v", i, g, w)
				}
			}
		})
	}
}

// TestSearchTies checks the one tie rule: equal similarities list the
// lower database index first, with or without normalisation, whatever the
// tiling (the duplicates straddle a 4096-row tile boundary).
func TestSearchTies(t *testing.T) {
	bank := ssl.FromSlice([]float32{
		1, 0, // 0
		1, 0, // 1, identical to row 0
		0, 1, // 2
		0, 1, // 3
	}, 4, 2)
	queries := ssl.FromSlice([]float32{2, 0, 0, 3}, 2, 2)
	idx, sims, err := Search(nil, nil, queries, bank, 1, &SearchOptions{Normalize: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(idx, []int{0, 2}) || sims[0] != 1 || sims[1] != 1 {
		t.Errorf("ties: idx %v sims %v, want [0 2] [1 1]", idx, sims)
	}
	idx, _, err = Search(nil, nil, queries, bank, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(idx, []int{0, 1, 2, 3}) {
		t.Errorf("raw ties: idx %v, want [0 1 2 3]", idx)
	}
	m := 9000
	big := ssl.New(m, 2)
	bv := testutil.Data(big)
	for j := range m {
		bv[2*j+1] = 1
	}
	for _, j := range []int{8000, 4095, 4096, 17} {
		bv[2*j], bv[2*j+1] = 1, 0
	}
	idx, _, err = Search(nil, nil, ssl.FromSlice([]float32{1, 0}, 1, 2), big, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(idx, []int{17, 4095, 4096, 8000}) {
		t.Errorf("ties across tiles: %v, want [17 4095 4096 8000]", idx)
	}
	// A zero row is the zero vector under Normalize: similarity 0 to all,
	// so its neighbours are the lowest indices.
	idx, sims, err = Search(nil, nil, ssl.New(1, 2), bank, 3, &SearchOptions{Normalize: true})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(idx, []int{0, 1, 2}) || sims[0] != 0 {
		t.Errorf("zero query: %v %v, want [0 1 2] with similarity 0", idx, sims)
	}
}

func TestSearchThreads(t *testing.T) {
	rng := testutil.Rand(11)
	db := testutil.RandN(rng, 1, 5000, 16)
	q := testutil.RandN(rng, 1, 700, 16)
	run := func(procs int) ([]int, []float32) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		idx, sims, err := Search(nil, nil, q, db, 20, &SearchOptions{Normalize: true})
		if err != nil {
			t.Fatal(err)
		}
		return idx, sims
	}
	i1, s1 := run(1)
	i4, s4 := run(4)
	if !slices.Equal(i1, i4) || !slices.Equal(s1, s4) {
		t.Errorf("results differ between GOMAXPROCS 1 and 4")
	}
}

func TestSearchErrors(t *testing.T) {
	r := testutil.Rand(5)
	db := testutil.RandN(r, 1, 10, 4)
	q := testutil.RandN(r, 1, 6, 4)
	nanDB := testutil.Clone(db)
	testutil.Data(nanDB)[13] = float32(math.NaN())
	infQ := testutil.Clone(q)
	testutil.Data(infQ)[5] = float32(math.Inf(-1))
	for _, tc := range []struct {
		name      string
		idx       []int
		sims      []float32
		q, db     ssl.Tensor
		k         int
		sentinel  error
		substring string
	}{
		{"k0", nil, nil, q, db, 0, ssl.ErrParam, "k=0"},
		{"kGtM", nil, nil, q, db, 11, ssl.ErrParam, "k=11"},
		{"idxLen", make([]int, 5), nil, q, db, 1, ssl.ErrShape, "indices"},
		{"simsLen", nil, make([]float32, 5), q, db, 1, ssl.ErrShape, "sims"},
		{"simsAlias", nil, testutil.Data(q)[:6], q, db, 1, ssl.ErrShape, "overlaps"},
		{"width", nil, nil, testutil.RandN(r, 1, 6, 5), db, 1, ssl.ErrShape, "D=4"},
		{"emptyDB", nil, nil, q, ssl.New(0, 4), 1, ssl.ErrShape, "database"},
		{"nilQ", nil, nil, nil, db, 1, ssl.ErrShape, "queries"},
		{"rank3", nil, nil, q, ssl.New(2, 5, 4), 1, ssl.ErrShape, "database"},
		{"nanDB", nil, make([]float32, 6), q, nanDB, 1, ssl.ErrNotFinite, "database[3,1]"},
		{"infQ", nil, make([]float32, 6), infQ, db, 1, ssl.ErrNotFinite, "queries[1,1]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range tc.sims {
				tc.sims[i] = -7
			}
			_, _, err := Search(tc.idx, tc.sims, tc.q, tc.db, tc.k, nil)
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("err = %v, want %v", err, tc.sentinel)
			}
			if !strings.HasPrefix(err.Error(), "assign: Search: ") || !strings.Contains(err.Error(), tc.substring) {
				t.Errorf("err %q does not name %q", err, tc.substring)
			}
			if tc.name != "simsAlias" {
				for i, v := range tc.sims {
					if v != -7 {
						t.Fatalf("sims[%d] written on error", i)
					}
				}
			}
		})
	}
	// No queries: an empty result, not an error.
	idx, sims, err := Search(nil, nil, ssl.New(0, 4), db, 3, nil)
	if err != nil || len(idx) != 0 || len(sims) != 0 {
		t.Errorf("empty queries: %v %v %v", idx, sims, err)
	}
}
