package losses

import (
	"fmt"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// contrastiveNormEps is torch.nn.functional.normalize's default eps, which
// every reference of the contrastive objectives uses:
// normalize(v) = v / max(‖v‖₂, 1e-12).
const contrastiveNormEps = 1e-12

// contrastiveParGrain is the number of logits one goroutine handles at least
// in the row-wise passes (shift, softmax gradient) of the cross-entropy.
const contrastiveParGrain = 1 << 15

// contrastiveExpChunk is the length of the pieces a row is exponentiated
// in, below the size at which kernel.Exp parallelizes by itself.
const contrastiveExpChunk = 1 << 14

// contrastiveCE is the cross-entropy machinery shared by every
// InfoNCE-shaped objective: rows of logits, one target column per row. Its
// row passes are methods bound once per workspace, so calls reuse them
// without allocating.
type contrastiveCE struct {
	x      []float32 // rows×cols logits, overwritten
	lse    []float32 // rows: per-row loss after the shift
	labels []int32
	cols   int
	scale  float32
	self   *contrastiveCE // the value shiftF and gradF are bound to
	shiftF func(lo, hi int)
	gradF  func(lo, hi int)
}

// shift subtracts each row's target logit from the row, so that the row's
// log-sum-exp is directly that row's cross-entropy, with the relative
// precision of the loss itself even when the logits are of order 1e3.
func (c *contrastiveCE) shift(lo, hi int) {
	cols := c.cols
	for i := lo; i < hi; i++ {
		row := c.x[i*cols : (i+1)*cols]
		y := row[c.labels[i]]
		for j := range row {
			row[j] -= y
		}
	}
}

// grad overwrites each shifted row with scale·(softmax − onehot(label)).
func (c *contrastiveCE) grad(lo, hi int) {
	cols, scale := c.cols, c.scale
	for i := lo; i < hi; i++ {
		row := c.x[i*cols : (i+1)*cols]
		l := c.lse[i]
		for j := range row {
			row[j] -= l
		}
		// The row pass already runs in parallel: hand kernel.Exp chunks
		// small enough that it does not start goroutines of its own.
		for lo := 0; lo < len(row); lo += contrastiveExpChunk {
			chunk := row[lo:min(lo+contrastiveExpChunk, len(row))]
			kernel.Exp(chunk, chunk)
		}
		kernel.Scale(scale, row)
		row[c.labels[i]] -= scale
	}
}

// crossEntropy computes Σ_i CE(x_i, labels_i) = Σ_i (logsumexp_j x_ij −
// x_{i,labels_i}) over the rows×cols logits x, accumulated in float64 in row
// order, and, if grad, overwrites x with scale·(softmax(x_i) −
// onehot(labels_i)), the gradient of scale·Σ_i CE_i. Entries of −Inf are
// excluded columns: they get probability 0. Otherwise x is left shifted.
func (w *Workspace) crossEntropy(x []float32, rows, cols int, labels []int32, grad bool, scale float32) float64 {
	c := &w.ce
	if c.self != c {
		// First use, or a copied workspace: bind the row passes to this value.
		c.self, c.shiftF, c.gradF = c, c.shift, c.grad
	}
	lse := w.buf(slotLSE, rows)
	c.x, c.lse, c.labels, c.cols, c.scale = x, lse, labels, cols, scale
	grain := kernel.Grain(rows, cols, contrastiveParGrain)
	kernel.ParallelFor(rows, grain, c.shiftF)
	kernel.LogSumExpRows(lse, x, rows, cols)
	var sum float64
	for _, l := range lse {
		sum += float64(l)
	}
	if grad {
		kernel.ParallelFor(rows, grain, c.gradF)
	}
	c.x, c.lse, c.labels = nil, nil, nil
	return sum
}

// contrastiveNormalize writes the rows of x normalized as torch's
// F.normalize does into dst and their norms into norms.
func contrastiveNormalize(dst, norms, x []float32, rows, cols int) {
	kernel.L2NormalizeRows(dst, norms, x, rows, cols, contrastiveNormEps)
}

// contrastiveNormalizeBackward writes into dx the gradient with respect to
// the raw rows x given dy, the gradient with respect to y = normalize(x).
func contrastiveNormalizeBackward(dx, dy, y, norms []float32, rows, cols int) {
	kernel.L2NormalizeRowsBackward(dx, dy, y, norms, rows, cols, contrastiveNormEps)
}

// queueInfoNCE is the InfoNCE term with a bank of negatives shared by
// [InfoNCEQueue] and [ProtoNCE]. Over the normalized B×D queries qh and keys
// kh and the N×D bank it returns, accumulated in float64,
//
//	Σ_i CE([qh_i·kh_i, qh_i·bank_1, …, qh_i·bank_N] / τ, 0)
//
// and, when dqh is not nil, writes scale·∂(that sum)/∂qh into dqh (adding
// to it when accumulate is set). It uses slots S, LSE and the labels.
func (w *Workspace) queueInfoNCE(dqh, qh, kh, bank []float32, b, d, n int, tau, scale float32, accumulate bool) float64 {
	cols := n + 1
	x := w.buf(slotS, b*cols)
	invTau := 1 / tau
	for i := range b {
		x[i*cols] = float32(kernel.Dot(qh[i*d:(i+1)*d], kh[i*d:(i+1)*d]) / float64(tau))
	}
	kernel.Gemm(false, true, b, n, d, invTau, qh, d, bank, d, 0, x[1:], cols)
	labels := w.labelBuf(b)
	clear(labels)
	sum := w.crossEntropy(x, b, cols, labels, dqh != nil, scale)
	if dqh == nil {
		return sum
	}
	// x now holds G = scale·∂Σ CE/∂logits; logits = [qh·kh, qh·bankᵀ]/τ.
	var beta float32
	if accumulate {
		beta = 1
	}
	kernel.Gemm(false, false, b, d, n, invTau, x[1:], cols, bank, d, beta, dqh, d)
	for i := range b {
		kernel.Axpy(x[i*cols]*invTau, kh[i*d:(i+1)*d], dqh[i*d:(i+1)*d])
	}
	return sum
}

// colsErr is the error for a matrix argument with the wrong number of
// columns.
func colsErr(fn, name string, rows, cols, want int) error {
	return check.Errorf(fn, ssl.ErrShape, "%s: shape (%d, %d), want %d columns", name, rows, cols, want)
}

// gradFinite returns an error wrapping ssl.ErrNotFinite if a
// gradient computed in scratch memory holds NaN or Inf (a float32 overflow
// that a finite float64 loss does not reveal), so that it never reaches the
// caller's destination. A nil g passes.
func gradFinite(fn, name string, g []float32, what string) error {
	if g != nil && !kernel.AllFinite(g) {
		return check.Errorf(fn, ssl.ErrNotFinite, "%s overflows float32 (%s too large?)", name, what)
	}
	return nil
}

// contrastiveView3 views t as a contiguous rank-3 float32 tensor. The
// valid case goes through ssl.ViewOf, which allocates nothing; ssl.View
// (which copies the shape) only builds the error.
func contrastiveView3(t ssl.Tensor) ([3]int, []float32, error) {
	var sh [3]int
	if !check.IsNil(t) {
		if s := t.Shape(); len(s) == 3 {
			sh = [3]int{s[0], s[1], s[2]}
			if data, err := ssl.ViewOf(t, sh[0], sh[1], sh[2]); err == nil {
				return sh, data, nil
			}
		}
	}
	shape, _, err := ssl.View(t)
	if err == nil {
		err = fmt.Errorf("shape %v has rank %d, want 3: %w", shape, len(shape), ssl.ErrShape)
	}
	return sh, nil, err
}
