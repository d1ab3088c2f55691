package losses

import (
	"fmt"
	"math"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// iicNaive is IID_loss(softmax(l1), softmax(l2), λ, EPS) transcribed in
// float64: the symmetrised normalised joint, marginals before the clamp,
// entries below EPS replaced by EPS.
func iicNaive(l1, l2 []float64, b, k int, lam float64) float64 {
	const eps = 2.220446049250313e-16
	j := make([]float64, k*k)
	for r := range b {
		p1 := cltSoftmax64(l1[r*k : (r+1)*k])
		p2 := cltSoftmax64(l2[r*k : (r+1)*k])
		for i := range k {
			for c := range k {
				j[i*k+c] += p1[i] * p2[c]
			}
		}
	}
	sym := make([]float64, k*k)
	var tot float64
	for i := range k {
		for c := range k {
			sym[i*k+c] = (j[i*k+c] + j[c*k+i]) / 2
			tot += sym[i*k+c]
		}
	}
	pi, pj := make([]float64, k), make([]float64, k)
	for i := range k {
		for c := range k {
			sym[i*k+c] /= tot
		}
	}
	for i := range k {
		for c := range k {
			pi[i] += sym[i*k+c]
			pj[c] += sym[i*k+c]
		}
	}
	var loss float64
	for i := range k {
		for c := range k {
			v := math.Max(sym[i*k+c], eps)
			loss -= v * (math.Log(v) - lam*math.Log(math.Max(pj[c], eps)) - lam*math.Log(math.Max(pi[i], eps)))
		}
	}
	return loss
}

func TestIIC(t *testing.T) {
	for _, tc := range []struct {
		name  string
		b, k  int
		lam   float64
		scale float64
	}{
		{"b8_k3_lamb1", 8, 3, 1, 1},
		{"b2_k2", 2, 2, 1, 1},
		{"b4_k10_K>B", 4, 10, 1, 1},
		{"b16_k5_lamb1.5", 16, 5, 1.5, 1},
		{"b6_k4_lamb2", 6, 4, 2, 2},
		{"b1_k3", 1, 3, 1, 1},
		{"b5_k4_lamb0", 5, 4, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rnd := testutil.Rand(uint64(tc.b*10 + tc.k))
			l1, l2 := testutil.RandN(rnd, tc.scale, tc.b, tc.k), testutil.RandN(rnd, tc.scale, tc.b, tc.k)
			b1, b2 := testutil.Clone(l1), testutil.Clone(l2)
			g1, g2 := testutil.NaNs(tc.b, tc.k), testutil.NaNs(tc.b, tc.k)
			got, err := IIC(g1, g2, l1, l2, tc.lam, nil)
			if err != nil {
				t.Fatalf("IIC: %v", err)
			}
			testutil.Unchanged(t, "logits1", l1, b1)
			testutil.Unchanged(t, "logits2", l2, b2)
			x1, x2 := testutil.F64(l1), testutil.F64(l2)
			want := iicNaive(x1, x2, tc.b, tc.k, tc.lam)
			if !testutil.Close(got, want, 1e-9, 1e-6) {
				t.Errorf("IIC = %.12g, want %.12g", got, want)
			}
			cltGrad(t, "dlogits1", testutil.Data(g1), func(x []float64) float64 { return iicNaive(x, x2, tc.b, tc.k, tc.lam) }, x1, 1e-6)
			cltGrad(t, "dlogits2", testutil.Data(g2), func(x []float64) float64 { return iicNaive(x1, x, tc.b, tc.k, tc.lam) }, x2, 1e-6)
			// The loss is symmetric in the two heads.
			sw, err := IIC(nil, nil, l2, l1, tc.lam, nil)
			if err != nil || !testutil.Close(sw, got, 1e-12, 1e-9) {
				t.Errorf("IIC with the heads swapped = %v, %v; want %v", sw, err, got)
			}
		})
	}
}

// TestIICClamp covers logits ×60: most joint entries fall below EPS and
// are clamped (constants with no gradient). The gradient is then checked
// against the oracle's finite differences away from the clamp boundary.
func TestIICClamp(t *testing.T) {
	const b, k = 6, 5
	rnd := testutil.Rand(60)
	l1, l2 := testutil.RandN(rnd, 60, b, k), testutil.RandN(rnd, 60, b, k)
	g1, g2 := testutil.NaNs(b, k), testutil.NaNs(b, k)
	got, err := IIC(g1, g2, l1, l2, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	x1, x2 := testutil.F64(l1), testutil.F64(l2)
	if want := iicNaive(x1, x2, b, k, 1); !testutil.Close(got, want, 1e-9, 1e-6) {
		t.Errorf("IIC = %.12g, want %.12g", got, want)
	}
	cltFinite(t, "dlogits1", testutil.Data(g1))
	cltGrad(t, "dlogits1", testutil.Data(g1), func(x []float64) float64 { return iicNaive(x, x2, b, k, 1) }, x1, 1e-7)
	cltGrad(t, "dlogits2", testutil.Data(g2), func(x []float64) float64 { return iicNaive(x1, x, b, k, 1) }, x2, 1e-7)
}

func TestIICErrors(t *testing.T) {
	const b, k = 4, 3
	l := testutil.RandN(testutil.Rand(1), 1, b, k)
	nan := testutil.Clone(l)
	testutil.Data(nan)[2] = float32(math.NaN())
	shared := make([]float32, b*k)
	for _, tc := range []struct {
		name     string
		g1, g2   ssl.Tensor
		l1, l2   ssl.Tensor
		lam      float64
		sentinel error
		want     string
	}{
		{"nil", nil, nil, nil, l, 1, ssl.ErrShape, "logits1"},
		{"shape", nil, nil, l, ssl.New(b, k+1), 1, ssl.ErrShape, "logits2"},
		{"empty", nil, nil, ssl.New(0, k), ssl.New(0, k), 1, ssl.ErrShape, "logits1"},
		{"dst_shape", testutil.NaNs(b+1, k), nil, l, l, 1, ssl.ErrShape, "dlogits1"},
		{"dst_alias", nil, l, l, testutil.Clone(l), 1, ssl.ErrShape, "dlogits2 overlaps"},
		{"dsts_overlap", ssl.FromSlice(shared, b, k), ssl.FromSlice(shared, b, k), l, l, 1, ssl.ErrShape, "dlogits1 and dlogits2 overlap"},
		{"lambda_negative", testutil.NaNs(b, k), nil, l, l, -1, ssl.ErrParam, "lambda=-1"},
		{"lambda_nan", testutil.NaNs(b, k), nil, l, l, math.NaN(), ssl.ErrParam, "lambda=NaN"},
		{"nan_logits", testutil.NaNs(b, k), nil, nan, l, 1, ssl.ErrNotFinite, "loss"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := IIC(tc.g1, tc.g2, tc.l1, tc.l2, tc.lam, nil)
			cltWantErr(t, err, tc.sentinel, "losses: IIC", tc.want)
			if tc.g1 != nil && tc.name != "dsts_overlap" {
				cltAllNaN(t, "dlogits1", tc.g1)
			}
		})
	}
}

func ExampleIIC() {
	// Cluster logits of two augmentations of four images, three clusters.
	l1 := ssl.FromSlice([]float32{3, 0, 0, 0, 3, 0, 0, 0, 3, 3, 0, 0}, 4, 3)
	l2 := ssl.FromSlice([]float32{2, 0, 1, 0, 2, 0, 0, 1, 2, 2, 1, 0}, 4, 3)
	d1, d2 := ssl.New(4, 3), ssl.New(4, 3)
	loss, err := IIC(d1, d2, l1, l2, 1, nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("loss %.4f (−I(z, z′))\n", loss)
	// Output:
	// loss -0.1910 (−I(z, z′))
}
