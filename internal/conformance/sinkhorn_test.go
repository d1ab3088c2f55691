package conformance_test

import (
	"testing"

	"ssl"
	"ssl/internal/conformance"
	"ssl/sinkhorn"
)

func init() {
	register("sinkhorn.swav", runSinkhornSwAV)
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
