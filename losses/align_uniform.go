package losses

import (
	"math"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// Align returns the alignment loss of Wang and Isola between paired rows of
// x and y (both B×D, used as given: the reference feeds L2-normalized
// encoder outputs and does not normalize), and writes ∂L/∂x into dx and
// ∂L/∂y into dy:
//
//	L = 1/B · Σ_i ‖x_i − y_i‖₂^α
//
// Both inputs get gradients. Where x_i = y_i the gradient of that row is 0,
// as the reference's autograd gives (the norm's subgradient at 0), for
// every α. B = 1 is valid. A nil destination skips that gradient. It
// allocates nothing of its own.
//
// It returns an error wrapping ssl.ErrShape if x is not a non-empty matrix,
// y or a non-nil destination differs from it in shape, or a destination
// overlaps an input or the other destination; ssl.ErrParam if α is not
// finite and > 0; ssl.ErrNotFinite if the loss is not finite or a gradient would overflow float32. Nothing is
// written when it returns an error.
//
// Reference: Wang and Isola, Understanding Contrastive Representation
// Learning through Alignment and Uniformity on the Hypersphere, ICML 2020,
// eq. 2 (L_align); SsnL/align_uniform@e256d476ddbe04873dc15a8f893d4443d1f81671
// align_uniform/__init__.py align_loss.
func Align(dx, dy, x, y ssl.Tensor, alpha float64) (float64, error) {
	const fn = "losses: Align"
	b, d, xv, yv, gx, gy, err := alignCheck(fn, dx, dy, x, y)
	if err != nil {
		return 0, err
	}
	if err := check.Positive(fn, "alpha", alpha); err != nil {
		return 0, err
	}
	loss := alignForward(xv, yv, b, d, alpha)
	if err := check.Result(fn, loss, "x or y"); err != nil {
		return loss, err
	}
	if gx != nil || gy != nil {
		if err := alignGradBound(fn, xv, yv, b, d, alpha, 1); err != nil {
			return loss, err
		}
	}
	alignBackward(gx, gy, xv, yv, b, d, alpha, 1, false)
	return loss, nil
}

// alignCheck views the inputs and destinations shared by Align and
// AlignUniform.
func alignCheck(fn string, dx, dy, x, y ssl.Tensor) (b, d int, xv, yv, gx, gy []float32, err error) {
	b, d, xv, err = check.Matrix(fn, "x", x)
	if err != nil {
		return
	}
	if err = check.AtLeast(fn, "batch size B", b, 1); err != nil {
		return
	}
	if yv, err = check.MatrixOf(fn, "y", y, b, d); err != nil {
		return
	}
	if gx, err = check.Dst(fn, "dx", dx, check.Shape2(b, d), xv, yv); err != nil {
		return
	}
	if gy, err = check.Dst(fn, "dy", dy, check.Shape2(b, d), xv, yv); err != nil {
		return
	}
	err = check.Distinct(fn, []string{"dx", "dy"}, gx, gy)
	return
}

func alignForward(xv, yv []float32, b, d int, alpha float64) float64 {
	var sum float64
	for i := range b {
		sum += math.Pow(alignDist(xv[i*d:(i+1)*d], yv[i*d:(i+1)*d]), alpha)
	}
	return sum / float64(b)
}

// alignDist returns ‖x − y‖₂ accumulated in float64.
func alignDist(x, y []float32) float64 {
	y = y[:len(x)]
	var s float64
	for t, v := range x {
		e := float64(v) - float64(y[t])
		s += e * e
	}
	return math.Sqrt(s)
}

// alignGradBound returns an error wrapping ssl.ErrNotFinite if w·∂align/∂x
// would overflow float32: its row i has norm |w|·α·‖x_i − y_i‖^(α−1)/B.
func alignGradBound(fn string, xv, yv []float32, b, d int, alpha, w float64) error {
	for i := range b {
		r := alignDist(xv[i*d:(i+1)*d], yv[i*d:(i+1)*d])
		if r > 0 {
			if g := math.Abs(w) * alpha * math.Pow(r, alpha-1) / float64(b); !(g <= math.MaxFloat32) {
				return check.Errorf(fn, ssl.ErrNotFinite, "the alignment gradient of row %d overflows float32 (%.3g; alpha=%v too large?)", i, g, alpha)
			}
		}
	}
	return nil
}

// alignBackward writes (or, with accumulate, adds) w·∂align/∂x into gx and
// w·∂align/∂y into gy; either may be nil.
func alignBackward(gx, gy, xv, yv []float32, b, d int, alpha, w float64, accumulate bool) {
	for i := range b {
		xi, yi := xv[i*d:(i+1)*d], yv[i*d:(i+1)*d]
		r := alignDist(xi, yi)
		// ∂‖e‖^α/∂e = α·‖e‖^(α−2)·e, and 0 at e = 0.
		var c float64
		if r > 0 {
			c = w * alpha * math.Pow(r, alpha-2) / float64(b)
		}
		for t := range xi {
			g := float32(c * (float64(xi[t]) - float64(yi[t])))
			if gx != nil {
				if accumulate {
					gx[i*d+t] += g
				} else {
					gx[i*d+t] = g
				}
			}
			if gy != nil {
				if accumulate {
					gy[i*d+t] -= g
				} else {
					gy[i*d+t] = -g
				}
			}
		}
	}
}

// UniformOptions holds the optional settings of [Uniform]. A nil
// *UniformOptions means the defaults.
type UniformOptions struct {
	// Workspace is reused scratch memory; nil allocates a fresh one per
	// call.
	Workspace *Workspace
}

// Uniform returns the uniformity loss of Wang and Isola of the rows of x
// (B×D, used as given: the reference feeds L2-normalized outputs), the log
// of the mean Gaussian potential over the B(B−1)/2 pairs, and writes ∂L/∂x
// into dx:
//
//	L = log( 2/(B(B−1)) · Σ_{i<j} exp(−t·‖x_i − x_j‖²) )
//
// The pairwise distances come from one B×B product, ‖x_i‖² + ‖x_j‖² −
// 2⟨x_i, x_j⟩ clamped at 0, and the sum is a log-sum-exp, stable for any t.
// Duplicate rows contribute 0 to each other's gradient. B ≥ 2 is needed (the
// mean over no pair is undefined; the reference returns NaN). A nil dx
// skips the gradient. With dx and opts.Workspace supplied the call
// allocates nothing of its own.
//
// It returns an error wrapping ssl.ErrShape if x is not a matrix with B ≥ 2
// rows, dx differs from it in shape or overlaps it; ssl.ErrParam if t is not
// finite and > 0; ssl.ErrNotFinite if the loss is not finite or a gradient would overflow float32. Nothing is
// written when it returns an error.
//
// Reference: Wang and Isola, ICML 2020, eq. 4 (L_uniform);
// SsnL/align_uniform@e256d476ddbe04873dc15a8f893d4443d1f81671
// align_uniform/__init__.py uniform_loss.
func Uniform(dx, x ssl.Tensor, t float64, opts *UniformOptions) (float64, error) {
	const fn = "losses: Uniform"
	b, d, xv, err := check.Matrix(fn, "x", x)
	if err != nil {
		return 0, err
	}
	if err := check.AtLeast(fn, "batch size B", b, 2); err != nil {
		return 0, err
	}
	g, err := check.Dst(fn, "dx", dx, check.Shape2(b, d), xv)
	if err != nil {
		return 0, err
	}
	t32, err := positive32(fn, "t", t)
	if err != nil {
		return 0, err
	}
	var ws *Workspace
	if opts != nil {
		ws = opts.Workspace
	}
	ws = orNew(ws)
	loss := ws.uniformForward(xv, b, d, t32, slotS)
	if err := check.Result(fn, loss, "x"); err != nil {
		return loss, err
	}
	if g != nil {
		gs := ws.buf(slotDA, b*d)
		ws.uniformBackward(gs, xv, b, d, t32, 1, slotS, false)
		if err := gradFinite(fn, "dx", gs, "t"); err != nil {
			return loss, err
		}
		copy(g, gs)
	}
	return loss, nil
}

// uniformForward returns the uniformity loss of the B×D rows xv and leaves
// the B×B pair logits −t·d_ij (diagonal −Inf) in slot s.
func (w *Workspace) uniformForward(xv []float32, b, d int, t float32, s int) float64 {
	sq := w.buf(slotNormB, b)
	for i := range b {
		sq[i] = float32(kernel.Dot(xv[i*d:(i+1)*d], xv[i*d:(i+1)*d]))
	}
	lg := w.buf(s, b*b)
	kernel.Gemm(false, true, b, b, d, 2*t, xv, d, xv, d, 0, lg, b)
	negInf := float32(math.Inf(-1))
	for i := range b {
		for j := range b {
			// −t·max(0, ‖x_i‖² + ‖x_j‖² − 2⟨x_i, x_j⟩)
			lg[i*b+j] = min(0, lg[i*b+j]-t*(sq[i]+sq[j]))
		}
		lg[i*b+i] = negInf
	}
	l := w.buf(slotLSE, 1)
	kernel.LogSumExpRows(l, lg, 1, b*b)
	return float64(l[0]) - math.Log(float64(b)*float64(b-1))
}

// uniformBackward writes (or, with accumulate, adds) scale·∂L/∂x into g,
// from the logits uniformForward left in slot s:
//
//	∂L/∂x_i = −4t·Σ_j w_ij (x_i − x_j),  w = softmax over the ordered pairs
func (w *Workspace) uniformBackward(g, xv []float32, b, d int, t, scale float32, s int, accumulate bool) {
	lg := w.buf(s, b*b)
	kernel.SoftmaxRows(lg, lg, 1, b*b)
	c := -4 * t * scale
	gw := w.buf(slotDB, b*d)
	kernel.Gemm(false, false, b, d, b, -c, lg, b, xv, d, 0, gw, d)
	for i := range b {
		rs := float32(kernel.Sum(lg[i*b : (i+1)*b]))
		kernel.Axpy(c*rs, xv[i*d:(i+1)*d], gw[i*d:(i+1)*d])
	}
	if !accumulate {
		copy(g, gw)
		return
	}
	kernel.Axpy(1, gw, g)
}

// AlignUniformOptions holds the optional settings of [AlignUniform]. A nil
// *AlignUniformOptions means the defaults.
type AlignUniformOptions struct {
	// Workspace is reused scratch memory; nil allocates a fresh one per
	// call.
	Workspace *Workspace
}

// AlignUniformResult is the value of [AlignUniform]: the loss and its
// terms.
type AlignUniformResult struct {
	// Loss is L = w_a·Align + w_u·(UniformX + UniformY)/2.
	Loss float64
	// Align is the alignment term 1/B·Σ_i ‖x_i − y_i‖^α.
	Align float64
	// UniformX and UniformY are the uniformity terms of x and of y.
	UniformX, UniformY float64
}

// AlignUniform returns the weighted sum of [Align] and [Uniform] that Wang
// and Isola train with, for paired rows x and y (both B×D, used as given),
// and writes ∂L/∂x into dx and ∂L/∂y into dy:
//
//	L = w_a · 1/B·Σ_i ‖x_i − y_i‖^α  +  w_u · (uniform_t(x) + uniform_t(y)) / 2
//
// The result holds L and its terms align, uniform_t(x) and uniform_t(y).
// The weights may be any finite numbers
// (a zero weight drops its term). B ≥ 2 is needed. A nil destination skips
// that gradient. With destinations and opts.Workspace supplied the call
// allocates nothing of its own.
//
// It returns an error wrapping ssl.ErrShape if x is not a matrix with B ≥ 2
// rows, y or a non-nil destination differs from it in shape, or a
// destination overlaps an input or the other
// destination; ssl.ErrParam if α or t is not finite and > 0 or a weight is
// not finite; ssl.ErrNotFinite if the loss is not finite or a gradient would overflow float32. Nothing is
// written when it returns an error.
//
// Reference: Wang and Isola, ICML 2020, eq. 2 and 4;
// SsnL/align_uniform@e256d476ddbe04873dc15a8f893d4443d1f81671
// examples/stl10/main.py (loss = align_w·align + unif_w·(uniform(x) +
// uniform(y))/2).
func AlignUniform(dx, dy, x, y ssl.Tensor, alpha, t, alignW, unifW float64, opts *AlignUniformOptions) (AlignUniformResult, error) {
	const fn = "losses: AlignUniform"
	b, d, xv, yv, gx, gy, err := alignCheck(fn, dx, dy, x, y)
	if err != nil {
		return AlignUniformResult{}, err
	}
	if err := check.AtLeast(fn, "batch size B", b, 2); err != nil {
		return AlignUniformResult{}, err
	}
	if err := check.Positive(fn, "alpha", alpha); err != nil {
		return AlignUniformResult{}, err
	}
	t32, err := positive32(fn, "t", t)
	if err != nil {
		return AlignUniformResult{}, err
	}
	if err := check.Finite(fn, "alignW", alignW); err != nil {
		return AlignUniformResult{}, err
	}
	unifW32, err := finite32(fn, "unifW", unifW)
	if err != nil {
		return AlignUniformResult{}, err
	}
	var ws *Workspace
	if opts != nil {
		ws = opts.Workspace
	}
	ws = orNew(ws)
	al := alignForward(xv, yv, b, d, alpha)
	ux := ws.uniformForward(xv, b, d, t32, slotS)
	uy := ws.uniformForward(yv, b, d, t32, slotC)
	res := AlignUniformResult{Loss: alignW*al + unifW*(ux+uy)/2, Align: al, UniformX: ux, UniformY: uy}
	if err := check.Result(fn, res.Loss, "x or y"); err != nil {
		return res, err
	}
	if gx == nil && gy == nil {
		return res, nil
	}
	if err := alignGradBound(fn, xv, yv, b, d, alpha, alignW); err != nil {
		return res, err
	}
	// Both gradients in scratch first; copied once known finite.
	half := unifW32 / 2
	var sx, sy []float32
	if gx != nil {
		sx = ws.buf(slotDA, b*d)
		alignBackward(sx, nil, xv, yv, b, d, alpha, alignW, false)
		ws.uniformBackward(sx, xv, b, d, t32, half, slotS, true)
		if err := gradFinite(fn, "dx", sx, "t or unifW"); err != nil {
			return res, err
		}
	}
	if gy != nil {
		sy = ws.buf(slotE, b*d)
		alignBackward(nil, sy, xv, yv, b, d, alpha, alignW, false)
		ws.uniformBackward(sy, yv, b, d, t32, half, slotC, true)
		if err := gradFinite(fn, "dy", sy, "t or unifW"); err != nil {
			return res, err
		}
	}
	copy(gx, sx)
	copy(gy, sy)
	return res, nil
}
