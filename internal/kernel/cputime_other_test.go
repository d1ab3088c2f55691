//go:build !unix

package kernel

// cpuSeconds is not measured here; benchmarks then omit per-CPU figures.
func cpuSeconds() float64 { return 0 }
