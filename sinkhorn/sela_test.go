package sinkhorn

import (
	"errors"
	"fmt"
	"math"
	"testing"

	"ssl"
	"ssl/internal/kernel"
	"ssl/internal/testutil"
)

// selaNaive is SeLa's optimize_L_sk transcribed literally in float64 on
// log values (P^λ underflows float64 for the peaked cases): A = P^λ (K×N
// in the paper, N×K here), c = 1/N, r = (1/K)/(A c), c' = (1/N)/(Aᵀ r),
// err = Σ|c/c' − 1| every checkEvery updates, stop when err ≤ stopErr.
// It returns Q (N×K), the labels, the updates and the last error.
func selaNaive(p []float64, n, k int, lambda, stopErr float64, checkEvery int) (q []float64, labels []int, iters int, lastErr float64) {
	la := make([]float64, n*k) // log A
	for x, v := range p {
		la[x] = lambda * math.Log(v)
	}
	logc := make([]float64, n)
	logr := make([]float64, k)
	for j := range logc {
		logc[j] = -math.Log(float64(n))
	}
	lse := func(xs []float64) float64 {
		m := math.Inf(-1)
		for _, x := range xs {
			m = math.Max(m, x)
		}
		s := 0.0
		for _, x := range xs {
			s += math.Exp(x - m)
		}
		return m + math.Log(s)
	}
	col, row := make([]float64, n), make([]float64, k)
	lastErr = 1e6
	for lastErr > stopErr {
		for l := range k {
			for j := range n {
				col[j] = la[j*k+l] + logc[j]
			}
			logr[l] = -math.Log(float64(k)) - lse(col)
		}
		e := 0.0
		for j := range n {
			for l := range k {
				row[l] = la[j*k+l] + logr[l]
			}
			newc := -math.Log(float64(n)) - lse(row)
			e += math.Abs(math.Exp(logc[j]-newc) - 1)
			logc[j] = newc
		}
		if iters%checkEvery == 0 {
			lastErr = e
		}
		iters++
	}
	q = make([]float64, n*k)
	labels = make([]int, n)
	for j := range n {
		best := math.Inf(-1)
		for l := range k {
			q[j*k+l] = math.Exp(logr[l] + la[j*k+l] + logc[j])
			if q[j*k+l] > best {
				best, labels[j] = q[j*k+l], l
			}
		}
	}
	return q, labels, iters, lastErr
}

func softmaxProbs(seed uint64, std float64, n, k int) ssl.Tensor {
	t := testutil.RandN(testutil.Rand(seed), std, n, k)
	d := testutil.Data(t)
	kernel.SoftmaxRows(d, d, n, k)
	return t
}

func TestSeLaNaive(t *testing.T) {
	for _, tc := range []struct {
		n, k   int
		lambda float64
		std    float64
		domain Domain
	}{
		{2, 3, 25, 1, Auto},   // N = 2
		{16, 24, 25, 1, Auto}, // K > N
		{64, 4, 10, 4, Auto},  // peaked
		{32, 8, 25, 1, Auto},
		{32, 8, 25, 1, Log},
		{32, 8, 25, 1, Exp},
		{48, 10, 2.5, 1, Auto}, // non-integer λ
		{40, 6, 25, 3, Log},
		{300, 7, 25, 2, Auto}, // several row blocks
	} {
		name := fmt.Sprintf("n%d_k%d_l%g_s%g_%v", tc.n, tc.k, tc.lambda, tc.std, tc.domain)
		t.Run(name, func(t *testing.T) {
			probs := softmaxProbs(uint64(tc.n*7+tc.k), tc.std, tc.n, tc.k)
			before := testutil.Clone(probs)
			plan := testutil.NaNs(tc.n, tc.k)
			logR, logC := make([]float64, tc.k), make([]float64, tc.n)
			res, err := SeLa(nil, plan, probs, tc.lambda, &SeLaOptions{Domain: tc.domain, Tol: 0.1, LogR: logR, LogC: logC})
			if err != nil {
				t.Fatalf("SeLa(%s): %v", name, err)
			}
			testutil.Unchanged(t, "probs", probs, before)
			q, labels, iters, lastErr := selaNaive(testutil.F64(probs), tc.n, tc.k, tc.lambda, 0.1, 10)
			testutil.AllClose(t, "Q", testutil.F64(plan), q, 1e-5*testutil.MaxAbs(q), 1e-4)
			if res.Iterations != iters {
				t.Errorf("SeLa(%s): Iterations = %d, want %d", name, res.Iterations, iters)
			}
			if !testutil.Close(res.Residual, lastErr, 1e-9, 1e-4) {
				t.Errorf("SeLa(%s): Residual = %v, want %v", name, res.Residual, lastErr)
			}
			for j := range labels {
				if res.Labels[j] != labels[j] {
					t.Errorf("SeLa(%s): Labels[%d] = %d, want %d", name, j, res.Labels[j], labels[j])
					break
				}
			}
			if tc.domain != Auto && res.LogDomain != (tc.domain == Log) {
				t.Errorf("SeLa(%s): LogDomain = %v", name, res.LogDomain)
			}
			// The scaling vectors reproduce the plan.
			p := testutil.F64(probs)
			got := make([]float64, len(q))
			for j := range tc.n {
				for l := range tc.k {
					got[j*tc.k+l] = math.Exp(logC[j] + tc.lambda*math.Log(p[j*tc.k+l]) + logR[l])
				}
			}
			testutil.AllClose(t, "exp(LogC + λ log P + LogR)", got, q, 1e-5*testutil.MaxAbs(q), 1e-4)
			// Marginals: samples exactly 1/N, labels about 1/K.
			for j := range tc.n {
				if s := kernel.Sum(testutil.Data(plan)[j*tc.k : (j+1)*tc.k]); !testutil.Close(s, 1/float64(tc.n), 0, 1e-5) {
					t.Errorf("SeLa(%s): row %d sums to %v, want 1/N", name, j, s)
				}
			}
		})
	}
}

func TestSeLaInPlace(t *testing.T) {
	const n, k = 50, 6
	for _, d := range []Domain{Auto, Log} {
		probs := softmaxProbs(3, 2, n, k)
		want := testutil.NaNs(n, k)
		wres, err := SeLa(nil, want, probs, 25, &SeLaOptions{Domain: d, Tol: 0.1})
		if err != nil {
			t.Fatal(err)
		}
		buf := testutil.Clone(probs)
		res, err := SeLa(nil, buf, buf, 25, &SeLaOptions{Domain: d, Tol: 0.1, InPlace: true})
		if err != nil {
			t.Fatalf("SeLa in place (%v): %v", d, err)
		}
		testutil.AllClose(t, "in-place plan", testutil.F64(buf), testutil.F64(want), 0, 1e-6)
		if res.Iterations != wres.Iterations {
			t.Errorf("in place (%v): %d updates, want %d", d, res.Iterations, wres.Iterations)
		}
	}
	// Without InPlace, the plan may not alias probs.
	probs := softmaxProbs(3, 2, n, k)
	if _, err := SeLa(nil, probs, probs, 25, nil); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("SeLa(plan = probs) without InPlace: err = %v, want ErrShape", err)
	}
}

func TestSeLaNotConverged(t *testing.T) {
	probs := softmaxProbs(5, 3, 64, 5)
	labels := make([]int, 64)
	res, err := SeLa(labels, nil, probs, 25, &SeLaOptions{Iterations: 3, Tol: 1e-12})
	if !errors.Is(err, ErrNotConverged) {
		t.Fatalf("SeLa: err = %v, want ErrNotConverged", err)
	}
	if res.Iterations != 3 || &res.Labels[0] != &labels[0] {
		t.Errorf("SeLa: partial result has %d updates (want 3) and labels in the caller's slice %v", res.Iterations, &res.Labels[0] == &labels[0])
	}
}

func TestSeLaErrors(t *testing.T) {
	good := softmaxProbs(1, 1, 4, 3)
	mod := func(i int, v float32) ssl.Tensor {
		c := testutil.Clone(good)
		testutil.Data(c)[i] = v
		return c
	}
	zeroCol := testutil.Clone(good)
	for j := range 4 {
		testutil.Data(zeroCol)[j*3+1] = 0
	}
	for _, tc := range []struct {
		name     string
		labels   []int
		plan     ssl.Tensor
		probs    ssl.Tensor
		lambda   float64
		opts     *SeLaOptions
		sentinel error
		mention  string
	}{
		{"lambda0", nil, nil, good, 0, nil, ssl.ErrParam, "lambda=0"},
		{"lambdaInf", nil, nil, good, math.Inf(1), nil, ssl.ErrParam, "lambda=+Inf"},
		{"empty", nil, nil, ssl.New(0, 3), 25, nil, ssl.ErrShape, "probs is empty (shape (0, 3))"},
		{"nan", nil, nil, mod(4, float32(math.NaN())), 25, nil, ssl.ErrNotFinite, "probs[1, 1]"},
		{"inf", nil, nil, mod(5, float32(math.Inf(1))), 25, nil, ssl.ErrNotFinite, "probs[1, 2]"},
		{"negative", nil, nil, mod(2, -0.1), 25, nil, ssl.ErrParam, "probs[0, 2] is negative"},
		{"zeroColumn", nil, nil, zeroCol, 25, nil, ssl.ErrParam, "column 1"},
		{"labels", make([]int, 3), nil, good, 25, nil, ssl.ErrShape, "labels has length 3"},
		{"plan", nil, ssl.New(3, 4), good, 25, nil, ssl.ErrShape, "plan"},
		{"logR", nil, nil, good, 25, &SeLaOptions{LogR: make([]float64, 2)}, ssl.ErrShape, "LogR"},
		{"stop", nil, nil, good, 25, &SeLaOptions{Tol: -1}, ssl.ErrParam, "Tol=-1"},
		{"iters", nil, nil, good, 25, &SeLaOptions{Iterations: -1}, ssl.ErrParam, "Iterations=-1"},
		{"check", nil, nil, good, 25, &SeLaOptions{CheckEvery: -2}, ssl.ErrParam, "CheckEvery=-2"},
		{"domain", nil, nil, good, 25, &SeLaOptions{Domain: -1}, ssl.ErrParam, "Domain=-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before ssl.Tensor = tc.probs
			if tc.name != "empty" {
				before = testutil.Clone(tc.probs)
			}
			_, err := SeLa(tc.labels, tc.plan, tc.probs, tc.lambda, tc.opts)
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("SeLa(%s) error = %v, want %v", tc.name, err, tc.sentinel)
			}
			if !contains(err.Error(), tc.mention) {
				t.Errorf("SeLa(%s) error %q does not mention %q", tc.name, err, tc.mention)
			}
			if tc.name != "empty" {
				testutil.Unchanged(t, "probs", tc.probs, before)
			}
		})
	}
}
