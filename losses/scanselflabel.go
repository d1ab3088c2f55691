package losses

import (
	"math"

	"ssl"
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
	Workspace *ClusteringWorkspace
}

// SCANSelfLabel returns SCAN's self-labelling loss: the cross-entropy of
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
// the reference's. It returns the loss and n.
//
// When no row passes (n = 0) the reference raises "Mask in
// MaskedCrossEntropyLoss is all zeros"; SCANSelfLabel returns an error
// wrapping ssl.ErrParam (θ too high for this batch) and writes nothing.
// It also returns an error wrapping ssl.ErrShape if weak is not a
// non-empty matrix, strong or a non-nil dstrong differs from it in shape,
// or dstrong overlaps an input; ssl.ErrParam if θ is not in [0, 1);
// ssl.ErrNotFinite if the loss is not finite.
//
// Reference: Van Gansbeke et al., SCAN: Learning to Classify Images without
// Labels, ECCV 2020, Sec. 2.3 (self-labelling); checked against
// ConfidenceBasedCE.forward in losses/losses.py at
// wvangansbeke/Unsupervised-Classification@952ec31eee2c38e7233d8ad3ac0de39bb031877a.
func SCANSelfLabel(dstrong, weak, strong ssl.Tensor, threshold float64, opts *SCANSelfLabelOptions) (loss float64, confident int, err error) {
	const fn = "SCANSelfLabel"
	b, k, xw, err := clustMatrix(fn, "weak", weak)
	if err != nil {
		return 0, 0, err
	}
	xs, err := clustMatrixOf(fn, "strong", strong, b, k)
	if err != nil {
		return 0, 0, err
	}
	g, err := clustDst(fn, "dstrong", dstrong, clustShape2(b, k), xw, xs)
	if err != nil {
		return 0, 0, err
	}
	if !(threshold >= 0 && threshold < 1) {
		return 0, 0, clustErr(fn, ssl.ErrParam, "threshold must be in [0, 1) (threshold=%v)", threshold)
	}
	var ws *ClusteringWorkspace
	var balance bool
	if opts != nil {
		ws, balance = opts.Workspace, opts.Balance
	}
	ws = clustWS(ws)
	target := ws.bufInt(clustIntA, b)
	count := ws.bufInt(clustIntB, k)
	clear(count)
	row := ws.buf64(clustF64A, k)
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
		return 0, 0, clustErr(fn, ssl.ErrParam, "no row is confident: max softmax(weak) ≤ threshold for all %d rows (threshold=%v)", b, threshold)
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
	loss = sum / wsum
	if err := clustFinite(fn, loss, "weak or strong"); err != nil {
		return loss, n, err
	}
	if g == nil {
		return loss, n, nil
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
	return loss, n, nil
}
