package losses

import (
	"math"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// bregmanSigma is the bandwidth of BeCLR's similarity, hard-coded to 0.9 in
// the reference (breg_loss.py b_sim).
const bregmanSigma = 0.9

// BregmanOptions holds the optional settings of [Bregman]. A nil
// *BregmanOptions means the defaults.
type BregmanOptions struct {
	// Sigma is the bandwidth σ of the similarity exp(−dist/(2σ²)), finite
	// and > 0. Zero means the reference's 0.9.
	Sigma float64
	// Workspace is reused scratch memory; nil allocates a fresh one per
	// call.
	Workspace *Workspace
}

// Bregman returns the deep Bregman divergence contrastive loss of BeCLR for
// the outputs outA and outB (both B×K) of the K sub-networks that form the
// max-affine convex function φ(x) = max_k f_k(x), for two views of B
// samples, and writes ∂L/∂outA into doutA and ∂L/∂outB into doutB:
//
//	f = [outA; outB]                                   (2B×K)
//	a_l = argmax_k f_lk,  m_i = f_{i,a_i} = max_k f_ik
//	dist_il = m_i − f_{i,a_l}                          (the Bregman divergence of the max-affine φ)
//	s_il = exp(−dist_il / (2σ²)) / τ
//	L = 1/(2B) · Σ_i [ log Σ_{l≠i} exp(s_il) − s_{i,p(i)} ],  p(i) = i ± B
//
// The argmax indices are constants (ties go to the lowest index, as torch
// does on the CPU); the gradient reaches f_{i,a_i} through m_i and
// f_{i,a_l} through the gather. σ = 0.9 unless opts.Sigma says otherwise.
// BeCLR's trainer adds SimCLR's NT-Xent on the projection features ([NTXent]);
// that term is not part of L.
//
// If counts is not nil it must have K entries and receives, for each k, the
// number of the 2B rows whose argmax is k (an output that BeCLR logs, placed
// first as the primary output of the convention). A nil destination skips that
// gradient. B = 1 is valid (L = 0). With destinations and opts.Workspace
// supplied the call allocates nothing of its own.
//
// It returns an error wrapping ssl.ErrShape if outA is not a non-empty
// matrix, outB or a non-nil destination differs from it in shape, counts
// has the wrong length, or a destination overlaps an input or the other
// destination; ssl.ErrParam if τ or σ is not finite and > 0;
// ssl.ErrNotFinite if outA or outB holds NaN or Inf (the argmax would
// otherwise skip a NaN that torch propagates), the loss is not finite, or a
// gradient would overflow float32. Nothing is written when it returns an
// error.
//
// Reference: Rezaei, Soleymani et al., Deep Bregman Divergence for
// Contrastive Learning of Visual Representations (BeCLR), 2021, eq. 3–6;
// csfarzin/BeCLR@be31fe718806c51be5ba76ce7d5fbf80bff7ab88 loss/breg_loss.py
// BregmanLoss.forward.
func Bregman(counts []int, doutA, doutB, outA, outB ssl.Tensor, tau float64, opts *BregmanOptions) (float64, error) {
	const fn = "losses: Bregman"
	b, k, av, err := check.Matrix(fn, "outA", outA)
	if err != nil {
		return 0, err
	}
	if err := check.AtLeast(fn, "batch size B", b, 1); err != nil {
		return 0, err
	}
	if err := check.AtLeast(fn, "number of sub-networks K", k, 1); err != nil {
		return 0, err
	}
	bv, err := check.MatrixOf(fn, "outB", outB, b, k)
	if err != nil {
		return 0, err
	}
	ga, err := check.Dst(fn, "doutA", doutA, check.Shape2(b, k), av, bv)
	if err != nil {
		return 0, err
	}
	gb, err := check.Dst(fn, "doutB", doutB, check.Shape2(b, k), av, bv)
	if err != nil {
		return 0, err
	}
	if err := check.Distinct(fn, []string{"doutA", "doutB"}, ga, gb); err != nil {
		return 0, err
	}
	if counts != nil && len(counts) != k {
		return 0, check.Errorf(fn, ssl.ErrShape, "counts has %d entries, want K=%d", len(counts), k)
	}
	if err := check.Positive(fn, "tau", tau); err != nil {
		return 0, err
	}
	sigma := float64(bregmanSigma)
	var ws *Workspace
	if opts != nil {
		ws = opts.Workspace
		if opts.Sigma != 0 {
			if err := check.Positive(fn, "Sigma", opts.Sigma); err != nil {
				return 0, err
			}
			sigma = opts.Sigma
		}
	}
	// The argmax would skip a NaN that torch's max propagates: reject
	// non-finite outputs up front (B·K work, less than the loss's B²).
	if err := check.FiniteData(fn, "outA", av, b, k); err != nil {
		return 0, err
	}
	if err := check.FiniteData(fn, "outB", bv, b, k); err != nil {
		return 0, err
	}
	ws = orNew(ws)

	n := 2 * b
	row := func(i int) []float32 {
		if i < b {
			return av[i*k : (i+1)*k]
		}
		return bv[(i-b)*k : (i-b+1)*k]
	}
	arg := ws.labelBuf(2 * n)
	labels, amax := arg[:n], arg[n:]
	mx := ws.buf(slotNormA, n)
	for i := range n {
		v, at := kernel.Max(row(i))
		mx[i], amax[i] = v, int32(at)
		labels[i] = int32((i + b) % n)
	}
	// s_il, kept in slot C for the backward pass; the logits go to slot S.
	s := ws.buf(slotS, n*n)
	sim := ws.buf(slotC, n*n)
	c := -1 / (2 * sigma * sigma)
	invTau := 1 / tau
	negInf := float32(math.Inf(-1))
	for i := range n {
		ri := row(i)
		for l := range n {
			dist := float64(mx[i]) - float64(ri[amax[l]])
			sim[i*n+l] = float32(math.Exp(c*dist) * invTau)
			s[i*n+l] = sim[i*n+l]
		}
		s[i*n+i] = negInf
	}
	grad := ga != nil || gb != nil
	sum := ws.crossEntropy(s, n, n, labels, grad, float32(1/float64(n)))
	loss := sum / float64(n)
	if err := check.Result(fn, loss, "outA or outB"); err != nil {
		return loss, err
	}
	if counts != nil {
		clear(counts)
		for _, a := range amax {
			counts[a]++
		}
	}
	if !grad {
		return loss, nil
	}
	// ∂L/∂dist_il = G_il·(−s_il/(2σ²)); dist_il = f_{i,a_i} − f_{i,a_l}.
	df := ws.buf(slotDA, n*k)
	clear(df)
	for i := range n {
		gi := df[i*k : (i+1)*k]
		var tot float64
		for l := range n {
			if l == i {
				continue
			}
			gd := float64(s[i*n+l]) * c * float64(sim[i*n+l])
			tot += gd
			gi[amax[l]] -= float32(gd)
		}
		gi[amax[i]] += float32(tot)
	}
	if err := gradFinite(fn, "doutA or doutB", df, "1/tau or 1/Sigma²"); err != nil {
		return loss, err
	}
	if ga != nil {
		copy(ga, df[:b*k])
	}
	if gb != nil {
		copy(gb, df[b*k:])
	}
	return loss, nil
}
