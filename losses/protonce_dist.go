package losses

import (
	"fmt"

	"ssl"
	"ssl/dist"
	"ssl/internal/check"
)

// protonceGathered is ProtoNCE with opts.Comm. Rank r holds rows
// [rB, rB+B) of the global batch. The instance term and each clustering's
// prototype term are summed locally over the rank's rows (the prototype
// logits over the all-gathered positive prototypes, row i's target being
// column rB+i) with gradient scale 1/B, Size times the global 1/(B·Size);
// one all-reduce of the 1+M sums gives the global terms. Every collective
// runs on every rank before any rank can return an error of its own.
func protonceGathered(dq, q, k, queue ssl.Tensor, clusterings []ProtoNCEClustering, tau float64, opts *ProtoNCEOptions) (ProtoNCEResult, error) {
	const fn = "losses: ProtoNCE"
	c := opts.Comm
	a, err := protonceCheck(fn, dq, q, k, queue, clusterings, tau)
	if err := dist.Agree(c, err); err != nil {
		return ProtoNCEResult{}, err
	}
	m := len(clusterings)
	// Every rank must contrast against the same negative prototypes:
	// compare a signature of each clustering's Negatives with rank 0's.
	sig := make([]int64, 1+3*m)
	sig[0] = int64(m)
	for ci := range clusterings {
		cl := &clusterings[ci]
		kc, _, _, _ := ssl.Matrix(cl.Centroids) // checked
		h := uint64(14695981039346656037)       // FNV-1a over the ids
		for _, id := range cl.Negatives {
			h = (h ^ uint64(id)) * 1099511628211
		}
		sig[1+3*ci], sig[2+3*ci], sig[3+3*ci] = int64(kc), int64(len(cl.Negatives)), int64(h)
	}
	root := append([]int64(nil), sig...)
	if err := c.Broadcast(root, 0); err != nil {
		return ProtoNCEResult{}, fmt.Errorf("%s: comparing the clusterings across ranks (is M the same on every rank?): %w", fn, err)
	}
	err = nil
	for ci := range m {
		if s := sig[1+3*ci : 4+3*ci]; s[0] != root[1+3*ci] || s[1] != root[2+3*ci] || s[2] != root[3+3*ci] {
			err = check.Errorf(fn, ssl.ErrParam, "clusterings[%d] has other prototypes or Negatives than on rank 0 (K %d, %d negatives; rank 0: K %d, %d negatives)",
				ci, s[0], s[1], root[1+3*ci], root[2+3*ci])
			break
		}
	}
	if err := dist.Agree(c, err); err != nil {
		return ProtoNCEResult{}, err
	}

	size, rank := c.Size(), c.Rank()
	b, d, n := a.b, a.d, a.n
	global := size * b
	own := make([]int64, b)
	gathered := make([]int64, global)
	labels := make([]int, m*global)
	for ci := range clusterings {
		for i, l := range clusterings[ci].Labels {
			own[i] = int64(l)
		}
		if err := c.AllGather(gathered, own); err != nil {
			return ProtoNCEResult{}, fmt.Errorf("%s: gathering clusterings[%d].Labels: %w", fn, ci, err)
		}
		for i, l := range gathered {
			labels[ci*global+i] = int(l)
		}
	}

	ws := orNew(opts.Workspace)
	qh, kh := ws.buf(slotA, b*d), ws.buf(slotB, b*d)
	norms := ws.buf(slotNormA, b)
	contrastiveNormalize(qh, norms, a.qv, b, d)
	contrastiveNormalize(kh, ws.buf(slotNormB, b), a.kv, b, d)
	var dqh []float32
	if a.g != nil {
		dqh = ws.buf(slotDA, b*d)
	}
	invB := 1 / float64(b)
	sums := ws.buf64(slotF64A, 1+m)
	sums[0] = ws.queueInfoNCE(dqh, qh, kh, a.bank, b, d, n, a.tau32, float32(invB), false)
	for ci := range clusterings {
		sums[1+ci] = ws.protoSum(dqh, qh, &clusterings[ci], labels[ci*global:(ci+1)*global], rank*b, b, d, float32(invB/float64(m)))
	}
	if err := c.AllReduce(sums, dist.Sum); err != nil {
		return ProtoNCEResult{}, fmt.Errorf("%s: summing the loss: %w", fn, err)
	}
	lInst := sums[0] / float64(global)
	res := ProtoNCEResult{Loss: lInst, Instance: lInst}
	if err := check.Result(fn, lInst, "q, k or queue"); err != nil {
		return res, err
	}
	lm := ws.buf64(slotTerms, m)
	for ci := range lm {
		lm[ci] = sums[1+ci] / float64(global)
	}
	return protonceFinish(fn, res, lm, a.g, dqh, qh, norms, b, d)
}
