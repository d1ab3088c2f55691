package losses

import (
	"errors"
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"ssl"
	"ssl/internal/check"
	"ssl/sinkhorn"
)

// Defaults of SwAV's Sinkhorn step (facebookresearch/swav main_swav.py
// arguments --epsilon 0.05 and --sinkhorn_iterations 3).
const (
	clustSwAVEpsilon    = 0.05
	clustSwAVIterations = 3
)

// SwAVOptions holds the optional settings of [SwAV] and [SwAVFromCodes]. A
// nil *SwAVOptions means the defaults.
type SwAVOptions struct {
	// Epsilon is the entropic regularization ε of the Sinkhorn codes
	// (Q ∝ exp(S/ε)); > 0, and 0 means SwAV's 0.05. Unused by
	// SwAVFromCodes.
	Epsilon float64
	// Iterations is the number of Sinkhorn iterations (the cap when Tol >
	// 0); ≥ 0, and 0 means SwAV's 3 (1000 when Tol > 0, as
	// [sinkhorn.BalanceOptions]). Unused by SwAVFromCodes.
	Iterations int
	// Tol, when > 0, stops each crop's Sinkhorn iterations as soon as the
	// marginal error of its codes is ≤ Tol; ≥ 0, and 0 runs exactly
	// Iterations iterations with no test, as SwAV does. A crop whose codes
	// miss Tol still gives the complete loss and gradient, returned with an
	// error wrapping ssl.ErrNotConverged. Unused by SwAVFromCodes.
	Tol float64
	// Workspace is reused scratch memory (softmax rows, codes, the Sinkhorn
	// workspace); nil allocates a fresh one per call.
	Workspace *Workspace
}

// SwAV returns SwAV's swapped-prediction loss over multi-crop prototype
// scores, computing the codes of the assigned crops with Sinkhorn-Knopp
// ([sinkhorn.Balance]), and writes the codes into codes and ∂L/∂scores into
// dscores:
//
//	q_c = sinkhorn.Balance(S_c, ε, T)                              (c ∈ A, detached)
//	L = 1/|A| · Σ_{c∈A} 1/(n−1) · Σ_{v≠c} −1/B · Σ_b Σ_k q_c[b,k] · log_softmax(S_v[b]/τ)[k]
//	∂L/∂S_v[b] = 1/(τ·B·|A|·(n−1)) · (m_v·softmax(S_v[b]/τ) − Σ_{c∈A, c≠v} q_c[b])
//
// where m_v = |{c ∈ A : c ≠ v}|. scores is (n·B)×K: the prototype scores
// (cosine similarities of normalized embeddings and prototypes) of n ≥ 2
// crops of the same B images, rows v·B … v·B+B−1 for crop v (SwAV's 2+6
// multi-crop gives n = 8). assign lists the distinct crops whose codes are
// targets (SwAV's crops_for_assign, usually [0, 1]); each supervises every
// other crop, and an assigned crop still gets a gradient through the
// other assigned crops' terms. The codes are constants: no gradient flows
// through the Sinkhorn step.
//
// codes, the primary output and so the first argument, receives the codes
// if not nil: |A|×B×K in the order of assign (each row sums to 1); nil
// keeps them in the workspace. A nil dscores skips the gradient. Every
// row's log-sum-exp is recovered from its softmax (log1p of the
// off-maximum mass), so the loss keeps its relative
// precision for τ down to 1e-3 and scores of any size; the codes are
// computed as [sinkhorn.Balance] documents (max-shifted exp, log domain
// where float32 exp would overflow). With dscores, codes and
// opts.Workspace supplied, this package allocates nothing of its own.
//
// With a feature queue, as in SwAV's queue variant, compute the codes
// yourself with [sinkhorn.Balance] on the queue's scores stacked over the
// crop's scores, keep the last B rows and call [SwAVFromCodes].
//
// It returns an error wrapping ssl.ErrShape if scores is not a non-empty
// matrix whose rows divide into n crops, or dscores or codes has the wrong
// shape or overlaps an input or the other destination; ssl.ErrParam if
// n < 2, assign is empty or holds a crop outside [0, n) or a repeated one,
// τ is not finite and > 0, or the options are invalid; ssl.ErrNotFinite
// for non-finite scores or a non-finite loss (scores/τ overflowing
// float32); ssl.ErrNotConverged, with the complete loss, codes and
// gradient, if opts.Tol > 0 and a crop's codes miss it. Nothing is written
// on a shape or parameter error; after ssl.ErrNotFinite the destinations'
// contents are unspecified.
//
// Reference: Caron et al., Unsupervised Learning of Visual Features by
// Contrasting Cluster Assignments (SwAV), NeurIPS 2020, eq. 1–3 and Sec.
// 3.2 (multi-crop); checked against train() and distributed_sinkhorn() in
// main_swav.py at facebookresearch/swav@06b1b7cbaf6ba2a792300d79c7299db98b93b7f9
// (world size 1, no queue, float64).
func SwAV(codes, dscores, scores ssl.Tensor, crops int, assign []int, tau float64, opts *SwAVOptions) (float64, error) {
	const fn = "losses: SwAV"
	b, k, s, tau32, err := clustSwAVCheck(fn, scores, crops, assign, tau)
	if err != nil {
		return 0, err
	}
	q, err := check.Dst(fn, "codes", codes, check.Shape3(len(assign), b, k), s)
	if err != nil {
		return 0, err
	}
	g, err := check.Dst(fn, "dscores", dscores, check.Shape2(crops*b, k), s)
	if err != nil {
		return 0, err
	}
	if err := check.Distinct(fn, []string{"codes", "dscores"}, q, g); err != nil {
		return 0, err
	}
	eps, iters, tol := clustSwAVEpsilon, 0, 0.0
	var ws *Workspace
	if opts != nil {
		ws = opts.Workspace
		switch {
		case math.IsNaN(opts.Epsilon) || math.IsInf(opts.Epsilon, 0) || opts.Epsilon < 0:
			return 0, check.Errorf(fn, ssl.ErrParam, "Epsilon must be finite and > 0, or 0 for the default (Epsilon=%v)", opts.Epsilon)
		case opts.Iterations < 0:
			return 0, check.Errorf(fn, ssl.ErrParam, "Iterations must be ≥ 0 (Iterations=%d)", opts.Iterations)
		}
		if err := check.NonNegative(fn, "Tol", opts.Tol); err != nil {
			return 0, err
		}
		if opts.Epsilon > 0 {
			eps = opts.Epsilon
		}
		iters, tol = opts.Iterations, opts.Tol
	}
	if iters == 0 && tol == 0 {
		iters = clustSwAVIterations
	}
	ws = orNew(ws)
	bk := b * k
	if q == nil {
		q = ws.buf(slotCodes, len(assign)*bk)
	}
	sk := &ws.sinkhorn
	if sk.ws == nil {
		sk.ws = sinkhorn.NewWorkspace(b, k)
	}
	sk.opts.Iterations, sk.opts.Tol, sk.opts.Workspace = iters, tol, sk.ws
	var notConverged error
	for i, c := range assign {
		src := sk.view(2*i, s[c*bk:(c+1)*bk], b, k)
		dst := sk.view(2*i+1, q[i*bk:(i+1)*bk], b, k)
		if _, err := sinkhorn.Balance(dst, src, eps, &sk.opts); err != nil {
			if !errors.Is(err, ssl.ErrNotConverged) {
				return 0, fmt.Errorf("%s: codes of crop %d: %w", fn, c, err)
			}
			if notConverged == nil {
				// The codes are complete: finish the loss, report the miss.
				notConverged = fmt.Errorf("%s: codes of crop %d: %w", fn, c, err)
			}
		}
	}
	loss := ws.swapped(g, s, q, crops, b, k, assign, tau32)
	if err := check.Result(fn, loss, "scores or scores/tau"); err != nil {
		return loss, err
	}
	return loss, notConverged
}

// SwAVFromCodes is [SwAV] with the codes given: codes is |A|×B×K, the
// targets q_c of the crops in assign (in that order; each row a
// distribution), for instance from [sinkhorn.Balance] run over a feature
// queue. It returns the same loss and writes the same gradient, and
// returns the same errors, plus ssl.ErrShape for codes of the wrong shape.
func SwAVFromCodes(dscores, scores, codes ssl.Tensor, crops int, assign []int, tau float64, opts *SwAVOptions) (float64, error) {
	const fn = "losses: SwAVFromCodes"
	b, k, s, tau32, err := clustSwAVCheck(fn, scores, crops, assign, tau)
	if err != nil {
		return 0, err
	}
	if check.IsNil(codes) {
		return 0, check.Errorf(fn, ssl.ErrShape, "codes is nil")
	}
	q, err := ssl.ViewOf(codes, len(assign), b, k)
	if err != nil {
		return 0, fmt.Errorf("%s: codes: %w", fn, err)
	}
	g, err := check.Dst(fn, "dscores", dscores, check.Shape2(crops*b, k), s, q)
	if err != nil {
		return 0, err
	}
	var ws *Workspace
	if opts != nil {
		ws = opts.Workspace
	}
	loss := orNew(ws).swapped(g, s, q, crops, b, k, assign, tau32)
	if err := check.Result(fn, loss, "scores, codes or scores/tau"); err != nil {
		return loss, err
	}
	return loss, nil
}

// clustSwAVCheck checks the arguments SwAV and SwAVFromCodes share and
// returns the batch size, the number of prototypes and the scores.
func clustSwAVCheck(fn string, scores ssl.Tensor, crops int, assign []int, tau float64) (b, k int, s []float32, tau32 float32, err error) {
	rows, k, s, err := check.NonEmptyMatrix(fn, "scores", scores)
	if err != nil {
		return 0, 0, nil, 0, err
	}
	if err := check.Count(fn, "crops", crops, 2); err != nil {
		return 0, 0, nil, 0, err
	}
	if rows%crops != 0 {
		return 0, 0, nil, 0, check.Errorf(fn, ssl.ErrShape, "scores has %d rows, not a multiple of crops=%d", rows, crops)
	}
	if len(assign) == 0 {
		return 0, 0, nil, 0, check.Errorf(fn, ssl.ErrParam, "assign is empty")
	}
	for i, c := range assign {
		if c < 0 || c >= crops {
			return 0, 0, nil, 0, check.Errorf(fn, ssl.ErrParam, "assign[%d] is out of range [0, %d) (assign[%d]=%d)", i, crops, i, c)
		}
		for _, d := range assign[:i] {
			if d == c {
				return 0, 0, nil, 0, check.Errorf(fn, ssl.ErrParam, "assign repeats crop %d", c)
			}
		}
	}
	if tau32, err = positive32(fn, "tau", tau); err != nil {
		return 0, 0, nil, 0, err
	}
	return rows / crops, k, s, tau32, nil
}

// clustSinkhornState is what SwAV keeps in the workspace for the Sinkhorn
// step: the solver's workspace, its options, and tensor headers over
// sub-slices of the caller's buffers, reused while the caller passes the
// same buffers (so a training loop allocates them once).
type clustSinkhornState struct {
	ws    *sinkhorn.Workspace
	opts  sinkhorn.BalanceOptions
	views []clustSinkhornView
}

type clustSinkhornView struct {
	t    *tensor.Dense
	data []float32
	r, c int
}

// view returns a b×k tensor over data, reusing slot i's header when it
// already wraps exactly this memory.
func (st *clustSinkhornState) view(i int, data []float32, b, k int) *tensor.Dense {
	for len(st.views) <= i {
		st.views = append(st.views, clustSinkhornView{})
	}
	v := &st.views[i]
	if v.t != nil && v.r == b && v.c == k && len(v.data) == len(data) && &v.data[0] == &data[0] {
		return v.t
	}
	v.t, v.data, v.r, v.c = ssl.FromSlice(data, b, k), data, b, k
	return v.t
}
