package probe

import (
	"fmt"
	"math"
	"slices"

	"ssl"
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

// Tile sizes of the similarity computation: queryBlock queries against
// bankBlock bank rows at a time, so the similarity buffer holds
// queryBlock·bankBlock float32 (8 MiB) whatever the bank size. Measured on
// the 60,000×10,000×128 benchmark (2 cores, AVX2 Gemm): 512 query rows
// amortise the packing of each bank tile inside Gemm (256 rows: 10% slower;
// 1024: 35% slower as the tile leaves the cache); 4096 bank rows amortise
// the per-tile top-k bookkeeping.
const (
	queryBlock = 512
	bankBlock  = 4096
)

// KNNOptions holds the optional settings of [KNN] and [NearestNeighbours].
// A nil *KNNOptions and zero fields mean the defaults.
type KNNOptions struct {
	// K is the number of neighbours that vote, 1 ≤ K ≤ N (the bank size).
	// Zero means DefaultK (20). NearestNeighbours takes k positionally and
	// ignores this field.
	K int
	// T is the temperature of the vote weights exp(s/T), T > 0. Zero means
	// DefaultT (0.07).
	T float64
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
// The similarities are computed in tiles of 512 queries × 4096 bank rows
// through the shared float32 GEMM and merged into per-query top-K lists, so
// memory is O(N·D + K·M), never N×M; the normalised bank is one N×D float32
// copy. The weights are evaluated as exp((s_mj − s_m,max)/T), which scales
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
	n, m, d, bv, qv, err := checkBankQueries("KNN", bank, queries, k)
	if err != nil {
		return nil, err
	}
	if !(tau > 0) || math.IsInf(tau, 1) {
		return nil, fmt.Errorf("probe: KNN: temperature must be positive and finite (T=%v): %w", tau, ssl.ErrParam)
	}
	if numClasses < 1 {
		return nil, fmt.Errorf("probe: KNN: numClasses must be at least 1 (numClasses=%d): %w", numClasses, ssl.ErrParam)
	}
	if len(bankLabels) != n {
		return nil, fmt.Errorf("probe: KNN: bankLabels has %d entries, bank has %d rows: %w", len(bankLabels), n, ssl.ErrShape)
	}
	if err := checkLabels("KNN", "bankLabels", bankLabels, numClasses); err != nil {
		return nil, err
	}
	if dst != nil && len(dst) != m {
		return nil, fmt.Errorf("probe: KNN: dst has %d entries, queries has %d rows: %w", len(dst), m, ssl.ErrShape)
	}
	if dst == nil {
		dst = make([]int, m)
	}
	idx := make([]int32, m*k)
	sims := make([]float32, m*k)
	topK(idx, sims, bv, n, qv, m, d, k)
	kernel.ParallelFor(m, kernel.Grain(m, k+numClasses, 1<<14), func(lo, hi int) {
		votes := make([]float64, numClasses)
		for q := lo; q < hi; q++ {
			clear(votes)
			s, id := sims[q*k:(q+1)*k], idx[q*k:(q+1)*k]
			smax := float64(s[0]) // lists are sorted, most similar first
			for j, sj := range s {
				votes[bankLabels[id[j]]] += math.Exp((float64(sj) - smax) / tau)
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
	return dst, nil
}

// NearestNeighbours finds, for each query row, the k bank rows with the
// largest cosine similarity (rows normalised as in [KNN]) and writes their
// indices into idx and the similarities into sims, both M×k row-major and
// sorted most similar first (ties: lower bank index first). A nil idx is
// allocated; a nil sims is not computed. It computes what [KNN] votes over,
// blocked the same way, and serves the nearest-image grids of [Grid].
//
// It returns an error wrapping ssl.ErrShape if bank or queries is not a
// non-empty matrix, their widths differ, or idx or sims is non-nil with
// length ≠ M·k; ssl.ErrParam if k < 1 or k > N; ssl.ErrNotFinite if a
// feature is NaN or infinite. Nothing is written then.
func NearestNeighbours(idx []int, sims []float32, bank, queries ssl.Tensor, k int) ([]int, []float32, error) {
	n, m, d, bv, qv, err := checkBankQueries("NearestNeighbours", bank, queries, k)
	if err != nil {
		return nil, nil, err
	}
	if idx != nil && len(idx) != m*k {
		return nil, nil, fmt.Errorf("probe: NearestNeighbours: idx has %d entries, want M·k=%d: %w", len(idx), m*k, ssl.ErrShape)
	}
	if sims != nil && len(sims) != m*k {
		return nil, nil, fmt.Errorf("probe: NearestNeighbours: sims has %d entries, want M·k=%d: %w", len(sims), m*k, ssl.ErrShape)
	}
	if idx == nil {
		idx = make([]int, m*k)
	}
	id32 := make([]int32, m*k)
	s := sims
	if s == nil {
		s = make([]float32, m*k)
	}
	topK(id32, s, bv, n, qv, m, d, k)
	for i, v := range id32 {
		idx[i] = int(v)
	}
	return idx, sims, nil
}

// checkBankQueries validates the matrices and k shared by KNN and
// NearestNeighbours and returns their sizes and data.
func checkBankQueries(fn string, bank, queries ssl.Tensor, k int) (n, m, d int, bv, qv []float32, err error) {
	n, d, bv, err = ssl.Matrix(bank)
	if err != nil {
		return 0, 0, 0, nil, nil, fmt.Errorf("probe: %s: bank: %w", fn, err)
	}
	m, dq, qv, err := ssl.Matrix(queries)
	if err != nil {
		return 0, 0, 0, nil, nil, fmt.Errorf("probe: %s: queries: %w", fn, err)
	}
	if n == 0 || d == 0 {
		return 0, 0, 0, nil, nil, fmt.Errorf("probe: %s: bank is empty (shape (%d, %d)): %w", fn, n, d, ssl.ErrShape)
	}
	if m == 0 {
		return 0, 0, 0, nil, nil, fmt.Errorf("probe: %s: queries is empty (shape (%d, %d)): %w", fn, m, dq, ssl.ErrShape)
	}
	if dq != d {
		return 0, 0, 0, nil, nil, fmt.Errorf("probe: %s: queries have %d features, bank has %d: %w", fn, dq, d, ssl.ErrShape)
	}
	if k < 1 || k > n {
		return 0, 0, 0, nil, nil, fmt.Errorf("probe: %s: k must be in [1, bank size %d] (k=%d): %w", fn, n, k, ssl.ErrParam)
	}
	if i := firstNonFinite(bv); i >= 0 {
		return 0, 0, 0, nil, nil, fmt.Errorf("probe: %s: bank[%d][%d] is %v: %w", fn, i/d, i%d, bv[i], ssl.ErrNotFinite)
	}
	if i := firstNonFinite(qv); i >= 0 {
		return 0, 0, 0, nil, nil, fmt.Errorf("probe: %s: queries[%d][%d] is %v: %w", fn, i/d, i%d, qv[i], ssl.ErrNotFinite)
	}
	return n, m, d, bv, qv, nil
}

// firstNonFinite returns the index of the first NaN or infinite element of
// x, or -1. Scanning is O(N·D), negligible next to the O(N·M·D) product.
func firstNonFinite(x []float32) int {
	if kernel.AllFinite(x) {
		return -1
	}
	for i, v := range x {
		if v-v != 0 {
			return i
		}
	}
	return -1
}

// checkLabels returns an ErrParam error naming the first label of labels
// outside [0, numClasses).
func checkLabels(fn, name string, labels []int, numClasses int) error {
	for i, c := range labels {
		if c < 0 || c >= numClasses {
			return fmt.Errorf("probe: %s: %s[%d]=%d is outside [0, %d): %w", fn, name, i, c, numClasses, ssl.ErrParam)
		}
	}
	return nil
}

// topK writes, for each of the m rows of q (m×d), the indices and cosine
// similarities of its k most similar rows of bank (n×d) into idx and sims
// (m×k, sorted by decreasing similarity, ties by increasing index). Inputs
// are finite and 1 ≤ k ≤ n.
func topK(idx []int32, sims []float32, bank []float32, n int, q []float32, m, d, k int) {
	// The normalised bank is stored transposed (D×N), so that each tile
	// enters Gemm as a plain row-major k×n operand, which packs by
	// contiguous copies.
	bt := make([]float32, n*d)
	kernel.ParallelFor(n, kernel.Grain(n, d, 1<<14), func(lo, hi int) {
		row := make([]float32, d)
		for j := lo; j < hi; j++ {
			kernel.L2NormalizeRows(row, nil, bank[j*d:(j+1)*d], 1, d, normEps)
			for t, v := range row {
				bt[t*n+j] = v
			}
		}
	})
	qb := min(queryBlock, m)
	nb := min(bankBlock, n)
	qn := make([]float32, qb*d)
	s := make([]float32, qb*nb)
	for q0 := 0; q0 < m; q0 += qb {
		qm := min(qb, m-q0)
		kernel.L2NormalizeRows(qn, nil, q[q0*d:(q0+qm)*d], qm, d, normEps)
		hv, hi := sims[q0*k:(q0+qm)*k], idx[q0*k:(q0+qm)*k]
		fill := 0 // entries in each heap so far (the same for every row)
		for b0 := 0; b0 < n; b0 += nb {
			bm := min(nb, n-b0)
			kernel.Gemm(false, false, qm, bm, d, 1, qn, d, bt[b0:], n, 0, s, bm)
			kernel.ParallelFor(qm, kernel.Grain(qm, bm, 1<<15), func(lo, hi2 int) {
				for r := lo; r < hi2; r++ {
					pushRow(hv[r*k:(r+1)*k], hi[r*k:(r+1)*k], fill, s[r*bm:(r+1)*bm], int32(b0))
				}
			})
			fill = min(k, fill+bm)
		}
		kernel.ParallelFor(qm, kernel.Grain(qm, k*8, 1<<14), func(lo, hi2 int) {
			for r := lo; r < hi2; r++ {
				sortDesc(hv[r*k:(r+1)*k], hi[r*k:(r+1)*k])
			}
		})
	}
}

// pushRow merges the similarities row (bank indices base, base+1, …) into
// the min-heap (hv, hi) of capacity len(hv) that holds fill entries. The
// root is the worst kept entry: the smallest similarity, and among equal
// ones the highest index. Since indices arrive in increasing order, a
// candidate equal to the root never displaces it, which keeps the lower
// index on ties.
func pushRow(hv []float32, hi []int32, fill int, row []float32, base int32) {
	k := len(hv)
	j := 0
	for ; fill < k && j < len(row); j++ {
		// Sift up.
		c := fill
		hv[c], hi[c] = row[j], base+int32(j)
		for c > 0 {
			p := (c - 1) / 2
			if !worse(hv[c], hi[c], hv[p], hi[p]) {
				break
			}
			hv[c], hv[p] = hv[p], hv[c]
			hi[c], hi[p] = hi[p], hi[c]
			c = p
		}
		fill++
	}
	if j == len(row) {
		return
	}
	root := hv[0]
	for ; j < len(row); j++ {
		v := row[j]
		if v <= root {
			continue
		}
		// Replace the root and sift down.
		hv[0], hi[0] = v, base+int32(j)
		c := 0
		for {
			l := 2*c + 1
			if l >= k {
				break
			}
			w := l
			if r := l + 1; r < k && worse(hv[r], hi[r], hv[l], hi[l]) {
				w = r
			}
			if !worse(hv[w], hi[w], hv[c], hi[c]) {
				break
			}
			hv[c], hv[w] = hv[w], hv[c]
			hi[c], hi[w] = hi[w], hi[c]
			c = w
		}
		root = hv[0]
	}
}

// worse reports whether entry (v1, i1) ranks below (v2, i2): a smaller
// similarity, or an equal one at a higher index.
func worse(v1 float32, i1 int32, v2 float32, i2 int32) bool {
	return v1 < v2 || (v1 == v2 && i1 > i2)
}

// sortDesc sorts the k entries (hv, hi) from best to worst.
func sortDesc(hv []float32, hi []int32) {
	type entry struct {
		v float32
		i int32
	}
	var buf [64]entry
	e := buf[:0]
	for j := range hv {
		e = append(e, entry{hv[j], hi[j]})
	}
	slices.SortFunc(e, func(a, b entry) int {
		switch {
		case worse(b.v, b.i, a.v, a.i):
			return -1
		case worse(a.v, a.i, b.v, b.i):
			return 1
		}
		return 0
	})
	for j := range e {
		hv[j], hi[j] = e[j].v, e[j].i
	}
}

// EvaluateKNN runs the kNN protocol: [KNN] of the queries (the test
// features) against the bank (the training features), then the top-1
// accuracy against queryLabels, a fraction in [0, 1]. It returns the
// errors of KNN and one wrapping ssl.ErrShape if len(queryLabels) is not
// the number of queries or ssl.ErrParam if a query label is outside
// [0, numClasses).
func EvaluateKNN(bank ssl.Tensor, bankLabels []int, queries ssl.Tensor, queryLabels []int, numClasses int, opts *KNNOptions) (float64, error) {
	if m, _, _, err := ssl.Matrix(queries); err == nil && len(queryLabels) != m {
		return 0, fmt.Errorf("probe: EvaluateKNN: queryLabels has %d entries, queries has %d rows: %w", len(queryLabels), m, ssl.ErrShape)
	}
	if numClasses >= 1 {
		if err := checkLabels("EvaluateKNN", "queryLabels", queryLabels, numClasses); err != nil {
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
