package kernel

// Portable versions of the vector primitives the row and column kernels are
// built from. prim_amd64.go and prim_generic.go bind the unexported names the
// kernels call (maxRow, expSumShift, …) to these or to the AVX2 assembly in
// prim_amd64.s; the three files change together.

import "math"

// maxRowGo returns max(-Inf, x[0], x[1], …), ignoring NaN.
func maxRowGo(x []float32) float32 {
	m := float32(math.Inf(-1))
	for _, v := range x {
		if v > m {
			m = v
		}
	}
	return m
}

// expSliceGo computes dst[i] = e^x[i].
func expSliceGo(dst, x []float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = Exp32(v)
	}
}

// expSumShiftGo returns Σ_i e^(x[i]−m), accumulated in float64.
func expSumShiftGo(x []float32, m float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(Exp32(v - m))
	}
	return s
}

// expStoreShiftGo computes dst[i] = e^(x[i]−m) and returns Σ_i dst[i]
// accumulated in float64.
func expStoreShiftGo(dst, x []float32, m float32) float64 {
	dst = dst[:len(x)]
	var s float64
	for i, v := range x {
		e := Exp32(v - m)
		dst[i] = e
		s += float64(e)
	}
	return s
}

// maxColsGo computes m[j] = max(m[j], x[j]), ignoring NaN in x.
func maxColsGo(m, x []float32) {
	m = m[:len(x)]
	for j, v := range x {
		if v > m[j] {
			m[j] = v
		}
	}
}

// expAccColsGo computes s[j] += e^(x[j]−m[j]) in float64.
func expAccColsGo(s []float64, x, m []float32) {
	s = s[:len(x)]
	m = m[:len(x)]
	for j, v := range x {
		s[j] += float64(Exp32(v - m[j]))
	}
}

// scaleSliceGo computes x[i] *= a.
func scaleSliceGo(x []float32, a float32) {
	for i := range x {
		x[i] *= a
	}
}

// subConstGo computes dst[i] = x[i] − c.
func subConstGo(dst, x []float32, c float32) {
	dst = dst[:len(x)]
	for i, v := range x {
		dst[i] = v - c
	}
}
