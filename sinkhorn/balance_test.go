package sinkhorn

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// balanceNaive is SwAV's distributed_sinkhorn transcribed literally in
// float64 (world size 1): Q = exp(S/ε)ᵀ, normalised to total mass 1, then T
// rounds of prototype-row and sample-column normalisation, returned as
// (Q·B)ᵀ. The scores are shifted by their global maximum first, which the
// first normalisation removes exactly.
func balanceNaive(s []float64, b, k int, eps float64, iters int) []float64 {
	m := math.Inf(-1)
	for _, x := range s {
		m = math.Max(m, x)
	}
	q := make([]float64, k*b) // K×B
	total := 0.0
	for i := range b {
		for j := range k {
			q[j*b+i] = math.Exp((s[i*k+j] - m) / eps)
			total += q[j*b+i]
		}
	}
	for x := range q {
		q[x] /= total
	}
	for range iters {
		for j := range k {
			r := 0.0
			for i := range b {
				r += q[j*b+i]
			}
			for i := range b {
				q[j*b+i] /= r * float64(k)
			}
		}
		for i := range b {
			c := 0.0
			for j := range k {
				c += q[j*b+i]
			}
			for j := range k {
				q[j*b+i] /= c * float64(b)
			}
		}
	}
	out := make([]float64, b*k)
	for i := range b {
		for j := range k {
			out[i*k+j] = q[j*b+i] * float64(b)
		}
	}
	return out
}

// balanceNaiveLog is the same iteration on log Q, for scores whose
// exponential underflows even in float64: every normalisation subtracts a
// log-sum-exp.
func balanceNaiveLog(s []float64, b, k int, eps float64, iters int) []float64 {
	lq := make([]float64, b*k) // B×K here
	for x := range s {
		lq[x] = s[x] / eps
	}
	lse := func(idx func(int) int, n int) float64 {
		m := math.Inf(-1)
		for t := range n {
			m = math.Max(m, lq[idx(t)])
		}
		sum := 0.0
		for t := range n {
			sum += math.Exp(lq[idx(t)] - m)
		}
		return m + math.Log(sum)
	}
	for range iters {
		for j := range k {
			l := lse(func(i int) int { return i*k + j }, b) + math.Log(float64(k))
			for i := range b {
				lq[i*k+j] -= l
			}
		}
		for i := range b {
			l := lse(func(j int) int { return i*k + j }, k) + math.Log(float64(b))
			for j := range k {
				lq[i*k+j] -= l
			}
		}
	}
	for x := range lq {
		lq[x] = math.Exp(lq[x]) * float64(b)
	}
	return lq
}

func TestBalanceNaive(t *testing.T) {
	for _, tc := range []struct {
		b, k   int
		eps    float64
		iters  int
		scale  float64
		domain Domain
	}{
		{1, 5, 0.05, 3, 1, Auto},
		{2, 2, 1, 1, 1, Auto},
		{8, 3, 0.05, 3, 1, Auto},  // K < B
		{3, 8, 0.05, 3, 1, Auto},  // K > B
		{16, 8, 0.05, 3, 1, Log},  // forced log domain
		{16, 8, 0.05, 3, 1, Exp},  // forced exp domain
		{24, 6, 0.05, 3, 6, Auto}, // scores/ε up to ±120: log domain needed
		{32, 10, 0.03, 10, 1, Auto},
		{64, 16, 0.01, 5, 1, Auto}, // tiny ε: spans 200/ε
		{17, 7, 0.05, 1, 1e3, Auto},
	} {
		name := fmt.Sprintf("b%d_k%d_e%g_i%d_s%g_%v", tc.b, tc.k, tc.eps, tc.iters, tc.scale, tc.domain)
		t.Run(name, func(t *testing.T) {
			rnd := testutil.Rand(uint64(tc.b*131 + tc.k))
			scores := testutil.RandU(rnd, -tc.scale, tc.scale, tc.b, tc.k)
			before := testutil.Clone(scores)
			dst := testutil.NaNs(tc.b, tc.k)
			res, err := Balance(dst, scores, tc.eps, &BalanceOptions{Iterations: tc.iters, Domain: tc.domain})
			if err != nil {
				t.Fatalf("Balance(%s): %v", name, err)
			}
			testutil.Unchanged(t, "scores", scores, before)
			want := balanceNaiveLog(testutil.F64(scores), tc.b, tc.k, tc.eps, tc.iters)
			if tc.scale*2/tc.eps < 700 {
				// Both oracles agree where float64 exp does not underflow.
				testutil.AllClose(t, "oracles", balanceNaive(testutil.F64(scores), tc.b, tc.k, tc.eps, tc.iters), want, 1e-12, 1e-9)
			}
			testutil.AllClose(t, "codes", testutil.F64(dst), want, 1e-5*testutil.MaxAbs(want), 1e-4)
			if res.Iterations != tc.iters {
				t.Errorf("Balance(%s): Iterations = %d, want %d", name, res.Iterations, tc.iters)
			}
			if res.Plan != ssl.Tensor(dst) {
				t.Errorf("Balance(%s): Plan is not dst", name)
			}
		})
	}
}

func TestBalanceErrors(t *testing.T) {
	good := testutil.RandN(testutil.Rand(1), 1, 4, 3)
	nan := testutil.Clone(good)
	testutil.Data(nan)[5] = float32(math.NaN())
	for _, tc := range []struct {
		name     string
		dst, s   ssl.Tensor
		eps      float64
		opts     *BalanceOptions
		sentinel error
		mention  string
	}{
		{"eps0", ssl.New(4, 3), good, 0, nil, ssl.ErrParam, "eps=0"},
		{"epsNaN", ssl.New(4, 3), good, math.NaN(), nil, ssl.ErrParam, "eps=NaN"},
		{"epsInf", ssl.New(4, 3), good, math.Inf(1), nil, ssl.ErrParam, "eps=+Inf"},
		{"empty", ssl.New(0, 3), ssl.New(0, 3), 0.05, nil, ssl.ErrShape, "scores is empty (shape (0, 3))"},
		{"emptyK", ssl.New(3, 0), ssl.New(3, 0), 0.05, nil, ssl.ErrShape, "scores is empty (shape (3, 0))"},
		{"dstShape", ssl.New(3, 4), good, 0.05, nil, ssl.ErrShape, "dst"},
		{"alias", good, good, 0.05, nil, ssl.ErrShape, "overlaps"},
		{"nan", ssl.New(4, 3), nan, 0.05, nil, ssl.ErrNotFinite, "scores[1, 2]"},
		{"iters", ssl.New(4, 3), good, 0.05, &BalanceOptions{Iterations: -1}, ssl.ErrParam, "Iterations=-1"},
		{"tol", ssl.New(4, 3), good, 0.05, &BalanceOptions{Tol: -1}, ssl.ErrParam, "Tol=-1"},
		{"domain", ssl.New(4, 3), good, 0.05, &BalanceOptions{Domain: 7}, ssl.ErrParam, "Domain=7"},
		{"expUnderflow", ssl.New(4, 3), good, 0.001, &BalanceOptions{Domain: Exp}, ssl.ErrNotFinite, "float32 range"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before ssl.Tensor
			if _, d, err := ssl.View(tc.dst); err == nil && len(d) > 0 {
				before = testutil.Clone(tc.dst)
			}
			_, err := Balance(tc.dst, tc.s, tc.eps, tc.opts)
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("Balance(%s) error = %v, want %v", tc.name, err, tc.sentinel)
			}
			if !contains(err.Error(), tc.mention) {
				t.Errorf("Balance(%s) error %q does not mention %q", tc.name, err, tc.mention)
			}
			if before != nil && tc.name != "alias" && tc.name != "expUnderflow" {
				testutil.Unchanged(t, "dst", tc.dst, before)
			}
		})
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
