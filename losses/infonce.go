package losses

import (
	"ssl"
	"ssl/dist"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// InfoNCEOptions holds the optional settings of [InfoNCE]. A nil
// *InfoNCEOptions means the defaults.
type InfoNCEOptions struct {
	// Workspace is reused scratch memory; nil allocates a fresh one per
	// call.
	Workspace *Workspace
	// Comm, when not nil, makes the call one rank of a data-parallel
	// InfoNCE whose negatives are every rank's targets (the targets are
	// all-gathered, as MoCo v3 and CPC train across devices): pred and
	// target are this rank's B rows (B the same on every rank) and the
	// loss is the one of the concatenation of every rank's rows, in rank
	// order — B·Size predictions, each against B·Size targets — the same
	// on every rank. dpred and dtarget receive Size times the gradient of
	// that loss with respect to this rank's rows, so that averaging the
	// parameter gradients over the ranks (backbone.DataParallel) gives the
	// gradient of the global loss. Each rank computes only its B×(B·Size)
	// block of S; the target gradient, which every rank's predictions
	// contribute to, is summed by one all-reduce of a (B·Size)×D matrix
	// (skipped when no rank asks for dtarget). A bad argument on any rank
	// is an error on every rank (see dist.Agree).
	Comm dist.Comm
}

// InfoNCE returns the InfoNCE loss with in-batch negatives of predictions
// pred against targets target (both B×D, raw: the loss normalizes them), as
// CPC v2 uses it, and writes ∂L/∂pred into dpred and ∂L/∂target into
// dtarget:
//
//	S = normalize(pred) · normalize(target)ᵀ / τ     (B×B, normalize(v) = v / max(‖v‖, ε))
//	L = 1/B · Σ_i [ log Σ_j exp(S_ij) − S_ii ]
//
// Row i's positive is its own target; its negatives are the other rows'
// targets. The loss is the mean over the batch; both inputs get gradients,
// which flow through the normalization. ε = 1e-12 as in
// torch.nn.functional.normalize.
//
// B = 1 is valid: L = 0 and the gradients are 0. A nil destination skips
// that gradient. With destinations and opts.Workspace supplied the call
// allocates nothing of its own.
//
// It returns an error wrapping ssl.ErrShape if pred is not a non-empty
// matrix, target or a non-nil destination differs from it in shape, or a
// destination overlaps an input or the other destination; ssl.ErrParam if τ
// is not finite and > 0; ssl.ErrNotFinite if the loss is not finite or a gradient would overflow float32.
// Nothing is written when it returns an error.
//
// Reference: van den Oord et al., Representation Learning with Contrastive
// Predictive Coding, 2018, eq. 4; Hénaff et al., Data-Efficient Image
// Recognition with Contrastive Predictive Coding (CPC v2), ICML 2020, eq. 5.
// CPC v2 has no public official code; checked against
// RElbers/info-nce-pytorch@a2a9c126260acb655472e4836c5d96805fae3749
// info_nce(query, positive_key, negative_keys=None).
func InfoNCE(dpred, dtarget, pred, target ssl.Tensor, tau float64, opts *InfoNCEOptions) (float64, error) {
	const fn = "losses: InfoNCE"
	if opts != nil && opts.Comm != nil {
		return infonceGathered(dpred, dtarget, pred, target, tau, opts)
	}
	b, d, pv, err := check.Matrix(fn, "pred", pred)
	if err != nil {
		return 0, err
	}
	if err := check.AtLeast(fn, "batch size B", b, 1); err != nil {
		return 0, err
	}
	tv, err := check.MatrixOf(fn, "target", target, b, d)
	if err != nil {
		return 0, err
	}
	gp, err := check.Dst(fn, "dpred", dpred, check.Shape2(b, d), pv, tv)
	if err != nil {
		return 0, err
	}
	gt, err := check.Dst(fn, "dtarget", dtarget, check.Shape2(b, d), pv, tv)
	if err != nil {
		return 0, err
	}
	if err := check.Distinct(fn, []string{"dpred", "dtarget"}, gp, gt); err != nil {
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

	ph, th := ws.buf(slotA, b*d), ws.buf(slotB, b*d)
	np, nt := ws.buf(slotNormA, b), ws.buf(slotNormB, b)
	contrastiveNormalize(ph, np, pv, b, d)
	contrastiveNormalize(th, nt, tv, b, d)
	s := ws.buf(slotS, b*b)
	invTau := 1 / tau32
	kernel.Gemm(false, true, b, b, d, invTau, ph, d, th, d, 0, s, b)
	labels := ws.labelBuf(b)
	for i := range labels {
		labels[i] = int32(i)
	}
	grad := gp != nil || gt != nil
	sum := ws.crossEntropy(s, b, b, labels, grad, float32(1/float64(b)))
	loss := sum / float64(b)
	if err := check.Result(fn, loss, "pred or target"); err != nil {
		return loss, err
	}
	// s now holds G = ∂L/∂S: ∂L/∂ph = G·th/τ, ∂L/∂th = Gᵀ·ph/τ.
	var dph, dth []float32
	if gp != nil {
		dph = ws.buf(slotDA, b*d)
		kernel.Gemm(false, false, b, d, b, invTau, s, b, th, d, 0, dph, d)
		contrastiveNormalizeBackward(dph, dph, ph, np, b, d)
		if err := gradFinite(fn, "dpred", dph, "1/tau"); err != nil {
			return loss, err
		}
	}
	if gt != nil {
		dth = ws.buf(slotDB, b*d)
		kernel.Gemm(true, false, b, d, b, invTau, s, b, ph, d, 0, dth, d)
		contrastiveNormalizeBackward(dth, dth, th, nt, b, d)
		if err := gradFinite(fn, "dtarget", dth, "1/tau"); err != nil {
			return loss, err
		}
	}
	copy(gp, dph)
	copy(gt, dth)
	return loss, nil
}
