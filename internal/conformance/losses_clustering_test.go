package conformance_test

import (
	"errors"
	"math"
	"testing"

	"ssl"
	"ssl/internal/conformance"
	"ssl/losses"
)

// Adapters for the clustering kinds of testdata/vectors/losses
// (KINDS-clustering.md): each reads a case, calls the public API of package
// losses and compares every output the case holds.
func init() {
	register("losses.pseudolabel_ce", runLossesPseudoLabelCE)
	register("losses.mira", runLossesMIRA)
}

// cluNaNsLike returns a NaN-filled float32 tensor shaped like the input,
// so that an element the implementation fails to write shows up.
func cluNaNsLike(t testing.TB, c *conformance.Case, input string) ssl.Tensor {
	t.Helper()
	x := ssl.New(c.In(t, input).Shape...)
	d := cluData(x)
	for i := range d {
		d[i] = float32(math.NaN())
	}
	return x
}

func cluData(t ssl.Tensor) []float32 {
	_, d, err := ssl.View(t)
	if err != nil {
		panic(err)
	}
	return d
}

func runLossesPseudoLabelCE(t testing.TB, c *conformance.Case) {
	logits := c.Tensor(t, "logits")
	labels := c.Ints(t, "labels")
	if k := c.Int(t, "num_classes"); k != c.In(t, "logits").Shape[1] {
		t.Fatalf("%s: num_classes %d does not match logits %v", c.Path, k, c.In(t, "logits").Shape)
	}
	g := cluNaNsLike(t, c, "logits")
	loss, err := losses.PseudoLabelCE(g, logits, labels, nil)
	if err != nil {
		t.Fatalf("%s: PseudoLabelCE: %v", c.Path, err)
	}
	c.Check(t, "loss", []float64{loss})
	c.Check32(t, "grad_logits", cluData(g))
}

func runLossesMIRA(t testing.TB, c *conformance.Case) {
	q := c.Tensor(t, "q")
	if v := c.Int(t, "num_views"); v != c.In(t, "q").Shape[0] {
		t.Fatalf("%s: num_views %d does not match q %v", c.Path, v, c.In(t, "q").Shape)
	}
	g := cluNaNsLike(t, c, "q")
	loss, err := losses.MIRA(g, q, c.Tensor(t, "target0"), c.Tensor(t, "target1"), float32(c.Float(t, "tau_s")), nil)
	if err != nil {
		t.Fatalf("%s: MIRA: %v", c.Path, err)
	}
	c.Check(t, "loss", []float64{loss})
	c.Check32(t, "grad_q", cluData(g))
}

var _ = errors.Is
