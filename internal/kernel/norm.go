package kernel

import "math"

// L2NormalizeRows computes, for each row i of the rows×cols matrix x,
//
//	n_i = ‖x_i‖₂,  dst_i = x_i / max(n_i, eps)
//
// (torch.nn.functional.normalize) and stores n_i in norms[i] when norms is
// not nil. Norms accumulate in float64. dst may be x itself.
func L2NormalizeRows(dst, norms, x []float32, rows, cols int, eps float32) {
	dst = dst[:rows*cols]
	x = x[:rows*cols]
	for i := range rows {
		xr, dr := x[i*cols:(i+1)*cols], dst[i*cols:(i+1)*cols]
		n := Norm(xr)
		if norms != nil {
			norms[i] = float32(n)
		}
		inv := 1 / math.Max(n, float64(eps))
		for j, v := range xr {
			dr[j] = float32(float64(v) * inv)
		}
	}
}

// L2NormalizeRowsBackward computes the gradient through L2NormalizeRows.
// Given y = x/max(‖x‖, eps) (the forward output), the norms ‖x_i‖ it stored
// and the upstream gradient dy, it writes
//
//	dx_i = (dy_i − (dy_i·y_i)·y_i) / ‖x_i‖   if ‖x_i‖ > eps
//	dx_i = dy_i / eps                         otherwise
//
// dx may be dy itself.
func L2NormalizeRowsBackward(dx, dy, y, norms []float32, rows, cols int, eps float32) {
	dx = dx[:rows*cols]
	dy = dy[:rows*cols]
	y = y[:rows*cols]
	for i := range rows {
		yr, gr, dr := y[i*cols:(i+1)*cols], dy[i*cols:(i+1)*cols], dx[i*cols:(i+1)*cols]
		n := float64(norms[i])
		if n <= float64(eps) {
			inv := 1 / float64(eps)
			for j, g := range gr {
				dr[j] = float32(float64(g) * inv)
			}
			continue
		}
		c := Dot(gr, yr)
		inv := 1 / n
		for j, g := range gr {
			dr[j] = float32((float64(g) - c*float64(yr[j])) * inv)
		}
	}
}
