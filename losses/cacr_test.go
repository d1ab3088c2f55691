package losses

import (
	"math"
	"testing"

	"ssl"
	"ssl/internal/kernel"
	"ssl/internal/testutil"
)

// cacrNaive is CACR's attraction and repulsion transcribed literally in
// float64 (views M×B×D).
func cacrNaive(v []float64, m, b, d int, alpha, beta, tauPos, tauNeg float64) (ca, cr float64) {
	row := func(x, i int) []float64 { return v[(x*b+i)*d : (x*b+i+1)*d] }
	cost := func(p, q []float64) float64 {
		var s float64
		for t := range p {
			s += (p[t] - q[t]) * (p[t] - q[t])
		}
		return s
	}
	softmaxMean := func(c []float64, s float64) float64 {
		logits := make([]float64, len(c))
		for j := range c {
			logits[j] = s * c[j]
		}
		l := ctrLSE64(logits)
		var mean float64
		for j := range c {
			mean += math.Exp(logits[j]-l) * c[j]
		}
		return mean
	}
	for x := 0; x < m; x++ {
		for i := 0; i < b; i++ {
			var c []float64
			for y := 0; y < m; y++ {
				if y != x {
					c = append(c, cost(row(x, i), row(y, i)))
				}
			}
			ca += alpha * softmaxMean(c, tauPos) / float64(b)
		}
	}
	ca /= float64(m)
	pairs := 0
	for x := 0; x < m; x++ {
		for y := x + 1; y < m; y++ {
			pairs++
			for i := 0; i < b; i++ {
				var c []float64
				for l := 0; l < b; l++ {
					if l != i {
						c = append(c, cost(row(x, i), row(y, l)))
					}
				}
				cr += -beta * softmaxMean(c, -tauNeg) / float64(b)
			}
		}
	}
	return ca, cr / float64(pairs)
}

func TestCACR(t *testing.T) {
	for i, tc := range []struct {
		name                         string
		m, b, d                      int
		alpha, beta, tauPos, tauNeg  float64
		identicalViews, identicalRow bool
	}{
		{"m2_b2_d4", 2, 2, 4, 1, 1, 1, 1, false, false},
		{"m3_b8_d8", 3, 8, 8, 1, 2, 1, 2, false, false},
		{"m5_b6_d16_sharp", 5, 6, 16, 1, 1, 20, 40, false, false},
		{"m2_b4_d8_identical_views", 2, 4, 8, 1, 1, 1, 2, true, false},
		{"m3_b5_d8_identical_rows", 3, 5, 8, 0.5, 2, 2, 3, false, true},
		{"m4_b3_d5_zero_temps", 4, 3, 5, 1, 1, 0, 0, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed := uint64(600 + i)
			views := ctrUnitRows(seed, tc.m*tc.b, tc.d)
			vd := testutil.Data(views)
			if tc.identicalViews {
				copy(vd[tc.b*tc.d:2*tc.b*tc.d], vd[:tc.b*tc.d])
			}
			if tc.identicalRow {
				copy(vd[tc.d:2*tc.d], vd[:tc.d])
			}
			views = ssl.FromSlice(vd, tc.m, tc.b, tc.d)
			before := testutil.Clone(views)
			dv := testutil.NaNs(tc.m, tc.b, tc.d)
			res, err := CACR(dv, views, tc.alpha, tc.beta, tc.tauPos, tc.tauNeg, nil)
			got, terms := res.Loss, []float64{res.Attraction, res.Repulsion}
			if err != nil {
				t.Fatalf("CACR(seed %d): %v", seed, err)
			}
			testutil.Unchanged(t, "views", views, before)
			x := testutil.F64(views)
			a, be, tp, tn := float64(tc.alpha), float64(tc.beta), float64(tc.tauPos), float64(tc.tauNeg)
			ca, cr := cacrNaive(x, tc.m, tc.b, tc.d, a, be, tp, tn)
			if !testutil.Close(got, ca+cr, 1e-5, 1e-5) {
				t.Errorf("CACR(seed %d) = %.9g, want %.9g", seed, got, ca+cr)
			}
			testutil.AllClose(t, "terms", terms, []float64{ca, cr}, 1e-5, 1e-5)
			f := func(x []float64) float64 { ca, cr := cacrNaive(x, tc.m, tc.b, tc.d, a, be, tp, tn); return ca + cr }
			ctrCheckGrad(t, "dviews", testutil.Data(dv), f, x, 1e-6, 0)
		})
	}
}

func TestCACRErrors(t *testing.T) {
	views := ctrUnitRows(7, 6, 3)
	v3 := ssl.FromSlice(testutil.Data(views), 2, 3, 3)
	nan := testutil.Clone(v3)
	testutil.Data(nan)[4] = float32(math.NaN())
	for _, tc := range []struct {
		name     string
		dv       ssl.Tensor
		views    ssl.Tensor
		alpha    float64
		tauNeg   float64
		sentinel error
		want     string
	}{
		{"rank", nil, views, 1, 1, ssl.ErrShape, "want 3"},
		{"one_view", nil, ssl.New(1, 3, 3), 1, 1, ssl.ErrShape, "M ≥ 2"},
		{"one_sample", nil, ssl.New(2, 1, 3), 1, 1, ssl.ErrShape, "B ≥ 2"},
		{"dviews_shape", testutil.NaNs(2, 3, 4), v3, 1, 1, ssl.ErrShape, "dviews"},
		{"alpha_negative", nil, v3, -1, 1, ssl.ErrParam, "alpha=-1"},
		{"tau_neg_inf", nil, v3, 1, math.Inf(1), ssl.ErrParam, "tauNeg"},
		{"tau_neg_float32", nil, v3, 1, 1e300, ssl.ErrParam, "float32"},
		{"nan_views", testutil.NaNs(2, 3, 3), nan, 1, 1, ssl.ErrNotFinite, "views"},
		{"dviews_is_views", v3, v3, 1, 1, ssl.ErrShape, "overlaps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CACR(tc.dv, tc.views, tc.alpha, 1, 1, tc.tauNeg, nil)
			ctrWantErr(t, err, tc.sentinel, "losses: CACR", tc.want)
			if tc.dv != nil && tc.dv != v3 {
				ctrAllNaN(t, "dviews", tc.dv)
			}
		})
	}
}

func TestCACRAllocs(t *testing.T) {
	ctrSkipAllocsUnderRace(t)
	views := ssl.FromSlice(testutil.Data(ctrUnitRows(8, 12, 8)), 3, 4, 8)
	dv := ssl.New(3, 4, 8)
	opts := &CACROptions{Workspace: NewWorkspace()}
	call := func() {
		if _, err := CACR(dv, views, 1, 1, 1, 1, opts); err != nil {
			t.Fatal(err)
		}
	}
	got := testing.AllocsPerRun(10, call)
	if own := ctrOwnAllocs(t, 10, call); own != 0 {
		t.Errorf("CACR allocates %v per call of its own with workspace and destinations (%v in all)", own, got)
	}
	// The rest belongs to the kernels (product packing, parallel loops) and
	// to the tensor views.
	t.Logf("%v allocations per call in all", got)
}

func FuzzCACR(f *testing.F) {
	f.Add(uint8(2), uint8(2), uint8(3), float32(1), float32(1), int64(1))
	f.Add(uint8(1), uint8(3), uint8(2), float32(20), float32(40), int64(2))
	f.Add(uint8(3), uint8(1), uint8(1), float32(-1), float32(0), int64(3))
	f.Fuzz(func(t *testing.T, m, b, d uint8, tauPos, tauNeg float32, seed int64) {
		mm, bb, dd := int(m%5), int(b%5), int(d%4)+1
		var views ssl.Tensor = ssl.New(mm, bb, dd)
		if mm*bb > 0 {
			views = ssl.FromSlice(testutil.Data(ctrUnitRows(uint64(seed), mm*bb, dd)), mm, bb, dd)
		}
		var dv ssl.Tensor
		if mm*bb > 0 {
			dv = testutil.NaNs(mm, bb, dd)
		}
		res, err := CACR(dv, views, 1, 1, float64(tauPos), float64(tauNeg), nil)
		got := res.Loss
		if err != nil {
			if dv != nil {
				ctrAllNaN(t, "dviews", dv)
			}
			return
		}
		if math.IsNaN(got) || !kernel.AllFinite(testutil.Data(dv)) {
			t.Fatalf("CACR = %v with a non-finite result and nil error", got)
		}
		ca, cr := cacrNaive(testutil.F64(views), mm, bb, dd, 1, 1, float64(tauPos), float64(tauNeg))
		if !testutil.Close(got, ca+cr, 1e-3, 1e-3) {
			t.Fatalf("CACR = %v, naive %v", got, ca+cr)
		}
	})
}
