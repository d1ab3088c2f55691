package conformance_test

import (
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
	tau := float32(c.Float(t, "temperature"))
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
