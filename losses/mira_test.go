package losses

import (
	"fmt"
	"math"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// miraNaive is train.py's loss_func transcribed in float64: target t ∈
// {0, 1} supervises every view but view t, each term the mean over the
// (V−1)·B rows of −Σ_k target·log_softmax(q/τ_s); the loss is their mean.
func miraNaive(q, t0, t1 []float64, v, b, k int, tau float64) float64 {
	var total float64
	for ti, tg := range [][]float64{t0, t1} {
		var sum float64
		for view := range v {
			if view == ti {
				continue
			}
			for i := range b {
				row := make([]float64, k)
				for j := range k {
					row[j] = q[(view*b+i)*k+j] / tau
				}
				lse := cltLSE64(row)
				for j := range k {
					sum -= tg[i*k+j] * (row[j] - lse)
				}
			}
		}
		total += sum / float64((v-1)*b)
	}
	return total / 2
}

// miraTargets returns random distributions over k for b rows.
func miraTargets(seed uint64, b, k int) ssl.Tensor {
	t := testutil.RandN(testutil.Rand(seed), 2, b, k)
	d := testutil.Data(t)
	for i := range b {
		p := cltSoftmax64(testutil.F64s(d[i*k : (i+1)*k]))
		copy(d[i*k:(i+1)*k], testutil.F32s(p))
	}
	return t
}

func TestMIRA(t *testing.T) {
	for _, tc := range []struct {
		name    string
		v, b, k int
		tau     float64
		scale   float64
	}{
		{"v2_b4_k3", 2, 4, 3, 0.1, 1},
		{"v2_b2_k6", 2, 2, 6, 0.1, 1},
		{"v3_b5_k4", 3, 5, 4, 0.1, 1},
		{"v4_b8_k5_local", 4, 8, 5, 0.2, 1},
		{"v2_b1_k4_batch1", 2, 1, 4, 0.1, 1},
		{"v2_b6_k3_tau0.05_x5", 2, 6, 3, 0.05, 5},
		{"v2_b3_k4_tau1e-3", 2, 3, 4, 1e-3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rnd := testutil.Rand(uint64(tc.v*100 + tc.b*10 + tc.k))
			q := testutil.RandU(rnd, -tc.scale, tc.scale, tc.v, tc.b, tc.k)
			t0, t1 := miraTargets(1, tc.b, tc.k), miraTargets(2, tc.b, tc.k)
			qb := testutil.Clone(q)
			g := testutil.NaNs(tc.v, tc.b, tc.k)
			got, err := MIRA(g, q, t0, t1, tc.tau, nil)
			if err != nil {
				t.Fatalf("MIRA: %v", err)
			}
			testutil.Unchanged(t, "q", q, qb)
			x, a, c := testutil.F64(q), testutil.F64(t0), testutil.F64(t1)
			want := miraNaive(x, a, c, tc.v, tc.b, tc.k, tc.tau)
			if !testutil.Close(got, want, 1e-7, 1e-5) {
				t.Errorf("MIRA = %.9g, want %.9g", got, want)
			}
			f := func(x []float64) float64 { return miraNaive(x, a, c, tc.v, tc.b, tc.k, tc.tau) }
			cltGrad(t, "dq", testutil.Data(g), f, x, 1e-6*tc.tau)
			if l, err := MIRA(nil, q, t0, t1, tc.tau, nil); err != nil || l != got {
				t.Errorf("MIRA without dq = %v, %v; want %v", l, err, got)
			}
		})
	}
}

func TestMIRAErrors(t *testing.T) {
	const v, b, k = 3, 4, 5
	q := testutil.RandN(testutil.Rand(1), 1, v, b, k)
	t0, t1 := miraTargets(1, b, k), miraTargets(2, b, k)
	nanQ := testutil.Clone(q)
	testutil.Data(nanQ)[0] = float32(math.Inf(1))
	for _, tc := range []struct {
		name     string
		g, q     ssl.Tensor
		t0, t1   ssl.Tensor
		tau      float64
		sentinel error
		want     string
	}{
		{"rank2_q", nil, ssl.New(b, k), t0, t1, 0.1, ssl.ErrShape, "q"},
		{"one_view", nil, ssl.New(1, b, k), t0, t1, 0.1, ssl.ErrShape, "V ≥ 2"},
		{"nil_q", nil, nil, t0, t1, 0.1, ssl.ErrShape, "q"},
		{"target0_shape", nil, q, ssl.New(b, k+1), t1, 0.1, ssl.ErrShape, "target0"},
		{"target1_shape", nil, q, t0, ssl.New(b+1, k), 0.1, ssl.ErrShape, "target1"},
		{"dq_shape", testutil.NaNs(v, b, k+1), q, t0, t1, 0.1, ssl.ErrShape, "dq"},
		{"dq_aliases_target", t0, q, t0, t1, 0.1, ssl.ErrShape, "dq"},
		{"tau_zero", testutil.NaNs(v, b, k), q, t0, t1, 0, ssl.ErrParam, "tauS=0"},
		{"tau_nan", testutil.NaNs(v, b, k), q, t0, t1, math.NaN(), ssl.ErrParam, "tauS=NaN"},
		{"inf_logit", nil, nanQ, t0, t1, 0.1, ssl.ErrNotFinite, "loss"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := MIRA(tc.g, tc.q, tc.t0, tc.t1, tc.tau, nil)
			cltWantErr(t, err, tc.sentinel, "losses: MIRA", tc.want)
			if tc.g != nil && tc.g != t0 {
				cltAllNaN(t, "dq", tc.g)
			}
		})
	}
}

func ExampleMIRA() {
	// Two views of two images over three clusters, and the MIRA targets of
	// the two views' teacher logits (from assign.MIRA).
	q := ssl.FromSlice([]float32{
		0.9, 0.1, -0.5, 0.0, 0.8, 0.2, // view 0
		0.7, 0.0, -0.3, -0.1, 0.9, 0.1, // view 1
	}, 2, 2, 3)
	t0 := ssl.FromSlice([]float32{0.8, 0.15, 0.05, 0.1, 0.8, 0.1}, 2, 3)
	t1 := ssl.FromSlice([]float32{0.7, 0.2, 0.1, 0.05, 0.9, 0.05}, 2, 3)
	dq := ssl.New(2, 2, 3)
	loss, err := MIRA(dq, q, t0, t1, 0.1, nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("loss %.4f\n", loss)
	// Output:
	// loss 1.7636
}
