package probe

import (
	"math"

	"ssl"
	"ssl/internal/check"
)

// RLPResult holds the reverse-linear-probing scores of [RLP] (and of
// [ReverseProbe], in [ReverseProbeResult]).
type RLPResult struct {
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
func RLP(concepts ssl.Tensor, clusterIDs []int, weight, bias ssl.Tensor, numClusters int) (RLPResult, error) {
	const fn = "probe: RLP"
	n, c, cv, err := checkRLPInputs(fn, concepts, clusterIDs, numClusters)
	if err != nil {
		return RLPResult{}, err
	}
	wv, err := check.MatrixOf(fn, "weight", weight, numClusters, c)
	if err != nil {
		return RLPResult{}, err
	}
	bv, err := check.VectorOf(fn, "bias", bias, numClusters)
	if err != nil {
		return RLPResult{}, err
	}
	if err := check.FiniteData(fn, "weight", wv, numClusters, c); err != nil {
		return RLPResult{}, err
	}
	if err := check.FiniteData(fn, "bias", bv, 1, numClusters); err != nil {
		return RLPResult{}, err
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

// ReverseProbeResult is the result of [ReverseProbe]: the scores of [RLP]
// and the probe they score.
type ReverseProbeResult struct {
	RLPResult
	// Probe is the fitted linear softmax probe p(y | c), with its
	// iterations, residual and convergence.
	Probe *LinearProbe
}

// ReverseProbe runs reverse linear probing from the cluster ids on: it fits
// the linear softmax probe p(y | c) on the concepts with [FitLinearProbe]
// (no standardization, whatever opts says: concepts are binary) and scores
// it as [RLP] does. It returns the errors of RLP's checks and of
// FitLinearProbe; when the fit misses a positive Tol, the complete result
// (the probe reached and its scores) comes back with the error wrapping
// [ErrNotConverged].
func ReverseProbe(concepts ssl.Tensor, clusterIDs []int, numClusters int, opts *LinearProbeOptions) (ReverseProbeResult, error) {
	n, c, cv, err := checkRLPInputs("probe: ReverseProbe", concepts, clusterIDs, numClusters)
	if err != nil {
		return ReverseProbeResult{}, err
	}
	o := LinearProbeOptions{}
	if opts != nil {
		o = *opts
	}
	o.NoStandardize = true
	p, fitErr := fitLinearProbe("probe: ReverseProbe", concepts, clusterIDs, numClusters, &o)
	if p == nil {
		return ReverseProbeResult{}, fitErr
	}
	return ReverseProbeResult{RLPResult: rlpScores(clusterIDs, numClusters, cv, n, c, p.W, p.B), Probe: p}, fitErr
}

// checkRLPInputs checks the concepts (N×C) and the N cluster ids; fn is
// "probe: Func".
func checkRLPInputs(fn string, concepts ssl.Tensor, ids []int, numClusters int) (n, c int, cv []float32, err error) {
	n, c, cv, err = checkFeatures(fn, "concepts", concepts)
	if err != nil {
		return 0, 0, nil, err
	}
	if err := check.Count(fn, "numClusters", numClusters, 1); err != nil {
		return 0, 0, nil, err
	}
	if err := check.Labels(fn, "clusterIDs", ids, n, numClusters); err != nil {
		return 0, 0, nil, err
	}
	return n, c, cv, nil
}

func rlpScores(y []int, k int, cv []float32, n, c int, w, b []float64) RLPResult {
	s := RLPResult{Predicted: make([]int, n)}
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
