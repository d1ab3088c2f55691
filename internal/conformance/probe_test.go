package conformance_test

import (
	"testing"

	"ssl/internal/conformance"
	"ssl/probe"
)

func init() {
	register("probe.knn", runProbeKNN)
	register("probe.cluster_metrics", runProbeClusterMetrics)
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
