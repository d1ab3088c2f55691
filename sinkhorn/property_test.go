package sinkhorn

import (
	"errors"
	"math"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// TestBalanceProperties checks, at convergence (Tol), that the codes meet
// both marginals, that adding a constant to a row of scores (a sample) or
// to a column (a prototype) leaves them unchanged, and that permuting
// samples and prototypes permutes the codes. A prototype shift leaves even
// the fixed-iteration codes unchanged.
func TestBalanceProperties(t *testing.T) {
	const b, k, eps = 20, 6, 0.1
	scores := testutil.RandU(testutil.Rand(11), -1, 1, b, k)
	opts := &BalanceOptions{Tol: 1e-6}
	base := ssl.New(b, k)
	res, err := Balance(base, scores, eps, opts)
	if err != nil {
		t.Fatal(err)
	}
	q := testutil.F64(base)
	for i := range b {
		s := 0.0
		for j := range k {
			s += q[i*k+j]
		}
		if !testutil.Close(s, 1, 1e-6, 0) {
			t.Errorf("row %d sums to %v, want 1", i, s)
		}
	}
	for j := range k {
		s := 0.0
		for i := range b {
			s += q[i*k+j]
		}
		if !testutil.Close(s, float64(b)/k, 2e-6, 0) {
			t.Errorf("column %d sums to %v, want B/K", j, s)
		}
	}
	if res.MarginalError > 1e-6 {
		t.Errorf("MarginalError = %v > Tol", res.MarginalError)
	}

	shifted := testutil.Clone(scores)
	sd := testutil.Data(shifted)
	for j := range k {
		sd[3*k+j] += 0.7 // a sample
	}
	for i := range b {
		sd[i*k+2] -= 0.4 // a prototype
	}
	got := ssl.New(b, k)
	if _, err := Balance(got, shifted, eps, opts); err != nil {
		t.Fatal(err)
	}
	testutil.AllClose(t, "codes after row and column shifts", testutil.F64(got), q, 1e-5, 1e-4)

	// Prototype shifts are exact for a fixed count too.
	colShift := testutil.Clone(scores)
	for i := range b {
		testutil.Data(colShift)[i*k+4] += 0.9
	}
	fixed, fixedShift := ssl.New(b, k), ssl.New(b, k)
	if _, err := Balance(fixed, scores, eps, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Balance(fixedShift, colShift, eps, nil); err != nil {
		t.Fatal(err)
	}
	testutil.AllClose(t, "fixed-count codes after a prototype shift", testutil.F64(fixedShift), testutil.F64(fixed), 1e-6, 1e-5)

	// Permutations.
	pr := testutil.Rand(12).Perm(b)
	pc := testutil.Rand(13).Perm(k)
	perm := ssl.New(b, k)
	pd, s0 := testutil.Data(perm), testutil.Data(scores)
	for i := range b {
		for j := range k {
			pd[i*k+j] = s0[pr[i]*k+pc[j]]
		}
	}
	pq := ssl.New(b, k)
	if _, err := Balance(pq, perm, eps, opts); err != nil {
		t.Fatal(err)
	}
	want := make([]float64, b*k)
	for i := range b {
		for j := range k {
			want[i*k+j] = q[pr[i]*k+pc[j]]
		}
	}
	testutil.AllClose(t, "permuted codes", testutil.F64(pq), want, 1e-6, 1e-5)
}

func TestBalanceNotConverged(t *testing.T) {
	scores := testutil.RandU(testutil.Rand(1), -1, 1, 30, 7)
	dst := testutil.NaNs(30, 7)
	res, err := Balance(dst, scores, 0.01, &BalanceOptions{Tol: 1e-12, Iterations: 2})
	if !errors.Is(err, ErrNotConverged) {
		t.Fatalf("Balance: err = %v, want ErrNotConverged", err)
	}
	if res.Iterations != 2 || !(res.MarginalError > 1e-12) {
		t.Errorf("Balance: %d iterations, marginal error %v", res.Iterations, res.MarginalError)
	}
	for i, v := range testutil.Data(dst) {
		if v != v {
			t.Fatalf("partial codes[%d] is NaN", i)
		}
	}
}

// TestBalanceLogExpAgree forces both domains on scores the exp domain can
// represent and compares them.
func TestBalanceLogExpAgree(t *testing.T) {
	scores := testutil.RandU(testutil.Rand(2), -1, 1, 50, 12)
	for _, o := range []BalanceOptions{{Iterations: 3}, {Tol: 1e-7}} {
		e, l := ssl.New(50, 12), ssl.New(50, 12)
		o.Domain = Exp
		re, err := Balance(e, scores, 0.05, &o)
		if err != nil || re.LogDomain {
			t.Fatalf("exp: %v (log %v)", err, re.LogDomain)
		}
		o.Domain = Log
		rl, err := Balance(l, scores, 0.05, &o)
		if err != nil || !rl.LogDomain {
			t.Fatalf("log: %v (log %v)", err, rl.LogDomain)
		}
		testutil.AllClose(t, "log vs exp", testutil.F64(l), testutil.F64(e), 1e-6, 1e-5)
		if re.Iterations != rl.Iterations {
			t.Errorf("iterations: exp %d, log %d", re.Iterations, rl.Iterations)
		}
	}
	// Scores whose exponential overflows float32 (scores/ε up to ±120, ±400)
	// stay finite and agree with the log domain, whichever domain Auto takes.
	for _, scale := range []float64{6, 20} {
		big := testutil.RandU(testutil.Rand(3), -scale, scale, 24, 6)
		q, ql := testutil.NaNs(24, 6), testutil.NaNs(24, 6)
		if _, err := Balance(q, big, 0.05, nil); err != nil {
			t.Fatalf("overflowing scores: %v", err)
		}
		if _, err := Balance(ql, big, 0.05, &BalanceOptions{Domain: Log}); err != nil {
			t.Fatalf("overflowing scores, log: %v", err)
		}
		for i, v := range testutil.Data(q) {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("codes[%d] = %v", i, v)
			}
		}
		testutil.AllClose(t, "auto vs log", testutil.F64(q), testutil.F64(ql), 1e-6, 1e-5)
	}
}

// TestAllocs checks that with a Workspace and destinations the solvers
// allocate nothing beyond the root package's tensor views (gorgonia's Data
// boxes the slice and View copies the shape).
func TestAllocs(t *testing.T) {
	const n, k = 300, 40
	scores := testutil.RandU(testutil.Rand(1), -1, 1, n, k)
	probs := softmaxProbs(2, 2, n, k)
	a, b := *marginals(3, n), *marginals(4, k)
	view := testing.AllocsPerRun(10, func() { _, _, _, _ = ssl.Matrix(scores) })
	ws := NewWorkspace(n, k)
	q := ssl.New(n, k)
	bo := &BalanceOptions{Workspace: ws}
	if got := testing.AllocsPerRun(10, func() { _, _ = Balance(q, scores, 0.05, bo) }); got > 2*view {
		t.Errorf("Balance allocates %v per call, its two views %v", got, 2*view)
	}
	lo := &BalanceOptions{Domain: Log, Workspace: ws}
	if got := testing.AllocsPerRun(10, func() { _, _ = Balance(q, scores, 0.05, lo) }); got > 2*view {
		t.Errorf("Balance (log domain) allocates %v per call, its two views %v", got, 2*view)
	}
	labels := make([]int, n)
	so := &SeLaOptions{LogR: make([]float64, k), LogC: make([]float64, n), Tol: 0.1, Workspace: ws}
	if _, err := SeLa(labels, q, probs, 25, so); err != nil {
		t.Fatal(err)
	}
	if got := testing.AllocsPerRun(10, func() { _, _ = SeLa(labels, q, probs, 25, so) }); got > 2*view {
		t.Errorf("SeLa allocates %v per call, its two views %v", got, 2*view)
	}
	vview := testing.AllocsPerRun(10, func() { _, _ = ssl.Vector(a) })
	to := &TransportOptions{LogU: make([]float64, n), LogV: make([]float64, k), Tol: 1e-9, Workspace: ws}
	if got := testing.AllocsPerRun(10, func() { _, _ = Transport(q, a, b, scores, 0.1, to) }); got > 2*view+2*vview {
		t.Errorf("Transport allocates %v per call, its four views %v", got, 2*view+2*vview)
	}
}
