package conformance_test

import (
	"testing"

	"ssl/internal/conformance"
	"ssl/probe"
)

func init() {
	register("probe.knn", runProbeKNN)
	register("probe.cluster_metrics", runProbeClusterMetrics)
	register("probe.rlp", runProbeRLP)
}

// runProbeKNN maps probe.knn (DINO's knn_classifier on F.normalize'd
// features) onto probe.KNN, which normalises itself; top1 is in percent.
func runProbeKNN(t testing.TB, c *conformance.Case) {
	bank, queries := c.Tensor(t, "train_features"), c.Tensor(t, "test_features")
	bankLabels, queryLabels := c.Ints(t, "train_labels"), c.Ints(t, "test_labels")
	opts := &probe.KNNOptions{K: c.Int(t, "k"), T: c.Float(t, "T")}
	pred, err := probe.KNN(nil, bank, bankLabels, queries, c.Int(t, "num_classes"), opts)
	if c.ExpectError != "" {
		c.CheckError(t, err)
		return
	}
	if err != nil {
		t.Fatalf("%s: KNN: %v", c.Path, err)
	}
	c.CheckExact(t, "predictions", pred)
	acc, err := probe.Accuracy(pred, queryLabels)
	if err != nil {
		t.Fatalf("%s: Accuracy: %v", c.Path, err)
	}
	c.Check(t, "top1", []float64{100 * acc})
}

// runProbeClusterMetrics maps probe.cluster_metrics (SCAN's
// hungarian_evaluate with sklearn's NMI and ARI) onto probe.EvaluateClusters
// with as many clusters as classes, as the reference assumes.
func runProbeClusterMetrics(t testing.TB, c *conformance.Case) {
	pred, target := c.Ints(t, "predictions"), c.Ints(t, "targets")
	k := c.Int(t, "num_classes")
	s, err := probe.EvaluateClusters(pred, target, k, k, nil)
	if c.ExpectError != "" {
		c.CheckError(t, err)
		return
	}
	if err != nil {
		t.Fatalf("%s: EvaluateClusters: %v", c.Path, err)
	}
	// Float64 metrics computed as sklearn does: the file's own tolerance.
	tol := c.Tol
	c.CheckTol(t, "acc", []float64{s.ACC}, tol.ATol, tol.RTol)
	c.CheckTol(t, "nmi", []float64{s.NMI}, tol.ATol, tol.RTol)
	c.CheckTol(t, "ari", []float64{s.ARI}, tol.ATol, tol.RTol)
}

// runProbeRLP maps probe.rlp (step 5 of quantised reverse probing, from the
// paper) onto probe.RLP with the given probe weights.
func runProbeRLP(t testing.TB, c *conformance.Case) {
	ids := c.Ints(t, "cluster_ids")
	k := c.Int(t, "num_clusters")
	s, err := probe.RLP(c.Tensor(t, "concepts"), ids, c.Tensor(t, "probe_weight"), c.Tensor(t, "probe_bias"), k)
	if c.ExpectError != "" {
		c.CheckError(t, err)
		return
	}
	if err != nil {
		t.Fatalf("%s: RLP: %v", c.Path, err)
	}
	c.CheckExact(t, "predicted_clusters", s.Predicted)
	// entropy_clusters and nmi depend on integers only: the file's float64
	// tolerance. The rest goes through float32 weights: the float32 rule.
	c.CheckTol(t, "entropy_clusters", []float64{s.EntropyClusters}, c.Tol.ATol, c.Tol.RTol)
	c.CheckTol(t, "nmi", []float64{s.NMI}, c.Tol.ATol, c.Tol.RTol)
	c.CheckTol(t, "probe_accuracy", []float64{s.Accuracy}, c.Tol.ATol, c.Tol.RTol)
	c.Check(t, "probe_cross_entropy", []float64{s.CrossEntropy})
	c.Check(t, "mi_lower_bound", []float64{s.MILowerBound})
}
