package sinkhorn

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// transportNaive is POT's sinkhorn_log transcribed literally in float64
// (the same iteration as sinkhorn_knopp on the potentials, so it also
// covers costs whose kernel underflows): u = 1/N, v = b/(Kᵀu), u = a/(Kv),
// error ‖colsum − b‖₂ on updates 0, 10, …; fixed > 0 runs exactly that many.
// b is first rescaled to the total of a, as Transport documents.
func transportNaive(a, b, m []float64, n, k int, reg, stopThr float64, maxIter, fixed int) (plan []float64, iters int) {
	sa, sb := 0.0, 0.0
	for _, x := range a {
		sa += x
	}
	for _, x := range b {
		sb += x
	}
	b = append([]float64(nil), b...)
	for j := range b {
		b[j] *= sa / sb
	}
	f := make([]float64, n)
	g := make([]float64, k)
	for i := range f {
		f[i] = -math.Log(float64(n))
	}
	lse := func(xs []float64) float64 {
		mx := math.Inf(-1)
		for _, x := range xs {
			mx = math.Max(mx, x)
		}
		s := 0.0
		for _, x := range xs {
			s += math.Exp(x - mx)
		}
		return mx + math.Log(s)
	}
	col, row := make([]float64, n), make([]float64, k)
	limit := maxIter
	if fixed > 0 {
		limit = fixed
	}
	for ii := range limit {
		iters++
		for j := range k {
			for i := range n {
				col[i] = -m[i*k+j]/reg + f[i]
			}
			g[j] = math.Log(b[j]) - lse(col)
		}
		for i := range n {
			for j := range k {
				row[j] = -m[i*k+j]/reg + g[j]
			}
			f[i] = math.Log(a[i]) - lse(row)
		}
		if fixed == 0 && ii%10 == 0 {
			e := 0.0
			for j := range k {
				s := 0.0
				for i := range n {
					s += math.Exp(-m[i*k+j]/reg + f[i] + g[j])
				}
				e += (s - b[j]) * (s - b[j])
			}
			if math.Sqrt(e) < stopThr {
				break
			}
		}
	}
	plan = make([]float64, n*k)
	for i := range n {
		for j := range k {
			plan[i*k+j] = math.Exp(-m[i*k+j]/reg + f[i] + g[j])
		}
	}
	return plan, iters
}

func marginals(seed uint64, n int) *ssl.Tensor {
	r := testutil.Rand(seed)
	t := testutil.RandU(r, 0.5, 1.5, n)
	d := testutil.Data(t)
	s := float32(0)
	for _, x := range d {
		s += x
	}
	for i := range d {
		d[i] /= s
	}
	var x ssl.Tensor = t
	return &x
}

func TestTransportNaive(t *testing.T) {
	for _, tc := range []struct {
		n, k    int
		reg     float64
		offset  float64
		fixed   int
		stopThr float64
		domain  Domain
	}{
		{1, 5, 0.1, 0, 0, 1e-9, Auto}, // N = 1: plan = b
		{4, 7, 0.1, 0, 7, 0, Auto},    // K > N, 7 fixed updates
		{8, 5, 0.1, 0, 0, 1e-9, Auto},
		{8, 5, 0.1, 0, 0, 1e-9, Exp},
		{10, 6, 0.05, 0, 25, 0, Log},
		{6, 4, 0.01, 8, 0, 1e-9, Auto},  // exp(−M/reg) underflows without the shift
		{12, 9, 5e-3, 0, 0, 1e-9, Auto}, // u, v far outside float32
		{9, 5, 0.02, 30, 0, 1e-9, Log},  // M/reg ≥ 1500
		{200, 30, 0.05, 0, 0, 1e-7, Auto},
		{5, 4, 1e-3, 0, 0, 1e-9, Auto}, // POT's plain method's u, v reach 1e150
		{6, 4, 0.01, 10, 0, 1e-9, Log}, // M/reg ≥ 1000
	} {
		name := fmt.Sprintf("n%d_k%d_reg%g_off%g_it%d_%v", tc.n, tc.k, tc.reg, tc.offset, tc.fixed, tc.domain)
		t.Run(name, func(t *testing.T) {
			r := testutil.Rand(uint64(tc.n*31 + tc.k))
			a, b := *marginals(uint64(tc.n), tc.n), *marginals(uint64(tc.k)+100, tc.k)
			// Squared distances between random points in the unit square.
			xs, ys := testutil.F64(testutil.RandU(r, 0, 1, tc.n, 2)), testutil.F64(testutil.RandU(r, 0, 1, tc.k, 2))
			m := ssl.New(tc.n, tc.k)
			md := testutil.Data(m)
			for i := range tc.n {
				for j := range tc.k {
					dx, dy := xs[2*i]-ys[2*j], xs[2*i+1]-ys[2*j+1]
					md[i*tc.k+j] = float32(dx*dx + dy*dy + tc.offset)
				}
			}
			before := testutil.Clone(m)
			dst := testutil.NaNs(tc.n, tc.k)
			o := &TransportOptions{Iterations: 50000, Tol: tc.stopThr, Domain: tc.domain}
			if tc.fixed > 0 {
				o.Iterations, o.Tol = tc.fixed, 0
			}
			res, err := Transport(dst, a, b, m, tc.reg, o)
			if err != nil {
				t.Fatalf("Transport(%s): %v", name, err)
			}
			testutil.Unchanged(t, "cost", m, before)
			want, iters := transportNaive(testutil.F64(a), testutil.F64(b), testutil.F64(m), tc.n, tc.k, tc.reg, tc.stopThr, 50000, tc.fixed)
			testutil.AllClose(t, "plan", testutil.F64(dst), want, 1e-5*testutil.MaxAbs(want), 1e-4)
			if res.Iterations != iters {
				t.Errorf("Transport(%s): Iterations = %d, want %d", name, res.Iterations, iters)
			}
			// The scalings reproduce the plan.
			got := make([]float64, len(want))
			for i := range tc.n {
				for j := range tc.k {
					got[i*tc.k+j] = math.Exp(res.LogU[i] - float64(md[i*tc.k+j])/tc.reg + res.LogV[j])
				}
			}
			testutil.AllClose(t, "exp(LogU − M/reg + LogV)", got, want, 1e-5*testutil.MaxAbs(want), 1e-3)
			// Rows meet a.
			for i, ai := range testutil.Data(a) {
				s := 0.0
				for _, x := range testutil.Data(dst)[i*tc.k : (i+1)*tc.k] {
					s += float64(x)
				}
				if !testutil.Close(s, float64(ai), 1e-7, 1e-4) {
					t.Errorf("Transport(%s): row %d sums to %v, want %v", name, i, s, ai)
				}
			}
		})
	}
}

func TestTransportLogKernel(t *testing.T) {
	const n, k, reg = 7, 5, 0.2
	a, b := *marginals(1, n), *marginals(2, k)
	m := testutil.RandU(testutil.Rand(3), 0, 1, n, k)
	lk := testutil.Clone(m)
	for i, x := range testutil.Data(lk) {
		testutil.Data(lk)[i] = -x / reg
	}
	want, got := ssl.New(n, k), ssl.New(n, k)
	if _, err := Transport(want, a, b, m, reg, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Transport(got, a, b, lk, 1, &TransportOptions{LogKernel: true, Tol: 1e-9}); err != nil {
		t.Fatal(err)
	}
	testutil.AllClose(t, "plan from the log-kernel", testutil.F64(got), testutil.F64(want), 1e-7, 1e-5)
}

func TestTransportErrors(t *testing.T) {
	a, b := *marginals(1, 3), *marginals(2, 4)
	m := testutil.RandU(testutil.Rand(3), 0, 1, 3, 4)
	neg := testutil.Clone(a)
	testutil.Data(neg)[1] = -testutil.Data(neg)[1]
	big := testutil.Clone(b)
	testutil.Data(big)[0] *= 2
	nanM := testutil.Clone(m)
	testutil.Data(nanM)[6] = float32(math.NaN())
	for _, tc := range []struct {
		name     string
		dst      ssl.Tensor
		a, b, m  ssl.Tensor
		reg      float64
		opts     *TransportOptions
		sentinel error
		mention  string
	}{
		{"reg0", ssl.New(3, 4), a, b, m, 0, nil, ssl.ErrParam, "reg=0"},
		{"negative", ssl.New(3, 4), neg, b, m, 0.1, nil, ssl.ErrParam, "a[1]"},
		{"unequal", ssl.New(3, 4), a, big, m, 0.1, nil, ssl.ErrParam, "unequal totals"},
		{"nanCost", ssl.New(3, 4), a, b, nanM, 0.1, nil, ssl.ErrNotFinite, "cost[1, 2]"},
		{"aShape", ssl.New(3, 4), b, b, m, 0.1, nil, ssl.ErrShape, "a:"},
		{"dstShape", ssl.New(4, 3), a, b, m, 0.1, nil, ssl.ErrShape, "dst"},
		{"alias", m, a, b, m, 0.1, nil, ssl.ErrShape, "overlaps"},
		{"iters", ssl.New(3, 4), a, b, m, 0.1, &TransportOptions{Iterations: -1}, ssl.ErrParam, "Iterations=-1"},
		{"logU", ssl.New(3, 4), a, b, m, 0.1, &TransportOptions{LogU: make([]float64, 4)}, ssl.ErrShape, "LogU"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.Clone(tc.dst)
			_, err := Transport(tc.dst, tc.a, tc.b, tc.m, tc.reg, tc.opts)
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("Transport(%s) error = %v, want %v", tc.name, err, tc.sentinel)
			}
			if !contains(err.Error(), tc.mention) {
				t.Errorf("Transport(%s) error %q does not mention %q", tc.name, err, tc.mention)
			}
			testutil.Unchanged(t, "dst", tc.dst, before)
		})
	}
	// Not converging within Iterations returns the plan and ErrNotConverged.
	dst := testutil.NaNs(3, 4)
	res, err := Transport(dst, a, b, m, 0.01, &TransportOptions{Iterations: 2, Tol: 1e-15})
	if !errors.Is(err, ErrNotConverged) || res.Iterations != 2 || !testutil.Close(kernel32Sum(testutil.Data(dst)), 1, 1e-6, 0) {
		t.Errorf("Transport not converging: err %v, %d updates, plan mass %v", err, res.Iterations, kernel32Sum(testutil.Data(dst)))
	}
}

func kernel32Sum(x []float32) float64 {
	s := 0.0
	for _, v := range x {
		s += float64(v)
	}
	return s
}
