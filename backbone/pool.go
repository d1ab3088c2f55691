package backbone

import (
	"fmt"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// MaxPool2D is max pooling with a K×K window and stride S, no padding,
// floor mode (torch.nn.functional.max_pool2d(x, K, S)): for x of shape
// N×C×H×W the output is N×C×Ho×Wo with Ho = ⌊(H−K)/S⌋+1 (Wo likewise), and
//
//	out[n,c,i,j] = max_{u,v < K} x[n,c,S·i+u,S·j+v]
//
// The whole upstream gradient of a window goes to its argmax. Ties go to
// the first maximal element in row-major order of the window (the running
// maximum is replaced only by a strictly greater value), as PyTorch's CPU
// kernel does; rows and columns no window reaches get 0.
type MaxPool2D struct {
	K, Stride int
	name      string
}

// NewMaxPool2D returns max pooling with a k×k window and the given stride.
// It returns an error wrapping ssl.ErrParam if either is below 1.
func NewMaxPool2D(name string, k, stride int) (*MaxPool2D, error) {
	fn := "backbone: NewMaxPool2D(" + name + ")"
	if err := check.Count(fn, "k", k, 1); err != nil {
		return nil, err
	}
	if err := check.Count(fn, "stride", stride, 1); err != nil {
		return nil, err
	}
	return &MaxPool2D{K: k, Stride: stride, name: name}, nil
}

func (m *MaxPool2D) label() string { return "MaxPool2D(" + m.name + ")" }

// Params returns nil.
func (m *MaxPool2D) Params() []*Param { return nil }

// Buffers returns nil.
func (m *MaxPool2D) Buffers() []*Param { return nil }

// OutShape returns N×C×Ho×Wo for an input N×C×H×W.
func (m *MaxPool2D) OutShape(in []int) ([]int, error) {
	if len(in) != 4 {
		return nil, fmt.Errorf("input shape %v, want N×C×H×W: %w", in, ssl.ErrShape)
	}
	if in[2] < m.K || in[3] < m.K {
		return nil, fmt.Errorf("input %d×%d is smaller than the window %d: %w", in[2], in[3], m.K, ssl.ErrShape)
	}
	return []int{in[0], in[1], (in[2]-m.K)/m.Stride + 1, (in[3]-m.K)/m.Stride + 1}, nil
}

// Forward writes the window maxima into dst; see [Layer].
func (m *MaxPool2D) Forward(ws *Workspace, dst, x ssl.Tensor, train bool) error {
	return runForward(m, ws, dst, x, train)
}

// Backward routes dy to the argmax of each window; see [Layer].
func (m *MaxPool2D) Backward(ws *Workspace, dx, dy ssl.Tensor) error {
	return runBackward(m, ws, dx, dy)
}

// planeGrain: planes (one channel of one image) per parallel block, so a
// block covers at least 32k input values (as bnGrain).
func planeGrain(planes, size int) int { return kernel.Grain(planes, size, 1<<15) }

func (m *MaxPool2D) forward(ws *Workspace, dst, x []float32, shape []int, train bool) error {
	planes, h, w := shape[0]*shape[1], shape[2], shape[3]
	ho, wo := (h-m.K)/m.Stride+1, (w-m.K)/m.Stride+1
	// The argmax of every window (an index into its plane) is kept for the
	// backward pass.
	if cap(ws.idx) < len(dst) {
		ws.idx = make([]int32, len(dst))
	}
	idx := ws.idx[:len(dst)]
	kernel.ParallelFor(planes, planeGrain(planes, h*w), func(lo, hi int) {
		if m.K == 2 && m.Stride == 2 {
			// The same choice as argmax, in vector registers where the
			// CPU has them.
			kernel.MaxPool2x2(dst[lo*ho*wo:], idx[lo*ho*wo:], x[lo*h*w:], hi-lo, h, w)
			return
		}
		for p := lo; p < hi; p++ {
			src, out, at := x[p*h*w:(p+1)*h*w], dst[p*ho*wo:(p+1)*ho*wo], idx[p*ho*wo:(p+1)*ho*wo]
			for i := range ho {
				for j := range wo {
					k, v := m.argmax(src, w, i, j)
					out[i*wo+j], at[i*wo+j] = v, int32(k)
				}
			}
		}
	})
	return nil
}

// argmax returns the index in the plane and value of the first maximum of
// window (i, j), scanning in row-major order.
func (m *MaxPool2D) argmax(src []float32, w, i, j int) (int, float32) {
	if m.K == 2 {
		r := i * m.Stride * w
		c := j * m.Stride
		at, best := r+c, src[r+c]
		if v := src[r+c+1]; v > best {
			at, best = r+c+1, v
		}
		if v := src[r+w+c]; v > best {
			at, best = r+w+c, v
		}
		if v := src[r+w+c+1]; v > best {
			at, best = r+w+c+1, v
		}
		return at, best
	}
	at := i*m.Stride*w + j*m.Stride
	best := src[at]
	for u := range m.K {
		for v := range m.K {
			k := (i*m.Stride+u)*w + j*m.Stride + v
			if src[k] > best {
				at, best = k, src[k]
			}
		}
	}
	return at, best
}

func (m *MaxPool2D) backward(ws *Workspace, dx, dy []float32) error {
	if dx == nil {
		return nil
	}
	planes, h, w := ws.shape[0]*ws.shape[1], ws.shape[2], ws.shape[3]
	ho, wo := ws.outShape[2], ws.outShape[3]
	idx := ws.idx[:len(dy)]
	kernel.ParallelFor(planes, planeGrain(planes, h*w), func(lo, hi int) {
		for p := lo; p < hi; p++ {
			g, d, at := dy[p*ho*wo:(p+1)*ho*wo], dx[p*h*w:(p+1)*h*w], idx[p*ho*wo:(p+1)*ho*wo]
			clear(d)
			for i, k := range at {
				d[k] += g[i]
			}
		}
	})
	return nil
}

// GlobalAvgPool averages each channel over its H×W positions
// (torch.nn.functional.adaptive_avg_pool2d(x, 1).flatten(1)): an N×C×H×W
// input gives an N×C output, out[n,c] = Σ_{h,w} x[n,c,h,w]/(H·W), and
// ∂L/∂x[n,c,h,w] = dy[n,c]/(H·W). Sums accumulate in float64.
type GlobalAvgPool struct{ name string }

// NewGlobalAvgPool returns global average pooling.
func NewGlobalAvgPool(name string) *GlobalAvgPool { return &GlobalAvgPool{name: name} }

func (g *GlobalAvgPool) label() string { return "GlobalAvgPool(" + g.name + ")" }

// Params returns nil.
func (g *GlobalAvgPool) Params() []*Param { return nil }

// Buffers returns nil.
func (g *GlobalAvgPool) Buffers() []*Param { return nil }

// OutShape returns N×C for an input N×C×H×W.
func (g *GlobalAvgPool) OutShape(in []int) ([]int, error) {
	if len(in) != 4 || in[2] < 1 || in[3] < 1 {
		return nil, fmt.Errorf("input shape %v, want N×C×H×W: %w", in, ssl.ErrShape)
	}
	return []int{in[0], in[1]}, nil
}

// Forward writes the channel means into dst; see [Layer].
func (g *GlobalAvgPool) Forward(ws *Workspace, dst, x ssl.Tensor, train bool) error {
	return runForward(g, ws, dst, x, train)
}

// Backward spreads dy evenly over each channel; see [Layer].
func (g *GlobalAvgPool) Backward(ws *Workspace, dx, dy ssl.Tensor) error {
	return runBackward(g, ws, dx, dy)
}

func (g *GlobalAvgPool) forward(ws *Workspace, dst, x []float32, shape []int, train bool) error {
	planes, hw := shape[0]*shape[1], shape[2]*shape[3]
	for p := range planes {
		dst[p] = float32(kernel.Sum(x[p*hw:(p+1)*hw]) / float64(hw))
	}
	return nil
}

func (g *GlobalAvgPool) backward(ws *Workspace, dx, dy []float32) error {
	if dx == nil {
		return nil
	}
	planes, hw := ws.shape[0]*ws.shape[1], ws.shape[2]*ws.shape[3]
	inv := 1 / float32(hw)
	for p := range planes {
		v := dy[p] * inv
		d := dx[p*hw : (p+1)*hw]
		for i := range d {
			d[i] = v
		}
	}
	return nil
}
