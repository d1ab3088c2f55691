package losses

import (
	"math"

	"ssl"
	"ssl/internal/check"
)

// Clamps of SCANLoss (wvangansbeke/Unsupervised-Classification
// losses/losses.py): the entropy's EPS = 1e-8 on the mean prediction, and
// torch.nn.BCELoss's clamp of log s at −100 (forward) and of s·(1 − s) at
// 1e-12 (its backward formula).
const (
	clustSCANEntropyEps = 1e-8
	clustSCANLogClamp   = -100
	clustSCANBCEEps     = 1e-12
)

// SCANOptions holds the optional settings of [SCAN]. A nil *SCANOptions
// means the defaults.
type SCANOptions struct {
	// Workspace is reused scratch memory; nil allocates a fresh one per
	// call.
	Workspace *Workspace
}

// SCANResult is the value of [SCAN]: the loss and its two terms.
type SCANResult struct {
	// Loss is L = Consistency − w·Entropy.
	Loss float64
	// Consistency is the neighbor consistency term −1/B·Σ_b log⟨A_b, N_b⟩.
	Consistency float64
	// Entropy is the entropy H(p̄) of the mean anchor prediction (the term
	// is subtracted, weighted by w).
	Entropy float64
}

// SCAN returns the SCAN clustering loss of the B×K cluster logits of
// anchors and of one mined nearest neighbor per anchor, and writes
// ∂L/∂anchors into danchors and ∂L/∂neighbors into dneighbors:
//
//	A = softmax(anchors), N = softmax(neighbors), s_b = ⟨A_b, N_b⟩
//	consistency = −1/B · Σ_b max(log s_b, −100)           (BCE(s_b, 1))
//	p̄ = 1/B · Σ_b A_b,  x = max(p̄, 1e-8)
//	entropy = −Σ_k x_k·log x_k
//	L = consistency − w·entropy
//
// The entropy term uses the anchors only. Both inputs get gradients; the
// gradient of the consistency term is PyTorch's BCELoss backward,
// ∂/∂s_b = (s_b − 1) / max(s_b·(1 − s_b), 1e-12) / B (so it is bounded
// by about 1e12/B where s_b underflows, and is 0 where s_b = 1), and no
// gradient passes the entropy clamp where p̄_k < 1e-8. B = 1 is valid.
// Probabilities are formed in float64 and 1 − s_b as Σ_k A_bk·(1 − N_bk),
// so the clamps see what a float64 reference sees.
//
// The result holds the total L, the consistency and the entropy terms. A
// nil destination skips that gradient. It returns an error wrapping
// ssl.ErrShape if anchors is not a non-empty matrix, neighbors or a non-nil
// destination differs from it in shape, or destinations overlap inputs or
// each other; ssl.ErrParam if entropyWeight is not finite; ssl.ErrNotFinite if the loss
// is not finite (NaN or ±Inf logits). Nothing is written when it returns
// an error.
//
// Reference: Van Gansbeke et al., SCAN: Learning to Classify Images without
// Labels, ECCV 2020, eq. 2; checked against SCANLoss.forward in
// losses/losses.py at
// wvangansbeke/Unsupervised-Classification@952ec31eee2c38e7233d8ad3ac0de39bb031877a.
func SCAN(danchors, dneighbors, anchors, neighbors ssl.Tensor, entropyWeight float64, opts *SCANOptions) (SCANResult, error) {
	const fn = "losses: SCAN"
	b, k, xa, err := check.NonEmptyMatrix(fn, "anchors", anchors)
	if err != nil {
		return SCANResult{}, err
	}
	xn, err := check.MatrixOf(fn, "neighbors", neighbors, b, k)
	if err != nil {
		return SCANResult{}, err
	}
	ga, err := check.Dst(fn, "danchors", danchors, check.Shape2(b, k), xa, xn)
	if err != nil {
		return SCANResult{}, err
	}
	gn, err := check.Dst(fn, "dneighbors", dneighbors, check.Shape2(b, k), xa, xn)
	if err != nil {
		return SCANResult{}, err
	}
	if err := check.Distinct(fn, []string{"danchors", "dneighbors"}, ga, gn); err != nil {
		return SCANResult{}, err
	}
	if err := check.Finite(fn, "entropyWeight", entropyWeight); err != nil {
		return SCANResult{}, err
	}
	w := entropyWeight
	var ws *Workspace
	if opts != nil {
		ws = opts.Workspace
	}
	ws = orNew(ws)
	la := ws.buf64(slotF64A, b*k) // log A, then A
	ln := ws.buf64(slotF64B, b*k) // log N, then N
	gs := ws.buf64(slotRows, b+2*k)
	dsb, pbar, dpbar := gs[:b], gs[b:b+k], gs[b+k:]
	clear(pbar)
	var cons float64
	for r := range b {
		a, n := la[r*k:(r+1)*k], ln[r*k:(r+1)*k]
		clustLogSoftmax64(a, xa[r*k:(r+1)*k], 1)
		clustLogSoftmax64(n, xn[r*k:(r+1)*k], 1)
		// log s = logsumexp(log A + log N); 1 − s = Σ A·(1 − N).
		m := math.Inf(-1)
		for j := range a {
			m = max(m, a[j]+n[j])
		}
		var s, om float64
		for j := range a {
			s += math.Exp(a[j] + n[j] - m)
			om += math.Exp(a[j]) * -math.Expm1(n[j])
		}
		logS := m + math.Log(s)
		cons -= max(logS, clustSCANLogClamp)
		sv := math.Exp(logS)
		dsb[r] = -om / max(sv*om, clustSCANBCEEps) / float64(b)
		for j := range a {
			a[j] = math.Exp(a[j])
			n[j] = math.Exp(n[j])
			pbar[j] += a[j]
		}
	}
	cons /= float64(b)
	var ent float64
	for j := range pbar {
		pbar[j] /= float64(b)
		x := max(pbar[j], clustSCANEntropyEps)
		ent -= x * math.Log(x)
		dpbar[j] = 0
		if pbar[j] >= clustSCANEntropyEps {
			// ∂(−w·entropy)/∂p̄ = w·(log p̄ + 1), spread over the batch.
			dpbar[j] = w * (math.Log(pbar[j]) + 1) / float64(b)
		}
	}
	res := SCANResult{Loss: cons - w*ent, Consistency: cons, Entropy: ent}
	if err := check.Result(fn, res.Loss, "anchors or neighbors"); err != nil {
		return res, err
	}
	row := ws.buf64(slotF64C, k)
	for r := range b {
		a, n := la[r*k:(r+1)*k], ln[r*k:(r+1)*k]
		if ga != nil {
			for j := range row {
				row[j] = dsb[r]*n[j] + dpbar[j]
			}
			clustSoftmaxBackward64(row, a)
			for j, v := range row {
				ga[r*k+j] = float32(v)
			}
		}
		if gn != nil {
			for j := range row {
				row[j] = dsb[r] * a[j]
			}
			clustSoftmaxBackward64(row, n)
			for j, v := range row {
				gn[r*k+j] = float32(v)
			}
		}
	}
	return res, nil
}
