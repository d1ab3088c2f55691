package losses

import (
	"math"

	"ssl"
	"ssl/internal/check"
)

// clustIICEps is IID_loss's default EPS, sys.float_info.epsilon
// (xu-ji/IIC code/utils/cluster/IID_losses.py): joint and marginal entries
// below it are replaced by it.
const clustIICEps = 2.220446049250313e-16

// IICOptions holds the optional settings of [IIC]. A nil *IICOptions means
// the defaults.
type IICOptions struct {
	// Workspace is reused scratch memory; nil allocates a fresh one per
	// call.
	Workspace *Workspace
}

// IIC returns the invariant information clustering loss of two heads'
// logits for paired views, logits1 and logits2 (both B×K), and writes
// ∂L/∂logits1 into dlogits1 and ∂L/∂logits2 into dlogits2:
//
//	P1 = softmax(logits1), P2 = softmax(logits2)
//	J  = Σ_b P1[b]ᵀ·P2[b];  J = (J + Jᵀ)/2;  J = J / Σ_ij J_ij       (K×K joint)
//	p_i = Σ_j J_ij,  p_j = Σ_i J_ij                                   (marginals)
//	L  = −Σ_ij J_ij · (log J_ij − λ·log p_j − λ·log p_i)
//
// With λ = 1 this is the negative mutual information I(z, z′) of the
// paper; λ > 1 weights the marginal entropies more, as the authors' code
// allows. The marginals are taken before the clamp; then every entry of J,
// p_i and p_j below ε = 2.220446049250313e-16 (the code's default
// sys.float_info.epsilon) is replaced by ε, and a replaced entry is a
// constant that passes no gradient. The loss is a sum over the K×K joint,
// not a batch mean. Both inputs get gradients.
//
// The joint and its gradient are formed in float64 (B·K² work): IIC heads
// have few clusters (K of 10 … 100s) and the ε clamp acts on entries of
// order 1e-16. A nil destination skips that gradient.
//
// It returns an error wrapping ssl.ErrShape if logits1 is not a non-empty
// matrix, logits2 or a non-nil destination differs from it in shape, or a
// destination overlaps an input or the other destination; ssl.ErrParam if
// λ is negative or not finite; ssl.ErrNotFinite if the loss is not finite
// (NaN or ±Inf logits). Nothing is written when it returns an error.
//
// Reference: Ji, Henriques and Vedaldi, Invariant Information Clustering
// for Unsupervised Image Classification and Segmentation, ICCV 2019, eq. 1
// and 3; checked against IID_loss in code/utils/cluster/IID_losses.py at
// xu-ji/IIC@b7602b743552c28a4af3de238bf2539a3af0338e (applied to
// softmax(logits), float64).
func IIC(dlogits1, dlogits2, logits1, logits2 ssl.Tensor, lambda float64, opts *IICOptions) (float64, error) {
	const fn = "losses: IIC"
	b, k, x1, err := check.NonEmptyMatrix(fn, "logits1", logits1)
	if err != nil {
		return 0, err
	}
	x2, err := check.MatrixOf(fn, "logits2", logits2, b, k)
	if err != nil {
		return 0, err
	}
	g1, err := check.Dst(fn, "dlogits1", dlogits1, check.Shape2(b, k), x1, x2)
	if err != nil {
		return 0, err
	}
	g2, err := check.Dst(fn, "dlogits2", dlogits2, check.Shape2(b, k), x1, x2)
	if err != nil {
		return 0, err
	}
	if err := check.Distinct(fn, []string{"dlogits1", "dlogits2"}, g1, g2); err != nil {
		return 0, err
	}
	if err := check.NonNegative(fn, "lambda", lambda); err != nil {
		return 0, err
	}
	lam := lambda
	var ws *Workspace
	if opts != nil {
		ws = opts.Workspace
	}
	ws = orNew(ws)
	p1 := ws.buf64(slotF64A, b*k)
	p2 := ws.buf64(slotF64B, b*k)
	j := ws.buf64(slotF64C, k*k)
	gj := ws.buf64(slotF64D, k*k)
	marg := ws.buf64(slotRows, 5*k) // p_i, p_j (unclamped), ∂L/∂p_i, ∂L/∂p_j, a row
	for r := range b {
		clustSoftmax64(p1[r*k:(r+1)*k], x1[r*k:(r+1)*k])
		clustSoftmax64(p2[r*k:(r+1)*k], x2[r*k:(r+1)*k])
	}
	clear(j)
	for r := range b {
		a, c := p1[r*k:(r+1)*k], p2[r*k:(r+1)*k]
		for i, av := range a {
			row := j[i*k : (i+1)*k]
			for jj, cv := range c {
				row[jj] += av * cv
			}
		}
	}
	// Symmetrise and normalize, in the order of the reference.
	var total float64
	for i := range k {
		for jj := i; jj < k; jj++ {
			s := (j[i*k+jj] + j[jj*k+i]) / 2
			j[i*k+jj], j[jj*k+i] = s, s
		}
	}
	for _, v := range j {
		total += v
	}
	for i := range j {
		j[i] /= total
	}
	pi, pj, dpi, dpj, row := marg[:k], marg[k:2*k], marg[2*k:3*k], marg[3*k:4*k], marg[4*k:]
	clear(pi)
	clear(pj)
	for i := range k {
		for jj := range k {
			v := j[i*k+jj]
			pi[i] += v
			pj[jj] += v
		}
	}
	clamp := func(v float64) float64 { return max(v, clustIICEps) }
	var loss float64
	for i := range k {
		lpi := math.Log(clamp(pi[i]))
		for jj := range k {
			jc := clamp(j[i*k+jj])
			loss -= jc * (math.Log(jc) - lam*math.Log(clamp(pj[jj])) - lam*lpi)
		}
	}
	if err := check.Result(fn, loss, "logits1 or logits2"); err != nil {
		return loss, err
	}
	if g1 == nil && g2 == nil {
		return loss, nil
	}
	// ∂L/∂p_i = λ·Σ_j J_ij / p_i and ∂L/∂p_j = λ·Σ_i J_ij / p_j, with the
	// clamped J; zero where the marginal itself was clamped.
	clear(dpi)
	clear(dpj)
	for i := range k {
		for jj := range k {
			v := clamp(j[i*k+jj])
			dpi[i] += v
			dpj[jj] += v
		}
	}
	for i := range k {
		if pi[i] >= clustIICEps {
			dpi[i] *= lam / pi[i]
		} else {
			dpi[i] = 0
		}
		if pj[i] >= clustIICEps {
			dpj[i] *= lam / pj[i]
		} else {
			dpj[i] = 0
		}
	}
	var dot float64
	for i := range k {
		lpi := math.Log(clamp(pi[i]))
		for jj := range k {
			v := j[i*k+jj]
			g := dpi[i] + dpj[jj]
			if v >= clustIICEps {
				g += -(math.Log(v) - lam*math.Log(clamp(pj[jj])) - lam*lpi) - 1
			}
			gj[i*k+jj] = g
			dot += g * v
		}
	}
	// Through J = Js/ΣJs (∂/∂Js = (g − Σ g·J)/total), then the
	// symmetrization (g + gᵀ)/2.
	for i := range gj {
		gj[i] = (gj[i] - dot) / total
	}
	for i := range k {
		for jj := i; jj < k; jj++ {
			s := (gj[i*k+jj] + gj[jj*k+i]) / 2
			gj[i*k+jj], gj[jj*k+i] = s, s
		}
	}
	// J0 = P1ᵀP2: ∂P1[b,i] = Σ_j gJ[i,j]·P2[b,j], ∂P2[b,j] = Σ_i P1[b,i]·gJ[i,j].
	for r := range b {
		a, c := p1[r*k:(r+1)*k], p2[r*k:(r+1)*k]
		if g1 != nil {
			for i := range k {
				var s float64
				gr := gj[i*k : (i+1)*k]
				for jj, cv := range c {
					s += gr[jj] * cv
				}
				row[i] = s
			}
			clustSoftmaxBackward64(row, a)
			for i, v := range row {
				g1[r*k+i] = float32(v)
			}
		}
		if g2 != nil {
			for jj := range k {
				row[jj] = 0
			}
			for i, av := range a {
				gr := gj[i*k : (i+1)*k]
				for jj, gv := range gr {
					row[jj] += av * gv
				}
			}
			clustSoftmaxBackward64(row, c)
			for jj, v := range row {
				g2[r*k+jj] = float32(v)
			}
		}
	}
	return loss, nil
}
