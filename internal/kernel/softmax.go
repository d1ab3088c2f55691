package kernel

import "math"

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
	ParallelFor(rows, Grain(rows, cols, 1<<14), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			dst[i] = lseRow(x[i*cols : (i+1)*cols])
		}
	})
}

func lseRow(row []float32) float32 {
	m, _ := Max(row)
	if math.IsInf(float64(m), 0) || m != m {
		return infOrNaN(m, row)
	}
	var s float64
	for _, v := range row {
		s += float64(Exp32(v - m))
	}
	return m + float32(math.Log(s))
}

// infOrNaN is the log-sum-exp of a row whose maximum m is ±Inf or NaN: NaN
// if any element is NaN, m otherwise.
func infOrNaN(m float32, row []float32) float32 {
	for _, v := range row {
		if v != v {
			return v
		}
	}
	return m
}

// LogSumExpCols computes, for each column j of the rows×cols matrix x,
//
//	dst[j] = log Σ_i exp(x[i·cols+j])
//
// with the column maximum subtracted first and float64 accumulation.
// rows must be ≥ 1.
func LogSumExpCols(dst, x []float32, rows, cols int) {
	dst = dst[:cols]
	x = x[:rows*cols]
	// Columns are split in fixed blocks; each block streams over all rows.
	ParallelFor(cols, Grain(cols, rows, 1<<14), func(lo, hi int) {
		w := hi - lo
		m := make([]float32, w)
		s := make([]float64, w)
		copy(m, x[lo:hi])
		for i := 1; i < rows; i++ {
			row := x[i*cols+lo : i*cols+hi]
			for j, v := range row {
				if v > m[j] || (m[j] != m[j]) {
					m[j] = v
				}
			}
		}
		for i := 0; i < rows; i++ {
			row := x[i*cols+lo : i*cols+hi]
			for j, v := range row {
				s[j] += float64(Exp32(v - m[j]))
			}
		}
		for j := range w {
			if math.IsInf(float64(m[j]), 0) || m[j] != m[j] {
				// s[j] is NaN exactly when the column holds a NaN.
				if s[j] != s[j] {
					dst[lo+j] = float32(s[j])
				} else {
					dst[lo+j] = m[j]
				}
				continue
			}
			dst[lo+j] = m[j] + float32(math.Log(s[j]))
		}
	})
}

// SoftmaxRows computes, for each row i of the rows×cols matrix x,
//
//	dst[i·cols+j] = exp(x[i·cols+j] − m_i) / Σ_k exp(x[i·cols+k] − m_i),  m_i = max_k x[i·cols+k]
//
// with float64 accumulation of the denominator. dst may be x itself.
func SoftmaxRows(dst, x []float32, rows, cols int) {
	dst = dst[:rows*cols]
	x = x[:rows*cols]
	ParallelFor(rows, Grain(rows, cols, 1<<14), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xr, dr := x[i*cols:(i+1)*cols], dst[i*cols:(i+1)*cols]
			m, _ := Max(xr)
			var s float64
			for j, v := range xr {
				e := Exp32(v - m)
				dr[j] = e
				s += float64(e)
			}
			inv := float32(1 / s)
			for j := range dr {
				dr[j] *= inv
			}
		}
	})
}

// LogSoftmaxRows computes, for each row i of the rows×cols matrix x,
//
//	dst[i·cols+j] = x[i·cols+j] − log Σ_k exp(x[i·cols+k])
//
// through the row maximum. dst may be x itself.
func LogSoftmaxRows(dst, x []float32, rows, cols int) {
	dst = dst[:rows*cols]
	x = x[:rows*cols]
	ParallelFor(rows, Grain(rows, cols, 1<<14), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			xr, dr := x[i*cols:(i+1)*cols], dst[i*cols:(i+1)*cols]
			l := lseRow(xr)
			for j, v := range xr {
				dr[j] = v - l
			}
		}
	})
}
