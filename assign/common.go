package assign

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"ssl"
)

// ErrNotConverged is wrapped by the error an iterative method returns when
// it ran out of iterations before meeting its tolerance. The result returned
// with it holds the partial solution and the iterations run. Test for it
// with errors.Is.
var ErrNotConverged = errors.New("assign: not converged")

// normEps is torch.nn.functional.normalize's default epsilon, which the
// references (SCAN's ContrastiveModel, PCL's centroid normalisation) use.
const normEps = 1e-12

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// matrix views t as rows×cols, naming the function and argument in errors.
func matrix(fn, name string, t ssl.Tensor) (rows, cols int, data []float32, err error) {
	if t == nil {
		return 0, 0, nil, fmt.Errorf("assign: %s: %s is nil: %w", fn, name, ssl.ErrShape)
	}
	rows, cols, data, err = ssl.Matrix(t)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("assign: %s: %s: %w", fn, name, err)
	}
	return rows, cols, data, nil
}

// matrixOf views t, which must be rows×cols.
func matrixOf(fn, name string, t ssl.Tensor, rows, cols int) ([]float32, error) {
	if t == nil {
		return nil, fmt.Errorf("assign: %s: %s is nil: %w", fn, name, ssl.ErrShape)
	}
	data, err := ssl.MatrixOf(t, rows, cols)
	if err != nil {
		return nil, fmt.Errorf("assign: %s: %s: %w", fn, name, err)
	}
	return data, nil
}

// checkFinite returns an error wrapping ssl.ErrNotFinite naming the first
// row of the rows×cols matrix x that holds a NaN or an infinity.
func checkFinite(fn, name string, x []float32, rows, cols int) error {
	for i := range rows {
		for j, v := range x[i*cols : (i+1)*cols] {
			if v-v != 0 {
				return fmt.Errorf("assign: %s: %s[%d,%d] is %v: %w", fn, name, i, j, v, ssl.ErrNotFinite)
			}
		}
	}
	return nil
}

func checkRand(fn string, rng *rand.Rand) error {
	if rng == nil {
		return fmt.Errorf("assign: %s: rng is nil (pass a seeded *rand.Rand): %w", fn, ssl.ErrParam)
	}
	return nil
}

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
