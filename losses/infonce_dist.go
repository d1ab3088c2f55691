package losses

import (
	"fmt"

	"ssl"
	"ssl/dist"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// infonceGathered is InfoNCE with opts.Comm. Rank r holds rows [rB, rB+B)
// of the global batch. It computes its B×(B·Size) block of the logits
// against the all-gathered normalized targets, the row losses with scale
// 1/B (Size times the global loss's 1/(B·Size)), and:
//
//	loss     = (Σ over ranks of the row-loss sums) / (B·Size)   one all-reduce
//	dpred    = G_r·T̂/τ                                          local
//	dT̂       = Σ_r G_rᵀ·P̂_r/τ                                   one all-reduce, own rows kept
//
// Every collective runs on every rank before any rank can return an error
// of its own, so no rank is left waiting.
func infonceGathered(dpred, dtarget, pred, target ssl.Tensor, tau float64, opts *InfoNCEOptions) (float64, error) {
	const fn = "losses: InfoNCE"
	c := opts.Comm
	var (
		b, d           int
		pv, tv, gp, gt []float32
		tau32          float32
	)
	err := func() (err error) {
		if b, d, pv, err = check.Matrix(fn, "pred", pred); err != nil {
			return err
		}
		if err = check.AtLeast(fn, "batch size B", b, 1); err != nil {
			return err
		}
		if tv, err = check.MatrixOf(fn, "target", target, b, d); err != nil {
			return err
		}
		if gp, err = check.Dst(fn, "dpred", dpred, check.Shape2(b, d), pv, tv); err != nil {
			return err
		}
		if gt, err = check.Dst(fn, "dtarget", dtarget, check.Shape2(b, d), pv, tv); err != nil {
			return err
		}
		if err = check.Distinct(fn, []string{"dpred", "dtarget"}, gp, gt); err != nil {
			return err
		}
		tau32, err = positive32(fn, "tau", tau)
		return err
	}()
	if err := dist.Agree(c, err); err != nil {
		return 0, err
	}
	size, rank := c.Size(), c.Rank()
	ws := orNew(opts.Workspace)
	n := size * b

	ph, th := ws.buf(slotA, b*d), ws.buf(slotB, b*d)
	np, nt := ws.buf(slotNormA, b), ws.buf(slotNormB, b)
	contrastiveNormalize(ph, np, pv, b, d)
	contrastiveNormalize(th, nt, tv, b, d)
	all := ws.buf(slotC, n*d)
	if err := c.AllGather(all, th); err != nil {
		return 0, fmt.Errorf("%s: gathering target: %w", fn, err)
	}
	invTau := 1 / tau32
	s := ws.buf(slotS, b*n)
	kernel.Gemm(false, true, b, n, d, invTau, ph, d, all, d, 0, s, n)
	labels := ws.labelBuf(b)
	for i := range labels {
		labels[i] = int32(rank*b + i)
	}
	// The gradient of the logits is always formed: another rank may need
	// this rank's share of the target gradient.
	sum := ws.crossEntropy(s, b, n, labels, true, float32(1/float64(b)))
	totals := ws.buf64(slotF64A, 2)
	totals[0], totals[1] = sum, 0
	if gt != nil {
		totals[1] = 1
	}
	if err := c.AllReduce(totals, dist.Sum); err != nil {
		return 0, fmt.Errorf("%s: summing the loss: %w", fn, err)
	}
	loss := totals[0] / float64(n)
	if err := check.Result(fn, loss, "pred or target"); err != nil {
		return loss, err
	}
	// s holds G_r = ∂(Size·L)/∂S_r.
	var dth []float32
	if totals[1] > 0 {
		dall := ws.buf(slotDB, n*d)
		kernel.Gemm(true, false, n, d, b, invTau, s, n, ph, d, 0, dall, d)
		if err := c.AllReduceFloat32(dall, dist.Sum); err != nil {
			return loss, fmt.Errorf("%s: summing the target gradient: %w", fn, err)
		}
		if gt != nil {
			dth = dall[rank*b*d : (rank+1)*b*d]
			contrastiveNormalizeBackward(dth, dth, th, nt, b, d)
		}
	}
	var dph []float32
	if gp != nil {
		dph = ws.buf(slotDA, b*d)
		kernel.Gemm(false, false, b, d, n, invTau, s, n, all, d, 0, dph, d)
		contrastiveNormalizeBackward(dph, dph, ph, np, b, d)
	}
	if err := gradFinite(fn, "dpred", dph, "1/tau"); err != nil {
		return loss, err
	}
	if err := gradFinite(fn, "dtarget", dth, "1/tau"); err != nil {
		return loss, err
	}
	copy(gp, dph)
	copy(gt, dth)
	return loss, nil
}
