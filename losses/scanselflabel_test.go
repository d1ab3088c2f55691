package losses

import (
	"fmt"
	"math"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// scanSelfLabelNaive is ConfidenceBasedCE.forward transcribed in float64;
// ok is false when no row passes the threshold.
func scanSelfLabelNaive(weak, strong []float64, b, k int, th float64, balance bool) (loss float64, n int, ok bool) {
	target := make([]int, b)
	count := make([]int, k)
	for r := range b {
		p := cltSoftmax64(weak[r*k : (r+1)*k])
		best := 0
		for j := range p {
			if p[j] > p[best] {
				best = j
			}
		}
		target[r] = -1
		if p[best] > th {
			target[r] = best
			count[best]++
			n++
		}
	}
	if n == 0 {
		return 0, 0, false
	}
	var num, den float64
	for r := range b {
		if target[r] < 0 {
			continue
		}
		w := 1.0
		if balance {
			w = float64(n) / float64(count[target[r]])
		}
		row := strong[r*k : (r+1)*k]
		num += w * (cltLSE64(row) - row[target[r]])
		den += w
	}
	return num / den, n, true
}

func TestSCANSelfLabel(t *testing.T) {
	for _, tc := range []struct {
		name    string
		b, k    int
		th      float64
		balance bool
		scale   float64
	}{
		{"b16_k5_t0.9_balanced", 16, 5, 0.9, true, 4},
		{"b16_k5_t0.9_unbalanced", 16, 5, 0.9, false, 4},
		{"b2_k3_all_pass", 2, 3, 0.1, true, 3},
		{"b8_k4_t0.5", 8, 4, 0.5, false, 2},
		{"b6_k3_t0.99_large", 6, 3, 0.99, true, 20},
		{"b1_k2", 1, 2, 0, false, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rnd := testutil.Rand(uint64(tc.b*10 + tc.k))
			weak, strong := testutil.RandN(rnd, tc.scale, tc.b, tc.k), testutil.RandN(rnd, 1, tc.b, tc.k)
			wb, sb := testutil.Clone(weak), testutil.Clone(strong)
			g := testutil.NaNs(tc.b, tc.k)
			xw, xs := testutil.F64(weak), testutil.F64(strong)
			want, wantN, ok := scanSelfLabelNaive(xw, xs, tc.b, tc.k, tc.th, tc.balance)
			if !ok {
				t.Fatalf("test case has no confident row")
			}
			res, err := SCANSelfLabel(g, weak, strong, tc.th, &SCANSelfLabelOptions{Balance: tc.balance})
			got, n := res.Loss, res.Confident
			if err != nil {
				t.Fatalf("SCANSelfLabel: %v", err)
			}
			testutil.Unchanged(t, "weak", weak, wb)
			testutil.Unchanged(t, "strong", strong, sb)
			if n != wantN {
				t.Errorf("confident = %d, want %d", n, wantN)
			}
			if !testutil.Close(got, want, 1e-9, 1e-6) {
				t.Errorf("SCANSelfLabel = %.12g, want %.12g", got, want)
			}
			f := func(x []float64) float64 {
				l, _, _ := scanSelfLabelNaive(xw, x, tc.b, tc.k, tc.th, tc.balance)
				return l
			}
			cltGrad(t, "dstrong", testutil.Data(g), f, xs, 1e-6)
		})
	}
}

// TestSCANSelfLabelNoneConfident covers a batch in which no row passes
// the threshold: a data outcome, not an error. The result is zero, the
// gradient is zeroed and the error is nil.
func TestSCANSelfLabelNoneConfident(t *testing.T) {
	const b, k = 4, 3
	flat := ssl.New(b, k) // every row uniform: confidence 1/3
	s := testutil.RandN(testutil.Rand(1), 1, b, k)
	for _, tc := range []struct {
		name     string
		weak, st ssl.Tensor
		th       float64
	}{
		{"below", flat, s, 0.5},
		{"strict", ssl.New(b, 2), ssl.New(b, 2), 0.5}, // conf = 0.5 exactly, not > 0.5
	} {
		t.Run(tc.name, func(t *testing.T) {
			shape := tc.st.Shape()
			g := testutil.NaNs(shape[0], shape[1])
			res, err := SCANSelfLabel(g, tc.weak, tc.st, tc.th, &SCANSelfLabelOptions{Balance: true})
			if err != nil {
				t.Fatalf("SCANSelfLabel: %v, want nil error", err)
			}
			if res != (SCANSelfLabelResult{}) {
				t.Errorf("result %+v, want Loss 0 and Confident 0", res)
			}
			for i, v := range testutil.Data(g) {
				if v != 0 {
					t.Fatalf("dstrong[%d] = %v, want 0", i, v)
				}
			}
			if res, err := SCANSelfLabel(nil, tc.weak, tc.st, tc.th, nil); err != nil || res.Confident != 0 {
				t.Errorf("SCANSelfLabel(nil dstrong) = %+v, %v", res, err)
			}
		})
	}
}

func TestSCANSelfLabelErrors(t *testing.T) {
	const b, k = 4, 3
	s := testutil.RandN(testutil.Rand(1), 1, b, k)
	nan := testutil.Clone(s)
	testutil.Data(nan)[0] = float32(math.NaN())
	sure := ssl.FromSlice([]float32{9, 0, 0, 0, 9, 0, 0, 0, 9, 9, 0, 0}, b, k)
	for _, tc := range []struct {
		name     string
		g        ssl.Tensor
		weak, st ssl.Tensor
		th       float64
		sentinel error
		want     string
	}{
		{"threshold_one", testutil.NaNs(b, k), sure, s, 1, ssl.ErrParam, "threshold=1"},
		{"threshold_nan", testutil.NaNs(b, k), sure, s, math.NaN(), ssl.ErrParam, "threshold=NaN"},
		{"strong_shape", testutil.NaNs(b, k), sure, ssl.New(b, k+1), 0.5, ssl.ErrShape, "strong"},
		{"dst_shape", testutil.NaNs(b, 2), sure, s, 0.5, ssl.ErrShape, "dstrong"},
		{"dst_alias", s, sure, s, 0.5, ssl.ErrShape, "dstrong overlaps"},
		{"nil_weak", nil, nil, s, 0.5, ssl.ErrShape, "weak"},
		{"nan_strong", testutil.NaNs(b, k), sure, nan, 0.5, ssl.ErrNotFinite, "result is NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SCANSelfLabel(tc.g, tc.weak, tc.st, tc.th, &SCANSelfLabelOptions{Balance: true})
			cltWantErr(t, err, tc.sentinel, "losses: SCANSelfLabel", tc.want)
			if tc.g != nil && tc.g != ssl.Tensor(s) && tc.name != "nan_strong" {
				cltAllNaN(t, "dstrong", tc.g)
			}
		})
	}
}

func ExampleSCANSelfLabel() {
	// Weak-view logits decide the pseudo-labels of confident rows; the
	// strong views are trained on them.
	weak := ssl.FromSlice([]float32{6, 0, 0, 0, 0.2, 0, 0, 0, 7}, 3, 3)
	strong := ssl.FromSlice([]float32{2, 0, 0, 0, 1, 0, 0, 1, 1}, 3, 3)
	d := ssl.New(3, 3)
	res, err := SCANSelfLabel(d, weak, strong, 0.99, &SCANSelfLabelOptions{Balance: true})
	if err != nil {
		panic(err)
	}
	fmt.Printf("loss %.4f over %d confident rows\n", res.Loss, res.Confident)
	// Output:
	// loss 0.5508 over 2 confident rows
}
