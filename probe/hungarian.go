package probe

import (
	"math"

	"ssl"
	"ssl/internal/check"
)

// Hungarian solves the linear assignment problem on the rows×cols cost
// matrix (row-major): it finds the one-to-one matching of rows to columns
// that minimises the total cost
//
//	Σ_i cost[i·cols + match[i]]
//
// When rows ≤ cols every row is matched to a distinct column; when
// rows > cols every column gets a distinct row and the rows left over get
// match[i] = −1, as scipy.optimize.linear_sum_assignment matches a
// rectangular matrix. dst receives match (len rows); a nil dst is allocated.
// It returns match and the minimal total cost.
//
// The solver is the shortest-augmenting-path form of the Hungarian method
// with row and column potentials (Kuhn 1955; Munkres 1957; in the O(n²·m)
// formulation of Jonker and Volgenant 1987), so a 1000×1000 problem takes
// about 10⁹ elementary steps. When several matchings are optimal, which one
// is returned is deterministic but unspecified; the total is the optimum.
//
// It returns an error wrapping ssl.ErrShape if rows or cols is < 1,
// len(cost) ≠ rows·cols or dst is non-nil with length ≠ rows, and
// ssl.ErrNotFinite if a cost is NaN or infinite.
func Hungarian(dst []int, cost []float64, rows, cols int) ([]int, float64, error) {
	const fn = "probe: Hungarian"
	if err := check.AtLeast(fn, "rows", rows, 1); err != nil {
		return nil, 0, err
	}
	if err := check.AtLeast(fn, "cols", cols, 1); err != nil {
		return nil, 0, err
	}
	if len(cost) != rows*cols {
		return nil, 0, check.Errorf(fn, ssl.ErrShape, "len(cost) is %d, want rows·cols=%d", len(cost), rows*cols)
	}
	if dst != nil && len(dst) != rows {
		return nil, 0, check.Errorf(fn, ssl.ErrShape, "len(dst) is %d, want rows=%d", len(dst), rows)
	}
	for i, c := range cost {
		if math.IsNaN(c) || math.IsInf(c, 0) {
			return nil, 0, check.Errorf(fn, ssl.ErrNotFinite, "cost[%d][%d] is %v", i/cols, i%cols, c)
		}
	}
	if dst == nil {
		dst = make([]int, rows)
	}
	if rows <= cols {
		assign(dst, cost, rows, cols)
	} else {
		// Match every column to a row on the transpose, then invert.
		colMatch := make([]int, cols)
		t := make([]float64, rows*cols)
		for i := range rows {
			for j := range cols {
				t[j*rows+i] = cost[i*cols+j]
			}
		}
		assign(colMatch, t, cols, rows)
		for i := range dst {
			dst[i] = -1
		}
		for j, i := range colMatch {
			dst[i] = j
		}
	}
	total := 0.0
	for i, j := range dst {
		if j >= 0 {
			total += cost[i*cols+j]
		}
	}
	return dst, total, nil
}

// assign writes into match (len n) the columns of a minimum-cost matching
// of all n rows of the n×m row-major cost a (n ≤ m) into distinct columns. It is the
// classical potentials algorithm: row i is added by a Dijkstra-like search
// for the shortest augmenting path in reduced costs a(i,j) − u_i − v_j,
// keeping u_i + v_j ≤ a(i,j) with equality on matched pairs. Indices are
// 1-based inside, with row/column 0 as the virtual start.
func assign(match []int, a []float64, n, m int) {
	u := make([]float64, n+1)
	v := make([]float64, m+1)
	p := make([]int, m+1)   // p[j]: row matched to column j (0: none)
	way := make([]int, m+1) // previous column on the augmenting path
	minv := make([]float64, m+1)
	used := make([]bool, m+1)
	for i := 1; i <= n; i++ {
		p[0] = i
		j0 := 0
		for j := range minv {
			minv[j] = math.Inf(1)
			used[j] = false
		}
		for {
			used[j0] = true
			i0, delta, j1 := p[j0], math.Inf(1), 0
			ui0, row := u[i0], a[(i0-1)*m:i0*m]
			for j := 1; j <= m; j++ {
				if used[j] {
					continue
				}
				if cur := row[j-1] - ui0 - v[j]; cur < minv[j] {
					minv[j], way[j] = cur, j0
				}
				if minv[j] < delta {
					delta, j1 = minv[j], j
				}
			}
			for j := 0; j <= m; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if p[j0] == 0 {
				break
			}
		}
		for j0 != 0 {
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	for j := 1; j <= m; j++ {
		if p[j] != 0 {
			match[p[j]-1] = j - 1
		}
	}
}
