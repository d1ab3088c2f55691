package conformance_test

import (
	"testing"

	"ssl"
	"ssl/internal/conformance"
	"ssl/sinkhorn"
)

func init() {
	register("sinkhorn.swav", runSinkhornSwAV)
	register("sinkhorn.sela", runSinkhornSeLa)
}

// runSinkhornSwAV maps sinkhorn.swav onto sinkhorn.Balance with the case's
// epsilon and fixed iteration count.
func runSinkhornSwAV(t testing.TB, c *conformance.Case) {
	scores := c.Tensor(t, "scores")
	shape := scores.Shape()
	dst := ssl.New(shape...)
	res, err := sinkhorn.Balance(dst, scores, c.Float(t, "epsilon"), nil,
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
	res, err := sinkhorn.SeLa(nil, plan, probs, c.Float(t, "lambda"), nil, &sinkhorn.SeLaOptions{
		StopErr: c.Float(t, "stop_err"), CheckEvery: c.Int(t, "check_every"),
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
	c.Check(t, "final_err", []float64{res.StopError})
}
