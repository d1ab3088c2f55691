package kernel

// L2 row normalisation and its backward. The loops over rows are bound in
// norm_amd64.go (AVX2 + FMA and AVX-512 assembly, norm_amd64.s and
// norm512_amd64.s) and norm_generic.go (the portable twins below and in
// reduce.go); the six files change together.

import "math"

// normBlockRows rows at most, and normBlockElems elements (32 KB of x, within
// the 32–48 KB L1d of current x86 and Arm cores), are done per pass: sums of
// the block's rows first, then their stores while the rows are still in L1.
const (
	normBlockRows  = 64
	normBlockElems = 8192
)

// normBlock returns the number of rows of cols elements done per pass.
func normBlock(cols int) int {
	return max(1, min(normBlockRows, normBlockElems/max(cols, 1)))
}

// L2NormalizeRows computes, for each row i of the rows×cols matrix x,
//
//	n_i = ‖x_i‖₂,  dst_i = x_i / max(n_i, eps)
//
// (torch.nn.functional.normalize) and stores n_i in norms[i] when norms is
// not nil. n_i = [Norm](x_i), accumulated in float64; dst_i is x_i times
// the float64 reciprocal 1/max(n_i, eps), rounded once to float32. dst may
// be x itself.
//
// The accelerated and the portable build sum the squares in different
// orders (see [Dot] for the bound: a relative 2·γ(cols−1) ≤ cols·2.3e-16
// on the sum); for cols < 2²⁸ each norm and each element of dst is the
// same float32 in both or one of its two neighbours.
func L2NormalizeRows(dst, norms, x []float32, rows, cols int, eps float32) {
	dst = dst[:rows*cols]
	x = x[:rows*cols]
	var s [normBlockRows]float64
	br := normBlock(cols)
	for r0 := 0; r0 < rows; r0 += br {
		nr := min(br, rows-r0)
		xb, db := x[r0*cols:(r0+nr)*cols], dst[r0*cols:(r0+nr)*cols]
		sumSqRows(s[:nr], xb, nr, cols)
		for i, si := range s[:nr] {
			n := math.Sqrt(si)
			if norms != nil {
				norms[r0+i] = float32(n)
			}
			s[i] = 1 / math.Max(n, float64(eps))
		}
		scaleRows(db, xb, s[:nr], nr, cols)
	}
}

// L2NormalizeRowsBackward computes the gradient through L2NormalizeRows.
// Given y = x/max(‖x‖, eps) (the forward output), the norms ‖x_i‖ it stored
// and the upstream gradient dy, it writes
//
//	dx_i = (dy_i − (dy_i·y_i)·y_i) / ‖x_i‖   if ‖x_i‖ > eps
//	dx_i = dy_i / eps                         otherwise
//
// with c_i = dy_i·y_i = [Dot](dy_i, y_i) and each element computed in
// float64 by separately rounded operations, (dy_ij − c_i·y_ij)·(1/‖x_i‖)
// (or dy_ij·(1/eps)), then rounded to float32. dx may be dy itself.
//
// Between the accelerated and the portable build only c_i differs, by at
// most 2·γ(cols−1)·Σ_j |dy_ij·y_ij| (see [Dot]), which moves dx_ij by at
// most that times |y_ij|/‖x_i‖ before the final rounding.
func L2NormalizeRowsBackward(dx, dy, y, norms []float32, rows, cols int, eps float32) {
	dx = dx[:rows*cols]
	dy = dy[:rows*cols]
	y = y[:rows*cols]
	norms = norms[:rows]
	var c, a [normBlockRows]float64
	br := normBlock(cols)
	for r0 := 0; r0 < rows; r0 += br {
		nr := min(br, rows-r0)
		lo, hi := r0*cols, (r0+nr)*cols
		xb, gb, yb := dx[lo:hi], dy[lo:hi], y[lo:hi]
		dotRows(c[:nr], gb, yb, nr, cols)
		// Runs of rows above eps (or NaN) go to projectOutRows; the rows
		// under the clamp are scaled one at a time.
		start := 0
		for i := 0; i <= nr; i++ {
			if i < nr {
				if n := float64(norms[r0+i]); !(n <= float64(eps)) {
					a[i] = 1 / n
					continue
				}
			}
			if i > start {
				projectOutRows(xb[start*cols:i*cols], gb[start*cols:i*cols], yb[start*cols:i*cols], c[start:i], a[start:i], i-start, cols)
			}
			if i < nr {
				scaleTo(xb[i*cols:(i+1)*cols], gb[i*cols:(i+1)*cols], 1/float64(eps))
			}
			start = i + 1
		}
	}
}

// sumSqRowsGo computes s[i] = sumSqGo(x_i) for the rows of the rows×cols x.
func sumSqRowsGo(s []float64, x []float32, rows, cols int) {
	s = s[:rows]
	for i := range s {
		s[i] = sumSqGo(x[i*cols : (i+1)*cols])
	}
}

// dotRowsGo computes s[i] = dotGo(x_i, y_i) for the rows of the rows×cols x
// and y.
func dotRowsGo(s []float64, x, y []float32, rows, cols int) {
	s = s[:rows]
	for i := range s {
		s[i] = dotGo(x[i*cols:(i+1)*cols], y[i*cols:(i+1)*cols])
	}
}

// scaleToGo computes dst[j] = float32(float64(x[j])·a). dst may be x.
func scaleToGo(dst, x []float32, a float64) {
	dst = dst[:len(x)]
	for j, v := range x {
		dst[j] = float32(float64(v) * a)
	}
}

// scaleRowsGo computes scaleToGo(dst_i, x_i, a[i]) for the rows of the
// rows×cols dst and x.
func scaleRowsGo(dst, x []float32, a []float64, rows, cols int) {
	for i, ai := range a[:rows] {
		scaleToGo(dst[i*cols:(i+1)*cols], x[i*cols:(i+1)*cols], ai)
	}
}

// projectOutGo computes dst[j] = float32((float64(dy[j]) − c·float64(y[j]))·a),
// each operation rounded to float64 (the conversion keeps the product
// from being fused into the subtraction; the assembly does not fuse it
// either). dst may be dy itself.
func projectOutGo(dst, dy, y []float32, c, a float64) {
	dst = dst[:len(dy)]
	y = y[:len(dy)]
	for j, v := range dy {
		dst[j] = float32((float64(v) - float64(c*float64(y[j]))) * a)
	}
}

// projectOutRowsGo computes projectOutGo(dst_i, dy_i, y_i, c[i], a[i]) for
// the rows of the rows×cols dst, dy and y.
func projectOutRowsGo(dst, dy, y []float32, c, a []float64, rows, cols int) {
	for i := range rows {
		lo, hi := i*cols, (i+1)*cols
		projectOutGo(dst[lo:hi], dy[lo:hi], y[lo:hi], c[i], a[i])
	}
}
