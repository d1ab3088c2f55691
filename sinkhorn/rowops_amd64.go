//go:build amd64 && !purego

package sinkhorn

// AVX2 + FMA bindings of the mixed-precision row primitives
// (rowops_amd64.s), used when the CPU has them; rowops.go holds the
// portable twins, rowops_generic.go the other builds. These files change
// together.

import "golang.org/x/sys/cpu"

var haveAVX2FMA = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// dotAVX2 returns Σ_j a[j]·v[j] for n a positive multiple of 16.
//
//go:noescape
func dotAVX2(a *float32, v *float64, n int) float64

// axpyAVX2 computes p[j] += alpha·a[j] for n a positive multiple of 16.
//
//go:noescape
func axpyAVX2(alpha float64, a *float32, p *float64, n int)

func dot64(a []float32, v []float64) float64 {
	if !haveAVX2FMA || len(a) < 16 {
		return dot64Go(a, v)
	}
	v = v[:len(a)]
	n := len(a) &^ 15
	s := dotAVX2(&a[0], &v[0], n)
	for j := n; j < len(a); j++ {
		s += float64(a[j]) * v[j]
	}
	return s
}

func axpy64(alpha float64, a []float32, p []float64) {
	if !haveAVX2FMA || len(a) < 16 {
		axpy64Go(alpha, a, p)
		return
	}
	p = p[:len(a)]
	n := len(a) &^ 15
	axpyAVX2(alpha, &a[0], &p[0], n)
	for j := n; j < len(a); j++ {
		p[j] += alpha * float64(a[j])
	}
}
