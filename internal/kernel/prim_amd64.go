//go:build amd64 && !purego

package kernel

// The AVX2 + FMA bindings of the vector primitives (prim_amd64.s), used when
// the CPU has them (haveAVX2FMA), with the portable twins of prim.go
// otherwise. The assembly takes multiples of 8 elements; the tails go
// through an 8-element buffer padded with a neutral value, so they get the
// same arithmetic. prim.go, prim_generic.go and prim_amd64.s change with
// this file.

import "math"

//go:noescape
func expAVX2(dst, x *float32, n int)

//go:noescape
func expSumShiftAVX2(x *float32, n int, m float32) float64

//go:noescape
func expStoreShiftAVX2(dst, x *float32, n int, m float32) float64

//go:noescape
func maxAVX2(x *float32, n int) float32

// The AVX-512 exponentials of prim512_amd64.s (AVX512F, haveAVX512): the
// same bits as their AVX2 twins above, 16 lanes at a time.

//go:noescape
func expAVX512(dst, x *float32, n int)

//go:noescape
func expSumShiftAVX512(x *float32, n int, m float32) float64

//go:noescape
func expStoreShiftAVX512(dst, x *float32, n int, m float32) float64

//go:noescape
func expAccColsAVX512(s *float64, x, m *float32, n int)

// expVec, expSumShiftVec, expStoreShiftVec and expAccColsVec run the AVX-512 exponential
// kernels where the CPU has them, the AVX2 ones otherwise (n a multiple
// of 8).
func expVec(dst, x *float32, n int) {
	if haveAVX512 {
		expAVX512(dst, x, n)
		return
	}
	expAVX2(dst, x, n)
}

func expSumShiftVec(x *float32, n int, m float32) float64 {
	if haveAVX512 {
		return expSumShiftAVX512(x, n, m)
	}
	return expSumShiftAVX2(x, n, m)
}

func expAccColsVec(s *float64, x, m *float32, n int) {
	if haveAVX512 {
		expAccColsAVX512(s, x, m, n)
		return
	}
	expAccColsAVX2(s, x, m, n)
}

func expStoreShiftVec(dst, x *float32, n int, m float32) float64 {
	if haveAVX512 {
		return expStoreShiftAVX512(dst, x, n, m)
	}
	return expStoreShiftAVX2(dst, x, n, m)
}

//go:noescape
func maxColsAVX2(m, x *float32, n int)

//go:noescape
func expAccColsAVX2(s *float64, x, m *float32, n int)

// tail8 copies x (len < 8) into an 8-element buffer padded with pad.
func tail8(x []float32, pad float32) (buf [8]float32) {
	for i := range buf {
		buf[i] = pad
	}
	copy(buf[:], x)
	return buf
}

func maxRow(x []float32) float32 {
	if !haveAVX2FMA {
		return maxRowGo(x)
	}
	n := len(x) &^ 7
	m := float32(math.Inf(-1))
	if n > 0 {
		m = maxAVX2(&x[0], n)
	}
	for _, v := range x[n:] {
		if v > m {
			m = v
		}
	}
	return m
}

func expSlice(dst, x []float32) {
	if !haveAVX2FMA {
		expSliceGo(dst, x)
		return
	}
	dst = dst[:len(x)]
	n := len(x) &^ 7
	if n > 0 {
		expVec(&dst[0], &x[0], n)
	}
	if n < len(x) {
		buf := tail8(x[n:], 0)
		expVec(&buf[0], &buf[0], 8)
		copy(dst[n:], buf[:])
	}
}

func expSumShift(x []float32, m float32) float64 {
	if !haveAVX2FMA {
		return expSumShiftGo(x, m)
	}
	n := len(x) &^ 7
	var s float64
	if n > 0 {
		s = expSumShiftVec(&x[0], n, m)
	}
	if n < len(x) {
		// e^(−Inf−m) = 0 for every m but +Inf, whose result lseFinish fixes.
		buf := tail8(x[n:], float32(math.Inf(-1)))
		s += expSumShiftVec(&buf[0], 8, m)
	}
	return s
}

func expStoreShift(dst, x []float32, m float32) float64 {
	if !haveAVX2FMA {
		return expStoreShiftGo(dst, x, m)
	}
	dst = dst[:len(x)]
	n := len(x) &^ 7
	var s float64
	if n > 0 {
		s = expStoreShiftVec(&dst[0], &x[0], n, m)
	}
	if n < len(x) {
		buf := tail8(x[n:], float32(math.Inf(-1)))
		s += expStoreShiftVec(&buf[0], &buf[0], 8, m)
		copy(dst[n:], buf[:])
	}
	return s
}

func maxCols(m, x []float32) {
	if !haveAVX2FMA {
		maxColsGo(m, x)
		return
	}
	m = m[:len(x)]
	n := len(x) &^ 7
	if n > 0 {
		maxColsAVX2(&m[0], &x[0], n)
	}
	for j, v := range x[n:] {
		if v > m[n+j] {
			m[n+j] = v
		}
	}
}

func expAccCols(s []float64, x, m []float32) {
	if !haveAVX2FMA {
		expAccColsGo(s, x, m)
		return
	}
	s = s[:len(x)]
	m = m[:len(x)]
	n := len(x) &^ 7
	if n > 0 {
		expAccColsVec(&s[0], &x[0], &m[0], n)
	}
	if n < len(x) {
		xb, mb := tail8(x[n:], 0), tail8(m[n:], 0)
		var sb [8]float64
		copy(sb[:], s[n:])
		expAccColsVec(&sb[0], &xb[0], &mb[0], 8)
		copy(s[n:], sb[:])
	}
}

//go:noescape
func scaleAVX2(x *float32, n int, a float32)

//go:noescape
func subConstAVX2(dst, x *float32, n int, c float32)

func scaleSlice(x []float32, a float32) {
	n := len(x) &^ 7
	if haveAVX2FMA && n > 0 {
		scaleAVX2(&x[0], n, a)
	} else {
		n = 0
	}
	for i := n; i < len(x); i++ {
		x[i] *= a
	}
}

func subConst(dst, x []float32, c float32) {
	dst = dst[:len(x)]
	n := len(x) &^ 7
	if haveAVX2FMA && n > 0 {
		subConstAVX2(&dst[0], &x[0], n, c)
	} else {
		n = 0
	}
	for i := n; i < len(x); i++ {
		dst[i] = x[i] - c
	}
}
