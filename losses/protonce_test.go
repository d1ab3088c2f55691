package losses

import (
	"fmt"
	"math"
	"testing"

	"ssl"
	"ssl/internal/kernel"
	"ssl/internal/testutil"
)

// protonceClust64 is one clustering in float64 for the oracle.
type protonceClust64 struct {
	cent, dens []float64
	labels     []int
	neg        []int
}

// protonceNaive is PCL's ProtoNCE transcribed literally in float64.
func protonceNaive(q, k, queue []float64, cls []protonceClust64, b, d, n int, tau float64) (float64, []float64) {
	terms := []float64{infonceQueueNaive(q, k, queue, b, d, n, tau)}
	qh := ctrNormalize64(q, b, d)
	loss := terms[0]
	for _, c := range cls {
		ids := append(append([]int(nil), c.labels...), c.neg...)
		var lm float64
		for i := 0; i < b; i++ {
			row := make([]float64, len(ids))
			for j, id := range ids {
				row[j] = ctrDot64(qh, i, c.cent, id, d) / c.dens[id]
			}
			lm += ctrLSE64(row) - row[i]
		}
		lm /= float64(b)
		terms = append(terms, lm)
		loss += lm / float64(len(cls))
	}
	return loss, terms
}

// protonceSetup returns random inputs for ProtoNCE: M clusterings with Ks
// clusters, r negatives each, densities around phi.
func protonceSetup(seed uint64, b, d, n, r int, ks []int, phi float64) (q, k, queue ssl.Tensor, cls []ProtoNCEClustering, cls64 []protonceClust64) {
	rnd := testutil.Rand(seed)
	q, k = testutil.RandN(rnd, 1, b, d), testutil.RandN(rnd, 1, b, d)
	queue = ctrUnitRows(seed+1, n, d)
	for m, kc := range ks {
		cent := ctrUnitRows(seed+uint64(10+m), kc, d)
		dens := testutil.RandU(rnd, 0.5*phi, 1.5*phi, kc)
		labels := make([]int, b)
		used := map[int]bool{}
		for i := range labels {
			labels[i] = rnd.IntN(kc)
			used[labels[i]] = true
		}
		var neg []int
		for _, id := range rnd.Perm(kc) {
			if len(neg) < r && !used[id] {
				neg = append(neg, id)
			}
		}
		cls = append(cls, ProtoNCEClustering{Centroids: cent, Density: dens, Labels: labels, Negatives: neg})
		cls64 = append(cls64, protonceClust64{testutil.F64(cent), testutil.F64(dens), labels, neg})
	}
	return q, k, queue, cls, cls64
}

func TestProtoNCE(t *testing.T) {
	for i, tc := range []struct {
		name    string
		b, d, n int
		r       int
		ks      []int
		phi     float64
		tau     float64
		extra   float64
	}{
		{"b8_d16_n8_r8_m2", 8, 16, 8, 8, []int{16, 24}, 0.3, 0.2, 0},
		{"b2_d8_n4_r4_m1_phi0.01", 2, 8, 4, 4, []int{32}, 0.01, 0.05, 0},
		{"b12_d8_n6_r2_m3_KltB", 12, 8, 6, 2, []int{6, 8, 20}, 0.2, 0.1, 0}, // positive columns repeat
		{"b1_d4_n4_r3_m1", 1, 4, 4, 3, []int{5}, 0.1, 0.2, 0},
		{"b4_d8_n4_r0_m0", 4, 8, 4, 0, nil, 0.1, 0.2, 0},
		{"b4_d8_n8_r4_m2_t0.001", 4, 8, 8, 4, []int{10, 12}, 0.05, 0.001, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed := uint64(400 + i)
			q, k, queue, cls, cls64 := protonceSetup(seed, tc.b, tc.d, tc.n, tc.r, tc.ks, tc.phi)
			cq := testutil.Clone(q)
			dq := testutil.NaNs(tc.b, tc.d)
			res, err := ProtoNCE(dq, q, k, queue, cls, tc.tau, nil)
			got, terms := res.Loss, append([]float64{res.Instance}, res.PerClustering...)
			if err != nil {
				t.Fatalf("ProtoNCE(seed %d): %v", seed, err)
			}
			testutil.Unchanged(t, "q", q, cq)
			xq, xk, xqueue := testutil.F64(q), testutil.F64(k), testutil.F64(queue)
			tau := float64(tc.tau)
			want, wantTerms := protonceNaive(xq, xk, xqueue, cls64, tc.b, tc.d, tc.n, tau)
			if !testutil.Close(got, want, 1e-6+tc.extra*math.Abs(want), 1e-5) {
				t.Errorf("ProtoNCE(seed %d) = %.9g, want %.9g", seed, got, want)
			}
			testutil.AllClose(t, "terms", terms, wantTerms, 1e-6+tc.extra*testutil.MaxAbs(wantTerms), 1e-5)
			var mean float64
			for _, v := range res.PerClustering {
				mean += v
			}
			if len(cls) > 0 {
				mean /= float64(len(cls))
			}
			if len(res.PerClustering) != len(cls) || res.Prototype != mean || res.Loss != res.Instance+res.Prototype {
				t.Errorf("ProtoNCE result %+v: Loss ≠ Instance + mean(PerClustering)", res)
			}
			f := func(x []float64) float64 {
				l, _ := protonceNaive(x, xk, xqueue, cls64, tc.b, tc.d, tc.n, tau)
				return l
			}
			ctrCheckGrad(t, "dq", testutil.Data(dq), f, xq, 1e-6, tc.extra)

			// The instance term is InfoNCEQueue exactly.
			inst, err := InfoNCEQueue(nil, q, k, queue, tc.tau, nil)
			if err != nil || inst != terms[0] {
				t.Errorf("InfoNCEQueue = %v, %v; ProtoNCE's instance term %v", inst, err, terms[0])
			}
		})
	}
}

func TestProtoNCEErrors(t *testing.T) {
	q, k, queue, cls, _ := protonceSetup(7, 4, 3, 5, 2, []int{6}, 0.2)
	with := func(mod func(c *ProtoNCEClustering)) []ProtoNCEClustering {
		c := cls[0]
		mod(&c)
		return []ProtoNCEClustering{c}
	}
	for _, tc := range []struct {
		name     string
		cls      []ProtoNCEClustering
		tau      float64
		sentinel error
		want     string
	}{
		{"label_range", with(func(c *ProtoNCEClustering) { c.Labels = []int{0, 1, 6, 2} }), 0.2, ssl.ErrParam, "clusterings[0].Labels[2]=6"},
		{"negative_range", with(func(c *ProtoNCEClustering) { c.Negatives = []int{-1} }), 0.2, ssl.ErrParam, "clusterings[0].Negatives[0]=-1"},
		{"labels_len", with(func(c *ProtoNCEClustering) { c.Labels = []int{0} }), 0.2, ssl.ErrShape, "len(clusterings[0].Labels) is 1"},
		{"density_len", with(func(c *ProtoNCEClustering) { c.Density = ssl.New(5) }), 0.2, ssl.ErrShape, "Density"},
		{"density_zero", with(func(c *ProtoNCEClustering) { c.Density = ssl.New(6) }), 0.2, ssl.ErrParam, "Density[0]"},
		{"centroid_cols", with(func(c *ProtoNCEClustering) { c.Centroids = ssl.New(6, 4) }), 0.2, ssl.ErrShape, "Centroids"},
		{"tau_zero", cls, 0, ssl.ErrParam, "tau=0"},
		{"tau_float32", cls, 1e-60, ssl.ErrParam, "float32"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dq := testutil.NaNs(4, 3)
			_, err := ProtoNCE(dq, q, k, queue, tc.cls, tc.tau, nil)
			ctrWantErr(t, err, tc.sentinel, "losses: ProtoNCE", tc.want)
			ctrAllNaN(t, "dq", dq)
		})
	}
	if _, err := ProtoNCE(nil, ssl.New(0, 3), ssl.New(0, 3), queue, nil, 0.2, nil); err == nil {
		t.Error("ProtoNCE with an empty batch: no error")
	}
	if _, err := ProtoNCE(k, q, k, queue, cls, 0.2, nil); err == nil {
		t.Error("ProtoNCE with dq aliasing k: no error")
	}
}

func TestProtoNCEAllocs(t *testing.T) {
	ctrSkipAllocsUnderRace(t)
	q, k, queue, cls, _ := protonceSetup(8, 4, 8, 8, 4, []int{10, 12}, 0.2)
	dq := ssl.New(4, 8)
	opts := &ProtoNCEOptions{Workspace: NewWorkspace()}
	call := func() {
		if _, err := ProtoNCE(dq, q, k, queue, cls, 0.2, opts); err != nil {
			t.Fatal(err)
		}
	}
	got := testing.AllocsPerRun(10, call)
	if own := ctrOwnAllocs(t, 10, call); own != 0 {
		t.Errorf("ProtoNCE allocates %v per call of its own with workspace and destinations (%v in all)", own, got)
	}
	// The rest belongs to the kernels (product packing, parallel loops) and
	// to the tensor views.
	t.Logf("%v allocations per call in all", got)
}

func FuzzProtoNCE(f *testing.F) {
	f.Add(uint8(3), uint8(4), uint8(5), uint8(2), int8(0), float32(0.2))
	f.Add(uint8(1), uint8(2), uint8(3), uint8(1), int8(7), float32(0.01))
	f.Add(uint8(2), uint8(3), uint8(2), uint8(0), int8(-1), float32(-1))
	f.Fuzz(func(t *testing.T, b, d, kc, r uint8, badID int8, tau float32) {
		bb, dd, kk, rr := int(b%6)+1, int(d%5)+1, int(kc%8)+1, int(r%4)
		q, k, queue, cls, cls64 := protonceSetup(uint64(bb*dd+kk), bb, dd, 3, rr, []int{kk}, 0.2)
		if badID != 0 {
			cls[0].Negatives = append(cls[0].Negatives, int(badID))
			cls64[0].neg = cls[0].Negatives
		}
		dq := testutil.NaNs(bb, dd)
		res, err := ProtoNCE(dq, q, k, queue, cls, float64(tau), nil)
		got := res.Loss
		if err != nil {
			ctrAllNaN(t, "dq", dq)
			return
		}
		if math.IsNaN(got) || math.IsInf(got, 0) || !kernel.AllFinite(testutil.Data(dq)) {
			t.Fatalf("ProtoNCE = %v with a non-finite result and nil error", got)
		}
		want, _ := protonceNaive(testutil.F64(q), testutil.F64(k), testutil.F64(queue), cls64, bb, dd, 3, float64(tau))
		if !testutil.Close(got, want, 1e-3*math.Max(1, math.Abs(want)), 1e-3) {
			t.Fatalf("ProtoNCE = %v, naive %v", got, want)
		}
	})
}

func BenchmarkProtoNCE(b *testing.B) {
	// PCL's ImageNet settings: r = 16384 (queue and negative prototypes), M = 3
	// clusterings of 25000, 50000 and 100000 prototypes.
	for _, sz := range []struct{ b, d, r, m int }{{256, 128, 16384, 3}} {
		b.Run(fmt.Sprintf("b%d_d%d_q%d_m%d", sz.b, sz.d, sz.r, sz.m), func(b *testing.B) {
			ks := []int{25000, 50000, 100000}[:sz.m]
			q, k, queue, cls, _ := protonceSetup(1, sz.b, sz.d, sz.r, sz.r, ks, 0.1)
			dq := ssl.New(sz.b, sz.d)
			opts := &ProtoNCEOptions{Workspace: NewWorkspace()}
			b.ReportAllocs()
			cpu0 := ctrCPUTime()
			for b.Loop() {
				if _, err := ProtoNCE(dq, q, k, queue, cls, 0.1, opts); err != nil {
					b.Fatal(err)
				}
			}
			// Work model: per term (instance and M prototype terms) two
			// B×(B+r)×D products, 2 flops per multiply-add.
			flops := float64(1+sz.m) * 2 * 2 * float64(sz.b) * float64(sz.b+sz.r) * float64(sz.d)
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/op")
			// Process CPU time (all threads) per call: stable when other
			// processes share the cores, unlike the wall time.
			b.ReportMetric((ctrCPUTime()-cpu0).Seconds()*1e3/float64(b.N), "cpu-ms/op")
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
