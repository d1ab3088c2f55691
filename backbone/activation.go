package backbone

import (
	"fmt"
	"math"

	"ssl"
	"ssl/internal/kernel"
)

// elemGrain is the number of elements per parallel block of an
// element-wise pass (64k floats: 256 KB, well above the hand-off cost).
const elemGrain = 1 << 16

// ReLU is the rectifier max(x, 0) on an input of any shape; its gradient is
// dy·[x > 0] (0 at exactly x = 0, as PyTorch's).
type ReLU struct{ name string }

// NewReLU returns a rectifier; name appears in error messages.
func NewReLU(name string) *ReLU { return &ReLU{name: name} }

func (r *ReLU) label() string { return "ReLU(" + r.name + ")" }

// Params returns nil.
func (r *ReLU) Params() []*Param { return nil }

// Buffers returns nil.
func (r *ReLU) Buffers() []*Param { return nil }

// OutShape returns in.
func (r *ReLU) OutShape(in []int) ([]int, error) { return append([]int(nil), in...), nil }

// Forward writes max(x, 0) into dst; see [Layer].
func (r *ReLU) Forward(ws *Workspace, dst, x ssl.Tensor, train bool) error {
	return runForward(r, ws, dst, x, train)
}

// Backward writes dy·[x > 0] into dx; see [Layer].
func (r *ReLU) Backward(ws *Workspace, dx, dy ssl.Tensor) error { return runBackward(r, ws, dx, dy) }

func (r *ReLU) forward(ws *Workspace, dst, x []float32, shape []int, train bool) error {
	kernel.ParallelFor(len(x), elemGrain, func(lo, hi int) {
		d := dst[lo:hi]
		for i, v := range x[lo:hi] {
			d[i] = max(v, 0)
		}
	})
	return nil
}

func (r *ReLU) backward(ws *Workspace, dx, dy []float32) error {
	if dx == nil {
		return nil
	}
	x := ws.x
	kernel.ParallelFor(len(x), elemGrain, func(lo, hi int) {
		d, g := dx[lo:hi], dy[lo:hi]
		for i, v := range x[lo:hi] {
			if v > 0 {
				d[i] = g[i]
			} else {
				d[i] = 0
			}
		}
	})
	return nil
}

// L2Normalize scales each row of an N×D input to unit Euclidean norm, as
// torch.nn.functional.normalize(x, p=2, dim=1, eps=1e-12):
//
//	r_i = max(‖x_i‖₂, eps),  out_i = x_i / r_i
//
// Its gradient is (dy_i − out_i·(out_i·dy_i))/‖x_i‖ where ‖x_i‖ > eps, and
// dy_i/eps where the clamp is active (a zero row gets a gradient of about
// 1e12·dy, as PyTorch's). Norms accumulate in float64.
type L2Normalize struct {
	// Eps is the clamp of the norm; default 1e-12 (PyTorch's).
	Eps  float64
	name string
}

const defaultNormEps = 1e-12 // torch.nn.functional.normalize's default eps

// NewL2Normalize returns row normalization with eps = 1e-12.
func NewL2Normalize(name string) *L2Normalize {
	return &L2Normalize{Eps: defaultNormEps, name: name}
}

func (l *L2Normalize) label() string { return "L2Normalize(" + l.name + ")" }

// Params returns nil.
func (l *L2Normalize) Params() []*Param { return nil }

// Buffers returns nil.
func (l *L2Normalize) Buffers() []*Param { return nil }

// OutShape returns in for an N×D input.
func (l *L2Normalize) OutShape(in []int) ([]int, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("input shape %v, want N×D: %w", in, ssl.ErrShape)
	}
	if !(l.Eps > 0) || math.IsInf(l.Eps, 0) {
		return nil, fmt.Errorf("eps must be positive (eps=%v): %w", l.Eps, ssl.ErrParam)
	}
	return append([]int(nil), in...), nil
}

// Forward writes the normalized rows into dst; see [Layer].
func (l *L2Normalize) Forward(ws *Workspace, dst, x ssl.Tensor, train bool) error {
	return runForward(l, ws, dst, x, train)
}

// Backward writes ∂L/∂x into dx; see [Layer].
func (l *L2Normalize) Backward(ws *Workspace, dx, dy ssl.Tensor) error {
	return runBackward(l, ws, dx, dy)
}

func (l *L2Normalize) forward(ws *Workspace, dst, x []float32, shape []int, train bool) error {
	n, d := shape[0], shape[1]
	norms := ws.vec(0, n)
	kernel.L2NormalizeRows(dst, norms, x, n, d, float32(l.Eps))
	return nil
}

func (l *L2Normalize) backward(ws *Workspace, dx, dy []float32) error {
	if dx == nil {
		return nil
	}
	n, d := ws.shape[0], ws.shape[1]
	norms := ws.saved[0][:n]
	// dx first holds the forward output, recomputed from x (the caller
	// owns dst and may have changed it), then the gradient in place.
	kernel.L2NormalizeRows(dx, nil, ws.x, n, d, float32(l.Eps))
	for i := range n {
		y, g, o := dx[i*d:(i+1)*d], dy[i*d:(i+1)*d], dx[i*d:(i+1)*d]
		nr := float64(norms[i])
		if nr <= l.Eps {
			inv := 1 / l.Eps
			for j, v := range g {
				o[j] = float32(float64(v) * inv)
			}
			continue
		}
		c := kernel.Dot(g, y)
		inv := 1 / nr
		for j, v := range g {
			o[j] = float32((float64(v) - c*float64(y[j])) * inv)
		}
	}
	return nil
}
