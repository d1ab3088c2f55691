//go:build !amd64 || purego

package kernel

// The portable bindings of bn.go's loops; bn_amd64.go holds the
// accelerated ones.

func bnStats(x []float32, rows, span, ld int, k float32) (s, q float64) {
	return bnStatsGo(x, rows, span, ld, k)
}

func bnAffine(dst, x []float32, rows, span, ld int, a, b float32, relu bool) {
	bnAffineGo(dst, x, rows, span, ld, a, b, relu)
}

func bnGradSums(x, dy []float32, rows, span, ld int, mu, a, b float32, relu bool) (sg, sgx float64) {
	return bnGradSumsGo(x, dy, rows, span, ld, mu, a, b, relu)
}

func bnGrad(dx, x, dy []float32, rows, span, ld int, mu, a, b, k, c0, c1 float32, relu, train bool) {
	bnGradGo(dx, x, dy, rows, span, ld, mu, a, b, k, c0, c1, relu, train)
}
