package losses

import (
	"math"
	"testing"

	"ssl"
	"ssl/internal/kernel"
	"ssl/internal/testutil"
)

// bregmanArgmax returns the first index of the largest element of each row
// of the 2B×K matrix [a; b] (ties to the lowest index).
func bregmanArgmax(a, b []float64, n, k int) []int {
	f := append(append([]float64(nil), a...), b...)
	idx := make([]int, 2*n)
	for i := range idx {
		for j := 1; j < k; j++ {
			if f[i*k+j] > f[i*k+idx[i]] {
				idx[i] = j
			}
		}
	}
	return idx
}

// bregmanNaive is BeCLR's Bregman loss transcribed literally in float64,
// with the argmax indices fixed (they are constants of the gradient).
func bregmanNaive(a, b []float64, n, k int, idx []int, tau, sigma float64) float64 {
	f := append(append([]float64(nil), a...), b...)
	var loss float64
	for i := 0; i < 2*n; i++ {
		var row []float64
		var pos float64
		for l := 0; l < 2*n; l++ {
			if l == i {
				continue
			}
			dist := f[i*k+idx[i]] - f[i*k+idx[l]]
			s := math.Exp(-dist/(2*sigma*sigma)) / tau
			row = append(row, s)
			if l == (i+n)%(2*n) {
				pos = s
			}
		}
		loss += ctrLSE64(row) - pos
	}
	return loss / float64(2*n)
}

func TestBregman(t *testing.T) {
	for i, tc := range []struct {
		name  string
		b, k  int
		tau   float64
		sigma float64
		tie   bool // an exact tie inside row 0 of outA
	}{
		{"b1_k4_t0.5", 1, 4, 0.5, 0, false},
		{"b2_k8_t0.05", 2, 8, 0.05, 0, false},
		{"b8_k10_t0.5", 8, 10, 0.5, 0, false},
		{"b6_k3_t0.2_tie", 6, 3, 0.2, 0, true},
		{"b4_k16_t1_sigma0.5", 4, 16, 1, 0.5, false},
		{"b3_k5_t0.001", 3, 5, 0.001, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed := uint64(700 + i)
			rnd := testutil.Rand(seed)
			a, b := testutil.RandN(rnd, 1, tc.b, tc.k), testutil.RandN(rnd, 1, tc.b, tc.k)
			if tc.tie {
				ad := testutil.Data(a)
				ad[0], ad[2] = 3, 3
			}
			ca, cb := testutil.Clone(a), testutil.Clone(b)
			da, db := testutil.NaNs(tc.b, tc.k), testutil.NaNs(tc.b, tc.k)
			counts := make([]int, tc.k)
			var opts *BregmanOptions
			sigma := 0.9
			if tc.sigma != 0 {
				opts = &BregmanOptions{Sigma: tc.sigma}
				sigma = float64(tc.sigma)
			}
			got, err := Bregman(counts, da, db, a, b, tc.tau, opts)
			if err != nil {
				t.Fatalf("Bregman(seed %d): %v", seed, err)
			}
			testutil.Unchanged(t, "outA", a, ca)
			testutil.Unchanged(t, "outB", b, cb)
			xa, xb := testutil.F64(a), testutil.F64(b)
			idx := bregmanArgmax(xa, xb, tc.b, tc.k)
			wantCounts := make([]int, tc.k)
			for _, j := range idx {
				wantCounts[j]++
			}
			for j := range counts {
				if counts[j] != wantCounts[j] {
					t.Fatalf("counts = %v, want %v", counts, wantCounts)
				}
			}
			if tc.tie && idx[0] != 0 {
				t.Fatalf("tie broken to %d, want 0", idx[0])
			}
			tau := float64(tc.tau)
			want := bregmanNaive(xa, xb, tc.b, tc.k, idx, tau, sigma)
			if !testutil.Close(got, want, 1e-6, 1e-5) {
				t.Errorf("Bregman(seed %d) = %.9g, want %.9g", seed, got, want)
			}
			ctrCheckGrad(t, "dA", testutil.Data(da), func(x []float64) float64 { return bregmanNaive(x, xb, tc.b, tc.k, idx, tau, sigma) }, xa, 1e-6, 0)
			ctrCheckGrad(t, "dB", testutil.Data(db), func(x []float64) float64 { return bregmanNaive(xa, x, tc.b, tc.k, idx, tau, sigma) }, xb, 1e-6, 0)
		})
	}
}

func TestBregmanErrors(t *testing.T) {
	rnd := testutil.Rand(13)
	a, b := testutil.RandN(rnd, 1, 4, 3), testutil.RandN(rnd, 1, 4, 3)
	inf := testutil.Clone(b)
	testutil.Data(inf)[1] = float32(math.Inf(1))
	shared := testutil.NaNs(4, 3)
	for _, tc := range []struct {
		name     string
		da, db   ssl.Tensor
		counts   []int
		a, b     ssl.Tensor
		tau      float64
		opts     *BregmanOptions
		sentinel error
		want     string
	}{
		{"outB_shape", testutil.NaNs(4, 3), nil, nil, a, ssl.New(4, 2), 0.5, nil, ssl.ErrShape, "outB"},
		{"dB_shape", testutil.NaNs(4, 3), testutil.NaNs(4, 4), nil, a, b, 0.5, nil, ssl.ErrShape, "doutB"},
		{"counts_len", testutil.NaNs(4, 3), nil, make([]int, 2), a, b, 0.5, nil, ssl.ErrShape, "counts"},
		{"empty", nil, nil, nil, ssl.New(0, 3), ssl.New(0, 3), 0.5, nil, ssl.ErrShape, "batch size"},
		{"no_subnets", nil, nil, nil, ssl.New(4, 0), ssl.New(4, 0), 0.5, nil, ssl.ErrShape, "sub-networks"},
		{"tau_zero", testutil.NaNs(4, 3), nil, nil, a, b, 0, nil, ssl.ErrParam, "tau=0"},
		{"sigma_negative", testutil.NaNs(4, 3), nil, nil, a, b, 0.5, &BregmanOptions{Sigma: -1}, ssl.ErrParam, "Sigma=-1"},
		{"inf_input", testutil.NaNs(4, 3), nil, nil, a, inf, 0.5, nil, ssl.ErrNotFinite, "outB[0,1] is +Inf"},
		{"nan_input", testutil.NaNs(4, 3), nil, nil, ssl.FromSlice([]float32{float32(math.NaN()), 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 4, 3), b, 0.5, nil, ssl.ErrNotFinite, "outA[0,0] is NaN"},
		{"same_dst", shared, shared, nil, a, b, 0.5, nil, ssl.ErrShape, "overlap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Bregman(tc.counts, tc.da, tc.db, tc.a, tc.b, tc.tau, tc.opts)
			ctrWantErr(t, err, tc.sentinel, "losses: Bregman", tc.want)
			if tc.da != nil {
				ctrAllNaN(t, "dA", tc.da)
			}
		})
	}
}

func TestBregmanAllocs(t *testing.T) {
	ctrSkipAllocsUnderRace(t)
	rnd := testutil.Rand(14)
	a, b := testutil.RandN(rnd, 1, 4, 6), testutil.RandN(rnd, 1, 4, 6)
	da, db, counts := ssl.New(4, 6), ssl.New(4, 6), make([]int, 6)
	opts := &BregmanOptions{Workspace: NewWorkspace()}
	call := func() {
		if _, err := Bregman(counts, da, db, a, b, 0.5, opts); err != nil {
			t.Fatal(err)
		}
	}
	got := testing.AllocsPerRun(10, call)
	if own := ctrOwnAllocs(t, 10, call); own != 0 {
		t.Errorf("Bregman allocates %v per call of its own with workspace and destinations (%v in all)", own, got)
	}
	// The rest belongs to the kernels (product packing, parallel loops) and
	// to the tensor views.
	t.Logf("%v allocations per call in all", got)
}

func FuzzBregman(f *testing.F) {
	f.Add(uint8(2), uint8(3), float32(0.5), int64(1), uint8(0))
	f.Add(uint8(1), uint8(1), float32(0.001), int64(2), uint8(1))
	f.Add(uint8(3), uint8(2), float32(-2), int64(3), uint8(2))
	f.Add(uint8(1), uint8('M'), float32(0.001), int64(-38), uint8(1)) // a NaN the argmax would skip
	f.Fuzz(func(t *testing.T, b, k uint8, tau float32, seed int64, poison uint8) {
		bb, kk := int(b%6), int(k%5)
		rnd := testutil.Rand(uint64(seed))
		a, bt := ctrRandN(rnd, 1, bb, kk), ctrRandN(rnd, 1, bb, kk)
		if poison%3 == 1 && bb*kk > 0 {
			testutil.Data(a)[0] = float32(math.NaN())
		}
		da := ctrNaNs(bb, kk)
		got, err := Bregman(nil, da, nil, a, bt, float64(tau), nil)
		if err != nil {
			ctrAllNaN(t, "dA", da)
			return
		}
		if math.IsNaN(got) || !kernel.AllFinite(testutil.Data(da)) {
			t.Fatalf("Bregman = %v with a non-finite result and nil error", got)
		}
		xa, xb := testutil.F64(a), testutil.F64(bt)
		want := bregmanNaive(xa, xb, bb, kk, bregmanArgmax(xa, xb, bb, kk), float64(tau), 0.9)
		if !testutil.Close(got, want, 1e-3*math.Max(1, math.Abs(want)), 1e-3) {
			t.Fatalf("Bregman = %v, naive %v", got, want)
		}
	})
}
