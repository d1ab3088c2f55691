package losses

import (
	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// PseudoLabelCEOptions holds the optional settings of [PseudoLabelCE]. A
// nil *PseudoLabelCEOptions means the defaults.
type PseudoLabelCEOptions struct {
	// Workspace is reused scratch memory; nil allocates a fresh one per
	// call (only when dlogits is nil: the gradient destination doubles as
	// scratch).
	Workspace *Workspace
}

// PseudoLabelCE returns the cross-entropy of the B×K classifier logits on
// hard pseudo-labels (cluster indices in [0, K)) and writes ∂L/∂logits into
// dlogits:
//
//	L = 1/B · Σ_b ( log Σ_k exp(logits[b,k]) − logits[b, labels[b]] )
//	∂L/∂logits = (softmax(logits) − onehot(labels)) / B
//
// This is the objective DeepCluster, SeLa, DeeperCluster and S4L train
// their classifier with (torch.nn.CrossEntropyLoss with its default mean
// reduction). The labels are constants. Each row's loss is formed as
// (x_{j*} − x_y) + log1p(Σ_{k≠j*} p_k / p_{j*}) with j* the row's argmax, so
// it keeps its relative precision for confident rows and logits of order
// 1e3. A nil dlogits skips the gradient.
//
// It returns an error wrapping ssl.ErrShape if logits is not a non-empty
// matrix, len(labels) differs from B, dlogits has the wrong shape or
// overlaps logits; ssl.ErrParam if a label is outside [0, K);
// ssl.ErrNotFinite if the loss is not finite (NaN or ±Inf logits). Nothing
// is written on a shape or parameter error; after ssl.ErrNotFinite the
// contents of dlogits are unspecified.
//
// Reference: Caron et al., Deep Clustering for Unsupervised Learning of
// Visual Features (DeepCluster), ECCV 2018, eq. 1 (the classifier loss on
// k-means labels); Asano et al., Self-labelling via simultaneous clustering
// and representation learning (SeLa), ICLR 2020, eq. 1. Checked against
// torch.nn.CrossEntropyLoss as used by main.py at
// facebookresearch/deepcluster@2d1927e8e3dd272329e879e510fbbdf1b1d02d17.
func PseudoLabelCE(dlogits, logits ssl.Tensor, labels []int, opts *PseudoLabelCEOptions) (float64, error) {
	const fn = "losses: PseudoLabelCE"
	b, k, x, err := check.NonEmptyMatrix(fn, "logits", logits)
	if err != nil {
		return 0, err
	}
	g, err := check.Dst(fn, "dlogits", dlogits, check.Shape2(b, k), x)
	if err != nil {
		return 0, err
	}
	if err := check.Labels(fn, "labels", labels, b, k); err != nil {
		return 0, err
	}
	p := g
	if p == nil {
		var ws *Workspace
		if opts != nil {
			ws = opts.Workspace
		}
		p = orNew(ws).buf(slotProbs, b*k)
	}
	loss := clustHardCE(g, p, x, labels, b, k, 1/float32(b))
	loss /= float64(b)
	if err := check.Result(fn, loss, "logits"); err != nil {
		return loss, err
	}
	return loss, nil
}

// clustHardCE returns Σ_b CE(x_b, labels_b) over the b×k logits x, using p
// (b×k, may be g) for the softmax, and, if g is not nil, writes
// scale·(softmax(x_b) − onehot(labels_b)) into g. A label < 0 marks a row
// that contributes nothing (its gradient row is zero).
func clustHardCE(g, p, x []float32, labels []int, b, k int, scale float32) float64 {
	kernel.SoftmaxRows(p, x, b, k)
	var sum float64
	for i := range b {
		y := labels[i]
		pr := p[i*k : (i+1)*k]
		if y >= 0 {
			l1, at := clustRowLSE(pr)
			xr := x[i*k : (i+1)*k]
			sum += float64(xr[at]) - float64(xr[y]) + l1
		}
		if g == nil {
			continue
		}
		gr := g[i*k : (i+1)*k]
		if y < 0 {
			clear(gr)
			continue
		}
		for j, v := range pr {
			gr[j] = scale * v
		}
		gr[y] -= scale
	}
	return sum
}
