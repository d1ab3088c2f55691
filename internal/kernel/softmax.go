package kernel

import "math"

// Blocking of the row and column kernels. It is fixed, so results do not
// depend on GOMAXPROCS; the sizes keep the block being reduced in L1/L2 (32
// KB L1d, 1 MB L2 per core on the machine the figures in README.md come from)
// so every element is read from memory once.
const (
	// lseChunk: a row is reduced lseChunk elements (16 KB) at a time, the
	// running sum rescaled when the running maximum grows.
	lseChunk = 4096
	// lseColBlock columns × lseRowChunk rows (64 KB) are max-reduced, then
	// exp-summed while still in L2; the running sums are rescaled (one
	// float64 exp per column) at most once per chunk.
	lseColBlock = 256
	lseRowChunk = 64
	// lseRowBlock rows form one parallel tile of the column kernel; the
	// tiles' partial (max, sum) pairs are merged in tile order.
	lseRowBlock = 1024
	// lseMinWork is the number of elements per parallel block (about 10 µs
	// of exponentials), so small inputs stay on the calling goroutine.
	lseMinWork = 1 << 14
)

var negInf32 = float32(math.Inf(-1))

// LogSumExpRows computes, for each row i of the rows×cols matrix x,
//
//	dst[i] = log Σ_j exp(x[i·cols+j])
//
// subtracting the row maximum first and accumulating in float64. A row that
// holds +Inf gives +Inf; a row of -Inf gives -Inf; NaN propagates.
// cols must be ≥ 1.
func LogSumExpRows(dst, x []float32, rows, cols int) {
	dst = dst[:rows]
	x = x[:rows*cols]
	if g := Grain(rows, cols, lseMinWork); g < rows {
		ParallelFor(rows, g, func(lo, hi int) { lseRows(dst, x, cols, lo, hi) })
		return
	}
	lseRows(dst, x, cols, 0, rows) // one block: no closure, no allocation
}

func lseRows(dst, x []float32, cols, lo, hi int) {
	for i := lo; i < hi; i++ {
		dst[i] = lseRow(x[i*cols : (i+1)*cols])
	}
}

// lseRow is the log-sum-exp of one row, reduced lseChunk elements at a time.
func lseRow(row []float32) float32 {
	m, s := negInf32, 0.0
	for c0 := 0; c0 < len(row); c0 += lseChunk {
		chunk := row[c0:min(c0+lseChunk, len(row))]
		mn := max(m, maxRow(chunk))
		s = lseRescale(s, m, mn) + expSumShift(chunk, lseShift(mn))
		m = mn
	}
	return lseFinish(m, s, row, 1, len(row))
}

// The running state of a log-sum-exp is a pair (m, s): m is the maximum seen
// so far ignoring NaN (-Inf before any number), and s = Σ e^(x−lseShift(m))
// over the elements seen, in float64. While m is -Inf every term is 0 or NaN,
// so s records whether a NaN was seen; while m is +Inf s is meaningless and
// lseFinish scans for NaN instead.

// lseShift is the value subtracted before the exponential: m, or 0 while m
// is -Inf (so e^(−Inf−0) = 0 and a NaN still shows in the sum).
func lseShift(m float32) float32 {
	if m == negInf32 {
		return 0
	}
	return m
}

// lseRescale re-expresses s, a sum relative to the maximum m, relative to
// the new maximum mn ≥ m. From m = -Inf the factor is 0, which keeps a NaN.
func lseRescale(s float64, m, mn float32) float64 {
	if m == mn {
		return s
	}
	return s * math.Exp(float64(m)-float64(mn))
}

// lseMerge combines two running states.
func lseMerge(m1 float32, s1 float64, m2 float32, s2 float64) (float32, float64) {
	m := max(m1, m2)
	if m == negInf32 {
		return m, s1 + s2
	}
	return m, lseRescale(s1, m1, m) + lseRescale(s2, m2, m)
}

// lseFinish turns the state (m, s) of the n elements x[0], x[stride], … into
// their log-sum-exp: m + log s, or, when m is ±Inf, m unless an element is
// NaN.
func lseFinish(m float32, s float64, x []float32, stride, n int) float32 {
	if math.IsInf(float64(m), 0) {
		for i := range n {
			if v := x[i*stride]; v != v {
				return v
			}
		}
		return m
	}
	return float32(float64(m) + math.Log(s))
}

// LogSumExpCols computes, for each column j of the rows×cols matrix x,
//
//	dst[j] = log Σ_i exp(x[i·cols+j])
//
// with the column maximum subtracted first and float64 accumulation; a
// column that holds +Inf gives +Inf, a column of -Inf gives -Inf, NaN
// propagates. rows must be ≥ 1. The matrix is read once: tiles of
// lseRowBlock rows × lseColBlock columns are reduced in parallel, a chunk of
// rows at a time, and the tiles of a column are merged in order.
func LogSumExpCols(dst, x []float32, rows, cols int) {
	dst = dst[:cols]
	x = x[:rows*cols]
	ncb := (cols + lseColBlock - 1) / lseColBlock
	nrb := (rows + lseRowBlock - 1) / lseRowBlock
	ms := make([]float32, nrb*cols)
	ss := make([]float64, nrb*cols)
	tileWork := min(rows, lseRowBlock) * min(cols, lseColBlock)
	ParallelFor(ncb*nrb, Grain(ncb*nrb, tileWork, lseMinWork), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			bi, bj := t/ncb, t%ncb
			r0, r1 := bi*lseRowBlock, min(rows, (bi+1)*lseRowBlock)
			c0, c1 := bj*lseColBlock, min(cols, (bj+1)*lseColBlock)
			lseColsTile(ms[bi*cols+c0:bi*cols+c1], ss[bi*cols+c0:bi*cols+c1], x, cols, r0, r1, c0)
		}
	})
	// Merge the row tiles of each column in order and take the log.
	ParallelFor(cols, Grain(cols, 16*nrb, lseMinWork), func(lo, hi int) {
		for j := lo; j < hi; j++ {
			m, s := ms[j], ss[j]
			for bi := 1; bi < nrb; bi++ {
				m, s = lseMerge(m, s, ms[bi*cols+j], ss[bi*cols+j])
			}
			dst[j] = lseFinish(m, s, x[j:], cols, rows)
		}
	})
}

// lseColsTile reduces rows [r0, r1) of the columns [c0, c0+len(m)) of x into
// the running states (m[j], s[j]).
func lseColsTile(m []float32, s []float64, x []float32, cols, r0, r1, c0 int) {
	w := len(m)
	var mo, sh [lseColBlock]float32
	for j := range m {
		m[j] = negInf32
	}
	clear(s)
	for i0 := r0; i0 < r1; i0 += lseRowChunk {
		i1 := min(r1, i0+lseRowChunk)
		copy(mo[:w], m)
		for i := i0; i < i1; i++ {
			maxCols(m, x[i*cols+c0:i*cols+c0+w])
		}
		for j := range m {
			s[j] = lseRescale(s[j], mo[j], m[j])
			sh[j] = lseShift(m[j])
		}
		for i := i0; i < i1; i++ {
			expAccCols(s, x[i*cols+c0:i*cols+c0+w], sh[:w])
		}
	}
}

// SoftmaxRows computes, for each row i of the rows×cols matrix x,
//
//	dst[i·cols+j] = exp(x[i·cols+j] − m_i) / Σ_k exp(x[i·cols+k] − m_i),  m_i = max_k x[i·cols+k]
//
// with float64 accumulation of the denominator. A -Inf entry gets 0; a row
// holding NaN or +Inf, or only -Inf, gives NaN. dst may be x itself.
func SoftmaxRows(dst, x []float32, rows, cols int) {
	dst = dst[:rows*cols]
	x = x[:rows*cols]
	if g := Grain(rows, cols, lseMinWork); g < rows {
		ParallelFor(rows, g, func(lo, hi int) { softmaxRows(dst, x, cols, lo, hi) })
		return
	}
	softmaxRows(dst, x, cols, 0, rows)
}

func softmaxRows(dst, x []float32, cols, lo, hi int) {
	for i := lo; i < hi; i++ {
		xr, dr := x[i*cols:(i+1)*cols], dst[i*cols:(i+1)*cols]
		s := expStoreShift(dr, xr, lseShift(maxRow(xr)))
		scaleSlice(dr, float32(1/s))
	}
}

// LogSoftmaxRows computes, for each row i of the rows×cols matrix x,
//
//	dst[i·cols+j] = x[i·cols+j] − log Σ_k exp(x[i·cols+k])
//
// through the row maximum. dst may be x itself.
func LogSoftmaxRows(dst, x []float32, rows, cols int) {
	dst = dst[:rows*cols]
	x = x[:rows*cols]
	if g := Grain(rows, cols, lseMinWork); g < rows {
		ParallelFor(rows, g, func(lo, hi int) { logSoftmaxRows(dst, x, cols, lo, hi) })
		return
	}
	logSoftmaxRows(dst, x, cols, 0, rows)
}

func logSoftmaxRows(dst, x []float32, cols, lo, hi int) {
	for i := lo; i < hi; i++ {
		xr, dr := x[i*cols:(i+1)*cols], dst[i*cols:(i+1)*cols]
		subConst(dr, xr, lseRow(xr))
	}
}
