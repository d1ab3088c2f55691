package probe

import (
	"fmt"
	"math"

	"ssl"
	sslassign "ssl/assign"
	"ssl/dist"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// Defaults of the weighted kNN classifier, as DINO evaluates it
// (facebookresearch/dino eval_knn.py: --nb_knn includes 20, the value the
// paper reports, Caron et al. 2021, Sec. 4.1; --temperature 0.07).
const (
	DefaultK = 20
	DefaultT = 0.07
)

// normEps is torch.nn.functional.normalize's default eps, which DINO's
// extract_feature_pipeline applies to the features before knn_classifier.
const normEps = 1e-12

// KNNOptions holds the optional settings of [KNN] and [EvaluateKNN]. A nil
// *KNNOptions and zero fields mean the defaults.
type KNNOptions struct {
	// K is the number of neighbours that vote, 1 ≤ K ≤ N (the bank size).
	// Zero means DefaultK (20).
	K int
	// T is the temperature of the vote weights exp(s/T), T > 0. Zero means
	// DefaultT (0.07).
	T float64
	// Comm, when not nil, makes the call one rank of a kNN over a bank
	// sharded across ranks: bank and bankLabels are this rank's shard
	// (shards may differ in size; the bank is their concatenation in rank
	// order), queries and numClasses are the same on every rank, and K
	// counts neighbours in the whole bank (K ≤ its size). Each rank finds
	// the K nearest rows of its shard; one all-gather of the M·K
	// candidates' similarities and one of their global indices and labels
	// let every rank merge them into the global K nearest, under the same
	// tie rule, and vote: dst is the same on every rank and equal to KNN of
	// the concatenated bank. A bad argument on any rank is an error on
	// every rank (see dist.Agree).
	Comm dist.Comm
}

// KNN classifies each query by the weighted vote of its K nearest bank rows,
// as DINO's kNN evaluation does:
//
//	f = x / max(‖x‖₂, 1e-12)               for every bank and query row
//	s_mj = ⟨f_query_m, f_bank_j⟩            (cosine similarity)
//	NN(m) = the K bank rows with the largest s_mj
//	vote_m[c] = Σ_{j∈NN(m), bankLabels_j = c} exp(s_mj / T)
//	dst[m] = argmax_c vote_m[c]
//
// bank is N×D (the training features, raw: KNN normalises them), bankLabels
// has N entries in [0, numClasses), queries is M×D. dst receives the M
// predicted classes; a nil dst is allocated, and the slice written is
// returned. Use [Accuracy] with the query labels for the top-1 accuracy.
//
// The neighbours come from assign.Search with Normalize (the library's one
// neighbour search: tiles of 512 queries × 4096 bank rows through the
// shared float32 GEMM, merged into per-query top-K heaps), so memory is
// O(N·D + K·M), never N×M; the normalised bank is one N×D float32 copy.
// assign.Search also returns the neighbours themselves, for a
// nearest-image [Grid]. The weights are evaluated as exp((s_mj − s_m,max)/T), which scales
// every vote of query m by the same factor, so the argmax is that of the
// formula above and no T, however small, overflows. Ties: among equal
// similarities the lower bank index is nearer; among equal votes the lower
// class wins. The result does not depend on GOMAXPROCS.
//
// DINO's own function processes the test set in chunks of M/100 rows and so
// needs M ≥ 100; KNN takes any M ≥ 1. Its default K is 20 and T is 0.07.
//
// It returns an error wrapping ssl.ErrShape if bank or queries is not a
// non-empty matrix, their widths differ, len(bankLabels) ≠ N or dst is
// non-nil with length ≠ M; ssl.ErrParam if numClasses < 1, a label is
// outside [0, numClasses), K < 1, K > N or T ≤ 0 (or NaN);
// ssl.ErrNotFinite if a feature is NaN or infinite. Nothing is written then.
//
// Reference: Caron et al., Emerging Properties in Self-Supervised Vision
// Transformers (DINO), ICCV 2021, Sec. 4.1, after Wu et al. 2018, eq. 7;
// facebookresearch/dino eval_knn.py knn_classifier at commit 7c446df5.
func KNN(dst []int, bank ssl.Tensor, bankLabels []int, queries ssl.Tensor, numClasses int, opts *KNNOptions) ([]int, error) {
	k, tau := DefaultK, DefaultT
	if opts != nil {
		if opts.K != 0 {
			k = opts.K
		}
		if opts.T != 0 {
			tau = opts.T
		}
	}
	const fn = "probe: KNN"
	if opts != nil && opts.Comm != nil {
		return knnSharded(dst, bank, bankLabels, queries, numClasses, k, tau, opts.Comm)
	}
	n, m, err := checkBankQueries(fn, bank, queries, k)
	if err != nil {
		return nil, err
	}
	if err := checkVote(fn, dst, bankLabels, n, m, numClasses, tau); err != nil {
		return nil, err
	}
	if dst == nil {
		dst = make([]int, m)
	}
	idx, sims, err := sslassign.Search(nil, nil, queries, bank, k, &sslassign.SearchOptions{Normalize: true})
	if err != nil {
		return nil, fmt.Errorf("probe: KNN: %w", err)
	}
	vote(dst, sims, func(q, j int) int { return bankLabels[idx[q*k+j]] }, m, k, numClasses, tau)
	return dst, nil
}

// checkVote checks KNN's arguments other than the matrices and K.
func checkVote(fn string, dst, bankLabels []int, n, m, numClasses int, tau float64) error {
	if err := check.Positive(fn, "T", tau); err != nil {
		return err
	}
	if err := check.Count(fn, "numClasses", numClasses, 1); err != nil {
		return err
	}
	if err := check.Labels(fn, "bankLabels", bankLabels, n, numClasses); err != nil {
		return err
	}
	if dst != nil && len(dst) != m {
		return check.Errorf(fn, ssl.ErrShape, "dst has %d entries, queries has %d rows", len(dst), m)
	}
	return nil
}

// vote writes into dst[q] the class of the weighted vote of query q's k
// neighbours, whose similarities are sims[q·k:(q+1)·k], most similar
// first, and whose classes are label(q, j).
func vote(dst []int, sims []float32, label func(q, j int) int, m, k, numClasses int, tau float64) {
	kernel.ParallelFor(m, kernel.Grain(m, k+numClasses, 1<<14), func(lo, hi int) {
		votes := make([]float64, numClasses)
		for q := lo; q < hi; q++ {
			clear(votes)
			s := sims[q*k : (q+1)*k]
			smax := float64(s[0]) // lists are sorted, most similar first
			for j, sj := range s {
				votes[label(q, j)] += math.Exp((float64(sj) - smax) / tau)
			}
			best := 0
			for c, v := range votes {
				if v > votes[best] {
					best = c
				}
			}
			dst[q] = best
		}
	})
}

// checkBankQueries validates the matrices and k of KNN and returns their
// sizes; fn is "probe: Func".
func checkBankQueries(fn string, bank, queries ssl.Tensor, k int) (n, m int, err error) {
	n, d, _, err := checkFeatures(fn, "bank", bank)
	if err != nil {
		return 0, 0, err
	}
	m, dq, _, err := checkFeatures(fn, "queries", queries)
	if err != nil {
		return 0, 0, err
	}
	if dq != d {
		return 0, 0, check.Errorf(fn, ssl.ErrShape, "queries have %d features, bank has %d", dq, d)
	}
	if k < 1 || k > n {
		return 0, 0, check.Errorf(fn, ssl.ErrParam, "k must be in [1, bank size %d] (k=%d)", n, k)
	}
	return n, m, nil
}

// EvaluateKNN runs the kNN protocol: [KNN] of the queries (the test
// features) against the bank (the training features), then the top-1
// accuracy against queryLabels, a fraction in [0, 1]. It returns the
// errors of KNN and one wrapping ssl.ErrShape if len(queryLabels) is not
// the number of queries or ssl.ErrParam if a query label is outside
// [0, numClasses).
func EvaluateKNN(bank ssl.Tensor, bankLabels []int, queries ssl.Tensor, queryLabels []int, numClasses int, opts *KNNOptions) (float64, error) {
	const fn = "probe: EvaluateKNN"
	if m, _, _, err := ssl.Matrix(queries); err == nil && numClasses >= 1 {
		if err := check.Labels(fn, "queryLabels", queryLabels, m, numClasses); err != nil {
			return 0, err
		}
	}
	pred, err := KNN(nil, bank, bankLabels, queries, numClasses, opts)
	if err != nil {
		return 0, err
	}
	return Accuracy(pred, queryLabels)
}

// Accuracy returns the fraction of positions where pred equals labels, in
// [0, 1] (DINO reports 100 times this as top-1). It returns an error
// wrapping ssl.ErrShape if the lengths differ or are zero.
func Accuracy(pred, labels []int) (float64, error) {
	if len(pred) != len(labels) {
		return 0, fmt.Errorf("probe: Accuracy: pred has %d entries, labels %d: %w", len(pred), len(labels), ssl.ErrShape)
	}
	if len(pred) == 0 {
		return 0, fmt.Errorf("probe: Accuracy: no predictions: %w", ssl.ErrShape)
	}
	c := 0
	for i, p := range pred {
		if p == labels[i] {
			c++
		}
	}
	return float64(c) / float64(len(pred)), nil
}
