package backbone

import (
	"fmt"
	"math/rand/v2"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// Linear is the affine map of torch.nn.Linear on an N×in input:
//
//	out = x·Wᵀ + b,  W of shape out×in, b of length out (optional)
//
// with gradients ∂L/∂x = dy·W, ∂L/∂W = dyᵀ·x, ∂L/∂b = Σ_n dy. The products
// run on internal/kernel.Gemm.
type Linear struct {
	In, Out int
	Weight  *Param // out×in
	Bias    *Param // out, or nil
	name    string
}

// NewLinear returns a linear layer from in to out features, with a bias if
// bias is true, initialized as PyTorch initializes nn.Linear (uniform in
// ±1/√in) from rng. Its parameters are name+".weight" and name+".bias". It
// returns an error wrapping ssl.ErrParam for non-positive sizes or a nil rng.
func NewLinear(name string, in, out int, bias bool, rng *rand.Rand) (*Linear, error) {
	fn := "backbone: NewLinear(" + name + ")"
	for _, err := range []error{check.Count(fn, "in", in, 1), check.Count(fn, "out", out, 1), check.Rand(fn, rng)} {
		if err != nil {
			return nil, err
		}
	}
	l := &Linear{In: in, Out: out, name: name}
	l.Weight = newParam(join(name, "weight"), out, in)
	initUniform(l.Weight.Data(), in, rng)
	if bias {
		l.Bias = newParam(join(name, "bias"), out)
		initUniform(l.Bias.Data(), in, rng)
	}
	return l, nil
}

func (l *Linear) label() string { return "Linear(" + l.name + ")" }

// Params returns the weight and, if present, the bias.
func (l *Linear) Params() []*Param {
	if l.Bias == nil {
		return []*Param{l.Weight}
	}
	return []*Param{l.Weight, l.Bias}
}

// Buffers returns nil.
func (l *Linear) Buffers() []*Param { return nil }

// OutShape returns N×out for an input N×in.
func (l *Linear) OutShape(in []int) ([]int, error) {
	if len(in) != 2 || in[1] != l.In {
		return nil, fmt.Errorf("input shape %v, want N×%d: %w", in, l.In, ssl.ErrShape)
	}
	return []int{in[0], l.Out}, nil
}

// Forward writes x·Wᵀ + b into dst; see [Layer].
func (l *Linear) Forward(ws *Workspace, dst, x ssl.Tensor, train bool) error {
	return runForward(l, ws, dst, x, train)
}

// Backward adds ∂L/∂W, ∂L/∂b into the gradients and writes ∂L/∂x; see
// [Layer].
func (l *Linear) Backward(ws *Workspace, dx, dy ssl.Tensor) error {
	return runBackward(l, ws, dx, dy)
}

func (l *Linear) forward(ws *Workspace, dst, x []float32, shape []int, train bool) error {
	n := shape[0]
	kernel.Gemm(false, true, n, l.Out, l.In, 1, x, l.In, l.Weight.Data(), l.In, 0, dst, l.Out)
	if l.Bias != nil {
		b := l.Bias.Data()
		for i := range n {
			kernel.Axpy(1, b, dst[i*l.Out:(i+1)*l.Out])
		}
	}
	return nil
}

func (l *Linear) backward(ws *Workspace, dx, dy []float32) error {
	n := ws.shape[0]
	kernel.Gemm(true, false, l.Out, l.In, n, 1, dy, l.Out, ws.x, l.In, 1, l.Weight.GradData(), l.In)
	if l.Bias != nil {
		gb := l.Bias.GradData()
		for o := range l.Out {
			var s float64
			for i := range n {
				s += float64(dy[i*l.Out+o])
			}
			gb[o] += float32(s)
		}
	}
	if dx != nil {
		kernel.Gemm(false, false, n, l.In, l.Out, 1, dy, l.Out, l.Weight.Data(), l.In, 0, dx, l.In)
	}
	return nil
}

// Prototypes is SwAV's prototype layer: a bias-free linear map from D-dim
// features to K scores, scores = z·Cᵀ with C of shape K×D, meant to run on
// L2-normalized features (put an [L2Normalize] before it) so that each score
// is a cosine similarity once [Prototypes.Normalize] has set the rows of C
// to unit norm. SwAV re-normalizes after every optimizer step and freezes
// the prototypes for the first iterations ([Prototypes.Freeze]).
//
// Reference: Caron et al., Unsupervised Learning of Visual Features by
// Contrasting Cluster Assignments, NeurIPS 2020, §3.1; facebookresearch/swav
// main_swav.py (prototypes normalized in train(), frozen while iteration <
// freeze_prototypes_niters).
type Prototypes struct {
	*Linear
}

// NewPrototypes returns k prototypes of dimension d, initialized as
// nn.Linear(d, k, bias=False) and then normalized to unit rows. The weight
// is called name+".weight". It returns an error wrapping ssl.ErrParam for
// non-positive sizes or a nil rng.
func NewPrototypes(name string, d, k int, rng *rand.Rand) (*Prototypes, error) {
	l, err := NewLinear(name, d, k, false, rng)
	if err != nil {
		return nil, fmt.Errorf("backbone: NewPrototypes: %w", err)
	}
	p := &Prototypes{l}
	p.Normalize()
	return p, nil
}

func (p *Prototypes) label() string { return "Prototypes(" + p.name + ")" }

// Forward writes the scores x·Cᵀ into dst; see [Layer].
func (p *Prototypes) Forward(ws *Workspace, dst, x ssl.Tensor, train bool) error {
	return runForward(p, ws, dst, x, train)
}

// Backward adds ∂L/∂C into the gradient (unless frozen) and writes ∂L/∂x;
// see [Layer].
func (p *Prototypes) Backward(ws *Workspace, dx, dy ssl.Tensor) error {
	return runBackward(p, ws, dx, dy)
}

func (p *Prototypes) backward(ws *Workspace, dx, dy []float32) error {
	if p.Weight.Frozen {
		if dx != nil {
			n := ws.shape[0]
			kernel.Gemm(false, false, n, p.In, p.Out, 1, dy, p.Out, p.Weight.Data(), p.In, 0, dx, p.In)
		}
		return nil
	}
	return p.Linear.backward(ws, dx, dy)
}

// Normalize sets every row of the prototype matrix to unit Euclidean norm,
// C_k ← C_k / max(‖C_k‖, 1e-12), as SwAV does after each optimizer step
// (nn.functional.normalize(w, dim=1, p=2)).
func (p *Prototypes) Normalize() {
	w := p.Weight.Data()
	kernel.L2NormalizeRows(w, nil, w, p.Out, p.In, defaultNormEps)
}

// Freeze sets whether the prototypes are frozen: a frozen prototype matrix
// gets no gradient and the optimizers skip it (no update, no weight decay,
// no momentum), as SwAV's p.grad = None during its first iterations.
func (p *Prototypes) Freeze(frozen bool) { p.Weight.Frozen = frozen }

// MLP is the two-layer head of the SSL methods,
//
//	Linear(in, hidden) → BatchNorm1d(hidden) → ReLU → Linear(hidden, out)
//
// used as SimCLR's, SwAV's and BYOL's projection head and as BYOL's
// predictor (Grill et al., NeurIPS 2020, §3.3: 4096 hidden, 256 out; the
// fmnist-ssl-v1 protocol uses 128→256→64 and 64→256→64). Its tensors are
// called name+".0.weight", ".0.bias", ".1.weight", … ".3.bias", as an
// nn.Sequential of the same layers names them.
type MLP struct {
	*Sequential
	In, Hidden, Out int
}

// NewMLP returns a projection head (or a BYOL predictor) in→hidden→out with
// PyTorch's initialization from rng and batch normalization of the hidden
// layer. It returns an error wrapping ssl.ErrParam for non-positive sizes
// or a nil rng.
func NewMLP(name string, in, hidden, out int, rng *rand.Rand) (*MLP, error) {
	l1, err := NewLinear(join(name, "0"), in, hidden, true, rng)
	if err != nil {
		return nil, fmt.Errorf("backbone: NewMLP: %w", err)
	}
	bn, err := NewBatchNorm(join(name, "1"), hidden, nil)
	if err != nil {
		return nil, fmt.Errorf("backbone: NewMLP: %w", err)
	}
	l2, err := NewLinear(join(name, "3"), hidden, out, true, rng)
	if err != nil {
		return nil, fmt.Errorf("backbone: NewMLP: %w", err)
	}
	return &MLP{Sequential: NewSequential(name, l1, bn, NewReLU(join(name, "2")), l2), In: in, Hidden: hidden, Out: out}, nil
}

// NewPredictor returns BYOL's predictor, the same head as [NewMLP].
func NewPredictor(name string, in, hidden, out int, rng *rand.Rand) (*MLP, error) {
	return NewMLP(name, in, hidden, out, rng)
}
