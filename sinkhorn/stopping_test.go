package sinkhorn

import (
	"errors"
	"math"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// TestErrNotConvergedWrapsRoot checks the package sentinel against the
// root's, and that every solver's non-convergence error wraps both and no
// argument sentinel, with the complete result.
func TestErrNotConvergedWrapsRoot(t *testing.T) {
	if !errors.Is(ErrNotConverged, ssl.ErrNotConverged) {
		t.Fatal("ErrNotConverged does not wrap ssl.ErrNotConverged")
	}
	const n, k = 40, 6
	scores := testutil.RandU(testutil.Rand(1), -1, 1, n, k)
	probs := softmaxProbs(2, 3, n, k)
	a, b := *marginals(3, n), *marginals(4, k)
	check := func(name string, err error, iters, wantIters int, residual, tol float64) {
		t.Helper()
		if !errors.Is(err, ErrNotConverged) || !errors.Is(err, ssl.ErrNotConverged) {
			t.Errorf("%s: err = %v, want ErrNotConverged", name, err)
		}
		if errors.Is(err, ssl.ErrParam) || errors.Is(err, ssl.ErrShape) {
			t.Errorf("%s: err %v also wraps an argument sentinel", name, err)
		}
		if iters != wantIters || !(residual > tol) {
			t.Errorf("%s: %d iterations (want %d), residual %v (want > %v)", name, iters, wantIters, residual, tol)
		}
	}
	codes := testutil.NaNs(n, k)
	br, err := Balance(codes, scores, 0.01, &BalanceOptions{Iterations: 2, Tol: 1e-14})
	check("Balance", err, br.Iterations, 2, br.Residual, 1e-14)
	if br.Plan != codes || br.Residual != br.MarginalError {
		t.Errorf("Balance: Plan is not dst, or Residual %v != MarginalError %v", br.Residual, br.MarginalError)
	}
	sr, err := SeLa(nil, nil, probs, 25, &SeLaOptions{Iterations: 3, Tol: 1e-14})
	check("SeLa", err, sr.Iterations, 3, sr.Residual, 1e-14)
	if len(sr.Labels) != n || len(sr.LogR) != k || len(sr.LogC) != n {
		t.Errorf("SeLa: incomplete result with ErrNotConverged")
	}
	tr, err := Transport(nil, a, b, scores, 0.01, &TransportOptions{Iterations: 2, Tol: 1e-14})
	check("Transport", err, tr.Iterations, 2, tr.Residual, 1e-14)
	if tr.Plan == nil || len(tr.LogU) != n {
		t.Errorf("Transport: incomplete result with ErrNotConverged")
	}
}

// TestStoppingRule checks the one stopping rule: Tol 0 runs exactly
// Iterations with no test and no error; a positive Tol stops once the
// residual is at most Tol; nil options keep each method's own schedule.
func TestStoppingRule(t *testing.T) {
	const n, k = 60, 7
	scores := testutil.RandU(testutil.Rand(5), -1, 1, n, k)
	probs := softmaxProbs(6, 2, n, k)
	a, b := *marginals(7, n), *marginals(8, k)

	// Balance: nil is SwAV's 3 fixed iterations; Tol alone caps at 1000.
	if r, err := Balance(nil, scores, 0.05, nil); err != nil || r.Iterations != 3 {
		t.Errorf("Balance(nil options): %d iterations, err %v; want 3", r.Iterations, err)
	}
	if r, err := Balance(nil, scores, 0.05, &BalanceOptions{Iterations: 17}); err != nil || r.Iterations != 17 {
		t.Errorf("Balance(Iterations 17): %d iterations, err %v", r.Iterations, err)
	}
	if r, err := Balance(nil, scores, 0.05, &BalanceOptions{Tol: 1e-6}); err != nil || r.Residual > 1e-6 || r.Iterations < 2 || r.Iterations >= 1000 {
		t.Errorf("Balance(Tol 1e-6): %d iterations, residual %v, err %v", r.Iterations, r.Residual, err)
	}

	// SeLa: nil is SeLa's rule (0.1, every 10 updates); Tol 0 is a fixed count.
	r0, err := SeLa(nil, nil, probs, 25, nil)
	if err != nil || r0.Residual > 0.1 || r0.Iterations%10 != 1 {
		t.Errorf("SeLa(nil options): %d updates, residual %v, err %v", r0.Iterations, r0.Residual, err)
	}
	r1, err := SeLa(nil, nil, probs, 25, &SeLaOptions{Tol: 0.1})
	if err != nil || r1.Iterations != r0.Iterations || r1.Residual != r0.Residual {
		t.Errorf("SeLa(Tol 0.1): %d updates, residual %v, err %v; want nil options' %d, %v", r1.Iterations, r1.Residual, err, r0.Iterations, r0.Residual)
	}
	if r, err := SeLa(nil, nil, probs, 25, &SeLaOptions{Iterations: 37}); err != nil || r.Iterations != 37 {
		t.Errorf("SeLa(Iterations 37, Tol 0): %d updates, err %v", r.Iterations, err)
	}

	// Transport: nil is POT's (Tol 1e-9, at most 1000); Tol 0 is a fixed count.
	t0, err := Transport(nil, a, b, scores, 0.1, nil)
	if err != nil || t0.Residual > 1e-9 || t0.Iterations >= 1000 {
		t.Errorf("Transport(nil options): %d updates, residual %v, err %v", t0.Iterations, t0.Residual, err)
	}
	t1, err := Transport(nil, a, b, scores, 0.1, &TransportOptions{Tol: 1e-9})
	if err != nil || t1.Iterations != t0.Iterations {
		t.Errorf("Transport(Tol 1e-9): %d updates, err %v; want nil options' %d", t1.Iterations, err, t0.Iterations)
	}
	if r, err := Transport(nil, a, b, scores, 0.1, &TransportOptions{Iterations: 23}); err != nil || r.Iterations != 23 {
		t.Errorf("Transport(Iterations 23, Tol 0): %d updates, err %v", r.Iterations, err)
	}
	if r, err := Transport(nil, a, b, scores, 0.1, &TransportOptions{}); err != nil || r.Iterations != 1000 {
		t.Errorf("Transport(empty options): %d updates, err %v; want exactly 1000", r.Iterations, err)
	}
}

// TestWorkspaceOption checks that results do not depend on whether a
// Workspace is passed, new, reused, or reused across problem sizes.
func TestWorkspaceOption(t *testing.T) {
	ws := new(Workspace) // the zero value works
	for _, sz := range [][2]int{{50, 9}, {700, 40}, {13, 3}} {
		n, k := sz[0], sz[1]
		scores := testutil.RandU(testutil.Rand(uint64(n)), -4, 4, n, k)
		probs := softmaxProbs(uint64(k), 2, n, k)
		a, b := *marginals(9, n), *marginals(10, k)
		for _, d := range []Domain{Auto, Log} {
			want, err1 := Balance(nil, scores, 0.05, &BalanceOptions{Domain: d})
			got, err2 := Balance(nil, scores, 0.05, &BalanceOptions{Domain: d, Workspace: ws})
			same(t, "Balance", want.Plan, got.Plan, err1, err2)
			sw, err1 := SeLa(nil, ssl.New(n, k), probs, 25, &SeLaOptions{Domain: d, Tol: 0.1})
			sg, err2 := SeLa(nil, ssl.New(n, k), probs, 25, &SeLaOptions{Domain: d, Tol: 0.1, Workspace: ws})
			same(t, "SeLa", sw.Plan, sg.Plan, err1, err2)
			tw, err1 := Transport(nil, a, b, scores, 0.5, &TransportOptions{Domain: d, Iterations: 50})
			tg, err2 := Transport(nil, a, b, scores, 0.5, &TransportOptions{Domain: d, Iterations: 50, Workspace: ws})
			same(t, "Transport", tw.Plan, tg.Plan, err1, err2)
		}
	}
}

func same(t *testing.T, name string, want, got ssl.Tensor, err1, err2 error) {
	t.Helper()
	if err1 != nil || err2 != nil {
		t.Fatalf("%s: errors %v, %v", name, err1, err2)
	}
	w, g := testutil.Data(want), testutil.Data(got)
	for i := range w {
		if math.Float32bits(w[i]) != math.Float32bits(g[i]) {
			t.Fatalf("%s: with a Workspace, element %d is %v, without %v", name, i, g[i], w[i])
		}
	}
}
