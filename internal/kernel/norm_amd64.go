//go:build amd64 && !purego

package kernel

// The AVX2 + FMA (norm_amd64.s) and AVX-512 (norm512_amd64.s) bindings of
// norm.go's row loops, with the portable twins (norm.go, reduce.go) where
// the CPU has neither. The assembly does the first cols&^7 elements of each
// row and the last cols%8 are done here, each added to the row's sum in
// order or stored with the twins' arithmetic. Both assembly sets add the
// same products in the same order (32 float64 lanes, then one fixed tree),
// so AVX2 and AVX-512 give the same bits; the element-wise loops give the
// bits of the portable twins. norm.go, norm_generic.go, reduce.go and the
// two assembly files change with this one.

//go:noescape
func sumSqRowsAVX2(s *float64, x *float32, rows, n, ld int)

//go:noescape
func dotRowsAVX2(s *float64, x, y *float32, rows, n, ld int)

//go:noescape
func scaleRowsAVX2(dst, x *float32, a *float64, rows, n, ld int)

//go:noescape
func projectOutRowsAVX2(dst, dy, y *float32, c, a *float64, rows, n, ld int)

//go:noescape
func sumSqRowsAVX512(s *float64, x *float32, rows, n, ld int)

//go:noescape
func dotRowsAVX512(s *float64, x, y *float32, rows, n, ld int)

//go:noescape
func scaleRowsAVX512(dst, x *float32, a *float64, rows, n, ld int)

//go:noescape
func projectOutRowsAVX512(dst, dy, y *float32, c, a *float64, rows, n, ld int)

func sumSq(x []float32) float64 {
	var s [1]float64
	sumSqRows(s[:], x, 1, len(x))
	return s[0]
}

func dot(x, y []float32) float64 {
	var s [1]float64
	dotRows(s[:], x, y[:len(x)], 1, len(x))
	return s[0]
}

func sumSqRows(s []float64, x []float32, rows, cols int) {
	n := cols &^ 7
	if !haveAVX2FMA || n == 0 || rows == 0 {
		sumSqRowsGo(s, x, rows, cols)
		return
	}
	s = s[:rows]
	x = x[:rows*cols]
	if haveAVX512 {
		sumSqRowsAVX512(&s[0], &x[0], rows, n, cols)
	} else {
		sumSqRowsAVX2(&s[0], &x[0], rows, n, cols)
	}
	if n == cols {
		return
	}
	for i := range s {
		for _, v := range x[i*cols+n : (i+1)*cols] {
			s[i] += float64(v) * float64(v)
		}
	}
}

func dotRows(s []float64, x, y []float32, rows, cols int) {
	n := cols &^ 7
	if !haveAVX2FMA || n == 0 || rows == 0 {
		dotRowsGo(s, x, y, rows, cols)
		return
	}
	s = s[:rows]
	x = x[:rows*cols]
	y = y[:rows*cols]
	if haveAVX512 {
		dotRowsAVX512(&s[0], &x[0], &y[0], rows, n, cols)
	} else {
		dotRowsAVX2(&s[0], &x[0], &y[0], rows, n, cols)
	}
	if n == cols {
		return
	}
	for i := range s {
		for j := i*cols + n; j < (i+1)*cols; j++ {
			s[i] += float64(x[j]) * float64(y[j])
		}
	}
}

func scaleTo(dst, x []float32, a float64) {
	scaleRows(dst, x, []float64{a}, 1, len(x))
}

func scaleRows(dst, x []float32, a []float64, rows, cols int) {
	n := cols &^ 7
	if !haveAVX2FMA || n == 0 || rows == 0 {
		scaleRowsGo(dst, x, a, rows, cols)
		return
	}
	a = a[:rows]
	x = x[:rows*cols]
	dst = dst[:rows*cols]
	if haveAVX512 {
		scaleRowsAVX512(&dst[0], &x[0], &a[0], rows, n, cols)
	} else {
		scaleRowsAVX2(&dst[0], &x[0], &a[0], rows, n, cols)
	}
	if n == cols {
		return
	}
	for i, ai := range a {
		scaleToGo(dst[i*cols+n:(i+1)*cols], x[i*cols+n:(i+1)*cols], ai)
	}
}

func projectOutRows(dst, dy, y []float32, c, a []float64, rows, cols int) {
	n := cols &^ 7
	if !haveAVX2FMA || n == 0 || rows == 0 {
		projectOutRowsGo(dst, dy, y, c, a, rows, cols)
		return
	}
	c = c[:rows]
	a = a[:rows]
	dy = dy[:rows*cols]
	y = y[:rows*cols]
	dst = dst[:rows*cols]
	if haveAVX512 {
		projectOutRowsAVX512(&dst[0], &dy[0], &y[0], &c[0], &a[0], rows, n, cols)
	} else {
		projectOutRowsAVX2(&dst[0], &dy[0], &y[0], &c[0], &a[0], rows, n, cols)
	}
	if n == cols {
		return
	}
	for i := range a {
		lo, hi := i*cols+n, (i+1)*cols
		projectOutGo(dst[lo:hi], dy[lo:hi], y[lo:hi], c[i], a[i])
	}
}
