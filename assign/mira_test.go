package assign

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// miraNaive transcribes the authors' mira() in float64: softmax, then the
// fixed-point iteration on v, then the target.
func miraNaive(logits []float64, b, k int, tau, beta float64, iters int) []float64 {
	p := make([]float64, b*k)
	for i := range b {
		mx := math.Inf(-1)
		for j := range k {
			mx = math.Max(mx, logits[i*k+j]/tau/(1-beta))
		}
		var s float64
		for j := range k {
			p[i*k+j] = math.Exp(logits[i*k+j]/tau/(1-beta) - mx)
			s += p[i*k+j]
		}
		for j := range k {
			p[i*k+j] /= s
		}
	}
	v := make([]float64, k)
	for j := range k {
		for i := range b {
			v[j] += p[i*k+j] / float64(b)
		}
		v[j] = math.Pow(v[j], 1-beta)
	}
	w := make([]float64, k)
	weights := func() {
		for j := range k {
			w[j] = math.Pow(v[j], -beta/(1-beta))
		}
	}
	rowsum := func(i int) float64 {
		var s float64
		for j := range k {
			s += w[j] * p[i*k+j]
		}
		return s
	}
	for range iters {
		weights()
		nv := make([]float64, k)
		for i := range b {
			r := rowsum(i)
			for j := range k {
				nv[j] += p[i*k+j] / r / float64(b)
			}
		}
		for j := range k {
			v[j] = math.Pow(nv[j], 1-beta)
		}
	}
	weights()
	t := make([]float64, b*k)
	for i := range b {
		r := rowsum(i)
		for j := range k {
			t[i*k+j] = w[j] * p[i*k+j] / r
		}
	}
	return t
}

func TestMIRANaive(t *testing.T) {
	for _, tc := range []struct {
		name      string
		b, k      int
		std       float64
		tau, beta float64
		iters     int
	}{
		{"b1_k5", 1, 5, 1, 0.225, 0.75, 30},
		{"b2_k2", 2, 2, 1, 0.5, 0.5, 1},
		{"b16_k40_KgtB", 16, 40, 1, 0.225, 0.75, 30},
		{"b200_k7_KltB_beta09", 200, 7, 1, 0.225, 0.9, 10},
		{"b1_k8_large", 1, 8, 8, 0.1, 0.5, 5}, // logits/(τ(1−β)) spanning about ±500: beyond float32, within float64
		{"b3_k4_beta_small", 3, 4, 1, 1, 0.01, 3},
		{"b130_k33_tau001", 130, 33, 0.3, 0.01, 2.0 / 3, 30}, // more than two row blocks
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed := uint64(tc.b*1000 + tc.k)
			logits := testutil.RandN(testutil.Rand(seed), tc.std, tc.b, tc.k)
			lc := testutil.Clone(logits)
			dst := testutil.NaNs(tc.b, tc.k)
			res, err := MIRA(dst, logits, tc.tau, tc.beta, &MIRAOptions{Iterations: tc.iters})
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			testutil.Unchanged(t, "logits", logits, lc)
			if res.Iterations != tc.iters || res.Target != ssl.Tensor(dst) {
				t.Errorf("Iterations %d, Target %p; want %d, dst", res.Iterations, res.Target, tc.iters)
			}
			want := miraNaive(testutil.F64(logits), tc.b, tc.k, tc.tau, tc.beta, tc.iters)
			for i, v := range want {
				if math.IsNaN(v) {
					t.Skipf("the float64 oracle is NaN at %d (underflow); covered by TestMIRAUnderflow", i)
				}
			}
			testutil.AllClose32(t, "target", testutil.Data(dst), want, 1e-7, 1e-5)
			for i := range tc.b {
				if s := sum64(testutil.Data(dst)[i*tc.k : (i+1)*tc.k]); math.Abs(s-1) > 1e-5 {
					t.Errorf("row %d sums to %v", i, s)
				}
			}
		})
	}
}

func sum64(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v)
	}
	return s
}

// TestMIRAFixedPoint runs to convergence and checks that v satisfies
// v = (mean_b [p_bk / Σ_j w_j(v) p_bj])^(1−β) (the fixed-point equation)
// to tolerance, recomputed independently from the returned target: at the
// fixed point mean_b target_bk = w_k v_k^(1/(1−β)) = v_k^(1/(1−β) − β/(1−β))
// = v_k, so the column means of target equal v.
func TestMIRAFixedPoint(t *testing.T) {
	b, k, tau, beta := 64, 10, 0.225, 0.75
	logits := testutil.RandN(testutil.Rand(9), 0.5, b, k)
	ws := NewWorkspace(b, k)
	res, err := MIRA(nil, logits, tau, beta, &MIRAOptions{Iterations: 5000, Tol: 1e-12, Workspace: ws})
	if err != nil {
		t.Fatalf("%v (residual %v after %d)", err, res.Residual, res.Iterations)
	}
	if res.Iterations >= 5000 || res.Residual > 1e-12 {
		t.Fatalf("did not converge: %+v", res)
	}
	// v from the workspace; the equation evaluated naively.
	v := slices.Clone(ws.v)
	p := make([]float64, b*k)
	lv := testutil.F64(logits)
	for i := range b {
		var s float64
		for j := range k {
			p[i*k+j] = math.Exp(lv[i*k+j] / tau / (1 - beta))
			s += p[i*k+j]
		}
		for j := range k {
			p[i*k+j] /= s
		}
	}
	for j := range k {
		var m float64
		for i := range b {
			var r float64
			for q := range k {
				r += math.Pow(v[q], -beta/(1-beta)) * p[i*k+q]
			}
			m += p[i*k+j] / r / float64(b)
		}
		// 1e-6: MIRA stores these p (span ≤ 60) in float32, whose rounding
		// (6e-8 relative) moves the fixed point by about that much.
		if f := math.Pow(m, 1-beta); math.Abs(f/v[j]-1) > 1e-6 {
			t.Errorf("F(v)_%d = %v, v_%d = %v", j, f, j, v[j])
		}
		col := 0.0
		for i := range b {
			col += float64(testutil.Data(res.Target)[i*k+j]) / float64(b)
		}
		if math.Abs(col-v[j]) > 1e-5*v[j] {
			t.Errorf("mean_b target_b%d = %v, want v = %v", j, col, v[j])
		}
	}
	// A tolerance that 2 iterations cannot meet returns the partial result.
	res, err = MIRA(nil, logits, tau, beta, &MIRAOptions{Iterations: 2, Tol: 1e-12, Workspace: ws})
	if !errors.Is(err, ErrNotConverged) || !errors.Is(err, ssl.ErrNotConverged) || errors.Is(err, ssl.ErrParam) || res.Iterations != 2 || res.Target == nil {
		t.Errorf("err = %v, result %+v; want ErrNotConverged after 2", err, res)
	}
	// The complete result: the same target as exactly 2 iterations.
	exact, err := MIRA(nil, logits, tau, beta, &MIRAOptions{Iterations: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(testutil.Data(exact.Target), testutil.Data(res.Target)) {
		t.Errorf("the unconverged result differs from Iterations=2 without Tol")
	}
	// One workspace serves any size: grown on demand, and results do not
	// depend on what it held before.
	small := testutil.RandN(testutil.Rand(4), 0.5, 5, 3)
	a, err := MIRA(nil, small, tau, beta, &MIRAOptions{Workspace: ws})
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := MIRA(nil, small, tau, beta, &MIRAOptions{Workspace: new(Workspace)})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(testutil.Data(a.Target), testutil.Data(fresh.Target)) {
		t.Errorf("a reused workspace changes the result")
	}
}

// TestMIRAUnderflow: a class whose probability underflows float64 in every
// row gets target 0, and the other columns stay finite and sum to 1.
func TestMIRAUnderflow(t *testing.T) {
	logits := ssl.FromSlice([]float32{1, 0.5, -1, 0.9, 0.4, -1}, 2, 3)
	res, err := MIRA(nil, logits, 0.001, 0.5, nil) // scaled gap 4000: e^-4000 = 0
	if err != nil {
		t.Fatal(err)
	}
	tv := testutil.Data(res.Target)
	for i := range 2 {
		if tv[i*3+2] != 0 || math.Abs(sum64(tv[i*3:i*3+3])-1) > 1e-6 {
			t.Errorf("row %d = %v", i, tv[i*3:i*3+3])
		}
	}
}

func TestMIRADeterministic(t *testing.T) {
	logits := testutil.RandN(testutil.Rand(3), 1, 300, 17)
	run := func(procs int) []float32 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		res, err := MIRA(nil, logits, 0.225, 0.75, nil)
		if err != nil {
			t.Fatal(err)
		}
		return testutil.Data(res.Target)
	}
	if !slices.Equal(run(1), run(4)) {
		t.Errorf("results differ between GOMAXPROCS 1 and 4")
	}
}

func TestMIRAErrors(t *testing.T) {
	logits := testutil.RandN(testutil.Rand(1), 1, 4, 3)
	bad := testutil.Clone(logits)
	testutil.Data(bad)[5] = float32(math.NaN())
	dst := testutil.NaNs(4, 3)
	for _, tc := range []struct {
		name      string
		dst, l    ssl.Tensor
		tau, beta float64
		opts      *MIRAOptions
		sentinel  error
		sub       string
	}{
		{"tau0", dst, logits, 0, 0.5, nil, ssl.ErrParam, "tau=0"},
		{"tauInf", dst, logits, math.Inf(1), 0.5, nil, ssl.ErrParam, "tau=+Inf"},
		{"beta1", dst, logits, 0.2, 1, nil, ssl.ErrParam, "beta=1"},
		{"betaNaN", dst, logits, 0.2, math.NaN(), nil, ssl.ErrParam, "beta=NaN"},
		{"nan", dst, bad, 0.2, 0.5, nil, ssl.ErrNotFinite, "logits[1,2]"},
		{"dstShape", ssl.New(3, 4), logits, 0.2, 0.5, nil, ssl.ErrShape, "dst"},
		{"alias", logits, logits, 0.2, 0.5, nil, ssl.ErrShape, "overlaps"},
		{"iters", dst, logits, 0.2, 0.5, &MIRAOptions{Iterations: -1}, ssl.ErrParam, "Iterations"},
		{"tol", dst, logits, 0.2, 0.5, &MIRAOptions{Tol: -1}, ssl.ErrParam, "Tol"},
		{"empty", dst, ssl.New(0, 3), 0.2, 0.5, nil, ssl.ErrShape, "0×3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := MIRA(tc.dst, tc.l, tc.tau, tc.beta, tc.opts)
			if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.sub) {
				t.Fatalf("err = %v, want %v naming %q", err, tc.sentinel, tc.sub)
			}
			for i, v := range testutil.Data(dst) {
				if !math.IsNaN(float64(v)) {
					t.Fatalf("dst[%d] written on error", i)
				}
			}
		})
	}
}

func BenchmarkMIRA(b *testing.B) {
	for _, sz := range []struct{ b, k int }{{256, 64}, {4096, 3000}} {
		b.Run(fmt.Sprintf("b%d_k%d", sz.b, sz.k), func(b *testing.B) {
			logits := testutil.RandU(testutil.Rand(1), -1, 1, sz.b, sz.k) // cosine scores, as MIRA's head gives
			dst, opts := ssl.New(sz.b, sz.k), &MIRAOptions{Workspace: NewWorkspace(sz.b, sz.k)}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := MIRA(dst, logits, 0.225, 0.75, opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/op")
		})
	}
}
