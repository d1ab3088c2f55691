package losses

import (
	"math"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// byolCosEps is the eps of torch.nn.functional.cosine_similarity, which the
// reference (solo-learn byol_loss_func) uses: the product of the norms is
// clamped below at 1e-8.
const byolCosEps = 1e-8

// BYOL returns the BYOL regression loss between online predictions p and
// target projections z, both B×D, and writes ∂L/∂p into dp:
//
//	cos_i = ⟨p_i, z_i⟩ / max(‖p_i‖·‖z_i‖, ε),  ε = 1e-8
//	L = 2 − 2 · 1/B · Σ_i cos_i
//
// which is 1/B · Σ_i ‖p_i/‖p_i‖ − z_i/‖z_i‖‖² away from the clamp. z comes
// from the target (EMA) network and is a constant: it gets no gradient. This
// is one direction; BYOL's symmetrized loss is the sum of two calls with
// the views swapped. The loss is scale-invariant in each row of p and z.
// Where the clamp binds (‖p_i‖·‖z_i‖ ≤ ε) cos_i = ⟨p_i, z_i⟩/ε and its
// gradient is z_i/ε. B = 1 is valid.
//
// A nil dp computes only the loss. dp must not overlap p or z.
//
// It returns an error wrapping ssl.ErrShape if p is not a non-empty matrix,
// or z or a non-nil dp differs from it in shape, or dp overlaps an input;
// ssl.ErrNotFinite if the loss is not finite or a gradient would overflow float32 (NaN or Inf in p or z).
// Nothing is written when it returns an error.
//
// Reference: Grill et al., Bootstrap Your Own Latent (BYOL), NeurIPS 2020,
// eq. 2; checked against solo-learn byol_loss_func(simplified=True) at
// vturrisi/solo-learn@9187ea39c2c3f43c455ab06664d2b019a9802954.
func BYOL(dp, p, z ssl.Tensor) (float64, error) {
	const fn = "losses: BYOL"
	b, d, pv, err := check.Matrix(fn, "p", p)
	if err != nil {
		return 0, err
	}
	if err := check.AtLeast(fn, "batch size B", b, 1); err != nil {
		return 0, err
	}
	zv, err := check.MatrixOf(fn, "z", z, b, d)
	if err != nil {
		return 0, err
	}
	g, err := check.Dst(fn, "dp", dp, check.Shape2(b, d), pv, zv)
	if err != nil {
		return 0, err
	}
	// The forward pass first, so that nothing is written if the loss is
	// not finite.
	var sum float64
	for i := range b {
		pi, zi := pv[i*d:(i+1)*d], zv[i*d:(i+1)*d]
		sum += kernel.Dot(pi, zi) / math.Max(kernel.Norm(pi)*kernel.Norm(zi), byolCosEps)
	}
	loss := 2 - 2*sum/float64(b)
	if err := check.Result(fn, loss, "p or z"); err != nil {
		return loss, err
	}
	if g == nil {
		return loss, nil
	}
	// The gradient of row i has norm at most 2/B·(‖z_i‖/den + |cos|/‖p_i‖)
	// (‖z_i‖/ε·2/B under the clamp): check it fits float32 before writing.
	for i := range b {
		pi, zi := pv[i*d:(i+1)*d], zv[i*d:(i+1)*d]
		np, nz := kernel.Norm(pi), kernel.Norm(zi)
		den := max(np*nz, byolCosEps)
		bound := 2 / float64(b) * nz / den
		if np*nz > byolCosEps {
			bound += 2 / float64(b) * math.Abs(kernel.Dot(pi, zi)/den) / np
		}
		if !(bound <= math.MaxFloat32) {
			return loss, check.Errorf(fn, ssl.ErrNotFinite, "the gradient of row %d overflows float32 (%.3g)", i, bound)
		}
	}
	for i := range b {
		pi, zi, gi := pv[i*d:(i+1)*d], zv[i*d:(i+1)*d], g[i*d:(i+1)*d]
		np, nz := kernel.Norm(pi), kernel.Norm(zi)
		den := np * nz
		s := -2 / float64(b)
		if den <= byolCosEps {
			// Clamped: cos = ⟨p, z⟩/ε, ∂cos/∂p = z/ε.
			for t, zt := range zi {
				gi[t] = float32(s * float64(zt) / byolCosEps)
			}
			continue
		}
		// ∂cos/∂p = z/(‖p‖‖z‖) − cos·p/‖p‖².
		c := kernel.Dot(pi, zi) / den
		a, bp := s/den, -s*c/(np*np)
		for t := range gi {
			gi[t] = float32(a*float64(zi[t]) + bp*float64(pi[t]))
		}
	}
	return loss, nil
}
