package losses

import (
	"fmt"

	"ssl"
	"ssl/internal/check"
)

// MIRAOptions holds the optional settings of [MIRA]. A nil *MIRAOptions
// means the defaults.
type MIRAOptions struct {
	// Workspace is reused scratch memory; nil allocates a fresh one per
	// call.
	Workspace *Workspace
}

// MIRA returns MIRA's training loss: the cross-entropy between the
// assignment targets of the two global views and the student's
// temperature-scaled predictions of every other view, and writes ∂L/∂q into
// dq:
//
//	L_t = −1/((V−1)·B) · Σ_{v≠t} Σ_b Σ_k target_t[b,k] · log_softmax(q[v,b]/τ_s)[k],  t ∈ {0, 1}
//	L   = (L_0 + L_1) / 2
//
// q is V×B×K (rank 3): the student logits of all V ≥ 2 views, views 0 and
// 1 the global views whose teacher logits produced target0 and target1
// (both B×K; assign.MIRA computes them). Target t supervises every view but
// view t, local crops included. The targets are constants: they get no
// gradient. The loss is the mean over the (V−1)·B supervised rows of each
// target, averaged over the two targets. A nil dq skips the gradient; with
// dq and opts.Workspace supplied the objective allocates nothing of its own.
//
// It returns an error wrapping ssl.ErrShape if q is not a V×B×K tensor with
// V ≥ 2, B ≥ 1, K ≥ 1, a target or a non-nil dq has the wrong shape, or dq
// overlaps an input; ssl.ErrParam if τ_s is not finite and > 0;
// ssl.ErrNotFinite if the loss is not finite (non-finite logits or
// targets, or q/τ_s overflowing float32). Nothing is written on a shape or
// parameter error; after ssl.ErrNotFinite the contents of dq are
// unspecified.
//
// Reference: Lee et al., Unsupervised Visual Representation Learning via
// Mutual Information Regularized Assignment (MIRA), NeurIPS 2022, eq. 9 (the
// swapped cross-entropy with the MIRA targets of eq. 7); checked against
// train.py loss_func/_loss at movinghoon/mira@2a62538d58ec0c2dd4666b3415aca9f493f1c35c
// (float64, world size 1).
func MIRA(dq, q, target0, target1 ssl.Tensor, tauS float64, opts *MIRAOptions) (float64, error) {
	const fn = "losses: MIRA"
	if check.IsNil(q) {
		return 0, check.Errorf(fn, ssl.ErrShape, "q is nil")
	}
	shape, qv, err := ssl.View(q)
	if err != nil {
		return 0, fmt.Errorf("%s: q: %w", fn, err)
	}
	if len(shape) != 3 || shape[0] < 2 || shape[1] < 1 || shape[2] < 1 {
		return 0, check.Errorf(fn, ssl.ErrShape, "q has shape %v, want (V, B, K) with V ≥ 2, B ≥ 1, K ≥ 1", shape)
	}
	v, b, k := shape[0], shape[1], shape[2]
	t0, err := check.MatrixOf(fn, "target0", target0, b, k)
	if err != nil {
		return 0, err
	}
	t1, err := check.MatrixOf(fn, "target1", target1, b, k)
	if err != nil {
		return 0, err
	}
	g, err := check.Dst(fn, "dq", dq, check.Shape3(v, b, k), qv, t0, t1)
	if err != nil {
		return 0, err
	}
	tauS32, err := positive32(fn, "tauS", tauS)
	if err != nil {
		return 0, err
	}
	var ws *Workspace
	if opts != nil {
		ws = opts.Workspace
	}
	ws = orNew(ws)
	codes := ws.buf(slotCodes, 2*b*k)
	copy(codes, t0)
	copy(codes[b*k:], t1)
	assign := ws.bufInt(slotIntA, 2)
	assign[0], assign[1] = 0, 1
	// swapped takes the mean over both targets: w = 1/(2·(V−1)·B).
	loss := ws.swapped(g, qv, codes, v, b, k, assign, tauS32)
	if err := check.Result(fn, loss, "q, target0, target1 or q/tau_s"); err != nil {
		return loss, err
	}
	return loss, nil
}
