package losses

import (
	"math"
	"testing"

	"ssl"
	"ssl/internal/kernel"
	"ssl/internal/testutil"
)

// byolNaive is BYOL's simplified loss transcribed literally in float64.
func byolNaive(p, z []float64, b, d int) float64 {
	var s float64
	for i := 0; i < b; i++ {
		pp, zz := ctrDot64(p, i, p, i, d), ctrDot64(z, i, z, i, d)
		s += ctrDot64(p, i, z, i, d) / math.Max(math.Sqrt(pp)*math.Sqrt(zz), 1e-8)
	}
	return 2 - 2*s/float64(b)
}

func TestBYOL(t *testing.T) {
	for i, tc := range []struct {
		name   string
		b, d   int
		pScale float64
		zScale float64
		shape  string // "", "parallel", "antiparallel"
	}{
		{"b1_d3", 1, 3, 1, 1, ""},
		{"b2_d4", 2, 4, 1, 1, ""},
		{"b8_d16", 8, 16, 1, 1, ""},
		{"b4_d32_large", 4, 32, 1e4, 1e4, ""},
		{"b4_d8_small", 4, 8, 1e-3, 1e-3, ""},
		{"b3_d8_parallel", 3, 8, 1, 2, "parallel"},
		{"b3_d8_antiparallel", 3, 8, 1, 2, "antiparallel"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed := uint64(500 + i)
			rnd := testutil.Rand(seed)
			p, z := testutil.RandN(rnd, tc.pScale, tc.b, tc.d), testutil.RandN(rnd, tc.zScale, tc.b, tc.d)
			switch tc.shape {
			case "parallel", "antiparallel":
				sgn := float32(3)
				if tc.shape == "antiparallel" {
					sgn = -3
				}
				for j, v := range testutil.Data(p) {
					testutil.Data(z)[j] = sgn * v
				}
			}
			cp, cz := testutil.Clone(p), testutil.Clone(z)
			dp := testutil.NaNs(tc.b, tc.d)
			got, err := BYOL(dp, p, z)
			if err != nil {
				t.Fatalf("BYOL(seed %d): %v", seed, err)
			}
			testutil.Unchanged(t, "p", p, cp)
			testutil.Unchanged(t, "z", z, cz)
			xp, xz := testutil.F64(p), testutil.F64(z)
			want := byolNaive(xp, xz, tc.b, tc.d)
			if !testutil.Close(got, want, 1e-6, 1e-5) {
				t.Errorf("BYOL(seed %d) = %.9g, want %.9g", seed, got, want)
			}
			ctrCheckGrad(t, "dp", testutil.Data(dp), func(x []float64) float64 { return byolNaive(x, xz, tc.b, tc.d) }, xp, 1e-6*tc.pScale, 0)
		})
	}
}

func TestBYOLClamp(t *testing.T) {
	// ‖p‖·‖z‖ = 1e-10 < ε: cos = ⟨p, z⟩/ε and the gradient is z/ε.
	p := ssl.FromSlice([]float32{1e-5, 0}, 1, 2)
	z := ssl.FromSlice([]float32{1e-5, 0}, 1, 2)
	dp := testutil.NaNs(1, 2)
	got, err := BYOL(dp, p, z)
	if err != nil {
		t.Fatal(err)
	}
	want := byolNaive([]float64{1e-5, 0}, []float64{1e-5, 0}, 1, 2)
	if !testutil.Close(got, want, 1e-9, 1e-6) {
		t.Errorf("BYOL(clamped) = %v, want %v", got, want)
	}
	testutil.AllClose32(t, "dp", testutil.Data(dp), []float64{-2 * float64(float32(1e-5)) / 1e-8, 0}, 0, 1e-6)
}

func TestBYOLErrors(t *testing.T) {
	rnd := testutil.Rand(11)
	p, z := testutil.RandN(rnd, 1, 4, 3), testutil.RandN(rnd, 1, 4, 3)
	nanZ := testutil.Clone(z)
	testutil.Data(nanZ)[3] = float32(math.NaN())
	for _, tc := range []struct {
		name     string
		dp, p, z ssl.Tensor
		sentinel error
		want     string
	}{
		{"z_shape", testutil.NaNs(4, 3), p, ssl.New(4, 4), ssl.ErrShape, "z"},
		{"dp_shape", testutil.NaNs(3, 3), p, z, ssl.ErrShape, "dp"},
		{"p_rank", testutil.NaNs(4, 3), ssl.New(12), z, ssl.ErrShape, "p"},
		{"empty", nil, ssl.New(0, 3), ssl.New(0, 3), ssl.ErrShape, "batch size"},
		{"nan_z", testutil.NaNs(4, 3), p, nanZ, ssl.ErrNotFinite, "p or z"},
		{"dp_is_p", p, p, z, ssl.ErrShape, "dp overlaps"},
		// ‖p‖·‖z‖ under the clamp with a huge z: the gradient z/ε overflows.
		{"grad_overflow", testutil.NaNs(1, 2), ssl.FromSlice([]float32{1e-40, 0}, 1, 2), ssl.FromSlice([]float32{0, 1e31}, 1, 2), ssl.ErrNotFinite, "overflows float32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before ssl.Tensor
			if tc.dp != nil {
				before = testutil.Clone(tc.dp)
			}
			_, err := BYOL(tc.dp, tc.p, tc.z)
			ctrWantErr(t, err, tc.sentinel, "losses: BYOL", tc.want)
			if before != nil {
				testutil.Unchanged(t, "dp", tc.dp, before)
			}
		})
	}
}

func TestBYOLAllocs(t *testing.T) {
	ctrSkipAllocsUnderRace(t)
	rnd := testutil.Rand(12)
	p, z, dp := testutil.RandN(rnd, 1, 8, 16), testutil.RandN(rnd, 1, 8, 16), ssl.New(8, 16)
	call := func() {
		if _, err := BYOL(dp, p, z); err != nil {
			t.Fatal(err)
		}
	}
	got := testing.AllocsPerRun(10, call)
	if own := ctrOwnAllocs(t, 10, call); own != 0 {
		t.Errorf("BYOL allocates %v per call of its own with workspace and destinations (%v in all)", own, got)
	}
	// The rest belongs to the kernels (product packing, parallel loops) and
	// to the tensor views.
	t.Logf("%v allocations per call in all", got)
}

func FuzzBYOL(f *testing.F) {
	f.Add(uint8(2), uint8(3), int64(1), float32(1), uint8(0))
	f.Add(uint8(1), uint8(1), int64(2), float32(1e-6), uint8(1))
	f.Add(uint8(0), uint8(2), int64(3), float32(1e4), uint8(2))
	f.Fuzz(func(t *testing.T, b, d uint8, seed int64, scale float32, poison uint8) {
		bb, dd := int(b%6), int(d%6)+1
		rnd := testutil.Rand(uint64(seed))
		p, z := ctrRandN(rnd, 1, bb, dd), ctrRandN(rnd, 1, bb, dd)
		if bb > 0 {
			kernel.Scale(scale, testutil.Data(p))
			if poison%3 == 1 {
				testutil.Data(z)[0] = float32(math.Inf(1))
			}
		}
		dp := ctrNaNs(bb, dd)
		got, err := BYOL(dp, p, z)
		if err != nil {
			ctrAllNaN(t, "dp", dp)
			return
		}
		if math.IsNaN(got) || !kernel.AllFinite(testutil.Data(dp)) {
			t.Fatalf("BYOL = %v with a non-finite result and nil error", got)
		}
		if want := byolNaive(testutil.F64(p), testutil.F64(z), bb, dd); !testutil.Close(got, want, 1e-4, 1e-4) {
			t.Fatalf("BYOL = %v, naive %v", got, want)
		}
	})
}
