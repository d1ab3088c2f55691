package assign

import (
	"fmt"
	"math"

	"ssl"
	"ssl/internal/kernel"
)

// Search finds, for every row of queries (B×D), the k rows of database
// (M×D) with the largest inner product, by decreasing value (ties by
// decreasing index, as faiss's IndexFlatIP), exactly: the B×M products are
// computed through kernel.Gemm one 1024×1024 block at a time and each query
// keeps a sorted top-k list, so B×M never exists in memory. For unit rows
// the inner product is the cosine. indices (B·k) and sims (B·k) may be nil
// and are then allocated; both are returned.
//
// It returns an error wrapping ssl.ErrParam if k < 1 or k > M; ssl.ErrShape
// if queries or database is not a matrix, they differ in D, or a
// destination has the wrong length or overlaps an input; and
// ssl.ErrNotFinite if either holds a NaN or an infinity.
func Search(indices []int, sims []float32, queries, database ssl.Tensor, k int) ([]int, []float32, error) {
	const fn = "Search"
	b, d, qv, err := matrix(fn, "queries", queries)
	if err != nil {
		return nil, nil, err
	}
	m, dd, dv, err := matrix(fn, "database", database)
	if err != nil {
		return nil, nil, err
	}
	if dd != d {
		return nil, nil, fmt.Errorf("assign: %s: database has D=%d, queries D=%d: %w", fn, dd, d, ssl.ErrShape)
	}
	if k < 1 || k > m {
		return nil, nil, fmt.Errorf("assign: %s: k must be in [1, M=%d] (k=%d): %w", fn, m, k, ssl.ErrParam)
	}
	if indices != nil && len(indices) != b*k {
		return nil, nil, fmt.Errorf("assign: %s: indices has len %d, want B·k=%d: %w", fn, len(indices), b*k, ssl.ErrShape)
	}
	if sims != nil && len(sims) != b*k {
		return nil, nil, fmt.Errorf("assign: %s: sims has len %d, want B·k=%d: %w", fn, len(sims), b*k, ssl.ErrShape)
	}
	if sims != nil && (kernel.Overlaps(sims, qv) || kernel.Overlaps(sims, dv)) {
		return nil, nil, fmt.Errorf("assign: %s: sims overlaps an input: %w", fn, ssl.ErrShape)
	}
	if err := checkFinite(fn, "queries", qv, b, d); err != nil {
		return nil, nil, err
	}
	if err := checkFinite(fn, "database", dv, m, d); err != nil {
		return nil, nil, err
	}
	if indices == nil {
		indices = make([]int, b*k)
	}
	if sims == nil {
		sims = make([]float32, b*k)
	}
	search(indices, sims, qv, b, dv, m, d, k)
	return indices, sims, nil
}

// search is Search on checked slices.
func search(indices []int, sims []float32, q []float32, b int, db []float32, m, d, k int) {
	for i := range indices {
		indices[i] = -1
	}
	ninf := float32(math.Inf(-1))
	for i := range sims {
		sims[i] = ninf
	}
	bs, ms := min(b, neighborBlock), min(m, neighborBlock)
	s := make([]float32, bs*ms)
	for r0 := 0; r0 < b; r0 += bs {
		mr := min(bs, b-r0)
		for c0 := 0; c0 < m; c0 += ms {
			mc := min(ms, m-c0)
			kernel.Gemm(false, true, mr, mc, d, 1, q[r0*d:], d, db[c0*d:], d, 0, s, mc)
			kernel.ParallelFor(mr, kernel.Grain(mr, mc, 1<<15), func(lo, hi int) {
				for r := lo; r < hi; r++ {
					i := r0 + r
					topList{sims[i*k : (i+1)*k], indices[i*k : (i+1)*k]}.push(s[r*mc:(r+1)*mc], c0, -1)
				}
			})
		}
	}
}

// LANeighbors are Local Aggregation's neighbour sets for a batch (see
// [LocalAggregationNeighbors]).
type LANeighbors struct {
	// Background[b·k + j] is the index in the memory bank of the j-th
	// background neighbour of batch row b, by decreasing similarity; Sims
	// holds the similarities.
	Background []int
	Sims       []float32
	// Close[b·k + j] reports whether Background[b·k + j] is also a close
	// neighbour of sample idx[b]: C_i ∩ B_i of the paper.
	Close []bool
}

// LocalAggregationNeighbors computes Local Aggregation's neighbour sets of a
// batch of embeddings v (B×D, unit rows) whose dataset indices are idx
// (len B), against the memory bank (N×D, unit rows):
//
//	B_i = the k bank entries with the largest vᵢ·bank_j     (background neighbours)
//	C_i = ∪_h { j : labels[h][j] = labels[h][idx_i] }        (close neighbours)
//
// where labels holds H k-means clusterings of the bank (each of length N).
// It returns B_i (with [Search]) and the mask of C_i ∩ B_i, which the LA
// loss −log P(C_i ∩ B_i | v_i) / P(B_i | v_i) uses. As in the authors' code,
// sample i's own bank entry is not excluded from B_i (it is then close).
// [CloseNeighbors] lists the whole of C_i.
//
// It returns the errors of [Search], and one wrapping ssl.ErrShape if idx
// has the wrong length or labels is empty or a clustering has the wrong
// length, or ssl.ErrParam if an index is outside [0, N).
//
// Reference: Zhuang, Zhai and Yamins, Local Aggregation for Unsupervised
// Learning of Visual Embeddings, ICCV 2019, Sec. 3.1 (eq. 2–3);
// neuroailab/LocalAggregation.
func LocalAggregationNeighbors(v ssl.Tensor, idx []int, bank ssl.Tensor, labels [][]int, k int) (*LANeighbors, error) {
	const fn = "LocalAggregationNeighbors"
	b, _, _, err := matrix(fn, "v", v)
	if err != nil {
		return nil, err
	}
	n, _, _, err := matrix(fn, "bank", bank)
	if err != nil {
		return nil, err
	}
	if len(idx) != b {
		return nil, fmt.Errorf("assign: %s: idx has len %d, want B=%d: %w", fn, len(idx), b, ssl.ErrShape)
	}
	if err := checkLabelSets(fn, labels, n); err != nil {
		return nil, err
	}
	for r, i := range idx {
		if i < 0 || i >= n {
			return nil, fmt.Errorf("assign: %s: idx[%d]=%d outside [0, N=%d): %w", fn, r, i, n, ssl.ErrParam)
		}
	}
	back, sims, err := Search(nil, nil, v, bank, k)
	if err != nil {
		return nil, fmt.Errorf("assign: %s: %w", fn, err)
	}
	close := make([]bool, b*k)
	for r, i := range idx {
		for j, c := range back[r*k : (r+1)*k] {
			for _, l := range labels {
				if l[c] == l[i] {
					close[r*k+j] = true
					break
				}
			}
		}
	}
	return &LANeighbors{Background: back, Sims: sims, Close: close}, nil
}

// checkLabelSets checks H ≥ 1 clusterings of n points each.
func checkLabelSets(fn string, labels [][]int, n int) error {
	if len(labels) == 0 {
		return fmt.Errorf("assign: %s: labels holds no clustering: %w", fn, ssl.ErrShape)
	}
	for h, l := range labels {
		if len(l) != n {
			return fmt.Errorf("assign: %s: labels[%d] has len %d, want N=%d: %w", fn, h, len(l), n, ssl.ErrShape)
		}
	}
	return nil
}

// CloseNeighbors returns Local Aggregation's close neighbours of point i,
//
//	C_i = ∪_h { j : labels[h][j] = labels[h][i] }
//
// in increasing order (i itself included), appended to dst[:0]. labels
// holds H ≥ 1 clusterings of the same N points.
//
// It returns an error wrapping ssl.ErrShape if labels is empty or its
// clusterings differ in length, and ssl.ErrParam if i is outside [0, N).
//
// Reference: Zhuang, Zhai and Yamins, ICCV 2019, Sec. 3.1.
func CloseNeighbors(dst []int, labels [][]int, i int) ([]int, error) {
	const fn = "CloseNeighbors"
	if len(labels) == 0 {
		return nil, fmt.Errorf("assign: %s: labels holds no clustering: %w", fn, ssl.ErrShape)
	}
	n := len(labels[0])
	if err := checkLabelSets(fn, labels, n); err != nil {
		return nil, err
	}
	if i < 0 || i >= n {
		return nil, fmt.Errorf("assign: %s: i=%d outside [0, N=%d): %w", fn, i, n, ssl.ErrParam)
	}
	dst = dst[:0]
	for j := range n {
		for _, l := range labels {
			if l[j] == l[i] {
				dst = append(dst, j)
				break
			}
		}
	}
	return dst, nil
}
