package assign

import (
	"fmt"
	"math"

	"ssl"
)

// ErrNotConverged is wrapped by the error an iterative method returns when
// its residual is still above a positive Tol after Iterations. The result
// returned with it is complete and usable (the last iterate, with the
// iterations run and the residual). It wraps ssl.ErrNotConverged; test for
// either with errors.Is.
var ErrNotConverged = fmt.Errorf("assign: %w", ssl.ErrNotConverged)

// normEps is torch.nn.functional.normalize's default epsilon, which the
// references (SCAN's ContrastiveModel, PCL's centroid normalisation, DINO's
// kNN features) use.
const normEps = 1e-12

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// rowNorms2 writes ‖x_i‖² (accumulated in float64, rounded to float32) for
// each row of the rows×cols matrix x.
func rowNorms2(dst, x []float32, rows, cols int) {
	for i := range rows {
		r := x[i*cols : (i+1)*cols]
		var s float64
		for _, v := range r {
			s += float64(v) * float64(v)
		}
		dst[i] = float32(s)
	}
}
