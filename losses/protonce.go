package losses

import (
	"fmt"
	"math"

	"ssl"
	"ssl/internal/kernel"
)

// ProtoNCEClustering is one of the M clusterings ProtoNCE contrasts against
// (PCL runs k-means several times with different numbers of clusters).
type ProtoNCEClustering struct {
	// Centroids is K×D: the prototypes, unit rows as PCL's k-means returns
	// them (not normalised again). Constant: no gradient.
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
	Workspace *ContrastiveWorkspace
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
// PCL. q is raw (the loss normalises it) and gets the gradient; k, queue,
// centroids and densities are constants. The per-prototype concentration φ
// replaces τ in the prototype term. The instance term is computed by the same
// code as [InfoNCEQueue].
//
// If terms is not nil it must have M+1 entries and receives L_inst in
// terms[0] and L_m in terms[1+m]. A nil dq skips the gradient. M = 0 gives
// L_inst alone. With dq and opts.Workspace supplied the call allocates
// nothing of its own.
//
// It returns an error wrapping ssl.ErrShape if q is not a non-empty matrix,
// k or a non-nil dq differs from it in shape, queue or a clustering's
// centroids do not have D columns, a density does not have K entries,
// Labels does not have B entries, terms has the wrong length, or dq
// overlaps an input; ssl.ErrParam if τ is not finite and > 0, a label or
// negative id is outside [0, K), or a density is not finite and > 0;
// ssl.ErrNotFinite if the loss is not finite or a gradient would overflow float32. Nothing is written when it
// returns an error.
//
// Reference: Li et al., Prototypical Contrastive Learning of Unsupervised
// Representations (PCL), ICLR 2021, eq. 6 (ProtoNCE) and eq. 12
// (concentration); salesforce/PCL@964da1fb7c0546e8ce55627fa3c0debde4b7e456
// pcl/builder.py MoCo.forward and main_pcl.py train.
func ProtoNCE(dq ssl.Tensor, terms []float64, q, k, queue ssl.Tensor, clusterings []ProtoNCEClustering, tau float32, opts *ProtoNCEOptions) (float64, error) {
	const fn = "ProtoNCE"
	b, d, qv, err := contrastiveMatrix(fn, "q", q)
	if err != nil {
		return 0, err
	}
	if err := contrastiveNonEmpty(fn, "batch size B", b, 1); err != nil {
		return 0, err
	}
	kv, err := contrastiveMatrixOf(fn, "k", k, b, d)
	if err != nil {
		return 0, err
	}
	n, nd, bank, err := contrastiveMatrix(fn, "queue", queue)
	if err != nil {
		return 0, err
	}
	if nd != d {
		return 0, contrastiveColsErr(fn, "queue", n, nd, d)
	}
	g, err := contrastiveDst(fn, "dq", dq, b, d, qv, kv, bank)
	if err != nil {
		return 0, err
	}
	m := len(clusterings)
	for c := range clusterings {
		if err := protonceCheckClustering(fn, c, &clusterings[c], b, d, g); err != nil {
			return 0, err
		}
	}
	if terms != nil && len(terms) != m+1 {
		return 0, fmt.Errorf("losses: %s: terms has %d entries, want M+1=%d: %w", fn, len(terms), m+1, ssl.ErrShape)
	}
	if err := contrastivePositive(fn, "tau", tau); err != nil {
		return 0, err
	}
	var ws *ContrastiveWorkspace
	if opts != nil {
		ws = opts.Workspace
	}
	ws = contrastiveWS(ws)

	qh, kh := ws.buf(slotA, b*d), ws.buf(slotB, b*d)
	norms := ws.buf(slotNormA, b)
	contrastiveNormalize(qh, norms, qv, b, d)
	contrastiveNormalize(kh, ws.buf(slotNormB, b), kv, b, d)
	var dqh []float32
	if g != nil {
		dqh = ws.buf(slotDA, b*d)
	}
	invB := 1 / float64(b)
	lInst := ws.queueInfoNCE(dqh, qh, kh, bank, b, d, n, tau, float32(invB), false) / float64(b)
	loss := lInst
	if err := contrastiveFinite(fn, lInst, "q, k or queue"); err != nil {
		return loss, err
	}
	// The prototype terms are computed one clustering at a time; their values
	// wait in the workspace until all are known finite.
	lm := ws.f64Buf(m)
	var protoSum float64
	for c := range clusterings {
		v := ws.protoTerm(dqh, qh, &clusterings[c], b, d, float32(invB/float64(m)))
		lm[c] = v
		protoSum += v
		if err := contrastiveFinite(fn, v, fmt.Sprintf("q or clusterings[%d]", c)); err != nil {
			return v, err
		}
	}
	if m > 0 {
		loss += protoSum / float64(m)
	}
	if g != nil {
		contrastiveNormalizeBackward(dqh, dqh, qh, norms, b, d)
		if err := contrastiveGradFinite(fn, "dq", dqh, "1/tau or 1/density"); err != nil {
			return loss, err
		}
		copy(g, dqh)
	}
	if terms != nil {
		terms[0] = lInst
		copy(terms[1:], lm)
	}
	return loss, nil
}

// protoTerm returns L_m = 1/B·Σ_i CE(P_i, i) of one clustering and, when dqh
// is not nil, adds scale·∂Σ_i CE_i/∂qh into it.
func (w *ContrastiveWorkspace) protoTerm(dqh, qh []float32, cl *ProtoNCEClustering, b, d int, scale float32) float64 {
	_, _, cent, _ := ssl.Matrix(cl.Centroids) // checked by protonceCheckClustering
	dens, _ := ssl.Vector(cl.Density)
	cols := b + len(cl.Negatives)
	// Gather the columns' prototypes, each divided by its concentration, so
	// that one product gives the logits.
	cs := w.buf(slotC, cols*d)
	for j := range cols {
		var id int
		if j < b {
			id = cl.Labels[j]
		} else {
			id = cl.Negatives[j-b]
		}
		src, dst := cent[id*d:(id+1)*d], cs[j*d:(j+1)*d]
		inv := 1 / dens[id]
		for t, v := range src {
			dst[t] = v * inv
		}
	}
	x := w.buf(slotS, b*cols)
	kernel.Gemm(false, true, b, cols, d, 1, qh, d, cs, d, 0, x, cols)
	labels := w.labelBuf(b)
	for i := range labels {
		labels[i] = int32(i)
	}
	sum := w.crossEntropy(x, b, cols, labels, dqh != nil, scale)
	if dqh != nil {
		kernel.Gemm(false, false, b, d, cols, 1, x, cols, cs, d, 1, dqh, d)
	}
	return sum / float64(b)
}

// protonceCheckClustering checks clustering c of ProtoNCE; error messages
// are formatted only on failure, so a valid call allocates nothing here.
func protonceCheckClustering(fn string, c int, cl *ProtoNCEClustering, b, d int, g []float32) error {
	name := func(field string) string { return fmt.Sprintf("clusterings[%d].%s", c, field) }
	kc, cd, cent, err := ssl.Matrix(cl.Centroids)
	if err != nil {
		return fmt.Errorf("losses: %s: %s: %w", fn, name("Centroids"), err)
	}
	if cd != d {
		return contrastiveColsErr(fn, name("Centroids"), kc, cd, d)
	}
	dens, err := ssl.VectorOf(cl.Density, kc)
	if err != nil {
		return fmt.Errorf("losses: %s: %s: %w", fn, name("Density"), err)
	}
	for j, phi := range dens {
		if !(phi > 0) || math.IsInf(float64(phi), 0) {
			return contrastivePositive(fn, name(fmt.Sprintf("Density[%d]", j)), phi)
		}
	}
	if len(cl.Labels) != b {
		return fmt.Errorf("losses: %s: %s has %d entries, want B=%d: %w", fn, name("Labels"), len(cl.Labels), b, ssl.ErrShape)
	}
	for _, ids := range [2]struct {
		field string
		v     []int
	}{{"Labels", cl.Labels}, {"Negatives", cl.Negatives}} {
		for i, id := range ids.v {
			if id < 0 || id >= kc {
				return fmt.Errorf("losses: %s: %s[%d] = %d is outside [0, %d): %w", fn, name(ids.field), i, id, kc, ssl.ErrParam)
			}
		}
	}
	if kernel.Overlaps(g, cent) || kernel.Overlaps(g, dens) {
		return fmt.Errorf("losses: %s: dq overlaps %s: %w", fn, name("Centroids or Density"), ssl.ErrShape)
	}
	return nil
}
