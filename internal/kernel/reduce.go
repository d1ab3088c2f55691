package kernel

import (
	"math"
	"unsafe"
)

// Dot returns Σ_i x[i]·y[i] accumulated in float64. len(y) must be ≥ len(x).
//
// Every product of two float32 values is exact in float64 (48 significant
// bits of 53, and no overflow or underflow), so only the additions round.
// The accelerated build adds in another order than the portable one (32
// float64 lanes, see norm_amd64.s), and for any order the sum lies within
// γ(n−1)·Σ_i |x[i]·y[i]| of the exact one, γ(k) = k·u/(1−k·u), u = 2⁻⁵³
// (Higham, Accuracy and Stability of Numerical Algorithms, 2nd ed., eq.
// 4.4): the two builds differ by at most twice that.
func Dot(x, y []float32) float64 { return dot(x, y[:len(x)]) }

// dotGo is the portable Dot: four float64 accumulators over i mod 4, the
// tail added to the first, combined as (s0+s1)+(s2+s3).
func dotGo(x, y []float32) float64 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i]) * float64(y[i])
		s1 += float64(x[i+1]) * float64(y[i+1])
		s2 += float64(x[i+2]) * float64(y[i+2])
		s3 += float64(x[i+3]) * float64(y[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i]) * float64(y[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// sumSqGo returns Σ_i x[i]², the same bits as dotGo(x, x).
func sumSqGo(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i]) * float64(x[i])
		s1 += float64(x[i+1]) * float64(x[i+1])
		s2 += float64(x[i+2]) * float64(x[i+2])
		s3 += float64(x[i+3]) * float64(x[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i]) * float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// Sum returns Σ_i x[i] accumulated in float64.
func Sum(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i])
		s1 += float64(x[i+1])
		s2 += float64(x[i+2])
		s3 += float64(x[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i])
	}
	return (s0 + s1) + (s2 + s3)
}

// Norm returns the Euclidean norm sqrt(Σ_i x[i]²) accumulated in float64:
// the same bits as math.Sqrt(Dot(x, x)), read once.
func Norm(x []float32) float64 { return math.Sqrt(sumSq(x)) }

// Axpy computes y[i] += alpha·x[i]. len(y) must be ≥ len(x).
func Axpy(alpha float32, x, y []float32) {
	y = y[:len(x)]
	for i, v := range x {
		y[i] += alpha * v
	}
}

// Scale computes x[i] *= alpha (scaleSlice: 8 lanes of float32 products on
// amd64 with AVX2, the same bits as the loop).
func Scale(alpha float32, x []float32) { scaleSlice(x, alpha) }

// Max returns the largest element of x and its first index; x must not be
// empty. NaNs are ignored unless every element is NaN.
func Max(x []float32) (float32, int) {
	m, at := x[0], 0
	for i, v := range x {
		if v > m || (m != m && v == v) {
			m, at = v, i
		}
	}
	return m, at
}

// AllFinite reports whether no element of x is NaN or ±Inf.
func AllFinite(x []float32) bool {
	for _, v := range x {
		if v-v != 0 {
			return false
		}
	}
	return true
}

// Overlaps reports whether a and b share any element of memory.
func Overlaps(a, b []float32) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	a0, a1 := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&a[len(a)-1]))
	b0, b1 := uintptr(unsafe.Pointer(&b[0])), uintptr(unsafe.Pointer(&b[len(b)-1]))
	return a0 <= b1 && b0 <= a1
}
