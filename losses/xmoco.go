package losses

import (
	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// xmocoDefaultT is the default t of XMoCo's uniformity term, the value
// Wang and Isola recommend.
const xmocoDefaultT = 2

// XMoCoOptions holds the optional settings of [XMoCo]. A nil *XMoCoOptions
// means the defaults.
type XMoCoOptions struct {
	// T is the t of the uniformity potential exp(−t·‖u − v‖²), finite and
	// > 0. Zero means 2.
	T float64
	// Workspace is reused scratch memory; nil allocates a fresh one per
	// call.
	Workspace *Workspace
}

// XMoCoResult is the value of [XMoCo]: the loss and its two terms.
type XMoCoResult struct {
	// Loss is L = λ_cross·Cross + λ_unif·Uniform.
	Loss float64
	// Cross is the cross-similarity consistency term L_cross.
	Cross float64
	// Uniform is the uniformity term L_unif.
	Uniform float64
}

// XMoCo returns the two regularizers that Extended Momentum Contrast adds to
// MoCo's InfoNCE ([InfoNCEQueue]), for queries q and momentum keys k (both
// B×D, raw: the loss normalizes them), and writes ∂L/∂q into dq:
//
//	q̂ = normalize(q),  k̂ = normalize(k)
//	L_cross = 1/B² · Σ_{i,j} (q̂_i·k̂_j − k̂_i·k̂_j)²
//	L_unif  = log( 2/(B(B−1)) · Σ_{i<j} exp(−t·‖q̂_i − q̂_j‖²) )
//	L       = λ_cross·L_cross + λ_unif·L_unif
//
// The xMoCo paper publishes neither code nor reachable equations; this is
// its description made exact. Cross-similarity consistency: the similarity
// of any pair of images i, j, positive (i = j) or negative (i ≠ j), is
// preserved across the two pretext transformations, i.e. the cross-view
// similarity q̂_i·k̂_j (i through the query transformation, j through the key
// transformation) equals the similarity of the same pair seen through the
// key transformation alone, k̂_i·k̂_j; for i = j the target is 1, so the term
// also aligns positives. Uniformity: a uniform distribution of the
// similarities of the in-batch negatives, as Wang and Isola's uniformity
// loss ([Uniform]) of the queries. k comes from the momentum encoder and is
// a constant: it gets no gradient, and the target similarities k̂_i·k̂_j are
// constants. The cross term is one product, (q̂ − k̂)·k̂ᵀ.
//
// The result holds L, L_cross and L_unif. B ≥ 2 is needed (a batch of one has no negative pair). A nil dq
// skips the gradient. With dq and opts.Workspace supplied the call
// allocates nothing of its own.
//
// It returns an error wrapping ssl.ErrShape if q is not a matrix with B ≥ 2
// rows, k or a non-nil dq differs from it in shape, or dq overlaps an
// input; ssl.ErrParam if a weight is not finite
// or opts.T is not finite and > 0; ssl.ErrNotFinite if the loss is not
// finite or a gradient would overflow float32. Nothing is written when it
// returns an error.
//
// Reference: Seyfi, Banitalebi-Dehkordi and Zhang, Extending Momentum
// Contrast with Cross Similarity Consistency Regularization (XMoCo), arXiv
// 2206.04676, 2022 (abstract and Sec. 3, described in words); Wang and
// Isola, ICML 2020, eq. 4, for the uniformity potential.
func XMoCo(dq, q, k ssl.Tensor, lambdaCross, lambdaUnif float64, opts *XMoCoOptions) (XMoCoResult, error) {
	const fn = "losses: XMoCo"
	b, d, qv, err := check.Matrix(fn, "q", q)
	if err != nil {
		return XMoCoResult{}, err
	}
	if err := check.AtLeast(fn, "batch size B", b, 2); err != nil {
		return XMoCoResult{}, err
	}
	kv, err := check.MatrixOf(fn, "k", k, b, d)
	if err != nil {
		return XMoCoResult{}, err
	}
	g, err := check.Dst(fn, "dq", dq, check.Shape2(b, d), qv, kv)
	if err != nil {
		return XMoCoResult{}, err
	}
	lambdaCross32, err := finite32(fn, "lambdaCross", lambdaCross)
	if err != nil {
		return XMoCoResult{}, err
	}
	lambdaUnif32, err := finite32(fn, "lambdaUnif", lambdaUnif)
	if err != nil {
		return XMoCoResult{}, err
	}
	t := float32(xmocoDefaultT)
	var ws *Workspace
	if opts != nil {
		ws = opts.Workspace
		if opts.T != 0 {
			if t, err = positive32(fn, "T", opts.T); err != nil {
				return XMoCoResult{}, err
			}
		}
	}
	ws = orNew(ws)

	qh, kh := ws.buf(slotA, b*d), ws.buf(slotB, b*d)
	norms := ws.buf(slotNormA, b)
	contrastiveNormalize(qh, norms, qv, b, d)
	contrastiveNormalize(kh, ws.buf(slotNormB, b), kv, b, d)
	// E = q̂·k̂ᵀ − k̂·k̂ᵀ = (q̂ − k̂)·k̂ᵀ.
	diff := ws.buf(slotE, b*d)
	for i, v := range qh {
		diff[i] = v - kh[i]
	}
	e := ws.buf(slotC, b*b)
	kernel.Gemm(false, true, b, b, d, 1, diff, d, kh, d, 0, e, b)
	var sq float64
	for _, v := range e {
		sq += float64(v) * float64(v)
	}
	lCross := sq / float64(b*b)
	lUnif := ws.uniformForward(qh, b, d, t, slotS)
	res := XMoCoResult{Loss: lambdaCross*lCross + lambdaUnif*lUnif, Cross: lCross, Uniform: lUnif}
	if err := check.Result(fn, res.Loss, "q or k"); err != nil {
		return res, err
	}
	if g == nil {
		return res, nil
	}
	// ∂L_cross/∂q̂ = 2/B² · E·k̂.
	dqh := ws.buf(slotDA, b*d)
	kernel.Gemm(false, false, b, d, b, 2*lambdaCross32/float32(b*b), e, b, kh, d, 0, dqh, d)
	ws.uniformBackward(dqh, qh, b, d, t, lambdaUnif32, slotS, true)
	contrastiveNormalizeBackward(dqh, dqh, qh, norms, b, d)
	if err := gradFinite(fn, "dq", dqh, "lambdaCross, lambdaUnif or T"); err != nil {
		return res, err
	}
	copy(g, dqh)
	return res, nil
}
