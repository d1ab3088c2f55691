package assign

import (
	"slices"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// Tile sizes of [Search]: searchQueryBlock queries against searchBankBlock
// database rows at a time, so the similarity buffer holds
// searchQueryBlock·searchBankBlock float32 (8 MiB) whatever the sizes.
// Measured on 60,000×10,000×128 (2 cores, AVX2 Gemm): 512 query rows
// amortise the packing of each database tile inside Gemm (256 rows: 10%
// slower; 1024: 35% slower as the tile leaves the cache); 4096 database
// rows amortise the per-tile top-k bookkeeping.
const (
	searchQueryBlock = 512
	searchBankBlock  = 4096
)

// SearchOptions holds the optional settings of [Search]. A nil
// *SearchOptions means the defaults.
type SearchOptions struct {
	// Normalize divides every query and database row by max(‖row‖₂, 1e-12)
	// (torch.nn.functional.normalize) before the inner products, so the
	// similarity is the cosine, as DINO's kNN evaluation computes it; a zero
	// row becomes the zero vector, with similarity 0 to every row. Default
	// false: the raw inner product (faiss IndexFlatIP), which is the cosine
	// when the rows are already unit vectors.
	Normalize bool
}

// Search finds, for every row of queries (B×D), the k rows of database
// (M×D) with the largest similarity, exactly:
//
//	s_bj = ⟨q_b, x_j⟩            (rows L2-normalised first if opts.Normalize)
//	indices[b·k + t], sims[b·k + t] = the t-th largest s_bj and its j
//
// Each query's list is sorted most similar first; among equal similarities
// the lower database index comes first (the package's one tie rule, which
// [MineNeighbors] and [Nearest] share), so the order is total and the
// result does not depend on the blocking or GOMAXPROCS.
//
// The products come from kernel.Gemm on tiles of 512 queries × 4096
// database rows (the database is copied once, transposed, and normalised
// if asked) and are merged into per-query top-k heaps, so memory is
// O(M·D + B·k) and the B×M matrix never exists. indices (B·k) and sims
// (B·k) may be nil and are then allocated; both are returned.
//
// It returns an error wrapping ssl.ErrParam if k < 1 or k > M;
// ssl.ErrShape if queries or database is not a matrix, database is empty,
// they differ in D, or a destination has the wrong length or sims overlaps
// an input; and ssl.ErrNotFinite if either holds a NaN or an infinity.
// Nothing is written then.
//
// It serves Local Aggregation's background neighbours
// ([LocalAggregationNeighbors]), probe's kNN classifier and nearest-image
// grids.
func Search(indices []int, sims []float32, queries, database ssl.Tensor, k int, opts *SearchOptions) ([]int, []float32, error) {
	const fn = "assign: Search"
	var o SearchOptions
	if opts != nil {
		o = *opts
	}
	b, d, qv, err := check.Matrix(fn, "queries", queries)
	if err != nil {
		return nil, nil, err
	}
	m, dd, dv, err := check.NonEmptyMatrix(fn, "database", database)
	if err != nil {
		return nil, nil, err
	}
	if dd != d {
		return nil, nil, check.Errorf(fn, ssl.ErrShape, "database has D=%d, queries D=%d", dd, d)
	}
	if k < 1 || k > m {
		return nil, nil, check.Errorf(fn, ssl.ErrParam, "k must be in [1, M=%d] (k=%d)", m, k)
	}
	if indices != nil && len(indices) != b*k {
		return nil, nil, check.Errorf(fn, ssl.ErrShape, "indices has len %d, want B·k=%d", len(indices), b*k)
	}
	if sims != nil && len(sims) != b*k {
		return nil, nil, check.Errorf(fn, ssl.ErrShape, "sims has len %d, want B·k=%d", len(sims), b*k)
	}
	if sims != nil && (kernel.Overlaps(sims, qv) || kernel.Overlaps(sims, dv)) {
		return nil, nil, check.Errorf(fn, ssl.ErrShape, "sims overlaps an input")
	}
	if err := check.FiniteData(fn, "queries", qv, b, d); err != nil {
		return nil, nil, err
	}
	if err := check.FiniteData(fn, "database", dv, m, d); err != nil {
		return nil, nil, err
	}
	if indices == nil {
		indices = make([]int, b*k)
	}
	if sims == nil {
		sims = make([]float32, b*k)
	}
	search(indices, sims, qv, b, dv, m, d, k, o.Normalize)
	return indices, sims, nil
}

// search is Search on checked slices: finite inputs, 1 ≤ k ≤ m.
func search(indices []int, sims []float32, q []float32, b int, db []float32, m, d, k int, normalize bool) {
	if b == 0 {
		return
	}
	// The database is stored transposed (D×M), so that each tile enters
	// Gemm as a plain row-major operand, which packs by contiguous copies.
	dt := make([]float32, m*d)
	kernel.ParallelFor(m, kernel.Grain(m, d, 1<<14), func(lo, hi int) {
		row := make([]float32, d)
		for j := lo; j < hi; j++ {
			src := db[j*d : (j+1)*d]
			if normalize {
				kernel.L2NormalizeRows(row, nil, src, 1, d, normEps)
				src = row
			}
			for t, v := range src {
				dt[t*m+j] = v
			}
		}
	})
	qb := min(searchQueryBlock, b)
	nb := min(searchBankBlock, m)
	var qn []float32
	if normalize {
		qn = make([]float32, qb*d)
	}
	s := make([]float32, qb*nb)
	for q0 := 0; q0 < b; q0 += qb {
		qm := min(qb, b-q0)
		qt := q[q0*d : (q0+qm)*d]
		if normalize {
			kernel.L2NormalizeRows(qn, nil, qt, qm, d, normEps)
			qt = qn
		}
		hv, hi := sims[q0*k:(q0+qm)*k], indices[q0*k:(q0+qm)*k]
		fill := 0 // entries in each heap so far (the same for every row)
		for b0 := 0; b0 < m; b0 += nb {
			bm := min(nb, m-b0)
			kernel.Gemm(false, false, qm, bm, d, 1, qt, d, dt[b0:], m, 0, s, bm)
			kernel.ParallelFor(qm, kernel.Grain(qm, bm, 1<<15), func(lo, hi2 int) {
				for r := lo; r < hi2; r++ {
					pushHeap(hv[r*k:(r+1)*k], hi[r*k:(r+1)*k], fill, s[r*bm:(r+1)*bm], b0)
				}
			})
			fill = min(k, fill+bm)
		}
		kernel.ParallelFor(qm, kernel.Grain(qm, k*8, 1<<14), func(lo, hi2 int) {
			for r := lo; r < hi2; r++ {
				sortBest(hv[r*k:(r+1)*k], hi[r*k:(r+1)*k])
			}
		})
	}
}

// pushHeap merges the similarities row (database indices base, base+1, …)
// into the min-heap (hv, hi) of capacity len(hv) that holds fill entries.
// The root is the worst kept entry: the smallest similarity, and among
// equal ones the highest index. Since indices arrive in increasing order, a
// candidate equal to the root never displaces it, which keeps the lower
// index on ties.
func pushHeap(hv []float32, hi []int, fill int, row []float32, base int) {
	k := len(hv)
	j := 0
	for ; fill < k && j < len(row); j++ {
		// Sift up.
		c := fill
		hv[c], hi[c] = row[j], base+j
		for c > 0 {
			p := (c - 1) / 2
			if !better(hv[p], hi[p], hv[c], hi[c]) {
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
		hv[0], hi[0] = v, base+j
		c := 0
		for {
			l := 2*c + 1
			if l >= k {
				break
			}
			w := l
			if r := l + 1; r < k && better(hv[l], hi[l], hv[r], hi[r]) {
				w = r
			}
			if !better(hv[c], hi[c], hv[w], hi[w]) {
				break
			}
			hv[c], hv[w] = hv[w], hv[c]
			hi[c], hi[w] = hi[w], hi[c]
			c = w
		}
		root = hv[0]
	}
}

// sortBest sorts the entries (hv, hi) from best to worst.
func sortBest(hv []float32, hi []int) {
	type entry struct {
		v float32
		i int
	}
	var buf [64]entry
	e := buf[:0]
	for j := range hv {
		e = append(e, entry{hv[j], hi[j]})
	}
	slices.SortFunc(e, func(a, b entry) int {
		switch {
		case better(a.v, a.i, b.v, b.i):
			return -1
		case better(b.v, b.i, a.v, a.i):
			return 1
		}
		return 0
	})
	for j := range e {
		hv[j], hi[j] = e[j].v, e[j].i
	}
}
