package probe

import (
	"fmt"
	"math"

	"ssl"
)

// RLPScores are the reverse-linear-probing scores of [RLP] and
// [ReverseProbe].
type RLPScores struct {
	// Predicted[n] is the probe's cluster for sample n: argmax_k of the
	// logits W·c_n + b (ties: the lower cluster).
	Predicted []int
	// EntropyClusters is H(y) = −Σ_k π_k log π_k over the non-empty
	// clusters, π_k the fraction of samples in cluster k (nats).
	EntropyClusters float64
	// CrossEntropy is the probe's mean cross-entropy on the pairs
	// (c_n, y_n), an upper bound on H(y | c) (nats).
	CrossEntropy float64
	// MILowerBound is H(y) − CrossEntropy, a lower bound on the mutual
	// information I(y; c) (nats).
	MILowerBound float64
	// NMI is the normalised mutual information between the k-means ids and
	// the probe's predictions ([NMI]): the interpretability score.
	NMI float64
	// Accuracy is the fraction of samples with Predicted[n] = y_n.
	Accuracy float64
}

// RLP scores a reverse linear probe, the last step of quantised reverse
// probing (Laina, Asano and Vedaldi 2022, Sec. 3). The representation's
// features were quantised by k-means into clusterIDs y_n ∈ [0, K); each
// sample has a concept vector c_n (concepts, N×C: binary annotations or
// the labels of expert classifiers); a linear softmax probe p(y | c) =
// softmax(W·c + b) (weight K×C, bias K) was trained to predict the cluster
// from the concepts ([ReverseProbe] does all of this after k-means). Then
//
//	logits_n = W·c_n + b,   ŷ_n = argmax_k logits_nk
//	H(y)     = −Σ_k π_k log π_k,     π_k = #{n : y_n = k} / N  (empty clusters skipped)
//	CE       = 1/N Σ_n (log Σ_k exp logits_nk − logits_n,y_n)
//	MI bound = H(y) − CE  ≤ I(y; c)
//	score    = NMI(y, ŷ)           (sklearn's definition, [NMI])
//
// and the probe's accuracy mean(ŷ = y). Logits and sums are float64.
//
// It returns an error wrapping ssl.ErrShape if concepts is not a non-empty
// N×C matrix with N = len(clusterIDs), weight is not K×C or bias not of
// length K; ssl.ErrParam if numClusters < 1 or an id is outside [0, K);
// ssl.ErrNotFinite if an input value is NaN or infinite.
//
// Reference: Laina, Asano and Vedaldi, Measuring the Interpretability of
// Unsupervised Representations via Quantized Reversed Probing, ICLR 2022,
// Sec. 3 (eq. 2 and 3). No official code is public; this follows the
// paper, as the reference cases do.
func RLP(clusterIDs []int, numClusters int, concepts, weight, bias ssl.Tensor) (RLPScores, error) {
	n, c, cv, err := checkRLPInputs("RLP", clusterIDs, numClusters, concepts)
	if err != nil {
		return RLPScores{}, err
	}
	wv, err := ssl.MatrixOf(weight, numClusters, c)
	if err != nil {
		return RLPScores{}, fmt.Errorf("probe: RLP: weight: %w", err)
	}
	bv, err := ssl.VectorOf(bias, numClusters)
	if err != nil {
		return RLPScores{}, fmt.Errorf("probe: RLP: bias: %w", err)
	}
	if i := firstNonFinite(wv); i >= 0 {
		return RLPScores{}, fmt.Errorf("probe: RLP: weight[%d][%d] is %v: %w", i/c, i%c, wv[i], ssl.ErrNotFinite)
	}
	if i := firstNonFinite(bv); i >= 0 {
		return RLPScores{}, fmt.Errorf("probe: RLP: bias[%d] is %v: %w", i, bv[i], ssl.ErrNotFinite)
	}
	w, b := make([]float64, len(wv)), make([]float64, len(bv))
	for i, v := range wv {
		w[i] = float64(v)
	}
	for i, v := range bv {
		b[i] = float64(v)
	}
	return rlpScores(clusterIDs, numClusters, cv, n, c, w, b), nil
}

// ReverseProbe runs reverse linear probing from the cluster ids on: it fits
// the linear softmax probe p(y | c) on the concepts with [FitLinearProbe]
// (no standardisation, whatever opts says: concepts are binary) and scores
// it as [RLP] does. It returns the scores and the probe, and the errors of
// RLP's checks and of FitLinearProbe (with the scores of the probe reached
// when L-BFGS did not converge).
func ReverseProbe(clusterIDs []int, numClusters int, concepts ssl.Tensor, opts *LinearProbeOptions) (RLPScores, *LinearProbe, error) {
	n, c, cv, err := checkRLPInputs("ReverseProbe", clusterIDs, numClusters, concepts)
	if err != nil {
		return RLPScores{}, nil, err
	}
	o := LinearProbeOptions{}
	if opts != nil {
		o = *opts
	}
	o.NoStandardize = true
	p, fitErr := FitLinearProbe(concepts, clusterIDs, numClusters, &o)
	if p == nil {
		return RLPScores{}, nil, fitErr
	}
	return rlpScores(clusterIDs, numClusters, cv, n, c, p.W, p.B), p, fitErr
}

func checkRLPInputs(fn string, ids []int, numClusters int, concepts ssl.Tensor) (n, c int, cv []float32, err error) {
	n, c, cv, err = checkFeatures(fn, "concepts", concepts)
	if err != nil {
		return 0, 0, nil, err
	}
	if len(ids) != n {
		return 0, 0, nil, fmt.Errorf("probe: %s: clusterIDs has %d entries, concepts has %d rows: %w", fn, len(ids), n, ssl.ErrShape)
	}
	if numClusters < 1 {
		return 0, 0, nil, fmt.Errorf("probe: %s: numClusters must be at least 1 (numClusters=%d): %w", fn, numClusters, ssl.ErrParam)
	}
	if err := checkLabels(fn, "clusterIDs", ids, numClusters); err != nil {
		return 0, 0, nil, err
	}
	return n, c, cv, nil
}

func rlpScores(y []int, k int, cv []float32, n, c int, w, b []float64) RLPScores {
	s := RLPScores{Predicted: make([]int, n)}
	counts := make([]int64, k)
	logits := make([]float64, k)
	ce, hit := 0.0, 0
	for i := range n {
		ci := cv[i*c : (i+1)*c]
		best, m := 0, math.Inf(-1)
		for kk := range k {
			z := b[kk]
			for j, v := range ci {
				z += w[kk*c+j] * float64(v)
			}
			logits[kk] = z
			if z > m {
				best, m = kk, z
			}
		}
		sum := 0.0
		for _, z := range logits {
			sum += math.Exp(z - m)
		}
		ce += m + math.Log(sum) - logits[y[i]]
		s.Predicted[i] = best
		if best == y[i] {
			hit++
		}
		counts[y[i]]++
	}
	s.CrossEntropy = ce / float64(n)
	for _, cnt := range counts {
		if cnt > 0 {
			pi := float64(cnt) / float64(n)
			s.EntropyClusters -= pi * math.Log(pi)
		}
	}
	s.MILowerBound = s.EntropyClusters - s.CrossEntropy
	s.NMI, _ = NMI(y, s.Predicted) // same non-zero length: cannot fail
	s.Accuracy = float64(hit) / float64(n)
	return s
}
