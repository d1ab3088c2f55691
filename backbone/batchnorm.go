package backbone

import (
	"fmt"
	"math"

	"ssl"
	"ssl/dist"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// BatchNorm is batch normalization over the channels of an N×C (1-D) or
// N×C×H×W (2-D) input, as torch.nn.BatchNorm1d / BatchNorm2d:
//
//	μ_c = Σ_c x / n,  σ²_c = Σ_c (x − μ_c)² / n,  x̂ = (x − μ_c)/√(σ²_c + eps)
//	out = γ_c · x̂ + β_c
//
// where Σ_c runs over the n = N·H·W (or N) values of channel c. In training
// mode it uses the batch statistics and updates the running ones as PyTorch
// does, with the unbiased variance:
//
//	running_mean ← (1−m)·running_mean + m·μ_c
//	running_var  ← (1−m)·running_var  + m·σ²_c·n/(n−1)
//
// In evaluation mode μ and σ² are the running statistics. The batch
// statistics take one pass over values shifted by the channel's first value
// (see channelStats), so inputs far from zero (100 ± 1) keep their
// variance; they, and the backward pass's two sums, accumulate in float64.
//
// The backward pass in training mode is the full batch-statistics gradient
// (μ and σ² are not detached):
//
//	∂L/∂x = γ_c/(n·√(σ²_c+eps)) · (n·g − Σ_c g − x̂·Σ_c g·x̂),
//	∂L/∂γ_c = Σ_c g·x̂,  ∂L/∂β_c = Σ_c g
//
// Reference: Ioffe & Szegedy, Batch Normalization, ICML 2015, Alg. 1;
// torch.nn.functional.batch_norm (PyTorch 1.13).
type BatchNorm struct {
	C                       int
	Eps, Momentum           float64
	Weight, Bias            *Param // γ and β, length C
	RunningMean, RunningVar *Param // buffers, length C
	name                    string
	// Comm, when not nil, synchronizes the training-mode statistics over
	// its ranks (torch.nn.SyncBatchNorm): μ and σ² are those of every
	// rank's batch together (one all-gather of 3·C float64 per forward
	// pass), every rank updates its running statistics with them, and the
	// backward pass all-reduces the 2·C sums Σg and Σg·x̂, so that ∂L/∂x
	// is the gradient of the sum of the ranks' losses while ∂L/∂γ and
	// ∂L/∂β hold this rank's share (backbone.DataParallel averages them).
	// Every rank must run the same training-mode passes in the same order;
	// evaluation mode makes no collective. [SyncBatchNorm] sets it on a
	// whole network.
	Comm dist.Comm
	// relu fuses the rectifier that follows the normalization in ConvNet3
	// and ResNet-18: out = max(γ·x̂ + β, 0), one pass instead of two.
	relu bool
}

// BatchNormOptions holds the optional settings of [NewBatchNorm].
type BatchNormOptions struct {
	// Eps is added to the variance; > 0, default 1e-5 (PyTorch's).
	Eps float64
	// Momentum of the running statistics; in (0, 1], default 0.1
	// (PyTorch's).
	Momentum float64
}

// Defaults of PyTorch's BatchNorm1d/2d.
const (
	defaultBNEps      = 1e-5
	defaultBNMomentum = 0.1
)

// NewBatchNorm returns batch normalization over c channels with γ = 1,
// β = 0, running mean 0 and running variance 1 (PyTorch's initial values).
// Its tensors are called name+".weight", ".bias", ".running_mean" and
// ".running_var". It returns an error wrapping ssl.ErrParam for c < 1 or an
// option out of range.
func NewBatchNorm(name string, c int, opts *BatchNormOptions) (*BatchNorm, error) {
	eps, mom := defaultBNEps, defaultBNMomentum
	if opts != nil {
		if opts.Eps != 0 {
			eps = opts.Eps
		}
		if opts.Momentum != 0 {
			mom = opts.Momentum
		}
	}
	fn := "backbone: NewBatchNorm(" + name + ")"
	for _, err := range []error{
		check.Count(fn, "c", c, 1), check.Positive(fn, "eps", eps),
		check.Positive(fn, "momentum", mom), check.Within(fn, "momentum", mom, 0, 1),
	} {
		if err != nil {
			return nil, err
		}
	}
	bn := &BatchNorm{C: c, Eps: eps, Momentum: mom, name: name}
	bn.Weight = newParam(join(name, "weight"), c)
	for i := range bn.Weight.Data() {
		bn.Weight.Data()[i] = 1
	}
	bn.Bias = newParam(join(name, "bias"), c)
	bn.RunningMean = newBuffer(join(name, "running_mean"), 0, c)
	bn.RunningVar = newBuffer(join(name, "running_var"), 1, c)
	return bn, nil
}

func (bn *BatchNorm) label() string {
	if bn.relu {
		return "BatchNorm+ReLU(" + bn.name + ")"
	}
	return "BatchNorm(" + bn.name + ")"
}

// newBNReLU returns batch normalization followed by a fused ReLU.
func newBNReLU(name string, c int, opts *BatchNormOptions) (*BatchNorm, error) {
	bn, err := NewBatchNorm(name, c, opts)
	if bn != nil {
		bn.relu = true
	}
	return bn, err
}

// Params returns γ and β.
func (bn *BatchNorm) Params() []*Param { return []*Param{bn.Weight, bn.Bias} }

// Buffers returns the running mean and variance.
func (bn *BatchNorm) Buffers() []*Param { return []*Param{bn.RunningMean, bn.RunningVar} }

// OutShape returns in for an N×C or N×C×H×W input.
func (bn *BatchNorm) OutShape(in []int) ([]int, error) {
	if (len(in) != 2 && len(in) != 4) || in[1] != bn.C {
		return nil, fmt.Errorf("input shape %v, want N×%d or N×%d×H×W: %w", in, bn.C, bn.C, ssl.ErrShape)
	}
	return append([]int(nil), in...), nil
}

// Forward normalizes x into dst; in training mode it also updates the
// running statistics. See [Layer].
func (bn *BatchNorm) Forward(ws *Workspace, dst, x ssl.Tensor, train bool) error {
	return runForward(bn, ws, dst, x, train)
}

// Backward adds ∂L/∂γ, ∂L/∂β into the gradients and writes ∂L/∂x; see
// [Layer].
func (bn *BatchNorm) Backward(ws *Workspace, dx, dy ssl.Tensor) error {
	return runBackward(bn, ws, dx, dy)
}

// channelStats returns the mean and the biased variance of one channel
// (n spans of hw values, ld apart, the first at x[0]) in one pass over the
// values shifted by the channel's first value K:
//
//	μ = K + Σ(x−K)/n,  σ² = Σ(x−K)²/n − (Σ(x−K)/n)²
//
// The shift keeps the squares at the scale of the spread, not of the mean
// (values of 100 ± 1 keep their variance, where Σx² − (Σx)²/n would lose
// it). Each x−K is rounded to float32 and summed, with its square, in
// float64 by kernel.BNStats: each sum is within γ(m−1) ≈ m·2⁻⁵³ of the
// sum of its terms' magnitudes away from the exact one, m = n·hw.
func channelStats(x []float32, n, hw, ld int) (mu, v float64) {
	k := x[0]
	s, ss := kernel.BNStats(x, n, hw, ld, k)
	cnt := float64(n * hw)
	ms := s / cnt
	v = max(ss/cnt-ms*ms, 0)
	return float64(k) + ms, v
}

// bnGeom returns N, C and the spatial size of an input shape.
func bnGeom(shape []int) (n, c, hw int) {
	hw = 1
	if len(shape) == 4 {
		hw = shape[2] * shape[3]
	}
	return shape[0], shape[1], hw
}

// bnGrain: channels per parallel block, so a block covers at least 32k
// values (below that the goroutine hand-off costs more than the work).
func bnGrain(c, perChannel int) int { return kernel.Grain(c, perChannel, 1<<15) }

func (bn *BatchNorm) forward(ws *Workspace, dst, x []float32, shape []int, train bool) error {
	n, c, hw := bnGeom(shape)
	cnt := n * hw
	if train && cnt < 2 {
		return fmt.Errorf("backbone: %s.Forward: training needs more than 1 value per channel (shape %v): %w", bn.label(), shape, ssl.ErrShape)
	}
	if train && bn.Comm != nil {
		return bn.forwardSync(ws, dst, x, n, c, hw)
	}
	mean, inv := ws.vec(0, c), ws.vec(1, c)
	gamma, beta := bn.Weight.Data(), bn.Bias.Data()
	rm, rv := bn.RunningMean.Data(), bn.RunningVar.Data()
	if !train {
		for ch := range c {
			mean[ch] = rm[ch]
			inv[ch] = float32(1 / math.Sqrt(float64(rv[ch])+bn.Eps))
		}
	}
	ld := c * hw
	kernel.ParallelFor(c, bnGrain(c, cnt), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			xc := x[ch*hw:]
			if train {
				mu, v := channelStats(xc, n, hw, ld)
				mean[ch] = float32(mu)
				inv[ch] = float32(1 / math.Sqrt(v+bn.Eps))
				m := bn.Momentum
				rm[ch] = float32((1-m)*float64(rm[ch]) + m*mu)
				rv[ch] = float32((1-m)*float64(rv[ch]) + m*v*float64(cnt)/float64(cnt-1))
			}
			// out = float32(x·a) + b, or max(·, 0) with the fused ReLU: the
			// product is rounded before the sum, so the backward pass
			// recomputes exactly this value for the ReLU's mask.
			a := gamma[ch] * inv[ch]
			b := beta[ch] - mean[ch]*a
			kernel.BNAffine(dst[ch*hw:], xc, n, hw, ld, a, b, bn.relu)
		}
	})
	return nil
}

func (bn *BatchNorm) backward(ws *Workspace, dx, dy []float32) error {
	if ws.train && bn.Comm != nil {
		return bn.backwardSync(ws, dx, dy)
	}
	n, c, hw := bnGeom(ws.shape)
	cnt := n * hw
	x := ws.x
	mean, inv := ws.saved[0][:c], ws.saved[1][:c]
	gamma, beta := bn.Weight.Data(), bn.Bias.Data()
	gg, gb := bn.Weight.GradData(), bn.Bias.GradData()
	train, relu := ws.train, bn.relu
	ld := c * hw
	kernel.ParallelFor(c, bnGrain(c, cnt), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mu, is := mean[ch], inv[ch]
			// The fused ReLU's gradient dy·[out > 0] recomputes out with
			// the forward pass's own arithmetic: out = float32(x·ga) + gbias.
			ga := gamma[ch] * is
			gbias := beta[ch] - mu*ga
			xc, gc := x[ch*hw:], dy[ch*hw:]
			sg, sgx := kernel.BNGradSums(xc, gc, n, hw, ld, mu, ga, gbias, relu)
			sgx *= float64(is)
			gg[ch] += float32(sgx)
			gb[ch] += float32(sg)
			if dx == nil {
				continue
			}
			// dx = γ·inv·(g − Σg/n − x̂·Σg·x̂/n), x̂ = (x − μ)·inv; in
			// evaluation mode μ and σ² are constants and dx = γ·inv·g.
			var c0, c1 float32
			if train {
				c0 = float32(sg / float64(cnt))
				c1 = float32(sgx/float64(cnt)) * is
			}
			kernel.BNGrad(dx[ch*hw:], xc, gc, n, hw, ld, mu, ga, gbias, ga, c0, c1, relu, train)
		}
	})
	return nil
}
