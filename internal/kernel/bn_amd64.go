//go:build amd64 && !purego

package kernel

// The AVX2 + FMA (bn_amd64.s) and AVX-512 (bn512_amd64.s) bindings of
// bn.go's loops, with the portable twins where the CPU has neither. The
// assembly does whole spans, tails included (masked loads and stores), and
// every row of the channel in one call. The two sets add the same terms
// in the same 16 float64 lanes and the same tree, so they give the same
// bits; the element-wise loops give the bits of the portable twins. bn.go,
// bn_generic.go and the two assembly files change with this one.

//go:noescape
func bnStatsAVX2(x *float32, rows, span, ld int, k float32) (s, q float64)

//go:noescape
func bnAffineAVX2(dst, x *float32, rows, span, ld int, a, b float32, relu bool)

//go:noescape
func bnGradSumsAVX2(x, dy *float32, rows, span, ld int, mu, a, b float32, relu bool) (sg, sgx float64)

//go:noescape
func bnGradAVX2(dx, x, dy *float32, rows, span, ld int, mu, a, b, k, c0, c1 float32, relu, train bool)

//go:noescape
func bnStatsAVX512(x *float32, rows, span, ld int, k float32) (s, q float64)

//go:noescape
func bnAffineAVX512(dst, x *float32, rows, span, ld int, a, b float32, relu bool)

//go:noescape
func bnGradSumsAVX512(x, dy *float32, rows, span, ld int, mu, a, b float32, relu bool) (sg, sgx float64)

//go:noescape
func bnGradAVX512(dx, x, dy *float32, rows, span, ld int, mu, a, b, k, c0, c1 float32, relu, train bool)

// The callers in bn.go pass rows ≥ 1, span ≥ 1 and slices resliced to
// (rows−1)·ld + span values.

func bnStats(x []float32, rows, span, ld int, k float32) (s, q float64) {
	switch {
	case haveAVX512:
		return bnStatsAVX512(&x[0], rows, span, ld, k)
	case haveAVX2FMA:
		return bnStatsAVX2(&x[0], rows, span, ld, k)
	}
	return bnStatsGo(x, rows, span, ld, k)
}

func bnAffine(dst, x []float32, rows, span, ld int, a, b float32, relu bool) {
	dst = dst[:len(x)]
	switch {
	case haveAVX512:
		bnAffineAVX512(&dst[0], &x[0], rows, span, ld, a, b, relu)
	case haveAVX2FMA:
		bnAffineAVX2(&dst[0], &x[0], rows, span, ld, a, b, relu)
	default:
		bnAffineGo(dst, x, rows, span, ld, a, b, relu)
	}
}

func bnGradSums(x, dy []float32, rows, span, ld int, mu, a, b float32, relu bool) (sg, sgx float64) {
	dy = dy[:len(x)]
	switch {
	case haveAVX512:
		return bnGradSumsAVX512(&x[0], &dy[0], rows, span, ld, mu, a, b, relu)
	case haveAVX2FMA:
		return bnGradSumsAVX2(&x[0], &dy[0], rows, span, ld, mu, a, b, relu)
	}
	return bnGradSumsGo(x, dy, rows, span, ld, mu, a, b, relu)
}

func bnGrad(dx, x, dy []float32, rows, span, ld int, mu, a, b, k, c0, c1 float32, relu, train bool) {
	dx = dx[:len(x)]
	dy = dy[:len(x)]
	switch {
	case haveAVX512:
		bnGradAVX512(&dx[0], &x[0], &dy[0], rows, span, ld, mu, a, b, k, c0, c1, relu, train)
	case haveAVX2FMA:
		bnGradAVX2(&dx[0], &x[0], &dy[0], rows, span, ld, mu, a, b, k, c0, c1, relu, train)
	default:
		bnGradGo(dx, x, dy, rows, span, ld, mu, a, b, k, c0, c1, relu, train)
	}
}
