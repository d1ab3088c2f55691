package backbone

import (
	"fmt"
	"math"

	"ssl"
	"ssl/internal/check"
)

// Optimizer updates parameters from their accumulated gradients. [SGD],
// [LARS] and [AdamW] implement it.
type Optimizer interface {
	// Step applies one update with learning rate lr to every parameter that
	// is not frozen. It checks every gradient first and returns an error
	// wrapping ssl.ErrNotFinite naming the parameter, and updates nothing,
	// if one holds a NaN or an infinity; lr must be finite and ≥ 0
	// (ssl.ErrParam).
	Step(lr float64) error
	// State returns the optimizer's per-parameter state tensors (momentum
	// buffers, moment estimates), named after their parameters, so that it
	// can be saved and restored with the weights.
	State() []*Param
}

// optBase holds what every optimizer shares: the parameters and their named
// state tensors. The last state tensor of each parameter, "<name>.step"
// (shape [1]), counts the updates it has taken (as PyTorch's state_dict
// keeps "step"), so that a checkpoint of State restores the optimizer
// exactly: SGD's first-step momentum rule and AdamW's bias correction
// depend on it. float32 counts exactly up to 2^24 steps.
type optBase struct {
	name   string
	params []*Param
	state  [][]*Param // state[i][j]: j-th state tensor of parameter i; the last is the step count
}

// steps returns the number of updates parameter i has taken.
func (b *optBase) steps(i int) int {
	s := b.state[i]
	return int(s[len(s)-1].Data()[0])
}

// countStep records one more update of parameter i and returns the new count.
func (b *optBase) countStep(i int) int {
	s := b.state[i]
	c := s[len(s)-1].Data()
	c[0]++
	return int(c[0])
}

func newOptBase(name string, params []*Param, stateNames ...string) (optBase, error) {
	b := optBase{name: name, params: params, state: make([][]*Param, len(params))}
	seen := map[string]bool{}
	for i, p := range params {
		if p == nil || p.Grad == nil {
			return b, fmt.Errorf("backbone: New%s: parameter %d is nil or has no gradient (a buffer?): %w", name, i, ssl.ErrParam)
		}
		if seen[p.Name] {
			return b, fmt.Errorf("backbone: New%s: parameter name %q appears twice: %w", name, p.Name, ssl.ErrParam)
		}
		seen[p.Name] = true
		for _, s := range stateNames {
			b.state[i] = append(b.state[i], &Param{Name: p.Name + "." + s, Value: ssl.New(p.Shape()...)})
		}
		b.state[i] = append(b.state[i], &Param{Name: p.Name + ".step", Value: ssl.New(1)})
	}
	return b, nil
}

// State returns the state tensors of every parameter, in parameter order.
func (b *optBase) State() []*Param {
	var out []*Param
	for _, s := range b.state {
		out = append(out, s...)
	}
	return out
}

// check validates lr and the gradients of the parameters to update.
func (b *optBase) check(lr float64) error {
	if err := check.NonNegative("backbone: "+b.name+".Step", "lr", lr); err != nil {
		return err
	}
	for _, p := range b.params {
		if p.Frozen {
			continue
		}
		if err := checkFinite(b.name+".Step", "gradient of "+p.Name, p.GradData()); err != nil {
			return err
		}
	}
	return nil
}

// SGDOptions holds the settings of [NewSGD]; the zero value is plain SGD.
type SGDOptions struct {
	// Momentum μ ≥ 0; default 0.
	Momentum float64
	// Dampening in [0, 1]; default 0.
	Dampening float64
	// WeightDecay ≥ 0, added to the gradient as wd·p (L2, not decoupled);
	// default 0.
	WeightDecay float64
	// Nesterov momentum; needs Momentum > 0 and Dampening 0.
	Nesterov bool
}

// SGD is stochastic gradient descent with momentum, Nesterov momentum and
// weight decay, exactly as torch.optim.SGD: at each step, per parameter,
//
//	d = g + wd·p
//	buf = d at the first step, else buf = μ·buf + (1 − dampening)·d
//	d = d + μ·buf if Nesterov, else d = buf   (when μ > 0)
//	p = p − lr·d
//
// Updates are computed in float64 and stored in float32.
type SGD struct {
	optBase
	opts SGDOptions
}

// NewSGD returns SGD over params (each with a gradient; the order fixes
// the order of [SGD.State]). It returns an error wrapping ssl.ErrParam for
// an option out of range, a nil or duplicate parameter, or a buffer.
func NewSGD(params []*Param, opts *SGDOptions) (*SGD, error) {
	var o SGDOptions
	if opts != nil {
		o = *opts
	}
	if err := checkMomentum("NewSGD", o.Momentum, o.Dampening, o.WeightDecay, o.Nesterov); err != nil {
		return nil, err
	}
	b, err := newOptBase("SGD", params, "momentum_buffer")
	if err != nil {
		return nil, err
	}
	return &SGD{optBase: b, opts: o}, nil
}

func checkMomentum(fn string, mu, damp, wd float64, nesterov bool) error {
	fn = "backbone: " + fn
	for _, err := range []error{
		check.NonNegative(fn, "Momentum", mu), check.Within(fn, "Dampening", damp, 0, 1),
		check.NonNegative(fn, "WeightDecay", wd),
	} {
		if err != nil {
			return err
		}
	}
	if nesterov && (mu <= 0 || damp != 0) {
		return check.Errorf(fn, ssl.ErrParam, "Nesterov momentum needs Momentum > 0 and Dampening 0 (Momentum=%v, Dampening=%v)", mu, damp)
	}
	return nil
}

// Step applies one SGD update; see [Optimizer].
func (o *SGD) Step(lr float64) error {
	if err := o.check(lr); err != nil {
		return err
	}
	for i, p := range o.params {
		if p.Frozen {
			continue
		}
		momentumStep(p.Data(), p.GradData(), o.state[i][0].Data(), o.steps(i) == 0,
			lr, 1, o.opts.WeightDecay, o.opts.Momentum, o.opts.Dampening, o.opts.Nesterov)
		o.countStep(i)
	}
	return nil
}

// momentumStep is the update of torch.optim.SGD with d = scale·(g + wd·p).
func momentumStep(p, g, buf []float32, first bool, lr, scale, wd, mu, damp float64, nesterov bool) {
	for j, gj := range g {
		pj := float64(p[j])
		d := scale * (float64(gj) + wd*pj)
		if mu != 0 {
			b := d
			if !first {
				b = mu*float64(buf[j]) + (1-damp)*d
			}
			buf[j] = float32(b)
			if nesterov {
				d += mu * b
			} else {
				d = b
			}
		}
		p[j] = float32(pj - lr*d)
	}
}

// LARSOptions holds the settings of [NewLARS].
type LARSOptions struct {
	// Momentum μ ≥ 0; default 0 (SwAV uses 0.9).
	Momentum float64
	// WeightDecay ≥ 0; default 0.
	WeightDecay float64
	// Eta is the trust coefficient; > 0, default 1e-3 (solo-learn's and
	// apex LARC's default).
	Eta float64
	// Eps in the trust ratio's denominator; > 0, default 1e-8.
	Eps float64
	// ClipLR clips the local rate to min(r/lr, 1) (LARC's clip mode).
	ClipLR bool
	// ExcludeBiasAndNorm skips the scaling, and the weight decay, for
	// every rank-1 tensor (biases and normalization parameters).
	ExcludeBiasAndNorm bool
	// Nesterov momentum; needs Momentum > 0.
	Nesterov bool
}

// Defaults of solo-learn's LARS.
const (
	defaultLARSEta = 1e-3
	defaultLARSEps = 1e-8
)

// LARS is layer-wise adaptive rate scaling on top of SGD with momentum, as
// solo-learn's LARS.step (equal to NVIDIA apex's LARC with clip=False, which
// SwAV uses). Per tensor and step, with Frobenius norms over the tensor:
//
//	if excluded (ExcludeBiasAndNorm and rank 1) or ‖p‖ = 0 or ‖g‖ = 0:
//	    d = g                     (no scaling and no weight decay)
//	else:
//	    r = η·‖p‖ / (‖g‖ + wd·‖p‖ + eps);  r = min(r/lr, 1) if ClipLR
//	    d = r·(g + wd·p)
//	buf = d at the first step, else buf = μ·buf + d
//	d = d + μ·buf if Nesterov, else d = buf   (when μ > 0)
//	p = p − lr·d
//
// Reference: You et al., Large Batch Training of Convolutional Networks,
// 2017, Alg. 1; vturrisi/solo-learn solo/utils/lars.py at 9187ea39.
type LARS struct {
	optBase
	opts LARSOptions
}

// NewLARS returns LARS over params. It returns an error wrapping
// ssl.ErrParam for an option out of range, a nil or duplicate parameter, or
// a buffer.
func NewLARS(params []*Param, opts *LARSOptions) (*LARS, error) {
	var o LARSOptions
	if opts != nil {
		o = *opts
	}
	if o.Eta == 0 {
		o.Eta = defaultLARSEta
	}
	if o.Eps == 0 {
		o.Eps = defaultLARSEps
	}
	if err := checkMomentum("NewLARS", o.Momentum, 0, o.WeightDecay, o.Nesterov); err != nil {
		return nil, err
	}
	if err := check.Positive("backbone: NewLARS", "Eta", o.Eta); err != nil {
		return nil, err
	}
	if err := check.Positive("backbone: NewLARS", "Eps", o.Eps); err != nil {
		return nil, err
	}
	b, err := newOptBase("LARS", params, "momentum_buffer")
	if err != nil {
		return nil, err
	}
	return &LARS{optBase: b, opts: o}, nil
}

// Step applies one LARS update; see [Optimizer].
func (o *LARS) Step(lr float64) error {
	if err := o.check(lr); err != nil {
		return err
	}
	for i, p := range o.params {
		if p.Frozen {
			continue
		}
		pv, g := p.Data(), p.GradData()
		scale, wd := 1.0, 0.0
		if !(o.opts.ExcludeBiasAndNorm && p.Value.Dims() == 1) {
			pn, gn := norm32(pv), norm32(g)
			if pn != 0 && gn != 0 {
				r := o.opts.Eta * pn / (gn + o.opts.WeightDecay*pn + o.opts.Eps)
				if o.opts.ClipLR {
					r = math.Min(r/lr, 1)
				}
				scale, wd = r, o.opts.WeightDecay
			}
		}
		momentumStep(pv, g, o.state[i][0].Data(), o.steps(i) == 0, lr, scale, wd, o.opts.Momentum, 0, o.opts.Nesterov)
		o.countStep(i)
	}
	return nil
}

func norm32(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// AdamWOptions holds the settings of [NewAdamW]; zero fields mean
// torch.optim.AdamW's defaults.
type AdamWOptions struct {
	// Beta1 in [0, 1); default 0.9.
	Beta1 float64
	// Beta2 in [0, 1); default 0.999.
	Beta2 float64
	// Eps > 0; default 1e-8.
	Eps float64
	// WeightDecay ≥ 0, decoupled; default 0.01. Use NoWeightDecay for 0.
	WeightDecay float64
	// NoWeightDecay sets the weight decay to 0.
	NoWeightDecay bool
}

// AdamW is Adam with decoupled weight decay, exactly as torch.optim.AdamW
// (amsgrad off): at step t, per parameter,
//
//	p = p·(1 − lr·wd)
//	m = β1·m + (1−β1)·g,  v = β2·v + (1−β2)·g²
//	p = p − lr/(1−β1^t) · m / (√v/√(1−β2^t) + eps)
//
// Reference: Loshchilov & Hutter, Decoupled Weight Decay Regularization,
// ICLR 2019, Alg. 2.
type AdamW struct {
	optBase
	opts AdamWOptions
}

// NewAdamW returns AdamW over params. It returns an error wrapping
// ssl.ErrParam for an option out of range, a nil or duplicate parameter, or
// a buffer.
func NewAdamW(params []*Param, opts *AdamWOptions) (*AdamW, error) {
	o := AdamWOptions{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01} // torch.optim.AdamW defaults
	if opts != nil {
		if opts.Beta1 != 0 {
			o.Beta1 = opts.Beta1
		}
		if opts.Beta2 != 0 {
			o.Beta2 = opts.Beta2
		}
		if opts.Eps != 0 {
			o.Eps = opts.Eps
		}
		if opts.WeightDecay != 0 {
			o.WeightDecay = opts.WeightDecay
		}
		if opts.NoWeightDecay {
			o.WeightDecay = 0
		}
	}
	const fn = "backbone: NewAdamW"
	if !(o.Beta1 >= 0 && o.Beta1 < 1) || !(o.Beta2 >= 0 && o.Beta2 < 1) {
		return nil, check.Errorf(fn, ssl.ErrParam, "betas must be in [0, 1) (Beta1=%v, Beta2=%v)", o.Beta1, o.Beta2)
	}
	if err := check.Positive(fn, "Eps", o.Eps); err != nil {
		return nil, err
	}
	if err := check.NonNegative(fn, "WeightDecay", o.WeightDecay); err != nil {
		return nil, err
	}
	b, err := newOptBase("AdamW", params, "exp_avg", "exp_avg_sq")
	if err != nil {
		return nil, err
	}
	return &AdamW{optBase: b, opts: o}, nil
}

// Step applies one AdamW update; see [Optimizer].
func (o *AdamW) Step(lr float64) error {
	if err := o.check(lr); err != nil {
		return err
	}
	b1, b2 := o.opts.Beta1, o.opts.Beta2
	for i, p := range o.params {
		if p.Frozen {
			continue
		}
		t := float64(o.countStep(i))
		bc1, bc2 := 1-math.Pow(b1, t), 1-math.Pow(b2, t)
		step, sq := lr/bc1, math.Sqrt(bc2)
		decay := 1 - lr*o.opts.WeightDecay
		pv, g := p.Data(), p.GradData()
		m, v := o.state[i][0].Data(), o.state[i][1].Data()
		for j, gj := range g {
			gf := float64(gj)
			mj := b1*float64(m[j]) + (1-b1)*gf
			vj := b2*float64(v[j]) + (1-b2)*gf*gf
			m[j], v[j] = float32(mj), float32(vj)
			pv[j] = float32(float64(pv[j])*decay - step*mj/(math.Sqrt(vj)/sq+o.opts.Eps))
		}
	}
	return nil
}
