package conformance_test

import (
	"math"
	"testing"

	"ssl/assign"
	"ssl/internal/conformance"
	"ssl/internal/kernel"
	"ssl/internal/testutil"
)

func init() {
	register("assign.kmeans", runKMeans)
	register("assign.knn_mine", runKNNMine)
	register("assign.mira", runMIRA)
	register("assign.pcl_density", runPCLDensity)
	register("assign.pca_whiten", runPCAWhiten)
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

// runKNNMine mines SCAN's top-(k+1) cosine neighbours (self included).
// Indices must match exactly outside ties; inside a tie group (entries
// whose float64 cosine equals the reference's sim at that position within
// the case's atol, KINDS.md "Ties") the order is free, so an index that
// differs from the reference is accepted when its own cosine equals the
// reference's sim there.
func runKNNMine(t testing.TB, c *conformance.Case) {
	f := c.Tensor(t, "features")
	k := c.Int(t, "topk")
	idx, sims, err := assign.MineNeighbors(nil, nil, f, k, nil)
	if c.ExpectError != "" {
		c.CheckError(t, err)
		return
	}
	if err != nil {
		t.Fatalf("%s: MineNeighbors: %v", c.Path, err)
	}
	c.Check32(t, "sims", sims)
	n, d := f.Shape()[0], f.Shape()[1]
	fv := testutil.F64(f)
	cos := func(i, j int) float64 {
		var s, ni, nj float64
		for p := range d {
			s += fv[i*d+p] * fv[j*d+p]
			ni += fv[i*d+p] * fv[i*d+p]
			nj += fv[j*d+p] * fv[j*d+p]
		}
		return s / (math.Max(math.Sqrt(ni), 1e-12) * math.Max(math.Sqrt(nj), 1e-12))
	}
	want, wsims := c.Out(t, "indices").Data, c.Out(t, "sims").Data
	m := k + 1
	for i := range n {
		seen := map[int]bool{}
		for p := range m {
			g := idx[i*m+p]
			if seen[g] {
				t.Errorf("%s: row %d lists %d twice", c.Path, i, g)
			}
			seen[g] = true
			if float64(g) == want[i*m+p] {
				continue
			}
			if math.Abs(cos(i, g)-wsims[i*m+p]) > c.Tol.ATol {
				t.Errorf("%s: indices[%d,%d] = %d, want %v (cosine %.9g, reference sim %.9g)", c.Path, i, p, g, want[i*m+p], cos(i, g), wsims[i*m+p])
				return
			}
		}
	}
}

// runMIRA runs the authors' fixed-point iteration for exactly iters
// iterations.
func runMIRA(t testing.TB, c *conformance.Case) {
	logits := c.Tensor(t, "logits")
	res, err := assign.MIRA(nil, logits, c.Float(t, "tau"), c.Float(t, "beta"), &assign.MIRAOptions{Iterations: c.Int(t, "iters")})
	if c.ExpectError != "" {
		c.CheckError(t, err)
		return
	}
	if err != nil {
		t.Fatalf("%s: MIRA: %v", c.Path, err)
	}
	c.Check32(t, "target", testutil.Data(res.Target))
}

// runPCLDensity computes PCL's concentration from the case's squared
// distances and labels.
func runPCLDensity(t testing.TB, c *conformance.Case) {
	dist := testutil.Data(c.Tensor(t, "dist"))
	labels := c.Ints(t, "labels")
	got, err := assign.PCLConcentration(nil, dist, labels, c.Int(t, "num_cluster"), c.Float(t, "temperature"))
	if c.ExpectError != "" {
		c.CheckError(t, err)
		return
	}
	if err != nil {
		t.Fatalf("%s: PCLConcentration: %v", c.Path, err)
	}
	c.Check32(t, "density", got)
}

// runPCAWhiten fits DeepCluster's PCA whitening and applies it with the L2
// step. Each column of y is defined up to sign (KINDS.md "Signs"): a
// column is flipped when its inner product with the reference's is
// negative before comparing; gram = y yᵀ is compared as it comes.
func runPCAWhiten(t testing.TB, c *conformance.Case) {
	x := c.Tensor(t, "x")
	y, p, err := assign.PCAWhiten(nil, x, c.Int(t, "pca"), nil)
	if c.ExpectError != "" {
		c.CheckError(t, err)
		return
	}
	if err != nil {
		t.Fatalf("%s: PCAWhiten: %v", c.Path, err)
	}
	c.Check(t, "eigenvalues", p.Eigenvalues)
	n, d := y.Shape()[0], y.Shape()[1]
	yv := testutil.F64s(testutil.Data(y))
	want := c.Out(t, "y").Data
	for i := range d {
		var s float64
		for r := range n {
			s += yv[r*d+i] * want[r*d+i]
		}
		if s < 0 {
			for r := range n {
				yv[r*d+i] = -yv[r*d+i]
			}
		}
	}
	c.Check(t, "y", yv)
	gram := make([]float64, n*n)
	for a := range n {
		for b := range n {
			for i := range d {
				gram[a*n+b] += yv[a*d+i] * yv[b*d+i]
			}
		}
	}
	c.Check(t, "gram", gram)
}
