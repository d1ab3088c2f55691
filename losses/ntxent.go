package losses

import (
	"math"

	"ssl"
	"ssl/dist"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// NTXentOptions holds the optional settings of [NTXent]. A nil
// *NTXentOptions means the defaults.
type NTXentOptions struct {
	// Workspace is reused scratch memory; nil allocates a fresh one per
	// call.
	Workspace *Workspace
	// Comm, when not nil, makes the call one rank of a data-parallel
	// NT-Xent with negatives gathered from every rank, as SimCLR trains
	// across devices (lightly's GatherLayer): z1 and z2 are this rank's B
	// rows (B the same on every rank) and the loss is the one of the
	// concatenation of every rank's rows, in rank order — 2B·Size anchors,
	// each with 2B·Size−2 negatives — the same on every rank. dz1 and dz2
	// receive Size times the gradient of that loss with respect to this
	// rank's rows, so that averaging the parameter gradients over the
	// ranks (backbone.DataParallel.AverageGrads) gives the gradient of the
	// global loss, as under DistributedDataParallel. Each rank computes the
	// whole (2B·Size)² similarity matrix after one all-gather of each
	// view, and allocates the gathered views per call. A bad argument on
	// any rank is an error on every rank (see dist.Agree).
	Comm dist.Comm
}

// NTXent returns SimCLR's normalized temperature-scaled cross-entropy of two
// views z1 and z2 (both B×D, raw: the loss normalizes them) and writes
// ∂L/∂z1 into dz1 and ∂L/∂z2 into dz2:
//
//	u = normalize([z1; z2])                 (2B×D, normalize(v) = v / max(‖v‖, ε))
//	s_ab = u_a·u_b / τ
//	L = 1/(2B) · Σ_a [ log Σ_{b≠a} exp(s_ab) − s_{a,p(a)} ],  p(a) = a ± B
//
// Every one of the 2B views is an anchor whose positive is the other view of
// the same sample and whose 2B−2 negatives are all remaining views (the
// paper's 2N-view formulation). The loss is the mean over the 2B anchors;
// both inputs get gradients, which flow through the normalization. ε = 1e-12
// as in torch.nn.functional.normalize.
//
// B = 1 is valid: the positive is the only other view, so L = 0 and the
// gradients are 0. A nil dz1 or dz2 skips that gradient. With destinations
// and opts.Workspace supplied the call allocates nothing of its own.
//
// It returns an error wrapping ssl.ErrShape if z1 is not a non-empty matrix,
// z2 or a non-nil destination differs from it in shape, or a destination
// overlaps an input or the other destination; ssl.ErrParam if τ is not
// finite and > 0; ssl.ErrNotFinite if the loss is not finite or a gradient would overflow float32 (NaN or Inf in
// the inputs). Nothing is written when it returns an error.
//
// Reference: Chen et al., A Simple Framework for Contrastive Learning of
// Visual Representations (SimCLR), ICML 2020, eq. 1 and Alg. 1; checked
// against lightly NTXentLoss (memory_bank_size=0) at
// lightly-ai/lightly@e8d317fc5a87f4387a85a35e689869039ec249ee.
func NTXent(dz1, dz2, z1, z2 ssl.Tensor, tau float64, opts *NTXentOptions) (float64, error) {
	const fn = "losses: NTXent"
	if opts != nil && opts.Comm != nil {
		return ntxentGathered(dz1, dz2, z1, z2, tau, opts)
	}
	b, d, z1v, err := check.Matrix(fn, "z1", z1)
	if err != nil {
		return 0, err
	}
	if err := check.AtLeast(fn, "batch size B", b, 1); err != nil {
		return 0, err
	}
	z2v, err := check.MatrixOf(fn, "z2", z2, b, d)
	if err != nil {
		return 0, err
	}
	g1, err := check.Dst(fn, "dz1", dz1, check.Shape2(b, d), z1v, z2v)
	if err != nil {
		return 0, err
	}
	g2, err := check.Dst(fn, "dz2", dz2, check.Shape2(b, d), z1v, z2v)
	if err != nil {
		return 0, err
	}
	if err := check.Distinct(fn, []string{"dz1", "dz2"}, g1, g2); err != nil {
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

	n := 2 * b
	u := ws.buf(slotA, n*d)
	norms := ws.buf(slotNormA, n)
	contrastiveNormalize(u[:b*d], norms[:b], z1v, b, d)
	contrastiveNormalize(u[b*d:], norms[b:], z2v, b, d)

	s := ws.buf(slotS, n*n)
	kernel.Gemm(false, true, n, n, d, 1/tau32, u, d, u, d, 0, s, n)
	negInf := float32(math.Inf(-1))
	labels := ws.labelBuf(n)
	for a := range n {
		s[a*n+a] = negInf
		labels[a] = int32((a + b) % n)
	}
	grad := g1 != nil || g2 != nil
	scale := float32(1 / float64(n))
	sum := ws.crossEntropy(s, n, n, labels, grad, scale)
	loss := sum / float64(n)
	if err := check.Result(fn, loss, "z1 or z2"); err != nil {
		return loss, err
	}
	if !grad {
		return loss, nil
	}
	// s now holds G = ∂L/∂s. With s = U·Uᵀ/τ, ∂L/∂U = (G + Gᵀ)·U / τ:
	// symmetrize G in place, then one product.
	ntxentSymmetrize(s, n)
	du := ws.buf(slotDA, n*d)
	kernel.Gemm(false, false, n, d, n, 1/tau32, s, n, u, d, 0, du, d)
	contrastiveNormalizeBackward(du, du, u, norms, n, d)
	if err := gradFinite(fn, "dz1 or dz2", du, "1/tau"); err != nil {
		return loss, err
	}
	if g1 != nil {
		copy(g1, du[:b*d])
	}
	if g2 != nil {
		copy(g2, du[b*d:])
	}
	return loss, nil
}

// ntxentTile is the side of the square tiles in which ntxentSymmetrize
// walks the matrix.
const ntxentTile = 32

// ntxentSymmetrize overwrites the n×n matrix g with g + gᵀ. Off-diagonal
// tile pairs go through a local transposed copy, so every access to g is a
// contiguous row segment (a column walk with a power-of-two stride would
// thrash the cache).
func ntxentSymmetrize(g []float32, n int) {
	g = g[:n*n]
	var t [ntxentTile * ntxentTile]float32
	for i0 := 0; i0 < n; i0 += ntxentTile {
		i1 := min(i0+ntxentTile, n)
		// Diagonal tile.
		for i := i0; i < i1; i++ {
			for j := i + 1; j < i1; j++ {
				v := g[i*n+j] + g[j*n+i]
				g[i*n+j], g[j*n+i] = v, v
			}
			g[i*n+i] *= 2
		}
		for j0 := i1; j0 < n; j0 += ntxentTile {
			j1 := min(j0+ntxentTile, n)
			// t[ii][jj] = g[j0+jj][i0+ii] (tile (j0, i0) transposed).
			for j := j0; j < j1; j++ {
				for ii, v := range g[j*n+i0 : j*n+i1] {
					t[ii*ntxentTile+j-j0] = v
				}
			}
			for i := i0; i < i1; i++ {
				tr := t[(i-i0)*ntxentTile : (i-i0)*ntxentTile+j1-j0]
				row := g[i*n+j0 : i*n+j1]
				for jj, v := range row {
					v += tr[jj]
					row[jj], tr[jj] = v, v
				}
			}
			for j := j0; j < j1; j++ {
				row := g[j*n+i0 : j*n+i1]
				for ii := range row {
					row[ii] = t[ii*ntxentTile+j-j0]
				}
			}
		}
	}
}
