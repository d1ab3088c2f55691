//go:build !amd64 || purego

package sinkhorn

func dot64(a []float32, v []float64) float64 { return dot64Go(a, v) }

func axpy64(alpha float64, a []float32, p []float64) { axpy64Go(alpha, a, p) }
