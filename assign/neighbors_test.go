package assign

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sort"
	"strings"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// mineNaive is the brute-force oracle: every cosine in float64, all N
// candidates sorted by decreasing cosine then increasing index, the first
// m kept.
func mineNaive(f []float64, n, d, m int, exclude bool) ([]int, []float64) {
	unit := make([]float64, n*d)
	for i := range n {
		var s float64
		for p := range d {
			s += f[i*d+p] * f[i*d+p]
		}
		s = math.Max(math.Sqrt(s), 1e-12)
		for p := range d {
			unit[i*d+p] = f[i*d+p] / s
		}
	}
	idx, sims := make([]int, 0, n*m), make([]float64, 0, n*m)
	for i := range n {
		type cand struct {
			j int
			s float64
		}
		var cs []cand
		for j := range n {
			if exclude && j == i {
				continue
			}
			var s float64
			for p := range d {
				s += unit[i*d+p] * unit[j*d+p]
			}
			cs = append(cs, cand{j, s})
		}
		sort.Slice(cs, func(a, b int) bool {
			if cs[a].s != cs[b].s {
				return cs[a].s > cs[b].s
			}
			return cs[a].j < cs[b].j
		})
		for _, c := range cs[:m] {
			idx = append(idx, c.j)
			sims = append(sims, c.s)
		}
	}
	return idx, sims
}

func TestMineNeighborsBruteForce(t *testing.T) {
	for _, tc := range []struct {
		n, d, k int
		exclude bool
	}{
		{2, 3, 1, false}, {2, 3, 1, true}, {40, 4, 5, false}, {300, 16, 10, true},
		{1100, 8, 7, false}, // crosses a 1024 block: off-diagonal blocks and their transposes
		{1030, 5, 3, true},
	} {
		t.Run(fmt.Sprintf("n%d_d%d_k%d_ex%v", tc.n, tc.d, tc.k, tc.exclude), func(t *testing.T) {
			seed := uint64(tc.n + tc.d)
			f := testutil.RandN(testutil.Rand(seed), 2, tc.n, tc.d)
			fc := testutil.Clone(f)
			m := tc.k + 1
			if tc.exclude {
				m = tc.k
			}
			idx := make([]int, tc.n*m)
			sims := testutil.Data(testutil.NaNs(tc.n * m))
			_, _, err := MineNeighbors(idx, sims, f, tc.k, &MineNeighborsOptions{ExcludeSelf: tc.exclude})
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			testutil.Unchanged(t, "features", f, fc)
			widx, wsims := mineNaive(testutil.F64(f), tc.n, tc.d, m, tc.exclude)
			testutil.AllClose32(t, "sims", sims, wsims, 1e-6, 1e-5)
			for i := range tc.n {
				for p := range m {
					g, w := idx[i*m+p], widx[i*m+p]
					// Random data: a swap can only come from float32 rounding
					// of two cosines closer than 1e-6.
					if g != w && math.Abs(wsims[i*m+p]-cosine64(testutil.F64(f), i, g, tc.d)) > 1e-6 {
						t.Fatalf("seed %d: row %d position %d: got %d, want %d", seed, i, p, g, w)
					}
					if tc.exclude && g == i {
						t.Fatalf("row %d lists itself", i)
					}
				}
			}
		})
	}
}

func cosine64(f []float64, i, j, d int) float64 {
	var s, a, b float64
	for p := range d {
		s += f[i*d+p] * f[j*d+p]
		a += f[i*d+p] * f[i*d+p]
		b += f[j*d+p] * f[j*d+p]
	}
	return s / math.Sqrt(a*b)
}

func TestMineNeighborsTies(t *testing.T) {
	// Rows 0, 2 and 3 share a direction; ties are listed by increasing
	// index, so each of them gets [0, 2, 3].
	f := ssl.FromSlice([]float32{1, 0, 0, 1, 2, 0, 0.5, 0, -1, 0.1}, 5, 2)
	idx, _, err := MineNeighbors(nil, nil, f, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range []int{0, 2, 3} {
		if got := idx[i*3 : i*3+3]; !slices.Equal(got, []int{0, 2, 3}) {
			t.Errorf("row %d: %v, want [0 2 3]", i, got)
		}
	}
}

func TestMineNeighborsDeterministic(t *testing.T) {
	f := testutil.RandN(testutil.Rand(5), 1, 1300, 6)
	run := func(procs int) ([]int, []float32) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		idx, sims, err := MineNeighbors(nil, nil, f, 4, nil)
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

func TestMineNeighborsZeroRows(t *testing.T) {
	f := ssl.FromSlice([]float32{1, 0, 0, 0, 0, 1, 1, 1}, 4, 2)
	_, _, err := MineNeighbors(nil, nil, f, 2, nil)
	if !errors.Is(err, ssl.ErrNotFinite) || !strings.Contains(err.Error(), "row 1") {
		t.Fatalf("err = %v, want ErrNotFinite naming row 1", err)
	}
	idx, sims, err := MineNeighbors(nil, nil, f, 2, &MineNeighborsOptions{AllowZero: true})
	if err != nil {
		t.Fatal(err)
	}
	// The zero row has cosine 0 with every row: by the tie rule its list is
	// the lowest indices, [0 1 2].
	if got := idx[3:6]; !slices.Equal(got, []int{0, 1, 2}) || sims[3] != 0 {
		t.Errorf("zero row: %v %v, want [0 1 2] with cosine 0", got, sims[3:6])
	}
}

func TestMineNeighborsErrors(t *testing.T) {
	f := testutil.RandN(testutil.Rand(1), 1, 6, 3)
	nan := testutil.Clone(f)
	testutil.Data(nan)[4] = float32(math.Inf(-1))
	sims := testutil.Data(testutil.NaNs(6 * 3))
	for _, tc := range []struct {
		name     string
		idx      []int
		sims     []float32
		f        ssl.Tensor
		k        int
		sentinel error
		sub      string
	}{
		{"k0", nil, sims, f, 0, ssl.ErrParam, "k=0"},
		{"kN", nil, sims, f, 6, ssl.ErrParam, "k=6"},
		{"inf", nil, sims, nan, 2, ssl.ErrNotFinite, "features[1,1]"},
		{"idxLen", make([]int, 5), sims, f, 2, ssl.ErrShape, "indices"},
		{"simsLen", nil, sims[:5], f, 2, ssl.ErrShape, "sims"},
		{"rank", nil, sims, ssl.New(18), 2, ssl.ErrShape, "features"},
		{"alias", nil, testutil.Data(f)[:18], f, 2, ssl.ErrShape, "overlaps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := MineNeighbors(tc.idx, tc.sims, tc.f, tc.k, nil)
			if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.sub) {
				t.Fatalf("err = %v, want %v naming %q", err, tc.sentinel, tc.sub)
			}
			for i, v := range sims {
				if !math.IsNaN(float64(v)) {
					t.Fatalf("sims[%d] written on error", i)
				}
			}
		})
	}
}
