package probe

import (
	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// checkFeatures views x as a non-empty matrix of finite values; fn is
// "probe: Func". The finiteness scan is one vectorized pass, small next to
// any evaluation.
func checkFeatures(fn, name string, x ssl.Tensor) (n, d int, xv []float32, err error) {
	n, d, xv, err = check.NonEmptyMatrix(fn, name, x)
	if err != nil {
		return 0, 0, nil, err
	}
	if !kernel.AllFinite(xv) {
		if err := check.FiniteData(fn, name, xv, n, d); err != nil {
			return 0, 0, nil, err
		}
	}
	return n, d, xv, nil
}
