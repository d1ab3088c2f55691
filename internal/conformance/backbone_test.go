package conformance_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gorgonia.org/tensor"

	"ssl"
	"ssl/backbone"
	"ssl/internal/conformance"
)

func init() {
	register("backbone.conv2d", runConv2D)
	register("backbone.batchnorm2d_train", runBatchNormTrain)
	register("backbone.batchnorm1d_train", runBatchNormTrain)
	register("backbone.batchnorm2d_eval", runBatchNormEval)
	register("backbone.maxpool2d", runMaxPool2D)
	register("backbone.avgpool_global", runAvgPoolGlobal)
	register("backbone.relu", runReLU)
	register("backbone.linear", runLinear)
	register("backbone.l2normalize", runL2Normalize)
	register("backbone.convnet3", runConvNet3)
	register("backbone.sgd_step", runSGDStep)
	register("backbone.adamw_step", runAdamWStep)
	register("backbone.lars_step", runLARSStep)
	register("backbone.cosine_schedule", runCosineSchedule)
	register("backbone.ema_update", runEMAUpdate)
}

func bbData(t ssl.Tensor) []float32 { return t.Data().([]float32) }

// setParam copies the case input name into p's value.
func setParam(t testing.TB, c *conformance.Case, p *backbone.Param, name string) {
	t.Helper()
	src := bbData(c.Tensor(t, name))
	dst := p.Data()
	if len(src) != len(dst) {
		t.Fatalf("%s: input %s has %d values, parameter %s has %d", c.Path, name, len(src), p.Name, len(dst))
	}
	copy(dst, src)
}

// external hides a layer's concrete type, so that a Sequential runs it
// through its exported Forward and Backward on tensor views of its buffers,
// as it runs a layer written outside the package.
type external struct{ backbone.Layer }

// runLayer runs a forward pass in the given mode and a backward pass of the
// case's upstream, and checks out and grad_x: first with l inside a
// Sequential as a layer of the program's own (after which the buffers and
// gradients are reset), then directly.
func runLayer(t testing.TB, c *conformance.Case, l backbone.Layer, train bool) {
	t.Helper()
	var bufs [][]float32
	for _, b := range l.Buffers() {
		bufs = append(bufs, append([]float32(nil), b.Data()...))
	}
	runLayerOnce(t, c, backbone.NewSequential("external", external{l}), train)
	for i, b := range l.Buffers() {
		copy(b.Data(), bufs[i])
	}
	backbone.ZeroGrad(l.Params())
	runLayerOnce(t, c, l, train)
}

func runLayerOnce(t testing.TB, c *conformance.Case, l backbone.Layer, train bool) {
	t.Helper()
	x := c.Tensor(t, "x")
	out, err := l.OutShape([]int(x.Shape()))
	if err != nil {
		t.Fatalf("%s: OutShape: %v", c.Path, err)
	}
	y := ssl.New(out...)
	ws := backbone.NewWorkspace()
	if err := l.Forward(ws, y, x, train); err != nil {
		t.Fatalf("%s: Forward: %v", c.Path, err)
	}
	c.Check32(t, "out", bbData(y))
	dx := ssl.New([]int(x.Shape())...)
	if err := l.Backward(ws, dx, c.Tensor(t, "upstream")); err != nil {
		t.Fatalf("%s: Backward: %v", c.Path, err)
	}
	c.Check32(t, "grad_x", bbData(dx))
}

func runConv2D(t testing.TB, c *conformance.Case) {
	w := c.In(t, "weight")
	bias := c.Bool(t, "bias")
	conv, err := backbone.NewConv2D("conv", w.Shape[1], w.Shape[0], c.Int(t, "kernel_size"), c.Int(t, "stride"), c.Int(t, "padding"), bias, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	setParam(t, c, conv.Weight, "weight")
	if bias {
		setParam(t, c, conv.Bias, "bias")
	}
	runLayer(t, c, conv, true)
	c.Check32(t, "grad_weight", conv.Weight.GradData())
	if bias {
		c.Check32(t, "grad_bias", conv.Bias.GradData())
	}
}

func newBN(t testing.TB, c *conformance.Case) *backbone.BatchNorm {
	t.Helper()
	opts := &backbone.BatchNormOptions{Eps: c.Float(t, "eps")}
	if c.HasParam("momentum") {
		opts.Momentum = c.Float(t, "momentum")
	}
	bn, err := backbone.NewBatchNorm("bn", c.In(t, "weight").Shape[0], opts)
	if err != nil {
		t.Fatal(err)
	}
	setParam(t, c, bn.Weight, "weight")
	setParam(t, c, bn.Bias, "bias")
	setParam(t, c, bn.RunningMean, "running_mean")
	setParam(t, c, bn.RunningVar, "running_var")
	return bn
}

func runBatchNormTrain(t testing.TB, c *conformance.Case) {
	bn := newBN(t, c)
	runLayer(t, c, bn, true)
	c.Check32(t, "grad_weight", bn.Weight.GradData())
	c.Check32(t, "grad_bias", bn.Bias.GradData())
	c.Check32(t, "running_mean_new", bn.RunningMean.Data())
	c.Check32(t, "running_var_new", bn.RunningVar.Data())
}

func runBatchNormEval(t testing.TB, c *conformance.Case) {
	bn := newBN(t, c)
	rm, rv := append([]float32(nil), bn.RunningMean.Data()...), append([]float32(nil), bn.RunningVar.Data()...)
	runLayer(t, c, bn, false)
	c.Check32(t, "grad_weight", bn.Weight.GradData())
	c.Check32(t, "grad_bias", bn.Bias.GradData())
	for i := range rm {
		if rm[i] != bn.RunningMean.Data()[i] || rv[i] != bn.RunningVar.Data()[i] {
			t.Errorf("%s: evaluation mode changed the running statistics", c.Path)
			break
		}
	}
}

func runMaxPool2D(t testing.TB, c *conformance.Case) {
	k := c.Int(t, "kernel_size")
	p, err := backbone.NewMaxPool2D("pool", k, c.Int(t, "stride"))
	if err != nil {
		t.Fatal(err)
	}
	runLayer(t, c, p, true)
}

func runAvgPoolGlobal(t testing.TB, c *conformance.Case) {
	runLayer(t, c, backbone.NewGlobalAvgPool("avgpool"), true)
}

func runReLU(t testing.TB, c *conformance.Case) { runLayer(t, c, backbone.NewReLU("relu"), true) }

func runLinear(t testing.TB, c *conformance.Case) {
	w := c.In(t, "weight")
	bias := c.Bool(t, "bias")
	l, err := backbone.NewLinear("fc", w.Shape[1], w.Shape[0], bias, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	setParam(t, c, l.Weight, "weight")
	if bias {
		setParam(t, c, l.Bias, "bias")
	}
	runLayer(t, c, l, true)
	c.Check32(t, "grad_weight", l.Weight.GradData())
	if bias {
		c.Check32(t, "grad_bias", l.Bias.GradData())
	}
}

func runL2Normalize(t testing.TB, c *conformance.Case) {
	l := backbone.NewL2Normalize("norm")
	l.Eps = c.Float(t, "eps")
	runLayer(t, c, l, true)
}

func runConvNet3(t testing.TB, c *conformance.Case) {
	var widths [3]int
	c.Param(t, "widths", &widths)
	convBias := c.Bool(t, "conv_bias")
	net, err := backbone.NewConvNet3(rand.New(rand.NewPCG(1, 1)), &backbone.ConvNet3Options{
		Widths: widths, ConvBias: convBias,
		BatchNorm: &backbone.BatchNormOptions{Eps: c.Float(t, "bn_eps"), Momentum: c.Float(t, "bn_momentum")},
	})
	if err != nil {
		t.Fatal(err)
	}
	all := append(net.Params(), net.Buffers()...)
	byName := map[string]*backbone.Param{}
	for _, p := range all {
		byName[p.Name] = p
	}
	for i := 1; i <= 3; i++ {
		names := []string{"conv%d.weight", "bn%d.weight", "bn%d.bias", "bn%d.running_mean", "bn%d.running_var"}
		if convBias {
			names = append(names, "conv%d.bias")
		}
		for _, f := range names {
			name := fmt.Sprintf(f, i)
			p := byName[name]
			if p == nil {
				t.Fatalf("ConvNet3 has no tensor %s", name)
			}
			setParam(t, c, p, caseName(name))
		}
	}
	if len(all) != len(byName) || (convBias && len(all) != 18) || (!convBias && len(all) != 15) {
		t.Fatalf("ConvNet3 has %d tensors", len(all))
	}
	runLayer(t, c, net, true)
	for _, p := range net.Params() {
		want := "grad_" + caseName(p.Name)
		if p.Name[:4] == "conv" && p.Name[len(p.Name)-4:] == "bias" {
			// Batch normalisation cancels the conv bias: its gradient is
			// rounding noise of ~1e-16 (KINDS.md: compare with atol).
			c.CheckTol(t, want, f64(p.GradData()), 1e-5, 0)
			continue
		}
		c.Check32(t, want, p.GradData())
	}
	for _, p := range net.Buffers() {
		c.Check32(t, caseName(p.Name)+"_new", p.Data())
	}
}

// caseName maps a state_dict name ("bn1.running_mean") to the case's
// ("bn1_running_mean").
func caseName(s string) string {
	b := []byte(s)
	for i, ch := range b {
		if ch == '.' {
			b[i] = '_'
		}
	}
	return string(b)
}

func f64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

// optParam wraps a case input as a parameter with a gradient.
func optParam(t testing.TB, c *conformance.Case, name, in string) *backbone.Param {
	v := c.Tensor(t, in)
	return &backbone.Param{Name: name, Value: v, Grad: ssl.New([]int(v.Shape())...)}
}

// twoSteps runs two optimiser steps with gradients g1, g2 (per parameter
// suffix) and learning rates lrs, calling after1 between them.
func twoSteps(t testing.TB, c *conformance.Case, opt backbone.Optimizer, ps []*backbone.Param, suffix []string, after1 func()) {
	var lrs []float64
	c.Param(t, "lrs", &lrs)
	for step, lr := range lrs {
		for i, p := range ps {
			copy(p.GradData(), bbData(c.Tensor(t, fmt.Sprintf("g%d%s", step+1, suffix[i]))))
		}
		if err := opt.Step(lr); err != nil {
			t.Fatalf("%s: Step %d: %v", c.Path, step+1, err)
		}
		if step == 0 && after1 != nil {
			after1()
		}
	}
}

func stateOf(opt backbone.Optimizer, name string) []float32 {
	for _, s := range opt.State() {
		if s.Name == name {
			return s.Data()
		}
	}
	return nil
}

func runSGDStep(t testing.TB, c *conformance.Case) {
	p := optParam(t, c, "p", "p0")
	opt, err := backbone.NewSGD([]*backbone.Param{p}, &backbone.SGDOptions{
		Momentum: c.Float(t, "momentum"), Dampening: c.Float(t, "dampening"),
		WeightDecay: c.Float(t, "weight_decay"), Nesterov: c.Bool(t, "nesterov"),
	})
	if err != nil {
		t.Fatal(err)
	}
	twoSteps(t, c, opt, []*backbone.Param{p}, []string{""}, func() {
		c.Check32(t, "p1", p.Data())
		c.Check32(t, "momentum_buffer1", stateOf(opt, "p.momentum_buffer"))
	})
	c.Check32(t, "p2", p.Data())
	c.Check32(t, "momentum_buffer2", stateOf(opt, "p.momentum_buffer"))
}

func runAdamWStep(t testing.TB, c *conformance.Case) {
	if c.Bool(t, "amsgrad") {
		t.Skipf("%s: amsgrad is not implemented", c.Path)
	}
	p := optParam(t, c, "p", "p0")
	wd := c.Float(t, "weight_decay")
	opt, err := backbone.NewAdamW([]*backbone.Param{p}, &backbone.AdamWOptions{
		Beta1: c.Float(t, "beta1"), Beta2: c.Float(t, "beta2"), Eps: c.Float(t, "eps"),
		WeightDecay: wd, NoWeightDecay: wd == 0,
	})
	if err != nil {
		t.Fatal(err)
	}
	twoSteps(t, c, opt, []*backbone.Param{p}, []string{""}, func() {
		c.Check32(t, "p1", p.Data())
		c.Check32(t, "exp_avg1", stateOf(opt, "p.exp_avg"))
		c.Check32(t, "exp_avg_sq1", stateOf(opt, "p.exp_avg_sq"))
	})
	c.Check32(t, "p2", p.Data())
	c.Check32(t, "exp_avg2", stateOf(opt, "p.exp_avg"))
	c.Check32(t, "exp_avg_sq2", stateOf(opt, "p.exp_avg_sq"))
}

func runLARSStep(t testing.TB, c *conformance.Case) {
	var names []string
	c.Param(t, "param_names", &names)
	if d := c.Float(t, "dampening"); d != 0 {
		t.Skipf("%s: dampening %v is not supported by LARS", c.Path, d)
	}
	var ps []*backbone.Param
	var suffix []string
	for _, n := range names {
		ps = append(ps, optParam(t, c, n, "p0_"+n))
		suffix = append(suffix, "_"+n)
	}
	opt, err := backbone.NewLARS(ps, &backbone.LARSOptions{
		Momentum: c.Float(t, "momentum"), WeightDecay: c.Float(t, "weight_decay"),
		Eta: c.Float(t, "eta"), Eps: c.Float(t, "eps"), ClipLR: c.Bool(t, "clip_lr"),
		ExcludeBiasAndNorm: c.Bool(t, "exclude_bias_n_norm"), Nesterov: c.Bool(t, "nesterov"),
	})
	if err != nil {
		t.Fatal(err)
	}
	twoSteps(t, c, opt, ps, suffix, func() {
		for _, p := range ps {
			c.Check32(t, "p1_"+p.Name, p.Data())
		}
	})
	for _, p := range ps {
		c.Check32(t, "p2_"+p.Name, p.Data())
		c.Check32(t, "momentum_buffer2_"+p.Name, stateOf(opt, p.Name+".momentum_buffer"))
	}
}

func runCosineSchedule(t testing.TB, c *conformance.Case) {
	niter := c.Int(t, "niter_per_ep")
	got, err := backbone.WarmupCosine(c.Float(t, "start_warmup"), c.Float(t, "base_lr"), c.Float(t, "final_lr"),
		c.Int(t, "warmup_epochs")*niter, c.Int(t, "epochs")*niter)
	if err != nil {
		t.Fatal(err)
	}
	c.CheckTol(t, "lr_schedule", got, c.Tol.ATol, c.Tol.RTol)
}

func runEMAUpdate(t testing.TB, c *conformance.Case) {
	base, K, k := c.Float(t, "base_ema"), c.Int(t, "max_steps"), c.Int(t, "global_step")
	tau, err := backbone.EMATau(base, k, K)
	if err != nil {
		t.Fatal(err)
	}
	// τ and its schedule are float64 results: the file's own tolerance.
	c.CheckTol(t, "tau", []float64{tau}, c.Tol.ATol, c.Tol.RTol)
	sched := make([]float64, K+2)
	for s := range sched {
		if sched[s], err = backbone.EMATau(base, s, K); err != nil {
			t.Fatal(err)
		}
	}
	c.CheckTol(t, "tau_schedule", sched, c.Tol.ATol, c.Tol.RTol)
	mk := func(prefix string) []*backbone.Param {
		var ps []*backbone.Param
		for _, n := range []string{"w", "b"} {
			v := c.Tensor(t, prefix+"_"+n)
			ps = append(ps, &backbone.Param{Name: n, Value: v, Grad: tensor.New(tensor.WithShape(v.Shape()...), tensor.Of(tensor.Float32))})
		}
		return ps
	}
	online, target := mk("online"), mk("target")
	if err := backbone.EMAUpdate(target, online, tau); err != nil {
		t.Fatal(err)
	}
	c.Check32(t, "target_w_new", target[0].Data())
	c.Check32(t, "target_b_new", target[1].Data())
}
