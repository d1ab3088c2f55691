package assign

import (
	"math"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// neighborBlock is the side of the square blocks of the similarity matrix
// that the neighbour search computes at a time: 1024×1024 float32 (4 MiB)
// plus its transpose, big enough that the GEMM runs at speed and small
// enough that the N×N matrix never exists.
const neighborBlock = 1024

// MineNeighborsOptions holds the optional settings of [MineNeighbors]. A
// nil *MineNeighborsOptions means the defaults.
type MineNeighborsOptions struct {
	// ExcludeSelf leaves each row out of its own list, which then has k
	// columns instead of SCAN's k+1. Default false (SCAN: self included,
	// normally first).
	ExcludeSelf bool
	// AllowZero normalises a zero row to the zero vector, as
	// torch.nn.functional.normalize (ε = 1e-12) does in SCAN, instead of
	// returning an error: such a row has cosine 0 with every row, so its
	// neighbours are decided by the tie rule. Default false.
	AllowZero bool
}

// MineNeighbors finds, for every row of features (N×D), its exact nearest
// neighbours in cosine similarity among all N rows, as SCAN's
// MemoryBank.mine_nearest_neighbors does:
//
//	f̂_n = f_n / ‖f_n‖
//	S    = f̂ f̂ᵀ
//	indices[n] = the m columns of S[n, :] with the largest values, by decreasing value
//
// with m = k+1 and n itself among the candidates (SCAN's topk = k: self
// normally comes first), or m = k with n excluded when opts.ExcludeSelf.
// Ties are listed by increasing index (the package's one tie rule, shared
// with [Search]; faiss's IndexFlatIP lists them by decreasing index), so the
// order is a total one and the result does not depend on the block order or
// GOMAXPROCS. sims receives the similarities (float32) in the same
// order.
//
// S is computed through kernel.Gemm on 1024×1024 blocks of the upper
// triangle only (S is symmetric: each block serves the rows of both its
// row and its column range) and each row keeps a sorted top-m list, so
// memory is O(N·D + N·m) and never N×N. indices (N·m) and sims (N·m) may be
// nil and are then allocated; both are returned.
//
// It returns an error wrapping ssl.ErrParam if k < 1 or k ≥ N; ssl.ErrShape
// if features is not a matrix or a destination has the wrong length; and
// ssl.ErrNotFinite if features holds a NaN or an infinity, or a zero row
// (whose cosine is 0/0) unless opts.AllowZero. Nothing is written then.
//
// Reference: Van Gansbeke et al., SCAN: Learning to Classify Images without
// Labels, ECCV 2020, Sec. 2.1 (Unsupervised-Classification
// utils/memory.py @ 952ec31e).
func MineNeighbors(indices []int, sims []float32, features ssl.Tensor, k int, opts *MineNeighborsOptions) ([]int, []float32, error) {
	const fn = "assign: MineNeighbors"
	var o MineNeighborsOptions
	if opts != nil {
		o = *opts
	}
	n, d, fv, err := check.Matrix(fn, "features", features)
	if err != nil {
		return nil, nil, err
	}
	if k < 1 || k >= n {
		return nil, nil, check.Errorf(fn, ssl.ErrParam, "k must be in [1, N−1=%d] (k=%d)", n-1, k)
	}
	m := k + 1
	if o.ExcludeSelf {
		m = k
	}
	if indices != nil && len(indices) != n*m {
		return nil, nil, check.Errorf(fn, ssl.ErrShape, "indices has len %d, want N·%d=%d", len(indices), m, n*m)
	}
	if sims != nil && len(sims) != n*m {
		return nil, nil, check.Errorf(fn, ssl.ErrShape, "sims has len %d, want N·%d=%d", len(sims), m, n*m)
	}
	if sims != nil && kernel.Overlaps(sims, fv) {
		return nil, nil, check.Errorf(fn, ssl.ErrShape, "sims overlaps features")
	}
	if err := check.FiniteData(fn, "features", fv, n, d); err != nil {
		return nil, nil, err
	}
	unit, err := unitRows(fn, "features", fv, n, d, o.AllowZero)
	if err != nil {
		return nil, nil, err
	}
	if indices == nil {
		indices = make([]int, n*m)
	}
	if sims == nil {
		sims = make([]float32, n*m)
	}
	mineSelf(indices, sims, unit, n, d, m, o.ExcludeSelf)
	return indices, sims, nil
}

// unitRows returns a float32 copy of x with every row divided by its norm
// (computed in float64). A zero row is an error wrapping ssl.ErrNotFinite
// unless allowZero, when it stays zero.
func unitRows(fn, name string, x []float32, rows, cols int, allowZero bool) ([]float32, error) {
	u := make([]float32, rows*cols)
	for i := range rows {
		r, ur := x[i*cols:(i+1)*cols], u[i*cols:(i+1)*cols]
		nrm := kernel.Norm(r)
		if nrm == 0 && !allowZero {
			return nil, check.Errorf(fn, ssl.ErrNotFinite, "%s row %d has zero norm, so its cosine similarity is 0/0 (set AllowZero to treat it as the zero vector)", name, i)
		}
		if math.IsInf(nrm, 0) {
			return nil, check.Errorf(fn, ssl.ErrNotFinite, "%s row %d has an infinite norm", name, i)
		}
		inv := 1 / math.Max(nrm, normEps)
		for j, v := range r {
			ur[j] = float32(float64(v) * inv)
		}
	}
	return u, nil
}

// topList is a row's running top-m list, sorted best first: higher value,
// then lower index on equal values.
type topList struct {
	val []float32
	idx []int
}

// better reports whether (v, i) ranks before (w, j).
func better(v float32, i int, w float32, j int) bool { return v > w || (v == w && i < j) }

// push offers the candidates row[t] with indices base+t, skipping index
// skip; the list keeps its m best.
func (l topList) push(row []float32, base, skip int) {
	m := len(l.val)
	lastV, lastI := l.val[m-1], l.idx[m-1]
	for t, v := range row {
		if v < lastV {
			continue
		}
		j := base + t
		if j == skip || !better(v, j, lastV, lastI) {
			continue
		}
		p := m - 1
		for p > 0 && better(v, j, l.val[p-1], l.idx[p-1]) {
			l.val[p], l.idx[p] = l.val[p-1], l.idx[p-1]
			p--
		}
		l.val[p], l.idx[p] = v, j
		lastV, lastI = l.val[m-1], l.idx[m-1]
	}
}

// mineColGrain is the columns per worker block of the transposed update:
// 256 thresholds (1 KiB) stay in L1 while the worker reads its 1 KiB slice
// of each row of the block.
const mineColGrain = 256

// insert offers one candidate (v, j) to the list.
func (l topList) insert(v float32, j int) {
	m := len(l.val)
	if !better(v, j, l.val[m-1], l.idx[m-1]) {
		return
	}
	p := m - 1
	for p > 0 && better(v, j, l.val[p-1], l.idx[p-1]) {
		l.val[p], l.idx[p] = l.val[p-1], l.idx[p-1]
		p--
	}
	l.val[p], l.idx[p] = v, j
}

// mineSelf fills indices and sims (n×m) with each row's top m among the
// rows of the unit matrix u (n×d), self excluded if exclude.
func mineSelf(indices []int, sims []float32, u []float32, n, d, m int, exclude bool) {
	for i := range indices {
		indices[i] = -1
	}
	ninf := float32(math.Inf(-1))
	for i := range sims {
		sims[i] = ninf
	}
	list := func(i int) topList { return topList{sims[i*m : (i+1)*m], indices[i*m : (i+1)*m]} }
	bs := min(n, neighborBlock)
	s := make([]float32, bs*bs)
	for r0 := 0; r0 < n; r0 += bs {
		mr := min(bs, n-r0)
		grain := kernel.Grain(mr, bs, 1<<15)
		for c0 := r0; c0 < n; c0 += bs {
			mc := min(bs, n-c0)
			kernel.Gemm(false, true, mr, mc, d, 1, u[r0*d:], d, u[c0*d:], d, 0, s, mc)
			kernel.ParallelFor(mr, grain, func(lo, hi int) {
				for r := lo; r < hi; r++ {
					skip := -1
					if exclude {
						skip = r0 + r
					}
					list(r0+r).push(s[r*mc:(r+1)*mc], c0, skip)
				}
			})
			if c0 == r0 {
				continue
			}
			// The block's transpose serves the rows c0 … c0+mc: each worker
			// owns a range of columns and reads it row by row, so S is read
			// contiguously and never transposed.
			kernel.ParallelFor(mc, mineColGrain, func(lo, hi int) {
				var thrBuf [mineColGrain]float32
				thr := thrBuf[:hi-lo]
				for t := range thr {
					thr[t] = sims[(c0+lo+t)*m+m-1]
				}
				for r := range mr {
					j := r0 + r
					for t, v := range s[r*mc+lo : r*mc+hi] {
						if v < thr[t] {
							continue
						}
						l := list(c0 + lo + t)
						l.insert(v, j)
						thr[t] = l.val[m-1]
					}
				}
			})
		}
	}
}
