package losses

import (
	"math"
	"testing"

	"ssl"
	"ssl/internal/kernel"
	"ssl/internal/testutil"
)

// xmocoNaive is the documented XMoCo regularisers transcribed literally in
// float64.
func xmocoNaive(q, k []float64, b, d int, lc, lu, t float64) (float64, float64, float64) {
	qh, kh := ctrNormalize64(q, b, d), ctrNormalize64(k, b, d)
	var cross float64
	for i := 0; i < b; i++ {
		for j := 0; j < b; j++ {
			e := ctrDot64(qh, i, kh, j, d) - ctrDot64(kh, i, kh, j, d)
			cross += e * e
		}
	}
	cross /= float64(b * b)
	unif := uniformNaive(qh, b, d, t)
	return lc*cross + lu*unif, cross, unif
}

func TestXMoCo(t *testing.T) {
	for i, tc := range []struct {
		name   string
		b, d   int
		lc, lu float64
		t      float64
		scale  float64
		dup    bool
	}{
		{"b2_d4", 2, 4, 1, 1, 0, 1, false},
		{"b8_d16", 8, 16, 1, 0.5, 0, 1, false},
		{"b6_d8_t5_dup", 6, 8, 2, 1, 5, 1, true},
		{"b4_d8_large", 4, 8, 1, 1, 0, 1e4, false},
		{"b5_d3_cross_only", 5, 3, 1, 0, 0, 1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed := uint64(900 + i)
			rnd := testutil.Rand(seed)
			q, k := testutil.RandN(rnd, tc.scale, tc.b, tc.d), testutil.RandN(rnd, 1, tc.b, tc.d)
			if tc.dup {
				ctrDup(q, tc.d, 1, 0)
				ctrDup(k, tc.d, 3, 2)
			}
			cq, ck := testutil.Clone(q), testutil.Clone(k)
			dq := testutil.NaNs(tc.b, tc.d)

			var opts *XMoCoOptions
			tt := 2.0
			if tc.t != 0 {
				opts, tt = &XMoCoOptions{T: tc.t}, float64(tc.t)
			}
			res, err := XMoCo(dq, q, k, tc.lc, tc.lu, opts)
			got, terms := res.Loss, []float64{res.Cross, res.Uniform}
			if err != nil {
				t.Fatalf("XMoCo(seed %d): %v", seed, err)
			}
			testutil.Unchanged(t, "q", q, cq)
			testutil.Unchanged(t, "k", k, ck)
			xq, xk := testutil.F64(q), testutil.F64(k)
			lc, lu := float64(tc.lc), float64(tc.lu)
			want, cross, unif := xmocoNaive(xq, xk, tc.b, tc.d, lc, lu, tt)
			if !testutil.Close(got, want, 1e-6, 1e-5) {
				t.Errorf("XMoCo(seed %d) = %.9g, want %.9g", seed, got, want)
			}
			testutil.AllClose(t, "terms", terms, []float64{cross, unif}, 1e-6, 1e-5)
			f := func(x []float64) float64 { l, _, _ := xmocoNaive(x, xk, tc.b, tc.d, lc, lu, tt); return l }
			ctrCheckGrad(t, "dq", testutil.Data(dq), f, xq, 1e-6*tc.scale, 0)
		})
	}
}

func TestXMoCoProperties(t *testing.T) {
	// q = k (the transformations agree): the cross term is 0.
	k := testutil.RandN(testutil.Rand(41), 1, 6, 5)
	if res, err := XMoCo(nil, k, k, 1, 1, nil); err != nil || math.Abs(res.Cross) > 1e-12 {
		t.Errorf("XMoCo(q = k): cross term %v, %v, want 0", res.Cross, err)
	}
	// The loss does not depend on the scale of the rows of q or k.
	q := testutil.RandN(testutil.Rand(42), 1, 6, 5)
	l1, _ := XMoCo(nil, q, k, 1, 1, nil)
	q2, k2 := testutil.Clone(q), testutil.Clone(k)
	kernel.Scale(7, testutil.Data(q2))
	kernel.Scale(0.1, testutil.Data(k2))
	if l2, err := XMoCo(nil, q2, k2, 1, 1, nil); err != nil || !testutil.Close(l2.Loss, l1.Loss, 1e-6, 1e-5) {
		t.Errorf("XMoCo(7q, 0.1k) = %v, %v, want %v", l2, err, l1)
	}
}

func TestXMoCoErrors(t *testing.T) {
	rnd := testutil.Rand(43)
	q, k := testutil.RandN(rnd, 1, 4, 3), testutil.RandN(rnd, 1, 4, 3)
	nan := testutil.Clone(k)
	testutil.Data(nan)[2] = float32(math.NaN())
	for _, tc := range []struct {
		name     string
		q, k     ssl.Tensor
		lc       float64
		opts     *XMoCoOptions
		sentinel error
		want     string
	}{
		{"k_shape", q, ssl.New(4, 2), 1, nil, ssl.ErrShape, "k"},
		{"one_row", ssl.New(1, 3), ssl.New(1, 3), 1, nil, ssl.ErrShape, "batch size"},
		{"lambda_inf", q, k, math.Inf(1), nil, ssl.ErrParam, "lambdaCross"},
		{"lambda_float32", q, k, 1e39, nil, ssl.ErrParam, "float32"},
		{"t_negative", q, k, 1, &XMoCoOptions{T: -1}, ssl.ErrParam, "T=-1"},
		{"t_float32", q, k, 1, &XMoCoOptions{T: 1e-50}, ssl.ErrParam, "float32"},
		{"nan_k", q, nan, 1, nil, ssl.ErrNotFinite, "q or k"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var dq ssl.Tensor
			if tc.name != "one_row" {
				dq = testutil.NaNs(4, 3)
			}
			_, err := XMoCo(dq, tc.q, tc.k, tc.lc, 1, tc.opts)
			ctrWantErr(t, err, tc.sentinel, "losses: XMoCo", tc.want)
			if dq != nil {
				ctrAllNaN(t, "dq", dq)
			}
		})
	}
	if _, err := XMoCo(q, q, k, 1, 1, nil); err == nil {
		t.Error("XMoCo with dq aliasing q: no error")
	}
}

func TestXMoCoAllocs(t *testing.T) {
	ctrSkipAllocsUnderRace(t)
	rnd := testutil.Rand(44)
	q, k, dq := testutil.RandN(rnd, 1, 6, 8), testutil.RandN(rnd, 1, 6, 8), ssl.New(6, 8)
	opts := &XMoCoOptions{Workspace: NewWorkspace()}
	call := func() {
		if _, err := XMoCo(dq, q, k, 1, 1, opts); err != nil {
			t.Fatal(err)
		}
	}
	got := testing.AllocsPerRun(10, call)
	if own := ctrOwnAllocs(t, 10, call); own != 0 {
		t.Errorf("XMoCo allocates %v per call of its own with workspace and destinations (%v in all)", own, got)
	}
	// The rest belongs to the kernels (product packing, parallel loops) and
	// to the tensor views.
	t.Logf("%v allocations per call in all", got)
}

func FuzzXMoCo(f *testing.F) {
	f.Add(uint8(2), uint8(3), float32(1), float32(1), int64(1), uint8(0))
	f.Add(uint8(1), uint8(2), float32(0), float32(1), int64(2), uint8(1))
	f.Add(uint8(5), uint8(1), float32(-1), float32(2), int64(3), uint8(2))
	f.Fuzz(func(t *testing.T, b, d uint8, lc, lu float32, seed int64, poison uint8) {
		bb, dd := int(b%6), int(d%4)+1
		rnd := testutil.Rand(uint64(seed))
		q, k := ctrRandN(rnd, 1, bb, dd), ctrRandN(rnd, 1, bb, dd)
		if poison%3 == 1 && bb > 0 {
			testutil.Data(q)[0] = float32(math.NaN())
		}
		dq := ctrNaNs(bb, dd)
		res, err := XMoCo(dq, q, k, float64(lc), float64(lu), nil)
		got := res.Loss
		if err != nil {
			ctrAllNaN(t, "dq", dq)
			return
		}
		if math.IsNaN(got) || !kernel.AllFinite(testutil.Data(dq)) {
			t.Fatalf("XMoCo = %v with a non-finite result and nil error", got)
		}
		want, _, _ := xmocoNaive(testutil.F64(q), testutil.F64(k), bb, dd, float64(lc), float64(lu), 2)
		if !testutil.Close(got, want, 1e-3*math.Max(1, math.Abs(want)), 1e-3) {
			t.Fatalf("XMoCo = %v, naive %v", got, want)
		}
	})
}
