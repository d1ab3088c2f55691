package sinkhorn

// Portable mixed-precision row primitives; rowops_amd64.go and
// rowops_amd64.s hold the AVX2 + FMA versions, rowops_generic.go binds
// these on other builds. The files change together.

// dot64Go returns Σ_j a[j]·v[j] with a float32 row and a float64 vector,
// accumulated in float64 over four chains.
func dot64Go(a []float32, v []float64) float64 {
	v = v[:len(a)]
	var s0, s1, s2, s3 float64
	j := 0
	for ; j+4 <= len(a); j += 4 {
		s0 += float64(a[j]) * v[j]
		s1 += float64(a[j+1]) * v[j+1]
		s2 += float64(a[j+2]) * v[j+2]
		s3 += float64(a[j+3]) * v[j+3]
	}
	for ; j < len(a); j++ {
		s0 += float64(a[j]) * v[j]
	}
	return (s0 + s1) + (s2 + s3)
}

// axpy64Go computes p[j] += alpha·a[j] in float64.
func axpy64Go(alpha float64, a []float32, p []float64) {
	p = p[:len(a)]
	j := 0
	for ; j+4 <= len(a); j += 4 {
		p[j] += alpha * float64(a[j])
		p[j+1] += alpha * float64(a[j+1])
		p[j+2] += alpha * float64(a[j+2])
		p[j+3] += alpha * float64(a[j+3])
	}
	for ; j < len(a); j++ {
		p[j] += alpha * float64(a[j])
	}
}
