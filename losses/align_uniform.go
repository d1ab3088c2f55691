package losses

import (
	"fmt"
	"math"

	"ssl"
	"ssl/internal/kernel"
)

// Align returns the alignment loss of Wang and Isola between paired rows of
// x and y (both B×D, used as given: the reference feeds L2-normalised
// encoder outputs and does not normalise), and writes ∂L/∂x into dx and
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
func Align(dx, dy, x, y ssl.Tensor, alpha float32) (float64, error) {
	const fn = "Align"
	b, d, xv, yv, gx, gy, err := alignCheck(fn, dx, dy, x, y)
	if err != nil {
		return 0, err
	}
	if err := contrastivePositive(fn, "alpha", alpha); err != nil {
		return 0, err
	}
	loss := alignForward(xv, yv, b, d, float64(alpha))
	if err := contrastiveFinite(fn, loss, "x or y"); err != nil {
		return loss, err
	}
	if gx != nil || gy != nil {
		if err := alignGradBound(fn, xv, yv, b, d, float64(alpha), 1); err != nil {
			return loss, err
		}
	}
	alignBackward(gx, gy, xv, yv, b, d, float64(alpha), 1, false)
	return loss, nil
}

// alignCheck views the inputs and destinations shared by Align and
// AlignUniform.
func alignCheck(fn string, dx, dy, x, y ssl.Tensor) (b, d int, xv, yv, gx, gy []float32, err error) {
	b, d, xv, err = contrastiveMatrix(fn, "x", x)
	if err != nil {
		return
	}
	if err = contrastiveNonEmpty(fn, "batch size B", b, 1); err != nil {
		return
	}
	if yv, err = contrastiveMatrixOf(fn, "y", y, b, d); err != nil {
		return
	}
	if gx, err = contrastiveDst(fn, "dx", dx, b, d, xv, yv); err != nil {
		return
	}
	if gy, err = contrastiveDst(fn, "dy", dy, b, d, xv, yv); err != nil {
		return
	}
	err = contrastiveDistinct(fn, []string{"dx", "dy"}, gx, gy)
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
				return fmt.Errorf("losses: %s: the alignment gradient of row %d overflows float32 (%.3g; alpha=%v too large?): %w", fn, i, g, alpha, ssl.ErrNotFinite)
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
	Workspace *ContrastiveWorkspace
}

// Uniform returns the uniformity loss of Wang and Isola of the rows of x
// (B×D, used as given: the reference feeds L2-normalised outputs), the log
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
func Uniform(dx, x ssl.Tensor, t float32, opts *UniformOptions) (float64, error) {
	const fn = "Uniform"
	b, d, xv, err := contrastiveMatrix(fn, "x", x)
	if err != nil {
		return 0, err
	}
	if err := contrastiveNonEmpty(fn, "batch size B", b, 2); err != nil {
		return 0, err
	}
	g, err := contrastiveDst(fn, "dx", dx, b, d, xv)
	if err != nil {
		return 0, err
	}
	if err := contrastivePositive(fn, "t", t); err != nil {
		return 0, err
	}
	var ws *ContrastiveWorkspace
	if opts != nil {
		ws = opts.Workspace
	}
	ws = contrastiveWS(ws)
	loss := ws.uniformForward(xv, b, d, t, slotS)
	if err := contrastiveFinite(fn, loss, "x"); err != nil {
		return loss, err
	}
	if g != nil {
		gs := ws.buf(slotDA, b*d)
		ws.uniformBackward(gs, xv, b, d, t, 1, slotS, false)
		if err := contrastiveGradFinite(fn, "dx", gs, "t"); err != nil {
			return loss, err
		}
		copy(g, gs)
	}
	return loss, nil
}

// uniformForward returns the uniformity loss of the B×D rows xv and leaves
// the B×B pair logits −t·d_ij (diagonal −Inf) in slot s.
func (w *ContrastiveWorkspace) uniformForward(xv []float32, b, d int, t float32, s int) float64 {
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
func (w *ContrastiveWorkspace) uniformBackward(g, xv []float32, b, d int, t, scale float32, s int, accumulate bool) {
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
	Workspace *ContrastiveWorkspace
}

// AlignUniform returns the weighted sum of [Align] and [Uniform] that Wang
// and Isola train with, for paired rows x and y (both B×D, used as given),
// and writes ∂L/∂x into dx and ∂L/∂y into dy:
//
//	L = w_a · 1/B·Σ_i ‖x_i − y_i‖^α  +  w_u · (uniform_t(x) + uniform_t(y)) / 2
//
// If terms is not nil it must have 3 entries and receives align,
// uniform_t(x) and uniform_t(y). The weights may be any finite numbers
// (a zero weight drops its term). B ≥ 2 is needed. A nil destination skips
// that gradient. With destinations and opts.Workspace supplied the call
// allocates nothing of its own.
//
// It returns an error wrapping ssl.ErrShape if x is not a matrix with B ≥ 2
// rows, y or a non-nil destination differs from it in shape, terms has the
// wrong length, or a destination overlaps an input or the other
// destination; ssl.ErrParam if α or t is not finite and > 0 or a weight is
// not finite; ssl.ErrNotFinite if the loss is not finite or a gradient would overflow float32. Nothing is
// written when it returns an error.
//
// Reference: Wang and Isola, ICML 2020, eq. 2 and 4;
// SsnL/align_uniform@e256d476ddbe04873dc15a8f893d4443d1f81671
// examples/stl10/main.py (loss = align_w·align + unif_w·(uniform(x) +
// uniform(y))/2).
func AlignUniform(dx, dy ssl.Tensor, terms []float64, x, y ssl.Tensor, alpha, t, alignW, unifW float32, opts *AlignUniformOptions) (float64, error) {
	const fn = "AlignUniform"
	b, d, xv, yv, gx, gy, err := alignCheck(fn, dx, dy, x, y)
	if err != nil {
		return 0, err
	}
	if err := contrastiveNonEmpty(fn, "batch size B", b, 2); err != nil {
		return 0, err
	}
	if terms != nil && len(terms) != 3 {
		return 0, fmt.Errorf("losses: %s: terms has %d entries, want 3: %w", fn, len(terms), ssl.ErrShape)
	}
	if err := contrastivePositive(fn, "alpha", alpha); err != nil {
		return 0, err
	}
	if err := contrastivePositive(fn, "t", t); err != nil {
		return 0, err
	}
	if err := contrastiveFiniteParam(fn, "alignW", alignW); err != nil {
		return 0, err
	}
	if err := contrastiveFiniteParam(fn, "unifW", unifW); err != nil {
		return 0, err
	}
	var ws *ContrastiveWorkspace
	if opts != nil {
		ws = opts.Workspace
	}
	ws = contrastiveWS(ws)
	al := alignForward(xv, yv, b, d, float64(alpha))
	ux := ws.uniformForward(xv, b, d, t, slotS)
	uy := ws.uniformForward(yv, b, d, t, slotC)
	loss := float64(alignW)*al + float64(unifW)*(ux+uy)/2
	if err := contrastiveFinite(fn, loss, "x or y"); err != nil {
		return loss, err
	}
	if terms != nil {
		terms[0], terms[1], terms[2] = al, ux, uy
	}
	if gx == nil && gy == nil {
		return loss, nil
	}
	if err := alignGradBound(fn, xv, yv, b, d, float64(alpha), float64(alignW)); err != nil {
		return loss, err
	}
	// Both gradients in scratch first; copied once known finite.
	half := unifW / 2
	var sx, sy []float32
	if gx != nil {
		sx = ws.buf(slotDA, b*d)
		alignBackward(sx, nil, xv, yv, b, d, float64(alpha), float64(alignW), false)
		ws.uniformBackward(sx, xv, b, d, t, half, slotS, true)
		if err := contrastiveGradFinite(fn, "dx", sx, "t or unifW"); err != nil {
			return loss, err
		}
	}
	if gy != nil {
		sy = ws.buf(slotE, b*d)
		alignBackward(nil, sy, xv, yv, b, d, float64(alpha), float64(alignW), false)
		ws.uniformBackward(sy, yv, b, d, t, half, slotC, true)
		if err := contrastiveGradFinite(fn, "dy", sy, "t or unifW"); err != nil {
			return loss, err
		}
	}
	copy(gx, sx)
	copy(gy, sy)
	return loss, nil
}
