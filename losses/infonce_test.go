package losses

import (
	"math"
	"testing"

	"ssl"
	"ssl/internal/kernel"
	"ssl/internal/testutil"
)

// infonceNaive is in-batch InfoNCE transcribed literally in float64.
func infonceNaive(p, tg []float64, b, d int, tau float64) float64 {
	ph, th := ctrNormalize64(p, b, d), ctrNormalize64(tg, b, d)
	var loss float64
	for i := 0; i < b; i++ {
		row := make([]float64, b)
		for j := 0; j < b; j++ {
			row[j] = ctrDot64(ph, i, th, j, d) / tau
		}
		loss += ctrLSE64(row) - row[i]
	}
	return loss / float64(b)
}

func TestInfoNCE(t *testing.T) {
	for i, tc := range []struct {
		name  string
		b, d  int
		tau   float64
		scale float64
		dup   bool // target[1] = target[0]
		extra float64
	}{
		{"b1_d4_t0.1", 1, 4, 0.1, 1, false, 0},
		{"b2_d4_t0.001", 2, 4, 0.001, 1, false, 0},
		{"b8_d16_t0.1", 8, 16, 0.1, 1, false, 0},
		{"b16_d8_t0.5", 16, 8, 0.5, 1, false, 0},
		{"b6_d8_t0.2_dup", 6, 8, 0.2, 1, true, 0},
		{"b4_d8_t0.07_large", 4, 8, 0.07, 1e4, false, 0},
		{"b4_d8_t0.07_tiny", 4, 8, 0.07, 1e-4, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed := uint64(300 + i)
			rnd := testutil.Rand(seed)
			p, tg := testutil.RandN(rnd, tc.scale, tc.b, tc.d), testutil.RandN(rnd, tc.scale, tc.b, tc.d)
			if tc.dup {
				ctrDup(tg, tc.d, 1, 0)
			}
			cp, ct := testutil.Clone(p), testutil.Clone(tg)
			dp, dt := testutil.NaNs(tc.b, tc.d), testutil.NaNs(tc.b, tc.d)
			got, err := InfoNCE(dp, dt, p, tg, tc.tau, nil)
			if err != nil {
				t.Fatalf("InfoNCE(seed %d): %v", seed, err)
			}
			testutil.Unchanged(t, "pred", p, cp)
			testutil.Unchanged(t, "target", tg, ct)
			xp, xt := testutil.F64(p), testutil.F64(tg)
			tau := float64(tc.tau)
			want := infonceNaive(xp, xt, tc.b, tc.d, tau)
			if !testutil.Close(got, want, 1e-6+tc.extra*math.Abs(want), 1e-5) {
				t.Errorf("InfoNCE(seed %d) = %.9g, want %.9g", seed, got, want)
			}
			h := 1e-6 * tc.scale
			ctrCheckGrad(t, "dpred", testutil.Data(dp), func(x []float64) float64 { return infonceNaive(x, xt, tc.b, tc.d, tau) }, xp, h, tc.extra)
			ctrCheckGrad(t, "dtarget", testutil.Data(dt), func(x []float64) float64 { return infonceNaive(xp, x, tc.b, tc.d, tau) }, xt, h, tc.extra)

			// Permuting the batch (both inputs alike) changes nothing.
			perm := testutil.Clone(p)
			permT := testutil.Clone(tg)
			pd, td := testutil.Data(perm), testutil.Data(permT)
			for r := 0; r < tc.b; r++ {
				src := (r + 1) % tc.b
				copy(pd[r*tc.d:(r+1)*tc.d], testutil.Data(p)[src*tc.d:(src+1)*tc.d])
				copy(td[r*tc.d:(r+1)*tc.d], testutil.Data(tg)[src*tc.d:(src+1)*tc.d])
			}
			if pl, err := InfoNCE(nil, nil, perm, permT, tc.tau, nil); err != nil || !testutil.Close(pl, got, 1e-6+tc.extra*math.Abs(got), 1e-5) {
				t.Errorf("InfoNCE(permuted batch) = %v, %v, want %v", pl, err, got)
			}
		})
	}
}

func TestInfoNCEErrors(t *testing.T) {
	rnd := testutil.Rand(6)
	p, tg := testutil.RandN(rnd, 1, 4, 3), testutil.RandN(rnd, 1, 4, 3)
	inf := testutil.Clone(p)
	testutil.Data(inf)[0] = float32(math.Inf(-1))
	shared := testutil.NaNs(4, 3)
	for _, tc := range []struct {
		name     string
		dp, dt   ssl.Tensor
		p, tg    ssl.Tensor
		tau      float64
		sentinel error
		want     string
	}{
		{"target_shape", testutil.NaNs(4, 3), nil, p, ssl.New(4, 2), 0.1, ssl.ErrShape, "target"},
		{"dtarget_shape", testutil.NaNs(4, 3), testutil.NaNs(5, 3), p, tg, 0.1, ssl.ErrShape, "dtarget"},
		{"empty", nil, nil, ssl.New(0, 3), ssl.New(0, 3), 0.1, ssl.ErrShape, "batch size"},
		{"tau_zero", testutil.NaNs(4, 3), nil, p, tg, 0, ssl.ErrParam, "tau=0"},
		{"tau_nan", testutil.NaNs(4, 3), nil, p, tg, math.NaN(), ssl.ErrParam, "tau"},
		{"inf_input", testutil.NaNs(4, 3), nil, inf, tg, 0.1, ssl.ErrNotFinite, "pred or target"},
		{"same_dst", shared, shared, p, tg, 0.1, ssl.ErrShape, "overlap"},
		{"dpred_is_target", tg, nil, p, tg, 0.1, ssl.ErrShape, "dpred overlaps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before ssl.Tensor
			if tc.dp != nil {
				before = testutil.Clone(tc.dp)
			}
			_, err := InfoNCE(tc.dp, tc.dt, tc.p, tc.tg, tc.tau, nil)
			ctrWantErr(t, err, tc.sentinel, "losses: InfoNCE", tc.want)
			if before != nil {
				testutil.Unchanged(t, "dpred", tc.dp, before)
			}
		})
	}
}

func TestInfoNCEAllocs(t *testing.T) {
	ctrSkipAllocsUnderRace(t)
	const b, d = 6, 8
	rnd := testutil.Rand(3)
	p, tg := testutil.RandN(rnd, 1, b, d), testutil.RandN(rnd, 1, b, d)
	dp, dt := ssl.New(b, d), ssl.New(b, d)
	opts := &InfoNCEOptions{Workspace: NewWorkspace()}
	call := func() {
		if _, err := InfoNCE(dp, dt, p, tg, 0.2, opts); err != nil {
			t.Fatal(err)
		}
	}
	got := testing.AllocsPerRun(10, call)
	if own := ctrOwnAllocs(t, 10, call); own != 0 {
		t.Errorf("InfoNCE allocates %v per call of its own with workspace and destinations (%v in all)", own, got)
	}
	// The rest belongs to the kernels (product packing, parallel loops) and
	// to the tensor views.
	t.Logf("%v allocations per call in all", got)
}

func FuzzInfoNCE(f *testing.F) {
	f.Add(uint8(2), uint8(3), float32(0.5), int64(1), uint8(0))
	f.Add(uint8(1), uint8(1), float32(0.001), int64(2), uint8(1))
	f.Add(uint8(0), uint8(2), float32(0.3), int64(3), uint8(2))
	f.Fuzz(func(t *testing.T, b, d uint8, tau float32, seed int64, poison uint8) {
		bb, dd := int(b%8), int(d%6)+1
		rnd := testutil.Rand(uint64(seed))
		p, tg := ctrRandN(rnd, 1, bb, dd), ctrRandN(rnd, 1, bb, dd)
		if poison%3 == 1 && bb > 0 {
			testutil.Data(p)[0] = float32(math.NaN())
		}
		dp := ctrNaNs(bb, dd)
		got, err := InfoNCE(dp, nil, p, tg, float64(tau), nil)
		if err != nil {
			ctrAllNaN(t, "dpred", dp)
			return
		}
		if math.IsNaN(got) || math.IsInf(got, 0) || !kernel.AllFinite(testutil.Data(dp)) {
			t.Fatalf("InfoNCE = %v with a non-finite result and nil error", got)
		}
		want := infonceNaive(testutil.F64(p), testutil.F64(tg), bb, dd, float64(tau))
		if !testutil.Close(got, want, 1e-3*math.Max(1, math.Abs(want)), 1e-3) {
			t.Fatalf("InfoNCE(b=%d d=%d tau=%v) = %v, naive %v", bb, dd, tau, got, want)
		}
	})
}
