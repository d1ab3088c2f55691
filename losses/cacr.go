package losses

import (
	"fmt"
	"math"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// CACROptions holds the optional settings of [CACR]. A nil *CACROptions
// means the defaults.
type CACROptions struct {
	// Workspace is reused scratch memory; nil allocates a fresh one per
	// call.
	Workspace *Workspace
}

// CACRResult is the value of [CACR]: the loss and its two terms.
type CACRResult struct {
	// Loss is L = Attraction + Repulsion.
	Loss float64
	// Attraction is the contrastive attraction term CA.
	Attraction float64
	// Repulsion is the contrastive repulsion term CR.
	Repulsion float64
}

// CACR returns the contrastive attraction and repulsion loss of M views of
// the same B samples (views is M×B×D, rows used as given: the reference's
// encoder normalizes them, the loss does not), and writes ∂L/∂views into
// dviews. With the squared Euclidean cost d(a, b) = ‖a − b‖²:
//
//	CA = 1/M · Σ_x 1/B · Σ_i Σ_{y≠x} π⁺_{iy} · α·d(v_x[i], v_y[i]),
//	     π⁺_{i·} = softmax_{y≠x}(τ⁺·d(v_x[i], v_y[i]))        (over the M−1 other views)
//	CR = 1/P · Σ_{x<y} 1/B · Σ_i Σ_{l≠i} π⁻_{il} · (−β·d(v_x[i], v_y[l])),
//	     π⁻_{i·} = softmax_{l≠i}(−τ⁻·d(v_x[i], v_y[l]))       (over the B−1 other samples)
//	L  = CA + CR,  P = M(M−1)/2
//
// Attraction weights the farther positives more; repulsion weights the
// nearer negatives more. The weights π are not detached: the gradient flows
// through both softmaxes. This is the small-scale CACR ("full" choice, not
// debiased).
//
// The result holds L, CA and CR. A nil dviews skips the gradient. M ≥ 2 and B ≥ 2 are needed (B = 1 leaves no
// negative). With dviews and opts.Workspace supplied the call allocates
// nothing of its own.
//
// It returns an error wrapping ssl.ErrShape if views is not an M×B×D tensor
// with M ≥ 2, B ≥ 2 and D ≥ 1, or dviews differs from it in shape or
// overlaps it; ssl.ErrParam if α, β, τ⁺ or τ⁻ is
// negative or not finite; ssl.ErrNotFinite if the loss is not finite or a gradient would overflow float32.
// Nothing is written when it returns an error.
//
// Reference: Zheng et al., Contrastive Attraction and Contrastive Repulsion
// for Representation Learning (CACR), TMLR 2023 (arXiv 2105.03746), eq. 5
// and 6 with the Euclidean cost; JegZheng/CACR-SSL@fbc9d94810cf55c8461ed86a60e48e70e14acbbe
// small_scale_experiments/losses/__init__.py our_loss1 + our_loss2.
func CACR(dviews, views ssl.Tensor, alpha, beta, tauPos, tauNeg float64, opts *CACROptions) (CACRResult, error) {
	const fn = "losses: CACR"
	shape, vv, err := contrastiveView3(views)
	if err != nil {
		return CACRResult{}, fmt.Errorf("%s: views: %w", fn, err)
	}
	if shape[0] < 2 || shape[1] < 2 || shape[2] < 1 {
		return CACRResult{}, check.Errorf(fn, ssl.ErrShape, "views has shape %v, want M×B×D with M ≥ 2, B ≥ 2, D ≥ 1", shape)
	}
	m, b, d := shape[0], shape[1], shape[2]
	g, err := check.Dst(fn, "dviews", dviews, check.Shape3(m, b, d), vv)
	if err != nil {
		return CACRResult{}, err
	}
	for _, p := range [3]struct {
		name string
		v    float64
	}{{"alpha", alpha}, {"beta", beta}, {"tauPos", tauPos}} {
		if err := check.NonNegative(fn, p.name, p.v); err != nil {
			return CACRResult{}, err
		}
	}
	// τ⁻ scales the float32 cost matrices of the repulsion.
	tauNeg32, err := nonNegative32(fn, "tauNeg", tauNeg)
	if err != nil {
		return CACRResult{}, err
	}
	var ws *Workspace
	if opts != nil {
		ws = opts.Workspace
	}
	ws = orNew(ws)

	// Attraction: per sample i, the M×M costs between its views.
	ca, caG := cacrAttract(ws, vv, m, b, d, alpha, tauPos)
	// Repulsion: per view pair x<y, the B×B costs between samples.
	pairs := m * (m - 1) / 2
	nb := b * b
	dist := ws.buf(slotS, pairs*nb) // costs, then ∂L/∂cost
	wts := ws.buf(slotC, pairs*nb)  // softmax weights
	sq := ws.buf(slotNormA, m*b)    // squared row norms
	for r := range m * b {
		sq[r] = float32(kernel.Dot(vv[r*d:(r+1)*d], vv[r*d:(r+1)*d]))
	}
	var cr float64
	negInf := float32(math.Inf(-1))
	p := 0
	for x := 0; x < m; x++ {
		for y := x + 1; y < m; y++ {
			vx, vy := vv[x*b*d:(x+1)*b*d], vv[y*b*d:(y+1)*b*d]
			dm, wm := dist[p*nb:(p+1)*nb], wts[p*nb:(p+1)*nb]
			// ‖a − b‖² = ‖a‖² + ‖b‖² − 2⟨a, b⟩, clamped at 0 against rounding.
			kernel.Gemm(false, true, b, b, d, -2, vx, d, vy, d, 0, dm, b)
			for i := range b {
				for l := range b {
					dm[i*b+l] = max(0, dm[i*b+l]+sq[x*b+i]+sq[y*b+l])
					wm[i*b+l] = -tauNeg32 * dm[i*b+l]
				}
				wm[i*b+i] = negInf
			}
			kernel.SoftmaxRows(wm, wm, b, b)
			var s float64
			for i := range b {
				for l := range b {
					if l != i {
						s += float64(wm[i*b+l]) * float64(dm[i*b+l])
					}
				}
			}
			cr += -beta * s / float64(b)
			p++
		}
	}
	cr /= float64(pairs)
	res := CACRResult{Loss: ca + cr, Attraction: ca, Repulsion: cr}
	if err := check.Result(fn, res.Loss, "views"); err != nil {
		return res, err
	}
	if g == nil {
		return res, nil
	}
	// Accumulate the repulsion gradient onto the attraction gradient in
	// scratch; copy once it is known finite.
	acc := caG
	// ∂f/∂d_l for f = −β·Σ_l π_l d_l, π = softmax(−τ⁻·d):
	// −β·π_l·(1 − τ⁻·(d_l − Σ_k π_k d_k)).
	coef := -beta / (float64(b) * float64(pairs))
	rs, cs := ws.buf(slotLSE, b), ws.buf(slotE, b)
	p = 0
	for x := 0; x < m; x++ {
		for y := x + 1; y < m; y++ {
			vx, vy := vv[x*b*d:(x+1)*b*d], vv[y*b*d:(y+1)*b*d]
			gx, gy := acc[x*b*d:(x+1)*b*d], acc[y*b*d:(y+1)*b*d]
			dm, wm := dist[p*nb:(p+1)*nb], wts[p*nb:(p+1)*nb]
			clear(cs)
			for i := range b {
				var mean float64
				for l := range b {
					if l != i {
						mean += float64(wm[i*b+l]) * float64(dm[i*b+l])
					}
				}
				var r float64
				for l := range b {
					var gl float64
					if l != i {
						gl = coef * float64(wm[i*b+l]) * (1 - float64(tauNeg32)*(float64(dm[i*b+l])-mean))
					}
					dm[i*b+l] = float32(gl)
					r += gl
					cs[l] += float32(gl)
				}
				rs[i] = float32(r)
			}
			// d_il = ‖vx_i − vy_l‖²: ∂/∂vx_i = 2·Σ_l G_il (vx_i − vy_l),
			// ∂/∂vy_l = 2·Σ_i G_il (vy_l − vx_i).
			for i := range b {
				kernel.Axpy(2*rs[i], vx[i*d:(i+1)*d], gx[i*d:(i+1)*d])
				kernel.Axpy(2*cs[i], vy[i*d:(i+1)*d], gy[i*d:(i+1)*d])
			}
			kernel.Gemm(false, false, b, d, b, -2, dm, b, vy, d, 1, gx, d)
			kernel.Gemm(true, false, b, d, b, -2, dm, b, vx, d, 1, gy, d)
			p++
		}
	}
	if err := gradFinite(fn, "dviews", acc, "alpha, beta, tauPos or tauNeg"); err != nil {
		return res, err
	}
	copy(g, acc)
	return res, nil
}

// cacrAttract returns CACR's attraction term and its gradient with respect
// to the views (in the workspace's slot DA, M×B×D).
func cacrAttract(ws *Workspace, vv []float32, m, b, d int, alpha, tauPos float64) (float64, []float32) {
	g := ws.buf(slotDA, m*b*d)
	clear(g)
	dd := ws.buf64(slotTerms, 2*m*m) // costs and weights of one sample's views
	cost, w := dd[:m*m], dd[m*m:]
	coef := alpha / float64(m*b)
	var ca float64
	for i := range b {
		row := func(x int) []float32 { return vv[(x*b+i)*d : (x*b+i+1)*d] }
		for x := range m {
			for y := x + 1; y < m; y++ {
				var s float64
				for t, a := range row(x) {
					e := float64(a) - float64(row(y)[t])
					s += e * e
				}
				cost[x*m+y], cost[y*m+x] = s, s
			}
		}
		for x := range m {
			// Softmax over y ≠ x of τ⁺·cost.
			mx := math.Inf(-1)
			for y := range m {
				if y != x {
					mx = math.Max(mx, tauPos*cost[x*m+y])
				}
			}
			var z, mean float64
			for y := range m {
				if y != x {
					w[y] = math.Exp(tauPos*cost[x*m+y] - mx)
					z += w[y]
				}
			}
			for y := range m {
				if y != x {
					w[y] /= z
					mean += w[y] * cost[x*m+y]
				}
			}
			ca += coef * mean
			// ∂/∂cost_xy of α·Σ π c with π = softmax(τ⁺ c): α·π·(1 + τ⁺(c − mean)).
			gx := g[(x*b+i)*d : (x*b+i+1)*d]
			for y := range m {
				if y == x {
					continue
				}
				gc := 2 * coef * w[y] * (1 + tauPos*(cost[x*m+y]-mean))
				gy := g[(y*b+i)*d : (y*b+i+1)*d]
				rx, ry := row(x), row(y)
				for t := range gx {
					e := gc * (float64(rx[t]) - float64(ry[t]))
					gx[t] += float32(e)
					gy[t] -= float32(e)
				}
			}
		}
	}
	return ca, g
}
