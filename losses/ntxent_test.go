package losses

import (
	"fmt"
	"math"
	"testing"

	"ssl"
	"ssl/internal/kernel"
	"ssl/internal/testutil"
)

// ntxentNaive is the paper's 2N-view NT-Xent transcribed literally in
// float64.
func ntxentNaive(z1, z2 []float64, b, d int, tau float64) float64 {
	n := 2 * b
	z := append(append([]float64(nil), z1...), z2...)
	u := ctrNormalize64(z, n, d)
	var loss float64
	for a := 0; a < n; a++ {
		p := (a + b) % n
		var others []float64
		for c := 0; c < n; c++ {
			if c != a {
				others = append(others, ctrDot64(u, a, u, c, d)/tau)
			}
		}
		loss += ctrLSE64(others) - ctrDot64(u, a, u, p, d)/tau
	}
	return loss / float64(n)
}

type ntxentCase struct {
	name  string
	b, d  int
	tau   float64
	scale float64
	dup   bool    // z1[1] = z1[0] and z2[1] = z1[0]: duplicated rows
	extra float64 // tolerance slack for float32 at τ = 1e-3
}

var ntxentCases = []ntxentCase{
	{"b1_d3_t0.5", 1, 3, 0.5, 1, false, 0},
	{"b2_d4_t0.001", 2, 4, 0.001, 1, false, 0},
	{"b4_d8_t0.001", 4, 8, 0.001, 1, false, 0},
	{"b8_d16_t0.5", 8, 16, 0.5, 1, false, 0},
	{"b16_d8_t0.1", 16, 8, 0.1, 1, false, 0},
	{"b6_d8_t0.2_dup", 6, 8, 0.2, 1, true, 0},
	{"b4_d8_t0.01_large", 4, 8, 0.01, 1e4, false, 0},
	{"b4_d8_t0.5_tiny", 4, 8, 0.5, 1e-4, false, 0},
	{"b32_d5_t0.07", 32, 5, 0.07, 1, false, 0},
}

func TestNTXent(t *testing.T) {
	for i, tc := range ntxentCases {
		t.Run(tc.name, func(t *testing.T) {
			seed := uint64(100 + i)
			rnd := testutil.Rand(seed)
			z1, z2 := testutil.RandN(rnd, tc.scale, tc.b, tc.d), testutil.RandN(rnd, tc.scale, tc.b, tc.d)
			if tc.dup {
				ctrDup(z1, tc.d, 1, 0)
				copy(testutil.Data(z2)[tc.d:2*tc.d], testutil.Data(z1)[:tc.d])
			}
			c1, c2 := testutil.Clone(z1), testutil.Clone(z2)
			dz1, dz2 := testutil.NaNs(tc.b, tc.d), testutil.NaNs(tc.b, tc.d)
			got, err := NTXent(dz1, dz2, z1, z2, tc.tau, nil)
			if err != nil {
				t.Fatalf("NTXent(seed %d): %v", seed, err)
			}
			testutil.Unchanged(t, "z1", z1, c1)
			testutil.Unchanged(t, "z2", z2, c2)
			x1, x2 := testutil.F64(z1), testutil.F64(z2)
			tau := float64(tc.tau)
			want := ntxentNaive(x1, x2, tc.b, tc.d, tau)
			if !testutil.Close(got, want, 1e-6+tc.extra*math.Abs(want), 1e-5) {
				t.Errorf("NTXent(seed %d) = %.9g, want %.9g", seed, got, want)
			}
			h := 1e-6 * tc.scale
			ctrCheckGrad(t, "dz1", testutil.Data(dz1), func(x []float64) float64 { return ntxentNaive(x, x2, tc.b, tc.d, tau) }, x1, h, tc.extra)
			ctrCheckGrad(t, "dz2", testutil.Data(dz2), func(x []float64) float64 { return ntxentNaive(x1, x, tc.b, tc.d, tau) }, x2, h, tc.extra)

			// Swapping the views changes nothing; one gradient alone equals
			// the same gradient computed with both.
			swapped, err := NTXent(nil, nil, z2, z1, tc.tau, nil)
			if err != nil || !testutil.Close(swapped, got, 1e-6, 1e-5) {
				t.Errorf("NTXent(z2, z1) = %v, %v, want %v", swapped, err, got)
			}
			only := testutil.NaNs(tc.b, tc.d)
			if _, err := NTXent(only, nil, z1, z2, tc.tau, nil); err != nil {
				t.Fatal(err)
			}
			testutil.AllClose32(t, "dz1 alone", testutil.Data(only), testutil.F64(dz1), 0, 0)
		})
	}
}

func TestNTXentBatchOneIsZero(t *testing.T) {
	z1, z2 := ssl.FromSlice([]float32{1, 2, 3}, 1, 3), ssl.FromSlice([]float32{-3, 0.5, 2}, 1, 3)
	dz1, dz2 := testutil.NaNs(1, 3), testutil.NaNs(1, 3)
	got, err := NTXent(dz1, dz2, z1, z2, 0.1, nil)
	if err != nil || got != 0 {
		t.Errorf("NTXent(B=1) = %v, %v, want 0, nil", got, err)
	}
	testutil.AllClose32(t, "dz1", testutil.Data(dz1), make([]float64, 3), 0, 0)
	testutil.AllClose32(t, "dz2", testutil.Data(dz2), make([]float64, 3), 0, 0)
}

func TestNTXentErrors(t *testing.T) {
	good := func() ssl.Tensor { return testutil.RandN(testutil.Rand(1), 1, 4, 3) }
	z1, z2 := good(), good()
	nanZ := good()
	testutil.Data(nanZ)[5] = float32(math.NaN())
	for _, tc := range []struct {
		name     string
		dz1, dz2 ssl.Tensor
		z1, z2   ssl.Tensor
		tau      float64
		sentinel error
		want     string
	}{
		{"z2_shape", testutil.NaNs(4, 3), nil, z1, ssl.New(4, 4), 0.5, ssl.ErrShape, "z2"},
		{"dz1_shape", testutil.NaNs(3, 3), nil, z1, z2, 0.5, ssl.ErrShape, "dz1"},
		{"dz2_rank", testutil.NaNs(4, 3), testutil.NaNs(12), z1, z2, 0.5, ssl.ErrShape, "dz2"},
		{"empty", nil, nil, ssl.New(0, 3), ssl.New(0, 3), 0.5, ssl.ErrShape, "batch size"},
		{"nil_z1", testutil.NaNs(4, 3), nil, nil, z2, 0.5, ssl.ErrShape, "z1"},
		{"tau_zero", testutil.NaNs(4, 3), nil, z1, z2, 0, ssl.ErrParam, "tau=0"},
		{"tau_negative", testutil.NaNs(4, 3), nil, z1, z2, -1, ssl.ErrParam, "tau=-1"},
		{"tau_nan", testutil.NaNs(4, 3), nil, z1, z2, math.NaN(), ssl.ErrParam, "tau"},
		{"tau_inf", testutil.NaNs(4, 3), nil, z1, z2, math.Inf(1), ssl.ErrParam, "tau"},
		{"nan_input", testutil.NaNs(4, 3), nil, nanZ, z2, 0.5, ssl.ErrNotFinite, "z1 or z2"},
		{"dz1_is_z1", z1, nil, z1, z2, 0.5, ssl.ErrShape, "dz1 overlaps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before ssl.Tensor
			if tc.dz1 != nil {
				before = testutil.Clone(tc.dz1)
			}
			_, err := NTXent(tc.dz1, tc.dz2, tc.z1, tc.z2, tc.tau, nil)
			ctrWantErr(t, err, tc.sentinel, "losses: NTXent", tc.want)
			if before != nil {
				testutil.Unchanged(t, "dz1", tc.dz1, before)
			}
		})
	}
	d := testutil.NaNs(4, 3)
	if _, err := NTXent(d, d, z1, z2, 0.5, nil); err == nil {
		t.Error("NTXent with dz1 == dz2: no error")
	}
}

func TestNTXentAllocs(t *testing.T) {
	ctrSkipAllocsUnderRace(t)
	const b, d = 4, 8
	rnd := testutil.Rand(3)
	z1, z2 := testutil.RandN(rnd, 1, b, d), testutil.RandN(rnd, 1, b, d)
	dz1, dz2 := ssl.New(b, d), ssl.New(b, d)
	opts := &NTXentOptions{Workspace: NewWorkspace()}
	call := func() {
		if _, err := NTXent(dz1, dz2, z1, z2, 0.5, opts); err != nil {
			t.Fatal(err)
		}
	}
	got := testing.AllocsPerRun(10, call)
	if own := ctrOwnAllocs(t, 10, call); own != 0 {
		t.Errorf("NTXent allocates %v per call of its own with workspace and destinations (%v in all)", own, got)
	}
	// The rest belongs to the kernels (product packing, parallel loops) and
	// to the tensor views.
	t.Logf("%v allocations per call in all", got)
}

func TestNTXentDeterministic(t *testing.T) {
	// Results are the same bits whatever the number of goroutines.
	rnd := testutil.Rand(9)
	z1, z2 := testutil.RandN(rnd, 1, 300, 16), testutil.RandN(rnd, 1, 300, 16)
	run := func() (float64, []float32) {
		dz := ssl.New(300, 16)
		l, err := NTXent(dz, nil, z1, z2, 0.2, nil)
		if err != nil {
			t.Fatal(err)
		}
		return l, testutil.Data(dz)
	}
	l1, g1 := run()
	prev := ctrSetProcs(1)
	l2, g2 := run()
	ctrSetProcs(prev)
	if l1 != l2 {
		t.Errorf("loss differs with GOMAXPROCS: %v vs %v", l1, l2)
	}
	for i := range g1 {
		if math.Float32bits(g1[i]) != math.Float32bits(g2[i]) {
			t.Fatalf("dz1[%d] differs with GOMAXPROCS: %v vs %v", i, g1[i], g2[i])
		}
	}
}

func FuzzNTXent(f *testing.F) {
	f.Add(uint8(2), uint8(3), float32(0.5), int64(1), uint8(0))
	f.Add(uint8(1), uint8(1), float32(0.001), int64(2), uint8(1))
	f.Add(uint8(5), uint8(4), float32(-1), int64(3), uint8(2))
	f.Add(uint8(0), uint8(4), float32(0.1), int64(4), uint8(3))
	f.Fuzz(func(t *testing.T, b, d uint8, tau float32, seed int64, poison uint8) {
		bb, dd := int(b%9), int(d%7)+1
		rnd := testutil.Rand(uint64(seed))
		z1, z2 := ctrRandN(rnd, 1, bb, dd), ctrRandN(rnd, 1, bb, dd)
		if poison%4 == 1 && bb > 0 {
			testutil.Data(z2)[0] = float32(math.Inf(1))
		}
		dz1 := ctrNaNs(bb, dd)
		got, err := NTXent(dz1, nil, z1, z2, float64(tau), nil)
		if err != nil {
			ctrAllNaN(t, "dz1", dz1)
			return
		}
		if math.IsNaN(got) || math.IsInf(got, 0) {
			t.Fatalf("NTXent = %v with nil error", got)
		}
		if !kernel.AllFinite(testutil.Data(dz1)) {
			t.Fatalf("dz1 not finite with nil error")
		}
		want := ntxentNaive(testutil.F64(z1), testutil.F64(z2), bb, dd, float64(tau))
		if !testutil.Close(got, want, 1e-3*math.Max(1, math.Abs(want)), 1e-3) {
			t.Fatalf("NTXent(b=%d d=%d tau=%v) = %v, naive %v", bb, dd, tau, got, want)
		}
	})
}

func BenchmarkNTXent(b *testing.B) {
	for _, sz := range []struct{ b, d int }{{128, 128}, {512, 128}} {
		b.Run(fmt.Sprintf("b%d_d%d", sz.b, sz.d), func(b *testing.B) {
			rnd := testutil.Rand(1)
			z1, z2 := testutil.RandN(rnd, 1, sz.b, sz.d), testutil.RandN(rnd, 1, sz.b, sz.d)
			dz1, dz2 := ssl.New(sz.b, sz.d), ssl.New(sz.b, sz.d)
			opts := &NTXentOptions{Workspace: NewWorkspace()}
			b.ReportAllocs()
			cpu0 := ctrCPUTime()
			for b.Loop() {
				if _, err := NTXent(dz1, dz2, z1, z2, 0.5, opts); err != nil {
					b.Fatal(err)
				}
			}
			// Work model: two (2B)×(2B)×D products (similarities and the
			// backward), 2 flops per multiply-add.
			n := float64(2 * sz.b)
			flops := 2 * 2 * n * n * float64(sz.d)
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/op")
			// Process CPU time (all threads) per call: stable when other
			// processes share the cores, unlike the wall time.
			b.ReportMetric((ctrCPUTime()-cpu0).Seconds()*1e3/float64(b.N), "cpu-ms/op")
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

func TestNTXentSymmetrize(t *testing.T) {
	for _, n := range []int{1, 5, 31, 32, 33, 70, 96} {
		g := testutil.Data(testutil.RandN(testutil.Rand(uint64(n)), 1, n, n))
		want := make([]float64, n*n)
		for i := range n {
			for j := range n {
				want[i*n+j] = float64(g[i*n+j] + g[j*n+i])
			}
		}
		ntxentSymmetrize(g, n)
		testutil.AllClose32(t, fmt.Sprintf("n=%d", n), g, want, 0, 0)
	}
}
