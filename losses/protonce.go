package losses

import (
	"fmt"
	"math"

	"ssl"
	"ssl/dist"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// ProtoNCEClustering is one of the M clusterings ProtoNCE contrasts against
// (PCL runs k-means several times with different numbers of clusters).
type ProtoNCEClustering struct {
	// Centroids is K×D: the prototypes, unit rows as PCL's k-means returns
	// them (not normalized again). Constant: no gradient.
	Centroids ssl.Tensor
	// Density has K entries: the concentration φ of each prototype (its
	// temperature), all finite and > 0. Constant.
	Density ssl.Tensor
	// Labels has B entries: the cluster of each batch sample, in [0, K).
	Labels []int
	// Negatives are the ids of the sampled negative prototypes, in [0, K).
	// PCL draws r distinct ids outside the batch's Labels; any ids are
	// accepted.
	Negatives []int
}

// ProtoNCEOptions holds the optional settings of [ProtoNCE]. A nil
// *ProtoNCEOptions means the defaults.
type ProtoNCEOptions struct {
	// Workspace is reused scratch memory; nil allocates a fresh one per
	// call.
	Workspace *Workspace
	// Comm, when not nil, makes the call one rank of a data-parallel
	// ProtoNCE equal to the loss of the concatenation of every rank's
	// batch, in rank order (B the same on every rank): the instance term is
	// the mean over the B·Size rows, and each clustering's Labels are
	// all-gathered, so that every row's prototype logits have the B·Size
	// positive prototypes of the global batch followed by the Negatives as
	// columns — what one process sees with the whole batch (PCL itself
	// contrasts each device's rows against that device's batch only). The
	// result is the same on every rank; dq receives Size times the
	// gradient of the global loss with respect to this rank's q, so that
	// averaging the parameter gradients over the ranks gives the global
	// gradient. The clusterings' Centroids and Density must be the same on
	// every rank (one k-means over the ranks gives them); their Negatives
	// must be too, and a rank whose Negatives differ from rank 0's is an
	// error on every rank, as is a bad argument on any rank (see
	// dist.Agree). The queue is this rank's: PCL keeps one per rank, filled
	// with the all-gathered keys. One all-gather of B labels per
	// clustering, and one all-reduce of 1+M sums, per call.
	Comm dist.Comm
}

// ProtoNCEResult is the value of [ProtoNCE]: the loss and its terms.
type ProtoNCEResult struct {
	// Loss is L = Instance + Prototype.
	Loss float64
	// Instance is the instance term L_inst.
	Instance float64
	// Prototype is the mean 1/M·Σ_m L_m of the prototype terms (0 when
	// M = 0).
	Prototype float64
	// PerClustering holds L_m for each of the M clusterings, in order. It
	// is memory of the workspace: valid until the next call with the same
	// Workspace; copy it to keep it.
	PerClustering []float64
}

// ProtoNCE returns PCL's ProtoNCE loss, the instance InfoNCE term of
// [InfoNCEQueue] plus the mean over M clusterings of a prototype term, and
// writes ∂L/∂q into dq:
//
//	q̂ = normalize(q),  k̂ = normalize(k)
//	L_inst = 1/B · Σ_i CE([q̂_i·k̂_i, q̂_i·queue_1, …, q̂_i·queue_N] / τ, 0)
//	ids^m  = [labels^m_1, …, labels^m_B, neg^m_1, …, neg^m_r]          (B + r columns)
//	P^m_ij = q̂_i·c^m_{ids_j} / φ^m_{ids_j}
//	L_m    = 1/B · Σ_i CE(P^m_i, i)
//	L      = L_inst + 1/M · Σ_m L_m
//
// with CE(x, y) = log Σ_j exp(x_j) − x_y. Row i's target is always column i;
// the positive prototypes of the other batch samples are also columns, and a
// prototype shared by several samples appears in several columns, as in
// PCL. q is raw (the loss normalizes it) and gets the gradient; k, queue,
// centroids and densities are constants. The per-prototype concentration φ
// replaces τ in the prototype term. The instance term is computed by the same
// code as [InfoNCEQueue].
//
// The result holds L and its terms L_inst and L_m. A nil dq skips the
// gradient. M = 0 gives L_inst alone. With dq and opts.Workspace supplied
// the call allocates nothing of its own.
//
// It returns an error wrapping ssl.ErrShape if q is not a non-empty matrix,
// k or a non-nil dq differs from it in shape, queue or a clustering's
// centroids do not have D columns, a density does not have K entries,
// Labels does not have B entries, or dq overlaps an input; ssl.ErrParam if τ is not finite and > 0, a label or
// negative id is outside [0, K), or a density is not finite and > 0;
// ssl.ErrNotFinite if the loss is not finite or a gradient would overflow float32. Nothing is written when it
// returns an error.
//
// Reference: Li et al., Prototypical Contrastive Learning of Unsupervised
// Representations (PCL), ICLR 2021, eq. 6 (ProtoNCE) and eq. 12
// (concentration); salesforce/PCL@964da1fb7c0546e8ce55627fa3c0debde4b7e456
// pcl/builder.py MoCo.forward and main_pcl.py train.
func ProtoNCE(dq, q, k, queue ssl.Tensor, clusterings []ProtoNCEClustering, tau float64, opts *ProtoNCEOptions) (ProtoNCEResult, error) {
	const fn = "losses: ProtoNCE"
	if opts != nil && opts.Comm != nil {
		return protonceGathered(dq, q, k, queue, clusterings, tau, opts)
	}
	a, err := protonceCheck(fn, dq, q, k, queue, clusterings, tau)
	if err != nil {
		return ProtoNCEResult{}, err
	}
	b, d, n, qv, kv, bank, g, tau32 := a.b, a.d, a.n, a.qv, a.kv, a.bank, a.g, a.tau32
	m := len(clusterings)
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
	invB := 1 / float64(b)
	lInst := ws.queueInfoNCE(dqh, qh, kh, bank, b, d, n, tau32, float32(invB), false) / float64(b)
	res := ProtoNCEResult{Loss: lInst, Instance: lInst}
	if err := check.Result(fn, lInst, "q, k or queue"); err != nil {
		return res, err
	}
	// The prototype terms wait in the workspace until all are known finite.
	lm := ws.buf64(slotTerms, m)
	for c := range clusterings {
		lm[c] = ws.protoTerm(dqh, qh, &clusterings[c], b, d, float32(invB/float64(m)))
	}
	return protonceFinish(fn, res, lm, g, dqh, qh, norms, b, d)
}

// protonceFinish completes res (its instance term set) with the prototype
// terms lm after checking each is finite, and writes the gradient dqh,
// taken back through the normalization, into g when g is not nil.
func protonceFinish(fn string, res ProtoNCEResult, lm []float64, g, dqh, qh, norms []float32, b, d int) (ProtoNCEResult, error) {
	var protoSum float64
	for c, v := range lm {
		protoSum += v
		if err := check.Result(fn, v, fmt.Sprintf("q or clusterings[%d]", c)); err != nil {
			res.Loss = v
			return res, err
		}
	}
	res.PerClustering = lm
	if len(lm) > 0 {
		res.Prototype = protoSum / float64(len(lm))
		res.Loss += res.Prototype
	}
	if g != nil {
		contrastiveNormalizeBackward(dqh, dqh, qh, norms, b, d)
		if err := gradFinite(fn, "dq", dqh, "1/tau or 1/density"); err != nil {
			return res, err
		}
		copy(g, dqh)
	}
	return res, nil
}

// protonceArgs are ProtoNCE's checked arguments.
type protonceArgs struct {
	b, d, n         int
	qv, kv, bank, g []float32
	tau32           float32
}

// protonceCheck checks the arguments of ProtoNCE.
func protonceCheck(fn string, dq, q, k, queue ssl.Tensor, clusterings []ProtoNCEClustering, tau float64) (a protonceArgs, err error) {
	if a.b, a.d, a.qv, err = check.Matrix(fn, "q", q); err != nil {
		return a, err
	}
	if err = check.AtLeast(fn, "batch size B", a.b, 1); err != nil {
		return a, err
	}
	if a.kv, err = check.MatrixOf(fn, "k", k, a.b, a.d); err != nil {
		return a, err
	}
	var nd int
	if a.n, nd, a.bank, err = check.Matrix(fn, "queue", queue); err != nil {
		return a, err
	}
	if nd != a.d {
		return a, colsErr(fn, "queue", a.n, nd, a.d)
	}
	if a.g, err = check.Dst(fn, "dq", dq, check.Shape2(a.b, a.d), a.qv, a.kv, a.bank); err != nil {
		return a, err
	}
	for c := range clusterings {
		if err = protonceCheckClustering(fn, c, &clusterings[c], a.b, a.d, a.g); err != nil {
			return a, err
		}
	}
	a.tau32, err = positive32(fn, "tau", tau)
	return a, err
}

// protoTerm returns L_m = 1/B·Σ_i CE(P_i, i) of one clustering and, when dqh
// is not nil, adds scale·∂Σ_i CE_i/∂qh into it.
func (w *Workspace) protoTerm(dqh, qh []float32, cl *ProtoNCEClustering, b, d int, scale float32) float64 {
	return w.protoSum(dqh, qh, cl, cl.Labels, 0, b, d, scale) / float64(b)
}

// protoSum returns Σ_i CE(P_i, first+i) over the B rows of qh, whose
// columns are the prototypes of labels (every sample's positive) followed by
// cl.Negatives, and, when dqh is not nil, adds scale·∂(that sum)/∂qh into
// it. It uses slots C and S and the labels.
func (w *Workspace) protoSum(dqh, qh []float32, cl *ProtoNCEClustering, labels []int, first, b, d int, scale float32) float64 {
	_, _, cent, _ := ssl.Matrix(cl.Centroids) // checked by protonceCheckClustering
	dens, _ := ssl.Vector(cl.Density)
	nl := len(labels)
	cols := nl + len(cl.Negatives)
	// Gather the columns' prototypes, each divided by its concentration, so
	// that one product gives the logits.
	cs := w.buf(slotC, cols*d)
	for j := range cols {
		var id int
		if j < nl {
			id = labels[j]
		} else {
			id = cl.Negatives[j-nl]
		}
		src, dst := cent[id*d:(id+1)*d], cs[j*d:(j+1)*d]
		inv := 1 / dens[id]
		for t, v := range src {
			dst[t] = v * inv
		}
	}
	x := w.buf(slotS, b*cols)
	kernel.Gemm(false, true, b, cols, d, 1, qh, d, cs, d, 0, x, cols)
	targets := w.labelBuf(b)
	for i := range targets {
		targets[i] = int32(first + i)
	}
	sum := w.crossEntropy(x, b, cols, targets, dqh != nil, scale)
	if dqh != nil {
		kernel.Gemm(false, false, b, d, cols, 1, x, cols, cs, d, 1, dqh, d)
	}
	return sum
}

// protonceCheckClustering checks clustering c of ProtoNCE; error messages
// are formatted only on failure, so a valid call allocates nothing here.
func protonceCheckClustering(fn string, c int, cl *ProtoNCEClustering, b, d int, g []float32) error {
	name := func(field string) string { return fmt.Sprintf("clusterings[%d].%s", c, field) }
	kc, cd, cent, err := check.Matrix(fn, name("Centroids"), cl.Centroids)
	if err != nil {
		return err
	}
	if cd != d {
		return colsErr(fn, name("Centroids"), kc, cd, d)
	}
	dens, err := check.VectorOf(fn, name("Density"), cl.Density, kc)
	if err != nil {
		return err
	}
	for j, phi := range dens {
		if !(phi > 0) || math.IsInf(float64(phi), 0) {
			return check.Positive(fn, name(fmt.Sprintf("Density[%d]", j)), float64(phi))
		}
	}
	if err := check.Labels(fn, name("Labels"), cl.Labels, b, kc); err != nil {
		return err
	}
	if err := check.Labels(fn, name("Negatives"), cl.Negatives, len(cl.Negatives), kc); err != nil {
		return err
	}
	if kernel.Overlaps(g, cent) || kernel.Overlaps(g, dens) {
		return check.Errorf(fn, ssl.ErrShape, "dq overlaps %s", name("Centroids or Density"))
	}
	return nil
}
