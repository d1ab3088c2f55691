package conformance_test

import (
	"testing"

	"ssl/assign"
	"ssl/internal/conformance"
	"ssl/internal/kernel"
	"ssl/internal/testutil"
)

func init() {
	register("assign.kmeans", runKMeans)
}

// runKMeans runs Lloyd k-means from the case's initial centroids. PCL's
// post-step (centroids_l2norm) is the row normalisation PCL applies to the
// returned centroids with torch.nn.functional.normalize (eps 1e-12).
func runKMeans(t testing.TB, c *conformance.Case) {
	x, init := c.Tensor(t, "x"), c.Tensor(t, "init")
	k := init.Shape()[0]
	opts := &assign.KMeansOptions{Iterations: c.Int(t, "niter"), Init: init}
	res, err := assign.KMeans(nil, nil, x, k, testutil.Rand(1), opts)
	if c.ExpectError != "" {
		c.CheckError(t, err)
		return
	}
	if err != nil {
		t.Fatalf("%s: KMeans: %v", c.Path, err)
	}
	cent := testutil.Data(res.Centroids)
	c.Check32(t, "centroids", cent)
	c.CheckExact(t, "labels", res.Labels)
	c.Check(t, "obj", res.Obj)
	c.Check32(t, "dist", res.Dist)
	c.Check(t, "inertia", []float64{res.Inertia})
	d := init.Shape()[1]
	unit := make([]float32, len(cent))
	kernel.L2NormalizeRows(unit, nil, cent, k, d, 1e-12)
	c.Check32(t, "centroids_l2norm", unit)
}
