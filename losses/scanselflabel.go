package losses

import (
	"math"

	"ssl"
	"ssl/internal/check"
)

// SCANSelfLabelOptions holds the optional settings of [SCANSelfLabel]. A
// nil *SCANSelfLabelOptions means the defaults.
type SCANSelfLabelOptions struct {
	// Balance weights each confident row by n / count_c, n the number of
	// confident rows and count_c how many of them carry its pseudo-label c,
	// as SCAN's apply_class_balancing does. Default false.
	Balance bool
	// Workspace is reused scratch memory; nil allocates a fresh one per
	// call.
	Workspace *Workspace
}

// SCANSelfLabelResult is the value of [SCANSelfLabel].
type SCANSelfLabelResult struct {
	// Loss is the weighted cross-entropy over the confident rows; 0 when
	// no row is confident.
	Loss float64
	// Confident is n, the number of rows whose weak-view confidence
	// exceeds the threshold.
	Confident int
}

// SCANSelfLabel returns SCAN's self-labeling loss: the cross-entropy of
// the strongly augmented views' logits on the pseudo-labels of the
// confident weakly augmented views, and writes ∂L/∂strong into dstrong:
//
//	P = softmax(weak);  conf_b = max_k P[b,k];  t_b = argmax_k P[b,k]
//	M = {b : conf_b > θ}  (strict),  n = |M|
//	w_c = n / |{b∈M : t_b = c}|  with Balance,  w_c = 1 without
//	L = Σ_{b∈M} w_{t_b}·CE(strong_b, t_b) / Σ_{b∈M} w_{t_b}
//
// (torch cross_entropy with class weights and mean reduction on the masked
// rows). weak and strong are B×K logits; weak is a constant (computed
// without gradient); rows outside M get a zero gradient. Confidences and
// cross-entropies are formed in float64, so the strict test against θ is
// the reference's. The result holds the loss and n.
//
// A batch with no confident row (n = 0) is an outcome of the data, not an
// error: the result is Loss 0 and Confident 0, dstrong is zeroed (the loss
// has no term, so no gradient) and the error is nil; the caller sees
// Confident == 0 and may skip the step. (The reference raises "Mask in
// MaskedCrossEntropyLoss is all zeros" there.)
//
// It returns an error wrapping ssl.ErrShape if weak is not a non-empty
// matrix, strong or a non-nil dstrong differs from it in shape, or dstrong
// overlaps an input; ssl.ErrParam if θ is not in [0, 1); ssl.ErrNotFinite
// if the loss is not finite. Nothing is written on a shape or parameter
// error.
//
// Reference: Van Gansbeke et al., SCAN: Learning to Classify Images without
// Labels, ECCV 2020, Sec. 2.3 (self-labeling); checked against
// ConfidenceBasedCE.forward in losses/losses.py at
// wvangansbeke/Unsupervised-Classification@952ec31eee2c38e7233d8ad3ac0de39bb031877a.
func SCANSelfLabel(dstrong, weak, strong ssl.Tensor, threshold float64, opts *SCANSelfLabelOptions) (SCANSelfLabelResult, error) {
	const fn = "losses: SCANSelfLabel"
	b, k, xw, err := check.NonEmptyMatrix(fn, "weak", weak)
	if err != nil {
		return SCANSelfLabelResult{}, err
	}
	xs, err := check.MatrixOf(fn, "strong", strong, b, k)
	if err != nil {
		return SCANSelfLabelResult{}, err
	}
	g, err := check.Dst(fn, "dstrong", dstrong, check.Shape2(b, k), xw, xs)
	if err != nil {
		return SCANSelfLabelResult{}, err
	}
	if !(threshold >= 0 && threshold < 1) {
		return SCANSelfLabelResult{}, check.Errorf(fn, ssl.ErrParam, "threshold must be in [0, 1) (threshold=%v)", threshold)
	}
	var ws *Workspace
	var balance bool
	if opts != nil {
		ws, balance = opts.Workspace, opts.Balance
	}
	ws = orNew(ws)
	target := ws.bufInt(slotIntA, b)
	count := ws.bufInt(slotIntB, k)
	clear(count)
	row := ws.buf64(slotF64A, k)
	n := 0
	for r := range b {
		clustLogSoftmax64(row, xw[r*k:(r+1)*k], 1)
		best, at := row[0], 0
		for j, v := range row {
			if v > best {
				best, at = v, j
			}
		}
		target[r] = -1
		if math.Exp(best) > threshold {
			target[r] = at
			count[at]++
			n++
		}
	}
	if n == 0 {
		clear(g)
		return SCANSelfLabelResult{}, nil
	}
	weight := func(c int) float64 {
		if !balance {
			return 1
		}
		return float64(n) / float64(count[c])
	}
	var sum, wsum float64
	for r := range b {
		t := target[r]
		if t < 0 {
			continue
		}
		clustLogSoftmax64(row, xs[r*k:(r+1)*k], 1)
		wt := weight(t)
		sum -= wt * row[t]
		wsum += wt
	}
	res := SCANSelfLabelResult{Loss: sum / wsum, Confident: n}
	if err := check.Result(fn, res.Loss, "weak or strong"); err != nil {
		return res, err
	}
	if g == nil {
		return res, nil
	}
	for r := range b {
		t := target[r]
		gr := g[r*k : (r+1)*k]
		if t < 0 {
			clear(gr)
			continue
		}
		clustLogSoftmax64(row, xs[r*k:(r+1)*k], 1)
		c := weight(t) / wsum
		for j, v := range row {
			gr[j] = float32(c * math.Exp(v))
		}
		gr[t] = float32(c * math.Expm1(row[t])) // c·(p_t − 1) without cancellation
	}
	return res, nil
}
