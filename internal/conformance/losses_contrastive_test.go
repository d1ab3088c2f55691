package conformance_test

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"ssl"
	"ssl/internal/conformance"
	"ssl/losses"
)

// Adapters of the contrastive kinds of testdata/vectors/losses
// (KINDS-contrastive.md) onto package losses.

func init() {
	register("losses.ntxent", runNTXent)
	register("losses.infonce_queue", runInfoNCEQueue)
	register("losses.infonce_batch", runInfoNCEBatch)
	register("losses.protonce", runProtoNCE)
	register("losses.byol", runBYOL)
	register("losses.cacr", runCACR)
	register("losses.bregman", runBregman)
	register("losses.align_uniform", runAlignUniform)
}

// ctrNear reports whether a case is one of the T = 0.001 "_near" cases,
// for which KINDS-contrastive.md notes a float32 implementation may need a
// looser tolerance: at logits of 1e3 one float32 rounding of an input
// (relative 6e-8) moves a logit by 6e-5.
func ctrNear(c *conformance.Case) bool { return strings.Contains(c.Name, "_near") }

// ctrCheck compares a float32 output; on the "_near" cases at ten times the
// float32 tolerance of FORMAT.md.
func ctrCheck(t testing.TB, c *conformance.Case, name string, got []float32) {
	t.Helper()
	if !ctrNear(c) {
		c.Check32(t, name, got)
		return
	}
	g := make([]float64, len(got))
	for i, v := range got {
		g[i] = float64(v)
	}
	atol, rtol := c.Float32Tol(c.Out(t, name).Data)
	c.CheckTol(t, name, g, 10*atol, 10*rtol)
}

// ctrCheckLoss compares a scalar (or any float64) output.
func ctrCheckLoss(t testing.TB, c *conformance.Case, name string, got ...float64) {
	t.Helper()
	if !ctrNear(c) {
		c.Check(t, name, got)
		return
	}
	atol, rtol := c.Float32Tol(c.Out(t, name).Data)
	c.CheckTol(t, name, got, 10*atol, 10*rtol)
}

// ctrNaNs returns a NaN-filled tensor, so a check sees every element an
// implementation fails to write.
func ctrNaNs(shape ...int) *tensor.Dense {
	t := ssl.New(shape...)
	n := 1
	for _, d := range shape {
		n *= d
	}
	if n == 0 {
		return t
	}
	d := t.Data().([]float32)
	for i := range d {
		d[i] = float32(math.NaN())
	}
	return t
}

// ctrData returns a tensor's float32 data.
func ctrData(t ssl.Tensor) []float32 {
	_, d, err := ssl.View(t)
	if err != nil {
		panic(err)
	}
	return d
}

func runNTXent(t testing.TB, c *conformance.Case) {
	z1, z2 := c.Tensor(t, "z1"), c.Tensor(t, "z2")
	tau := c.Float(t, "temperature")
	shape := z1.Shape().Clone()
	dz1, dz2 := ctrNaNs(shape...), ctrNaNs(shape...)
	loss, err := losses.NTXent(dz1, dz2, z1, z2, tau, nil)
	if c.ExpectError != "" {
		c.CheckError(t, err)
		return
	}
	if err != nil {
		t.Fatalf("%s: NTXent: %v", c.Path, err)
	}
	ctrCheckLoss(t, c, "loss", loss)
	ctrCheck(t, c, "grad_z1", ctrData(dz1))
	ctrCheck(t, c, "grad_z2", ctrData(dz2))
}

func runInfoNCEQueue(t testing.TB, c *conformance.Case) {
	q, k, queue := c.Tensor(t, "q"), c.Tensor(t, "k"), c.Tensor(t, "queue")
	dq := ctrNaNs(q.Shape().Clone()...)
	loss, err := losses.InfoNCEQueue(dq, q, k, queue, c.Float(t, "T"), nil)
	if c.ExpectError != "" {
		c.CheckError(t, err)
		return
	}
	if err != nil {
		t.Fatalf("%s: InfoNCEQueue: %v", c.Path, err)
	}
	ctrCheckLoss(t, c, "loss", loss)
	ctrCheck(t, c, "grad_q", ctrData(dq))
}

func runInfoNCEBatch(t testing.TB, c *conformance.Case) {
	if c.HasParam("reduction") {
		if r := c.String(t, "reduction"); r != "mean" {
			t.Fatalf("%s: reduction %q: InfoNCE implements the mean", c.Path, r)
		}
	}
	pred, target := c.Tensor(t, "pred"), c.Tensor(t, "target")
	shape := pred.Shape().Clone()
	dp, dt := ctrNaNs(shape...), ctrNaNs(shape...)
	loss, err := losses.InfoNCE(dp, dt, pred, target, c.Float(t, "T"), nil)
	if c.ExpectError != "" {
		c.CheckError(t, err)
		return
	}
	if err != nil {
		t.Fatalf("%s: InfoNCE: %v", c.Path, err)
	}
	ctrCheckLoss(t, c, "loss", loss)
	ctrCheck(t, c, "grad_pred", ctrData(dp))
	ctrCheck(t, c, "grad_target", ctrData(dt))
}

func runProtoNCE(t testing.TB, c *conformance.Case) {
	q, k, queue := c.Tensor(t, "q"), c.Tensor(t, "k"), c.Tensor(t, "queue")
	m := c.Int(t, "num_clusterings")
	cls := make([]losses.ProtoNCEClustering, m)
	for i := range cls {
		cls[i] = losses.ProtoNCEClustering{
			Centroids: c.Tensor(t, fmt.Sprintf("centroids_%d", i)),
			Density:   c.Tensor(t, fmt.Sprintf("density_%d", i)),
			Labels:    c.Ints(t, fmt.Sprintf("labels_%d", i)),
			Negatives: c.Ints(t, fmt.Sprintf("neg_%d", i)),
		}
	}
	dq := ctrNaNs(q.Shape().Clone()...)
	res, err := losses.ProtoNCE(dq, q, k, queue, cls, c.Float(t, "T"), nil)
	if c.ExpectError != "" {
		c.CheckError(t, err)
		return
	}
	if err != nil {
		t.Fatalf("%s: ProtoNCE: %v", c.Path, err)
	}
	ctrCheckLoss(t, c, "loss", res.Loss)
	ctrCheck(t, c, "grad_q", ctrData(dq))
	if c.HasOut("loss_instance") {
		ctrCheckLoss(t, c, "loss_instance", res.Instance)
	}
	if c.HasOut("loss_proto") {
		ctrCheckLoss(t, c, "loss_proto", res.PerClustering...)
	}
}

func runBYOL(t testing.TB, c *conformance.Case) {
	if c.HasParam("simplified") && !c.Bool(t, "simplified") {
		// simplified=False (normalise, then 2 − 2·dot) equals the
		// simplified form up to the eps clamps, which KINDS says never bind.
		t.Logf("%s: simplified=false computed as the simplified form", c.Path)
	}
	p, z := c.Tensor(t, "p"), c.Tensor(t, "z")
	dp := ctrNaNs(p.Shape().Clone()...)
	loss, err := losses.BYOL(dp, p, z)
	if c.ExpectError != "" {
		c.CheckError(t, err)
		return
	}
	if err != nil {
		t.Fatalf("%s: BYOL: %v", c.Path, err)
	}
	ctrCheckLoss(t, c, "loss", loss)
	ctrCheck(t, c, "grad_p", ctrData(dp))
}

func runCACR(t testing.TB, c *conformance.Case) {
	if c.HasParam("choice") && c.String(t, "choice") != "full" {
		t.Fatalf("%s: choice %q: CACR implements \"full\"", c.Path, c.String(t, "choice"))
	}
	if c.HasParam("with_debiased") && c.Bool(t, "with_debiased") {
		t.Fatalf("%s: with_debiased: CACR implements the plain (not debiased) repulsion", c.Path)
	}
	views := c.Tensor(t, "views")
	dv := ctrNaNs(views.Shape().Clone()...)
	f := func(name string) float64 { return c.Float(t, name) }
	res, err := losses.CACR(dv, views, f("alpha"), f("beta"), f("tau_pos"), f("tau_neg"), nil)
	if c.ExpectError != "" {
		c.CheckError(t, err)
		return
	}
	if err != nil {
		t.Fatalf("%s: CACR: %v", c.Path, err)
	}
	ctrCheckLoss(t, c, "loss", res.Loss)
	ctrCheckLoss(t, c, "loss_ca", res.Attraction)
	ctrCheckLoss(t, c, "loss_cr", res.Repulsion)
	ctrCheck(t, c, "grad_views", ctrData(dv))
}

func runBregman(t testing.TB, c *conformance.Case) {
	a, b := c.Tensor(t, "out_a"), c.Tensor(t, "out_b")
	shape := a.Shape().Clone()
	if c.HasParam("batch_size") && c.Int(t, "batch_size") != shape[0] {
		t.Fatalf("%s: batch_size %d but out_a has %d rows", c.Path, c.Int(t, "batch_size"), shape[0])
	}
	opts := &losses.BregmanOptions{}
	if c.HasParam("sigma") {
		opts.Sigma = c.Float(t, "sigma")
	}
	da, db := ctrNaNs(shape...), ctrNaNs(shape...)
	counts := make([]int, shape[1])
	loss, err := losses.Bregman(counts, da, db, a, b, c.Float(t, "temperature"), opts)
	if c.ExpectError != "" {
		c.CheckError(t, err)
		return
	}
	if err != nil {
		t.Fatalf("%s: Bregman: %v", c.Path, err)
	}
	ctrCheckLoss(t, c, "loss", loss)
	c.CheckExact(t, "num_max", counts)
	ctrCheck(t, c, "grad_out_a", ctrData(da))
	ctrCheck(t, c, "grad_out_b", ctrData(db))
}

func runAlignUniform(t testing.TB, c *conformance.Case) {
	x, y := c.Tensor(t, "x"), c.Tensor(t, "y")
	shape := x.Shape().Clone()
	f := func(name string) float64 { return c.Float(t, name) }
	alpha, tt := f("alpha"), f("t")
	dx, dy := ctrNaNs(shape...), ctrNaNs(shape...)
	res, err := losses.AlignUniform(dx, dy, x, y, alpha, tt, f("align_w"), f("unif_w"), nil)
	if c.ExpectError != "" {
		c.CheckError(t, err)
		return
	}
	if err != nil {
		t.Fatalf("%s: AlignUniform: %v", c.Path, err)
	}
	ctrCheckLoss(t, c, "loss", res.Loss)
	ctrCheckLoss(t, c, "align", res.Align)
	ctrCheckLoss(t, c, "uniform_x", res.UniformX)
	ctrCheckLoss(t, c, "uniform_y", res.UniformY)
	ctrCheck(t, c, "grad_x", ctrData(dx))
	ctrCheck(t, c, "grad_y", ctrData(dy))

	ax, ay := ctrNaNs(shape...), ctrNaNs(shape...)
	al, err := losses.Align(ax, ay, x, y, alpha)
	if err != nil {
		t.Fatalf("%s: Align: %v", c.Path, err)
	}
	ctrCheckLoss(t, c, "align", al)
	ctrCheck(t, c, "align_grad_x", ctrData(ax))
	ctrCheck(t, c, "align_grad_y", ctrData(ay))
	for _, u := range []struct {
		in   *tensor.Dense
		out  string
		grad string
	}{{x, "uniform_x", "uniform_x_grad_x"}, {y, "uniform_y", "uniform_y_grad_y"}} {
		du := ctrNaNs(shape...)
		v, err := losses.Uniform(du, u.in, tt, nil)
		if err != nil {
			t.Fatalf("%s: Uniform: %v", c.Path, err)
		}
		ctrCheckLoss(t, c, u.out, v)
		ctrCheck(t, c, u.grad, ctrData(du))
	}
}
