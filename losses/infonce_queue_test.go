package losses

import (
	"fmt"
	"math"
	"testing"

	"ssl"
	"ssl/internal/kernel"
	"ssl/internal/testutil"
)

// infonceQueueNaive is MoCo's InfoNCE transcribed literally in float64.
func infonceQueueNaive(q, k, queue []float64, b, d, n int, tau float64) float64 {
	qh, kh := ctrNormalize64(q, b, d), ctrNormalize64(k, b, d)
	var loss float64
	for i := 0; i < b; i++ {
		logits := []float64{ctrDot64(qh, i, kh, i, d) / tau}
		for j := 0; j < n; j++ {
			logits = append(logits, ctrDot64(qh, i, queue, j, d)/tau)
		}
		loss += ctrLSE64(logits) - logits[0]
	}
	return loss / float64(b)
}

// ctrUnitRows returns an n×d tensor of random unit rows.
func ctrUnitRows(seed uint64, n, d int) ssl.Tensor {
	t := ctrRandN(testutil.Rand(seed), 1, n, d)
	if n > 0 {
		x := testutil.Data(t)
		kernel.L2NormalizeRows(x, nil, x, n, d, 1e-12)
	}
	return t
}

type infonceQueueCase struct {
	name    string
	b, d, n int
	tau     float64
	scale   float64
	tied    bool // queue rows equal to the positive keys
	extra   float64
}

var infonceQueueCases = []infonceQueueCase{
	{"b1_d4_n8_t0.2", 1, 4, 8, 0.2, 1, false, 0},
	{"b4_d8_n3_t0.5", 4, 8, 3, 0.5, 1, false, 0}, // N < B
	{"b4_d8_n0_t0.5", 4, 8, 0, 0.5, 1, false, 0}, // no negatives
	{"b8_d16_n32_t0.07", 8, 16, 32, 0.07, 1, false, 0},
	{"b4_d8_n6_t0.2_tied", 4, 8, 6, 0.2, 1, true, 0},
	{"b4_d8_n16_t0.001", 4, 8, 16, 0.001, 1, false, 0},
	{"b2_d8_n8_t0.001_tied", 2, 8, 8, 0.001, 1, true, 0},
	{"b4_d8_n16_t0.1_large", 4, 8, 16, 0.1, 1e4, false, 0},
}

func TestInfoNCEQueue(t *testing.T) {
	for i, tc := range infonceQueueCases {
		t.Run(tc.name, func(t *testing.T) {
			seed := uint64(200 + i)
			rnd := testutil.Rand(seed)
			q, k := testutil.RandN(rnd, tc.scale, tc.b, tc.d), testutil.RandN(rnd, 1, tc.b, tc.d)
			queue := ctrUnitRows(seed, tc.n, tc.d)
			if tc.tied {
				qd := testutil.Data(queue)
				kh := testutil.Clone(k)
				kernel.L2NormalizeRows(testutil.Data(kh), nil, testutil.Data(kh), tc.b, tc.d, 1e-12)
				for j := 0; j < min(tc.b, tc.n); j++ {
					copy(qd[j*tc.d:(j+1)*tc.d], testutil.Data(kh)[j*tc.d:(j+1)*tc.d])
				}
			}
			cq, ck, cqueue := testutil.Clone(q), testutil.Clone(k), ssl.Tensor(nil)
			if tc.n > 0 {
				cqueue = testutil.Clone(queue)
			}
			dq := testutil.NaNs(tc.b, tc.d)
			got, err := InfoNCEQueue(dq, q, k, queue, tc.tau, nil)
			if err != nil {
				t.Fatalf("InfoNCEQueue(seed %d): %v", seed, err)
			}
			testutil.Unchanged(t, "q", q, cq)
			testutil.Unchanged(t, "k", k, ck)
			if cqueue != nil {
				testutil.Unchanged(t, "queue", queue, cqueue)
			}
			xq, xk := testutil.F64(q), testutil.F64(k)
			var xqueue []float64
			if tc.n > 0 {
				xqueue = testutil.F64(queue)
			}
			tau := float64(tc.tau)
			want := infonceQueueNaive(xq, xk, xqueue, tc.b, tc.d, tc.n, tau)
			if !testutil.Close(got, want, 1e-6+tc.extra*math.Abs(want), 1e-5) {
				t.Errorf("InfoNCEQueue(seed %d) = %.9g, want %.9g", seed, got, want)
			}
			f := func(x []float64) float64 { return infonceQueueNaive(x, xk, xqueue, tc.b, tc.d, tc.n, tau) }
			ctrCheckGrad(t, "dq", testutil.Data(dq), f, xq, 1e-6*tc.scale, tc.extra)
		})
	}
}

func TestInfoNCEQueueErrors(t *testing.T) {
	rnd := testutil.Rand(5)
	q, k, queue := testutil.RandN(rnd, 1, 4, 3), testutil.RandN(rnd, 1, 4, 3), ctrUnitRows(5, 6, 3)
	nanQ := testutil.Clone(queue)
	testutil.Data(nanQ)[2] = float32(math.NaN())
	for _, tc := range []struct {
		name           string
		dq, q, k, queu ssl.Tensor
		tau            float64
		sentinel       error
		want           string
	}{
		{"k_shape", testutil.NaNs(4, 3), q, ssl.New(3, 3), queue, 0.2, ssl.ErrShape, "k"},
		{"queue_cols", testutil.NaNs(4, 3), q, k, ssl.New(6, 4), 0.2, ssl.ErrShape, "queue"},
		{"queue_rank", testutil.NaNs(4, 3), q, k, ssl.New(18), 0.2, ssl.ErrShape, "queue"},
		{"dq_shape", testutil.NaNs(4, 2), q, k, queue, 0.2, ssl.ErrShape, "dq"},
		{"empty", nil, ssl.New(0, 3), ssl.New(0, 3), queue, 0.2, ssl.ErrShape, "batch size"},
		{"tau_zero", testutil.NaNs(4, 3), q, k, queue, 0, ssl.ErrParam, "tau=0"},
		{"tau_negative", testutil.NaNs(4, 3), q, k, queue, -0.5, ssl.ErrParam, "tau=-0.5"},
		{"nan_queue", testutil.NaNs(4, 3), q, k, nanQ, 0.2, ssl.ErrNotFinite, "queue"},
		{"dq_is_k", k, q, k, queue, 0.2, ssl.ErrShape, "dq overlaps"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before ssl.Tensor
			if tc.dq != nil {
				before = testutil.Clone(tc.dq)
			}
			_, err := InfoNCEQueue(tc.dq, tc.q, tc.k, tc.queu, tc.tau, nil)
			ctrWantErr(t, err, tc.sentinel, "losses: InfoNCEQueue", tc.want)
			if before != nil {
				testutil.Unchanged(t, "dq", tc.dq, before)
			}
		})
	}
}

func TestInfoNCEQueueAllocs(t *testing.T) {
	ctrSkipAllocsUnderRace(t)
	const b, d, n = 4, 8, 16
	rnd := testutil.Rand(3)
	q, k, queue := testutil.RandN(rnd, 1, b, d), testutil.RandN(rnd, 1, b, d), ctrUnitRows(3, n, d)
	dq := ssl.New(b, d)
	opts := &InfoNCEQueueOptions{Workspace: NewWorkspace()}
	call := func() {
		if _, err := InfoNCEQueue(dq, q, k, queue, 0.2, opts); err != nil {
			t.Fatal(err)
		}
	}
	got := testing.AllocsPerRun(10, call)
	if own := ctrOwnAllocs(t, 10, call); own != 0 {
		t.Errorf("InfoNCEQueue allocates %v per call of its own with workspace and destinations (%v in all)", own, got)
	}
	// The rest belongs to the kernels (product packing, parallel loops) and
	// to the tensor views.
	t.Logf("%v allocations per call in all", got)
}

func FuzzInfoNCEQueue(f *testing.F) {
	f.Add(uint8(2), uint8(3), uint8(4), float32(0.5), int64(1), uint8(0))
	f.Add(uint8(1), uint8(1), uint8(0), float32(0.001), int64(2), uint8(1))
	f.Add(uint8(0), uint8(4), uint8(3), float32(0.1), int64(3), uint8(2))
	f.Add(uint8(3), uint8(2), uint8(5), float32(0), int64(4), uint8(3))
	f.Fuzz(func(t *testing.T, b, d, n uint8, tau float32, seed int64, poison uint8) {
		bb, dd, nn := int(b%7), int(d%6)+1, int(n%9)
		rnd := testutil.Rand(uint64(seed))
		q, k := ctrRandN(rnd, 1, bb, dd), ctrRandN(rnd, 1, bb, dd)
		queue := ctrUnitRows(uint64(seed), nn, dd)
		if poison%4 == 1 && bb > 0 {
			testutil.Data(k)[0] = float32(math.NaN())
		}
		if poison%4 == 2 {
			queue = ctrUnitRows(1, nn, dd+1)
		}
		dq := ctrNaNs(bb, dd)
		got, err := InfoNCEQueue(dq, q, k, queue, float64(tau), nil)
		if err != nil {
			ctrAllNaN(t, "dq", dq)
			return
		}
		if math.IsNaN(got) || math.IsInf(got, 0) || !kernel.AllFinite(testutil.Data(dq)) {
			t.Fatalf("InfoNCEQueue = %v with a non-finite result and nil error", got)
		}
		var xqueue []float64
		if nn > 0 {
			xqueue = testutil.F64(queue)
		}
		want := infonceQueueNaive(testutil.F64(q), testutil.F64(k), xqueue, bb, dd, nn, float64(tau))
		if !testutil.Close(got, want, 1e-3*math.Max(1, math.Abs(want)), 1e-3) {
			t.Fatalf("InfoNCEQueue(b=%d d=%d n=%d tau=%v) = %v, naive %v", bb, dd, nn, tau, got, want)
		}
	})
}

func BenchmarkInfoNCEQueue(b *testing.B) {
	for _, sz := range []struct{ b, d, n int }{{256, 128, 4096}, {256, 128, 65536}} {
		b.Run(fmt.Sprintf("b%d_d%d_q%d", sz.b, sz.d, sz.n), func(b *testing.B) {
			rnd := testutil.Rand(1)
			q, k := testutil.RandN(rnd, 1, sz.b, sz.d), testutil.RandN(rnd, 1, sz.b, sz.d)
			queue := ctrUnitRows(2, sz.n, sz.d)
			dq := ssl.New(sz.b, sz.d)
			opts := &InfoNCEQueueOptions{Workspace: NewWorkspace()}
			b.ReportAllocs()
			cpu0 := ctrCPUTime()
			for b.Loop() {
				if _, err := InfoNCEQueue(dq, q, k, queue, 0.2, opts); err != nil {
					b.Fatal(err)
				}
			}
			// Work model: two B×N×D products (logits and ∂L/∂q̂), 2 flops per
			// multiply-add.
			flops := 2 * 2 * float64(sz.b) * float64(sz.n) * float64(sz.d)
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/op")
			// Process CPU time (all threads) per call: stable when other
			// processes share the cores, unlike the wall time.
			b.ReportMetric((ctrCPUTime()-cpu0).Seconds()*1e3/float64(b.N), "cpu-ms/op")
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
