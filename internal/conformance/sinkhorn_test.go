package conformance_test

import (
	"math"
	"testing"

	"ssl"
	"ssl/internal/conformance"
	"ssl/sinkhorn"
)

func init() {
	register("sinkhorn.swav", runSinkhornSwAV)
	register("sinkhorn.sela", runSinkhornSeLa)
	register("sinkhorn.ot", runSinkhornOT)
}

// runSinkhornSwAV maps sinkhorn.swav onto sinkhorn.Balance with the case's
// epsilon and fixed iteration count.
func runSinkhornSwAV(t testing.TB, c *conformance.Case) {
	scores := c.Tensor(t, "scores")
	shape := scores.Shape()
	dst := ssl.New(shape...)
	res, err := sinkhorn.Balance(dst, scores, c.Float(t, "epsilon"),
		&sinkhorn.BalanceOptions{Iterations: c.Int(t, "sinkhorn_iterations")})
	if err != nil {
		t.Fatalf("%s: Balance: %v", c.Path, err)
	}
	if res.Iterations != c.Int(t, "sinkhorn_iterations") {
		t.Errorf("%s: Balance ran %d iterations, want %d", c.Path, res.Iterations, c.Int(t, "sinkhorn_iterations"))
	}
	c.Check32(t, "Q", dst.Data().([]float32))
}

// runSinkhornSeLa maps sinkhorn.sela onto sinkhorn.SeLa with SeLa's own
// stopping rule (stop_err and check_every of the case) and checks the plan,
// the labels, the update count and the error at the last check.
func runSinkhornSeLa(t testing.TB, c *conformance.Case) {
	probs := c.Tensor(t, "probs")
	before := append([]float32(nil), probs.Data().([]float32)...)
	shape := probs.Shape()
	plan := ssl.New(shape...)
	res, err := sinkhorn.SeLa(nil, plan, probs, c.Float(t, "lambda"), &sinkhorn.SeLaOptions{
		Tol: c.Float(t, "stop_err"), CheckEvery: c.Int(t, "check_every"),
	})
	if err != nil {
		t.Fatalf("%s: SeLa: %v", c.Path, err)
	}
	for i, v := range probs.Data().([]float32) {
		if v != before[i] {
			t.Fatalf("%s: SeLa modified probs[%d]", c.Path, i)
		}
	}
	c.Check32(t, "Q", plan.Data().([]float32))
	c.CheckExact(t, "labels", res.Labels)
	c.CheckExact(t, "n_iter", []int{res.Iterations})
	c.Check(t, "final_err", []float64{res.Residual})
}

// runSinkhornOT maps sinkhorn.ot onto sinkhorn.Transport: Iterations =
// numItermax and Tol = stopThr (stopThr = 0 is a fixed count of numItermax
// updates, as Tol = 0 is). The method picks the domain (POT's "sinkhorn" is the exp
// domain, which sinkhorn.Transport leaves for the log domain only where
// float32 cannot represent it). niter is the last 0-based update index.
// The scalings are compared up to their gauge (u·s, v/s).
func runSinkhornOT(t testing.TB, c *conformance.Case) {
	cost := c.Tensor(t, "M")
	shape := cost.Shape()
	plan := ssl.New(shape...)
	o := &sinkhorn.TransportOptions{Domain: sinkhorn.Auto}
	if c.String(t, "method") == "sinkhorn_log" {
		o.Domain = sinkhorn.Log
	}
	o.Iterations, o.Tol = c.Int(t, "numItermax"), c.Float(t, "stopThr")
	res, err := sinkhorn.Transport(plan, c.Tensor(t, "a"), c.Tensor(t, "b"), cost, c.Float(t, "reg"), o)
	if err != nil {
		t.Fatalf("%s: Transport: %v", c.Path, err)
	}
	c.Check32(t, "plan", plan.Data().([]float32))
	c.CheckExact(t, "niter", []int{res.Iterations - 1})
	logU, logV := "log_u", "log_v"
	if !c.HasOut("log_u") {
		logU, logV = "u", "v"
	}
	if !c.HasOut(logU) {
		return
	}
	wantU, wantV := c.Out(t, logU).Data, c.Out(t, logV).Data
	gotU, gotV := append([]float64(nil), res.LogU...), append([]float64(nil), res.LogV...)
	if logU == "u" {
		for i := range gotU {
			gotU[i] = math.Exp(gotU[i])
		}
		for j := range gotV {
			gotV[j] = math.Exp(gotV[j])
		}
		c.Check(t, "u", gotU)
		c.Check(t, "v", gotV)
		return
	}
	// Log potentials: fix the gauge on the first row, then compare with an
	// absolute tolerance scaled to the potentials' size (a float32 plan
	// entry carries a relative error of about 1e-4, so do its logs).
	s := wantU[0] - gotU[0]
	for i := range gotU {
		gotU[i] += s
	}
	for j := range gotV {
		gotV[j] -= s
	}
	c.CheckTol(t, logU, gotU, 1e-4*(1+maxAbs(wantU)), 0)
	c.CheckTol(t, logV, gotV, 1e-4*(1+maxAbs(wantV)), 0)
}

func maxAbs(x []float64) float64 {
	m := 0.0
	for _, v := range x {
		m = math.Max(m, math.Abs(v))
	}
	return m
}
