package losses

import (
	"ssl"
	"ssl/internal/check"
)

// InfoNCEQueueOptions holds the optional settings of [InfoNCEQueue]. A nil
// *InfoNCEQueueOptions means the defaults.
type InfoNCEQueueOptions struct {
	// Workspace is reused scratch memory; nil allocates a fresh one per
	// call.
	Workspace *Workspace
}

// InfoNCEQueue returns MoCo's InfoNCE loss of the queries q against their
// keys k (both B×D, raw: the loss normalizes them) and a queue of N stored
// negative keys (N×D, used as given), and writes ∂L/∂q into dq:
//
//	q̂ = normalize(q),  k̂ = normalize(k)      (normalize(v) = v / max(‖v‖, ε))
//	logits_i = [q̂_i·k̂_i, q̂_i·queue_1, …, q̂_i·queue_N] / τ
//	L = 1/B · Σ_i [ log Σ_j exp(logits_ij) − logits_i0 ]
//
// The loss is the mean over the batch of the cross-entropy with target
// column 0 (the positive key). k and queue come from the momentum encoder
// and are constants: they get no gradient. The queue rows are expected to
// be unit vectors (MoCo stores normalized keys) and are not normalized
// again. ε = 1e-12 as in torch.nn.functional.normalize. The cross-entropy
// is computed relative to the positive logit, so logits of magnitude 1e3
// (τ = 1e-3) lose no precision to cancellation.
//
// B = 1 and N = 0 (no negatives: L = 0) are valid. A nil dq skips the
// gradient. The queue is not updated: push the keys with [Queue.Push] after
// the step. With dq and opts.Workspace supplied the call allocates nothing
// of its own.
//
// It returns an error wrapping ssl.ErrShape if q is not a non-empty matrix,
// k or a non-nil dq differs from it in shape, queue does not have D columns,
// or dq overlaps an input; ssl.ErrParam if τ is not finite and > 0;
// ssl.ErrNotFinite if the loss is not finite or a gradient would overflow float32 (NaN or Inf in the inputs).
// Nothing is written when it returns an error.
//
// Reference: He et al., Momentum Contrast for Unsupervised Visual
// Representation Learning (MoCo), CVPR 2020, eq. 1 and Alg. 1 (van den Oord
// et al. 2018, eq. 4); facebookresearch/moco@132aea9da9bb995a411c915c0420be3db62052f3
// builder.py MoCo.forward with nn.CrossEntropyLoss.
func InfoNCEQueue(dq, q, k, queue ssl.Tensor, tau float64, opts *InfoNCEQueueOptions) (float64, error) {
	const fn = "losses: InfoNCEQueue"
	b, d, qv, err := check.Matrix(fn, "q", q)
	if err != nil {
		return 0, err
	}
	if err := check.AtLeast(fn, "batch size B", b, 1); err != nil {
		return 0, err
	}
	kv, err := check.MatrixOf(fn, "k", k, b, d)
	if err != nil {
		return 0, err
	}
	n, nd, bank, err := check.Matrix(fn, "queue", queue)
	if err != nil {
		return 0, err
	}
	if nd != d {
		return 0, colsErr(fn, "queue", n, nd, d)
	}
	g, err := check.Dst(fn, "dq", dq, check.Shape2(b, d), qv, kv, bank)
	if err != nil {
		return 0, err
	}
	tau32, err := positive32(fn, "tau", tau)
	if err != nil {
		return 0, err
	}
	var ws *Workspace
	if opts != nil {
		ws = opts.Workspace
	}
	ws = orNew(ws)

	qh, kh := ws.buf(slotA, b*d), ws.buf(slotB, b*d)
	norms := ws.buf(slotNormA, b)
	contrastiveNormalize(qh, norms, qv, b, d)
	contrastiveNormalize(kh, ws.buf(slotNormB, b), kv, b, d)
	var dqh []float32
	if g != nil {
		dqh = ws.buf(slotDA, b*d)
	}
	sum := ws.queueInfoNCE(dqh, qh, kh, bank, b, d, n, tau32, float32(1/float64(b)), false)
	loss := sum / float64(b)
	if err := check.Result(fn, loss, "q, k or queue"); err != nil {
		return loss, err
	}
	if g != nil {
		contrastiveNormalizeBackward(dqh, dqh, qh, norms, b, d)
		if err := gradFinite(fn, "dq", dqh, "1/tau"); err != nil {
			return loss, err
		}
		copy(g, dqh)
	}
	return loss, nil
}
