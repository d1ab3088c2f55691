package conformance_test

import (
	"fmt"
	"math"
	"testing"

	"ssl"
	"ssl/assign"
	"ssl/internal/conformance"
	"ssl/losses"
)

// Adapters for the clustering kinds of testdata/vectors/losses
// (KINDS-clustering.md): each reads a case, calls the public API of package
// losses and compares every output the case holds.
func init() {
	register("losses.pseudolabel_ce", runLossesPseudoLabelCE)
	register("losses.mira", runLossesMIRA)
	register("losses.iic", runLossesIIC)
	register("losses.scan", runLossesSCAN)
	register("losses.scan_selflabel", runLossesSCANSelfLabel)
	register("losses.carl", runLossesCARL)
	register("losses.localagg", runLossesLocalAgg)
	register("losses.swav", runLossesSwAV)
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
	shape := c.In(t, "q").Shape
	if v := c.Int(t, "num_views"); v != shape[0] {
		t.Fatalf("%s: num_views %d does not match q %v", c.Path, v, shape)
	}
	tau := c.Float(t, "tau_s")
	g := cluNaNsLike(t, c, "q")
	t0, t1 := c.Tensor(t, "target0"), c.Tensor(t, "target1")
	loss, err := losses.MIRA(g, q, t0, t1, tau, nil)
	if err != nil {
		t.Fatalf("%s: MIRA: %v", c.Path, err)
	}
	c.Check(t, "loss", []float64{loss})
	c.Check32(t, "grad_q", cluData(g))
	// End to end: the targets from the teacher logits through assign.MIRA
	// give the same targets and the same loss.
	b, k := shape[1], shape[2]
	teacher := cluData(c.Tensor(t, "teacher_logits"))
	var targets [2]ssl.Tensor
	for i := range targets {
		logits := ssl.FromSlice(teacher[i*b*k:(i+1)*b*k], b, k)
		targets[i] = ssl.New(b, k)
		_, err := assign.MIRA(targets[i], logits, c.Float(t, "tau_t"), c.Float(t, "beta"), &assign.MIRAOptions{Iterations: c.Int(t, "iters")})
		if err != nil {
			t.Fatalf("%s: assign.MIRA(teacher %d): %v", c.Path, i, err)
		}
		want := c.In(t, fmt.Sprintf("target%d", i)).Data
		got := make([]float64, len(want))
		for j, v := range cluData(targets[i]) {
			got[j] = float64(v)
		}
		atol, rtol := c.Float32Tol(want)
		if err := conformance.Compare(got, want, atol, rtol); err != nil {
			t.Errorf("%s: assign.MIRA(teacher %d) vs target%d: %v", c.Path, i, i, err)
		}
	}
	l2, err := losses.MIRA(nil, q, targets[0], targets[1], tau, nil)
	if err != nil {
		t.Fatalf("%s: MIRA with assign.MIRA targets: %v", c.Path, err)
	}
	c.Check(t, "loss", []float64{l2})
}

func runLossesIIC(t testing.TB, c *conformance.Case) {
	if eps := c.Float(t, "EPS"); eps != 2.220446049250313e-16 {
		t.Fatalf("%s: EPS %v is not the implemented sys.float_info.epsilon", c.Path, eps)
	}
	l1, l2 := c.Tensor(t, "logits1"), c.Tensor(t, "logits2")
	g1, g2 := cluNaNsLike(t, c, "logits1"), cluNaNsLike(t, c, "logits2")
	loss, err := losses.IIC(g1, g2, l1, l2, c.Float(t, "lamb"), nil)
	if err != nil {
		t.Fatalf("%s: IIC: %v", c.Path, err)
	}
	noLamb, err := losses.IIC(nil, nil, l1, l2, 1, nil)
	if err != nil {
		t.Fatalf("%s: IIC (lambda 1): %v", c.Path, err)
	}
	c.Check(t, "loss", []float64{loss})
	c.Check(t, "loss_no_lamb", []float64{noLamb})
	c.Check32(t, "grad_logits1", cluData(g1))
	c.Check32(t, "grad_logits2", cluData(g2))
}

func runLossesSCAN(t testing.TB, c *conformance.Case) {
	ga, gn := cluNaNsLike(t, c, "anchors"), cluNaNsLike(t, c, "neighbors")
	res, err := losses.SCAN(ga, gn, c.Tensor(t, "anchors"), c.Tensor(t, "neighbors"), c.Float(t, "entropy_weight"), nil)
	if err != nil {
		t.Fatalf("%s: SCAN: %v", c.Path, err)
	}
	c.Check(t, "loss", []float64{res.Loss})
	c.Check(t, "consistency", []float64{res.Consistency})
	c.Check(t, "entropy", []float64{res.Entropy})
	c.Check32(t, "grad_anchors", cluData(ga))
	c.Check32(t, "grad_neighbors", cluData(gn))
}

func runLossesSCANSelfLabel(t testing.TB, c *conformance.Case) {
	g := cluNaNsLike(t, c, "anchors_strong")
	opts := &losses.SCANSelfLabelOptions{Balance: c.Bool(t, "apply_class_balancing")}
	res, err := losses.SCANSelfLabel(g, c.Tensor(t, "anchors_weak"), c.Tensor(t, "anchors_strong"), c.Float(t, "threshold"), opts)
	if c.ExpectError != "" {
		// The reference raises when no row is confident; the library
		// reports that outcome of the data in the result: Confident 0, a
		// zero loss and a zeroed gradient, with a nil error.
		if err != nil {
			t.Fatalf("%s: SCANSelfLabel with no confident row: %v, want a nil error (reference: %s)", c.Path, err, c.ExpectError)
		}
		if res != (losses.SCANSelfLabelResult{}) {
			t.Errorf("%s: result %+v, want Loss 0 and Confident 0", c.Path, res)
		}
		for i, v := range cluData(g) {
			if v != 0 {
				t.Fatalf("%s: dstrong[%d] = %v, want 0", c.Path, i, v)
			}
		}
		return
	}
	if err != nil {
		t.Fatalf("%s: SCANSelfLabel: %v", c.Path, err)
	}
	c.Check(t, "loss", []float64{res.Loss})
	c.CheckExact(t, "num_confident", []int{res.Confident})
	c.Check32(t, "grad_anchors_strong", cluData(g))
}

func runLossesCARL(t testing.TB, c *conformance.Case) {
	if eps := c.Float(t, "EPS"); eps != 2.220446049250313e-16 {
		t.Fatalf("%s: EPS %v is not the implemented float64 eps", c.Path, eps)
	}
	k := c.Int(t, "num_prototypes")
	if got := c.In(t, "student_logits").Shape[1]; got != k {
		t.Fatalf("%s: num_prototypes %d, student_logits has %d columns", c.Path, k, got)
	}
	opts := &losses.CARLOptions{Partition: c.Ints(t, "partition_ids"), PartitionSize: c.Int(t, "partition_size")}
	g := cluNaNsLike(t, c, "student_logits")
	res, err := losses.CARL(g, c.Tensor(t, "student_logits"), c.Tensor(t, "teacher_logits"), c.Int(t, "ncrops"), opts)
	if err != nil {
		t.Fatalf("%s: CARL: %v", c.Path, err)
	}
	c.Check(t, "loss", []float64{res.Loss})
	c.Check(t, "consistency", []float64{res.Consistency})
	c.Check(t, "entropy", []float64{res.Entropy})
	c.Check32(t, "grad_student_logits", cluData(g))
}

func runLossesLocalAgg(t testing.TB, c *conformance.Case) {
	bank := c.Tensor(t, "memory_bank")
	n := c.In(t, "memory_bank").Shape[0]
	if dl := c.Int(t, "data_len"); dl != n {
		t.Fatalf("%s: data_len %d, memory_bank has %d rows", c.Path, dl, n)
	}
	flat := c.Ints(t, "cluster_labels")
	runs := c.In(t, "cluster_labels").Shape[0]
	labels := make([][]int, runs)
	for r := range labels {
		labels[r] = flat[r*n : (r+1)*n]
	}
	outputs, indices := c.Tensor(t, "outputs"), c.Ints(t, "indices")
	g := cluNaNsLike(t, c, "outputs")
	loss, err := losses.LocalAgg(g, outputs, bank, indices, labels, c.Int(t, "k"), c.Float(t, "t"), nil)
	if err != nil {
		t.Fatalf("%s: LocalAgg: %v", c.Path, err)
	}
	c.Check(t, "loss", []float64{loss})
	c.Check32(t, "grad_outputs", cluData(g))
	mem := cluNaNsLike(t, c, "outputs")
	if _, err := losses.LocalAggMemory(mem, outputs, bank, indices, c.Float(t, "m")); err != nil {
		t.Fatalf("%s: LocalAggMemory: %v", c.Path, err)
	}
	c.Check32(t, "new_data_memory", cluData(mem))
}

func runLossesSwAV(t testing.TB, c *conformance.Case) {
	var nmb, assign []int
	c.Param(t, "nmb_crops", &nmb)
	c.Param(t, "crops_for_assign", &assign)
	if ws := c.Int(t, "world_size"); ws != 1 {
		t.Fatalf("%s: world_size %d, only 1 is implemented", c.Path, ws)
	}
	crops := 0
	for _, n := range nmb {
		crops += n
	}
	b, k := c.Int(t, "batch_size"), c.In(t, "scores").Shape[1]
	scores := c.Tensor(t, "scores")
	g := cluNaNsLike(t, c, "scores")
	codes := ssl.New(len(assign), b, k)
	opts := &losses.SwAVOptions{Epsilon: c.Float(t, "epsilon"), Iterations: c.Int(t, "sinkhorn_iterations")}
	loss, err := losses.SwAV(codes, g, scores, crops, assign, c.Float(t, "temperature"), opts)
	if err != nil {
		t.Fatalf("%s: SwAV: %v", c.Path, err)
	}
	c.Check(t, "loss", []float64{loss})
	c.Check32(t, "grad_scores", cluData(g))
	c.Check32(t, "codes", cluData(codes))
	// The same loss and gradient from the codes given.
	g2 := cluNaNsLike(t, c, "scores")
	loss2, err := losses.SwAVFromCodes(g2, scores, codes, crops, assign, c.Float(t, "temperature"), nil)
	if err != nil {
		t.Fatalf("%s: SwAVFromCodes: %v", c.Path, err)
	}
	c.Check(t, "loss", []float64{loss2})
	c.Check32(t, "grad_scores", cluData(g2))
}
