package losses

import (
	"fmt"
	"math"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// scanNaive is SCANLoss.forward transcribed in float64; it returns the
// total, the consistency and the entropy term.
func scanNaive(a, n []float64, b, k int, w float64) (total, cons, ent float64) {
	pbar := make([]float64, k)
	for r := range b {
		pa := cltSoftmax64(a[r*k : (r+1)*k])
		pn := cltSoftmax64(n[r*k : (r+1)*k])
		var s float64
		for j := range k {
			s += pa[j] * pn[j]
			pbar[j] += pa[j] / float64(b)
		}
		cons -= math.Max(math.Log(s), -100)
	}
	cons /= float64(b)
	for _, p := range pbar {
		x := math.Max(p, 1e-8)
		ent -= x * math.Log(x)
	}
	return cons - w*ent, cons, ent
}

func TestSCAN(t *testing.T) {
	for _, tc := range []struct {
		name  string
		b, k  int
		w     float64
		scale float64
	}{
		{"b8_k10_w5", 8, 10, 5, 1},
		{"b1_k4_batch1", 1, 4, 2, 1},
		{"b2_k3", 2, 3, 1, 1},
		{"b16_k5_w2", 16, 5, 2, 1},
		{"b4_k6_w0", 4, 6, 0, 1},
		{"b6_k3_x5", 6, 3, 1, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rnd := testutil.Rand(uint64(tc.b*10 + tc.k))
			an, nb := testutil.RandN(rnd, tc.scale, tc.b, tc.k), testutil.RandN(rnd, tc.scale, tc.b, tc.k)
			ab, nbb := testutil.Clone(an), testutil.Clone(nb)
			ga, gn := testutil.NaNs(tc.b, tc.k), testutil.NaNs(tc.b, tc.k)
			res, err := SCAN(ga, gn, an, nb, tc.w, nil)
			total, cons, ent := res.Loss, res.Consistency, res.Entropy
			if err != nil {
				t.Fatalf("SCAN: %v", err)
			}
			testutil.Unchanged(t, "anchors", an, ab)
			testutil.Unchanged(t, "neighbors", nb, nbb)
			xa, xn := testutil.F64(an), testutil.F64(nb)
			wt, wc, we := scanNaive(xa, xn, tc.b, tc.k, tc.w)
			for _, c := range []struct {
				name      string
				got, want float64
			}{{"total", total, wt}, {"consistency", cons, wc}, {"entropy", ent, we}} {
				if !testutil.Close(c.got, c.want, 1e-9, 1e-6) {
					t.Errorf("SCAN %s = %.12g, want %.12g", c.name, c.got, c.want)
				}
			}
			fa := func(x []float64) float64 { v, _, _ := scanNaive(x, xn, tc.b, tc.k, tc.w); return v }
			fn := func(x []float64) float64 { v, _, _ := scanNaive(xa, x, tc.b, tc.k, tc.w); return v }
			cltGrad(t, "danchors", testutil.Data(ga), fa, xa, 1e-6*tc.scale)
			cltGrad(t, "dneighbors", testutil.Data(gn), fn, xn, 1e-6*tc.scale)
		})
	}
}

// TestSCANClamps covers the three clamps: two dead clusters (p̄ < 1e-8, no
// entropy gradient), an anchor and neighbour with logits ±60 that pick
// different clusters (s ≈ 1e-52: log s clamped at −100, BCE gradient
// bounded by 1e12/B), and an exactly agreeing pair.
func TestSCANClamps(t *testing.T) {
	const b, k = 3, 4
	an := ssl.FromSlice([]float32{
		60, -60, -60, -60,
		-60, 60, -60, -60,
		1, 2, -60, -60,
	}, b, k)
	nb := ssl.FromSlice([]float32{
		-60, 60, -60, -60,
		-60, 60, -60, -60,
		0.5, 1, -60, -60,
	}, b, k)
	ga, gn := testutil.NaNs(b, k), testutil.NaNs(b, k)
	res, err := SCAN(ga, gn, an, nb, 2, nil)
	total, cons, ent := res.Loss, res.Consistency, res.Entropy
	if err != nil {
		t.Fatal(err)
	}
	xa, xn := testutil.F64(an), testutil.F64(nb)
	wt, wc, we := scanNaive(xa, xn, b, k, 2)
	if !testutil.Close(total, wt, 1e-9, 1e-6) || !testutil.Close(cons, wc, 1e-9, 1e-6) || !testutil.Close(ent, we, 1e-9, 1e-6) {
		t.Errorf("SCAN = %v %v %v, want %v %v %v", total, cons, ent, wt, wc, we)
	}
	if cons < 100.0/3 {
		t.Errorf("consistency %v does not include the clamped −log s = 100 of row 0", cons)
	}
	cltFinite(t, "danchors", testutil.Data(ga))
	cltFinite(t, "dneighbors", testutil.Data(gn))
	// The dead clusters' columns: the entropy clamp passes no gradient and
	// the softmax gives ~0 there.
	for r := range b {
		for _, j := range []int{2, 3} {
			if v := testutil.Data(ga)[r*k+j]; math.Abs(float64(v)) > 1e-20 {
				t.Errorf("danchors[%d,%d] = %v, want ~0 (dead cluster)", r, j, v)
			}
		}
	}
	// Row 0: ∂/∂s = −1/max(s(1−s), 1e-12)/B, s ≈ 1e-52; the anchor's
	// softmax is saturated so its gradient is ~0, but it must be finite.
	// Row 1 (identical one-hot rows): s = 1 − tiny, gradient −1/(B·s)·N.
}

func TestSCANErrors(t *testing.T) {
	const b, k = 4, 3
	a := testutil.RandN(testutil.Rand(1), 1, b, k)
	inf := testutil.Clone(a)
	testutil.Data(inf)[1] = float32(math.Inf(-1))
	testutil.Data(inf)[0] = float32(math.Inf(1))
	for _, tc := range []struct {
		name     string
		ga, gn   ssl.Tensor
		an, nb   ssl.Tensor
		w        float64
		sentinel error
		want     string
	}{
		{"nil_anchors", nil, nil, nil, a, 1, ssl.ErrShape, "anchors"},
		{"neighbors_shape", nil, nil, a, ssl.New(b+1, k), 1, ssl.ErrShape, "neighbors"},
		{"danchors_shape", testutil.NaNs(b, 1), nil, a, a, 1, ssl.ErrShape, "danchors"},
		{"dneighbors_alias", nil, a, a, testutil.Clone(a), 1, ssl.ErrShape, "dneighbors overlaps"},
		{"w_nan", testutil.NaNs(b, k), nil, a, a, math.NaN(), ssl.ErrParam, "entropyWeight=NaN"},
		{"w_inf", testutil.NaNs(b, k), nil, a, a, math.Inf(1), ssl.ErrParam, "entropyWeight=+Inf"},
		{"inf_logits", testutil.NaNs(b, k), nil, inf, a, 1, ssl.ErrNotFinite, "result is NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SCAN(tc.ga, tc.gn, tc.an, tc.nb, tc.w, nil)
			cltWantErr(t, err, tc.sentinel, "losses: SCAN", tc.want)
			if tc.ga != nil {
				cltAllNaN(t, "danchors", tc.ga)
			}
		})
	}
}

func ExampleSCAN() {
	// Cluster logits of three anchors and one mined neighbor each.
	anchors := ssl.FromSlice([]float32{2, 0, 0, 0, 2, 0, 0, 0, 2}, 3, 3)
	neighbors := ssl.FromSlice([]float32{1.5, 0, 0, 0, 1, 0.5, 0, 0, 2}, 3, 3)
	da, dn := ssl.New(3, 3), ssl.New(3, 3)
	res, err := SCAN(da, dn, anchors, neighbors, 5, nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("total %.4f consistency %.4f entropy %.4f\n", res.Loss, res.Consistency, res.Entropy)
	// Output:
	// total -4.8967 consistency 0.5963 entropy 1.0986
}
