package assign

import (
	"fmt"

	"ssl"
	"ssl/internal/check"
)

// LocalAggregationNeighborsResult holds Local Aggregation's neighbour sets
// for a batch (see [LocalAggregationNeighbors]).
type LocalAggregationNeighborsResult struct {
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
func LocalAggregationNeighbors(v ssl.Tensor, idx []int, bank ssl.Tensor, labels [][]int, k int) (LocalAggregationNeighborsResult, error) {
	const fn = "assign: LocalAggregationNeighbors"
	b, _, _, err := check.Matrix(fn, "v", v)
	if err != nil {
		return LocalAggregationNeighborsResult{}, err
	}
	n, _, _, err := check.Matrix(fn, "bank", bank)
	if err != nil {
		return LocalAggregationNeighborsResult{}, err
	}
	if len(idx) != b {
		return LocalAggregationNeighborsResult{}, check.Errorf(fn, ssl.ErrShape, "idx has len %d, want B=%d", len(idx), b)
	}
	if err := checkLabelSets(fn, labels, n); err != nil {
		return LocalAggregationNeighborsResult{}, err
	}
	for r, i := range idx {
		if i < 0 || i >= n {
			return LocalAggregationNeighborsResult{}, check.Errorf(fn, ssl.ErrParam, "idx[%d]=%d outside [0, N=%d)", r, i, n)
		}
	}
	back, sims, err := Search(nil, nil, v, bank, k, nil)
	if err != nil {
		return LocalAggregationNeighborsResult{}, fmt.Errorf("%s: %w", fn, err)
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
	return LocalAggregationNeighborsResult{Background: back, Sims: sims, Close: close}, nil
}

// checkLabelSets checks H ≥ 1 clusterings of n points each.
func checkLabelSets(fn string, labels [][]int, n int) error {
	if len(labels) == 0 {
		return check.Errorf(fn, ssl.ErrShape, "labels holds no clustering")
	}
	for h, l := range labels {
		if len(l) != n {
			return check.Errorf(fn, ssl.ErrShape, "labels[%d] has len %d, want N=%d", h, len(l), n)
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
	const fn = "assign: CloseNeighbors"
	if len(labels) == 0 {
		return nil, check.Errorf(fn, ssl.ErrShape, "labels holds no clustering")
	}
	n := len(labels[0])
	if err := checkLabelSets(fn, labels, n); err != nil {
		return nil, err
	}
	if i < 0 || i >= n {
		return nil, check.Errorf(fn, ssl.ErrParam, "i=%d outside [0, N=%d)", i, n)
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
