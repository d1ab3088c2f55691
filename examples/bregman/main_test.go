package main

import (
	"math"
	"math/rand/v2"
	"testing"

	"ssl"
	"ssl/backbone"
	"ssl/examples/internal/runtest"
)

func TestSmoke(t *testing.T) {
	r := runtest.Smoke(t, "bregman", bregman)
	if r.HeadACC <= 0 {
		t.Errorf("bregman: the sub-networks' argmax was not evaluated: %+v", r)
	}
}

// The comparison side: NT-Xent alone.
func TestSmokeContrastiveOnly(t *testing.T) { runtest.Smoke(t, "bregman", bregman, "-bregman=false") }

func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, bregman) }

// SubnetOutputs' backward pass against central differences of Σ out·dy.
func TestSubnetOutputsGradient(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, k, h = 3, 4, 5
	l, err := NewSubnetOutputs("s", k, h, rng)
	if err != nil {
		t.Fatal(err)
	}
	x, dy, out := ssl.New(n, k*h), ssl.New(n, k), ssl.New(n, k)
	for _, d := range [][]float32{x.Data().([]float32), dy.Data().([]float32)} {
		for i := range d {
			d[i] = float32(rng.NormFloat64())
		}
	}
	f := func() float64 {
		if err := l.Forward(backbone.NewWorkspace(), out, x, true); err != nil {
			t.Fatal(err)
		}
		s := 0.0
		for i, v := range out.Data().([]float32) {
			s += float64(v) * float64(dy.Data().([]float32)[i])
		}
		return s
	}
	ws, dx := backbone.NewWorkspace(), ssl.New(n, k*h)
	if err := l.Forward(ws, out, x, true); err != nil {
		t.Fatal(err)
	}
	if err := l.Backward(ws, dx, dy); err != nil {
		t.Fatal(err)
	}
	check := func(name string, v, g []float32) {
		for i := range v {
			old := v[i]
			v[i] = old + 1e-2
			up := f()
			v[i] = old - 1e-2
			down := f()
			v[i] = old
			if num := (up - down) / 2e-2; math.Abs(num-float64(g[i])) > 1e-3*(1+math.Abs(num)) {
				t.Errorf("%s[%d]: backward %g, numerical %g", name, i, g[i], num)
			}
		}
	}
	check("x", x.Data().([]float32), dx.Data().([]float32))
	check("weight", l.Weight.Data(), l.Weight.GradData())
	check("bias", l.Bias.Data(), l.Bias.GradData())
}
