package losses

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"ssl"
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
// in, below the size at which kernel.Exp parallelises by itself.
const contrastiveExpChunk = 1 << 14

// ContrastiveWorkspace holds the scratch memory of the contrastive objectives
// ([NTXent], [InfoNCE], [InfoNCEQueue], [ProtoNCE], [CACR], [Bregman],
// [Uniform], [AlignUniform], [XMoCo]): normalised rows, similarity matrices
// and their gradients. Pass the same workspace to repeated calls (through
// the Workspace field of the options) and, once it has grown to the largest
// sizes used, a call allocates nothing of its own. The zero value is ready
// to use. A workspace is not safe for concurrent use; give each goroutine
// its own.
type ContrastiveWorkspace struct {
	f32    [contrastiveSlots][]float32
	labels []int32
	f64    []float64
	ce     contrastiveCE
}

// Slots of ContrastiveWorkspace.f32. Each objective uses the slots it needs;
// two live buffers of one call never share a slot.
const (
	slotA     = iota // normalised rows (first input)
	slotB            // normalised rows (second input)
	slotNormA        // norms of the first input's rows
	slotNormB        // norms of the second input's rows
	slotS            // similarity / logits matrix and its gradient
	slotLSE          // per-row log-sum-exp
	slotDA           // gradient w.r.t. normalised rows (first input)
	slotDB           // gradient w.r.t. normalised rows (second input)
	slotC            // gathered rows (ProtoNCE prototypes)
	slotE            // extra per-row scratch
	contrastiveSlots
)

// NewContrastiveWorkspace returns an empty workspace; it grows on first use.
func NewContrastiveWorkspace() *ContrastiveWorkspace { return new(ContrastiveWorkspace) }

// buf returns slot i with length n, growing it if needed. Its contents are
// unspecified.
func (w *ContrastiveWorkspace) buf(i, n int) []float32 {
	if cap(w.f32[i]) < n {
		w.f32[i] = make([]float32, n)
	}
	return w.f32[i][:n]
}

func (w *ContrastiveWorkspace) labelBuf(n int) []int32 {
	if cap(w.labels) < n {
		w.labels = make([]int32, n)
	}
	return w.labels[:n]
}

func (w *ContrastiveWorkspace) f64Buf(n int) []float64 {
	if cap(w.f64) < n {
		w.f64 = make([]float64, n)
	}
	return w.f64[:n]
}

// contrastiveWS returns w, or a fresh workspace when w is nil.
func contrastiveWS(w *ContrastiveWorkspace) *ContrastiveWorkspace {
	if w == nil {
		return new(ContrastiveWorkspace)
	}
	return w
}

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
func (w *ContrastiveWorkspace) crossEntropy(x []float32, rows, cols int, labels []int32, grad bool, scale float32) float64 {
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

// contrastiveMatrix views t as a matrix for function fn, naming the
// argument in the error.
func contrastiveMatrix(fn, name string, t ssl.Tensor) (rows, cols int, data []float32, err error) {
	rows, cols, data, err = ssl.Matrix(t)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("losses: %s: %s: %w", fn, name, err)
	}
	return rows, cols, data, nil
}

// contrastiveMatrixOf views t as a rows×cols matrix for function fn.
func contrastiveMatrixOf(fn, name string, t ssl.Tensor, rows, cols int) ([]float32, error) {
	data, err := ssl.MatrixOf(t, rows, cols)
	if err != nil {
		return nil, fmt.Errorf("losses: %s: %s: %w", fn, name, err)
	}
	return data, nil
}

// contrastiveDst views a gradient destination, which may be nil (then it
// returns nil), as a rows×cols matrix and checks it aliases none of the
// inputs.
func contrastiveDst(fn, name string, t ssl.Tensor, rows, cols int, inputs ...[]float32) ([]float32, error) {
	if t == nil {
		return nil, nil
	}
	data, err := ssl.MatrixOf(t, rows, cols)
	if err != nil {
		return nil, fmt.Errorf("losses: %s: %s: %w", fn, name, err)
	}
	for _, in := range inputs {
		if kernel.Overlaps(data, in) {
			return nil, fmt.Errorf("losses: %s: %s overlaps an input: %w", fn, name, ssl.ErrShape)
		}
	}
	return data, nil
}

// contrastiveDistinct returns an error if two of the destinations overlap.
func contrastiveDistinct(fn string, names []string, dsts ...[]float32) error {
	for i := range dsts {
		for j := i + 1; j < len(dsts); j++ {
			if kernel.Overlaps(dsts[i], dsts[j]) {
				return fmt.Errorf("losses: %s: %s and %s overlap: %w", fn, names[i], names[j], ssl.ErrShape)
			}
		}
	}
	return nil
}

// contrastivePositive returns an error wrapping ssl.ErrParam unless v is
// finite and > 0.
func contrastivePositive(fn, name string, v float32) error {
	if !(v > 0) || math.IsInf(float64(v), 0) {
		return fmt.Errorf("losses: %s: %s must be finite and > 0 (%s=%v): %w", fn, name, name, v, ssl.ErrParam)
	}
	return nil
}

// contrastiveFiniteParam returns an error wrapping ssl.ErrParam unless v is
// finite.
func contrastiveFiniteParam(fn, name string, v float32) error {
	if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
		return fmt.Errorf("losses: %s: %s must be finite (%s=%v): %w", fn, name, name, v, ssl.ErrParam)
	}
	return nil
}

// contrastiveFinite returns an error wrapping ssl.ErrNotFinite if loss is
// NaN or infinite; what names the inputs that can drive it there.
func contrastiveFinite(fn string, loss float64, what string) error {
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return fmt.Errorf("losses: %s: loss is %v (non-finite values in %s?): %w", fn, loss, what, ssl.ErrNotFinite)
	}
	return nil
}

// contrastiveNonEmpty returns an error wrapping ssl.ErrShape if n < min.
func contrastiveNonEmpty(fn, what string, n, min int) error {
	if n < min {
		return fmt.Errorf("losses: %s: %s is %d, want ≥ %d: %w", fn, what, n, min, ssl.ErrShape)
	}
	return nil
}

// contrastiveNormalize writes the rows of x normalised as torch's
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
// [InfoNCEQueue] and [ProtoNCE]. Over the normalised B×D queries qh and keys
// kh and the N×D bank it returns, accumulated in float64,
//
//	Σ_i CE([qh_i·kh_i, qh_i·bank_1, …, qh_i·bank_N] / τ, 0)
//
// and, when dqh is not nil, writes scale·∂(that sum)/∂qh into dqh (adding
// to it when accumulate is set). It uses slots S, LSE and the labels.
func (w *ContrastiveWorkspace) queueInfoNCE(dqh, qh, kh, bank []float32, b, d, n int, tau, scale float32, accumulate bool) float64 {
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

// contrastiveColsErr is the error for a matrix argument with the wrong
// number of columns.
func contrastiveColsErr(fn, name string, rows, cols, want int) error {
	return fmt.Errorf("losses: %s: %s: shape (%d, %d), want %d columns: %w", fn, name, rows, cols, want, ssl.ErrShape)
}

// contrastiveGradFinite returns an error wrapping ssl.ErrNotFinite if a
// gradient computed in scratch memory holds NaN or Inf (a float32 overflow
// that a finite float64 loss does not reveal), so that it never reaches the
// caller's destination. A nil g passes.
func contrastiveGradFinite(fn, name string, g []float32, what string) error {
	if g != nil && !kernel.AllFinite(g) {
		return fmt.Errorf("losses: %s: %s overflows float32 (%s too large?): %w", fn, name, what, ssl.ErrNotFinite)
	}
	return nil
}

// contrastiveView3 views t as a contiguous rank-3 float32 tensor. The
// valid case goes through ssl.ViewOf, which allocates nothing; ssl.View
// (which copies the shape) only builds the error.
func contrastiveView3(t ssl.Tensor) ([3]int, []float32, error) {
	var sh [3]int
	if !contrastiveIsNil(t) {
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

// contrastiveIsNil reports whether t is nil or a typed nil *tensor.Dense.
func contrastiveIsNil(t ssl.Tensor) bool {
	if t == nil {
		return true
	}
	d, ok := t.(*tensor.Dense)
	return ok && d == nil
}
