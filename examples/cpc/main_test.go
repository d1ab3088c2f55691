package main

import (
	"math/rand/v2"
	"slices"
	"testing"

	"ssl"
	"ssl/backbone"
	"ssl/examples/internal/runtest"
)

func TestSmoke(t *testing.T) { runtest.Smoke(t, "cpc", cpc) }

func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, cpc) }

// TestContextIsMasked checks that the context of grid row r does not depend
// on the features of any row below r.
func TestContextIsMasked(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	ctx := backbone.NewSequential("context",
		must(backbone.NewConv2D("context", feat, feat, 3, 1, 1, true, rng)), backbone.NewReLU("context.relu"))
	context := func(z []float32) []float32 {
		m, cm := ssl.New(1, feat, grid+2, grid), ssl.New(1, feat, grid+2, grid)
		_, md, _ := ssl.View(m)
		shiftDown(md, z, 1)
		if err := ctx.Forward(backbone.NewWorkspace(), cm, m, false); err != nil {
			t.Fatal(err)
		}
		_, cd, _ := ssl.View(cm)
		c := make([]float32, cells*feat)
		cropUp(c, cd, 1)
		return c
	}
	z := make([]float32, cells*feat)
	for i := range z {
		z[i] = float32(rng.NormFloat64())
	}
	c0 := context(z)
	for r := range grid - 1 {
		z2 := slices.Clone(z)
		for i := (r + 1) * grid * feat; i < len(z2); i++ {
			z2[i] += 1 // change every row below r
		}
		c1 := context(z2)
		if !slices.Equal(c0[:(r+1)*grid*feat], c1[:(r+1)*grid*feat]) {
			t.Errorf("the context of rows ≤ %d changed with the rows below", r)
		}
		if slices.Equal(c0, c1) {
			t.Errorf("the context does not depend on rows > %d at all", r)
		}
	}
}
