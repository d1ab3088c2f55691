package backbone_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"ssl"
	"ssl/backbone"
	"ssl/internal/testutil"
)

// sgdNaive is torch.optim.SGD's update for one step, in float64.
func sgdNaive(p, g, buf []float64, first bool, lr, mu, wd float64, nesterov bool) {
	for j := range p {
		d := g[j] + wd*p[j]
		if mu != 0 {
			if first {
				buf[j] = d
			} else {
				buf[j] = mu*buf[j] + d
			}
			if nesterov {
				d += mu * buf[j]
			} else {
				d = buf[j]
			}
		}
		p[j] -= lr * d
	}
}

func TestSGDAgainstNaive(t *testing.T) {
	for _, nesterov := range []bool{false, true} {
		r := testutil.Rand(101)
		p := &backbone.Param{Name: "w", Value: testutil.RandN(r, 1, 4, 3), Grad: ssl.New(4, 3)}
		opt, err := backbone.NewSGD([]*backbone.Param{p}, &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 5e-4, Nesterov: nesterov})
		if err != nil {
			t.Fatal(err)
		}
		want, buf := testutil.F64(p.Value), make([]float64, 12)
		for step, lr := range []float64{0.1, 0.05, 0.3} {
			g := testutil.RandN(r, 1, 4, 3)
			copy(p.GradData(), testutil.Data(g))
			if err := opt.Step(lr); err != nil {
				t.Fatal(err)
			}
			sgdNaive(want, testutil.F64(g), buf, step == 0, lr, 0.9, 5e-4, nesterov)
		}
		testutil.AllClose32(t, "SGD p after 3 steps", p.Data(), want, 1e-6, 1e-5)
	}
}

func TestOptimizerErrors(t *testing.T) {
	r := testutil.Rand(103)
	mk := func() []*backbone.Param {
		return []*backbone.Param{
			{Name: "a", Value: testutil.RandN(r, 1, 3), Grad: testutil.RandN(r, 1, 3)},
			{Name: "b", Value: testutil.RandN(r, 1, 2, 2), Grad: testutil.RandN(r, 1, 2, 2)},
		}
	}
	ctors := map[string]func([]*backbone.Param) (backbone.Optimizer, error){
		"SGD": func(ps []*backbone.Param) (backbone.Optimizer, error) {
			return backbone.NewSGD(ps, &backbone.SGDOptions{Momentum: 0.9})
		},
		"LARS": func(ps []*backbone.Param) (backbone.Optimizer, error) {
			return backbone.NewLARS(ps, &backbone.LARSOptions{Momentum: 0.9})
		},
		"AdamW": func(ps []*backbone.Param) (backbone.Optimizer, error) { return backbone.NewAdamW(ps, nil) },
	}
	for name, ctor := range ctors {
		t.Run(name, func(t *testing.T) {
			ps := mk()
			opt, err := ctor(ps)
			if err != nil {
				t.Fatal(err)
			}
			// A NaN gradient in the second tensor: an error naming it, and
			// the first tensor is not updated either.
			ps[1].GradData()[2] = float32(math.NaN())
			a0, b0 := testutil.Clone(ps[0].Value), testutil.Clone(ps[1].Value)
			err = opt.Step(0.1)
			if !errors.Is(err, ssl.ErrNotFinite) || !strings.Contains(err.Error(), "b") {
				t.Errorf("Step with a NaN gradient: err = %v, want ErrNotFinite naming b", err)
			}
			testutil.Unchanged(t, "a", ps[0].Value, a0)
			testutil.Unchanged(t, "b", ps[1].Value, b0)
			// A frozen tensor is skipped entirely, even with a NaN gradient.
			ps[1].Frozen = true
			if err := opt.Step(0.1); err != nil {
				t.Fatalf("Step with the NaN tensor frozen: %v", err)
			}
			testutil.Unchanged(t, "frozen b", ps[1].Value, b0)
			for _, lr := range []float64{-1, math.NaN(), math.Inf(1)} {
				if err := opt.Step(lr); !errors.Is(err, ssl.ErrParam) {
					t.Errorf("Step(lr=%v): err = %v, want ErrParam", lr, err)
				}
			}
			// A buffer (no gradient) and duplicate names are rejected.
			if _, err := ctor([]*backbone.Param{{Name: "rv", Value: ssl.New(3)}}); !errors.Is(err, ssl.ErrParam) {
				t.Errorf("a buffer: err = %v, want ErrParam", err)
			}
			dup := mk()
			dup[1].Name = "a"
			if _, err := ctor(dup); !errors.Is(err, ssl.ErrParam) {
				t.Errorf("duplicate names: err = %v, want ErrParam", err)
			}
		})
	}
	if _, err := backbone.NewSGD(mk(), &backbone.SGDOptions{Nesterov: true}); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("Nesterov without momentum: err = %v, want ErrParam", err)
	}
	if _, err := backbone.NewAdamW(mk(), &backbone.AdamWOptions{Beta2: 1}); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("AdamW beta2 = 1: err = %v, want ErrParam", err)
	}
	if _, err := backbone.NewLARS(mk(), &backbone.LARSOptions{Eta: -1}); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("LARS eta = -1: err = %v, want ErrParam", err)
	}
}

func TestScheduleAndEMA(t *testing.T) {
	lr, err := backbone.WarmupCosine(0, 0.3, 0, 50, 200)
	if err != nil {
		t.Fatal(err)
	}
	if lr[0] != 0 || lr[49] != 0.3 || lr[50] != 0.3 || !(lr[199] > 0 && lr[199] < 1e-4) {
		t.Errorf("protocol schedule: lr[0]=%v lr[49]=%v lr[50]=%v lr[199]=%v", lr[0], lr[49], lr[50], lr[199])
	}
	for i := 51; i < 200; i++ {
		if lr[i] > lr[i-1] {
			t.Fatalf("cosine part rises at %d: %v > %v", i, lr[i], lr[i-1])
		}
	}
	if _, err := backbone.WarmupCosine(0, 1, 0, 5, 4); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("warmup > total: err = %v, want ErrParam", err)
	}
	for _, tc := range []struct {
		k, K int
		want float64
	}{{0, 10, 0.99}, {10, 10, 1}, {20, 10, 1}, {5, 10, 0.995}} {
		got, err := backbone.EMATau(0.99, tc.k, tc.K)
		if err != nil || !testutil.Close(got, tc.want, 1e-15, 1e-12) {
			t.Errorf("EMATau(0.99, %d, %d) = %v, %v; want %v", tc.k, tc.K, got, err, tc.want)
		}
	}
	if _, err := backbone.EMATau(1.5, 0, 10); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("EMATau(base 1.5): err = %v, want ErrParam", err)
	}
	r := testutil.Rand(107)
	online, err := backbone.NewConvNet3(r, &backbone.ConvNet3Options{Widths: [3]int{2, 3, 4}})
	if err != nil {
		t.Fatal(err)
	}
	target, err := backbone.NewConvNet3(r, &backbone.ConvNet3Options{Widths: [3]int{2, 3, 4}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := f64s(target.Params())
	if err := backbone.EMAUpdate(target.Params(), online.Params(), 0.75); err != nil {
		t.Fatal(err)
	}
	for i, p := range target.Params() {
		o := online.Params()[i].Data()
		want := make([]float64, len(o))
		for j := range o {
			want[j] = 0.75*t0[i][j] + 0.25*float64(o[j])
		}
		testutil.AllClose32(t, "EMA "+p.Name, p.Data(), want, 1e-7, 1e-6)
	}
	if err := backbone.CopyParams(target.Params(), online.Params()); err != nil {
		t.Fatal(err)
	}
	for i, p := range target.Params() {
		testutil.Unchanged(t, "copied "+p.Name, p.Value, online.Params()[i].Value)
	}
	other, _ := backbone.NewConvNet3(r, &backbone.ConvNet3Options{Widths: [3]int{2, 3, 5}})
	if err := backbone.EMAUpdate(other.Params(), online.Params(), 0.5); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("EMAUpdate between different networks: err = %v, want ErrShape", err)
	}
	if err := backbone.CopyParams(online.Params(), online.Params()); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("CopyParams onto itself: err = %v, want ErrShape", err)
	}
}
