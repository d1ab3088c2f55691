//go:build !race

package backbone_test

// raceEnabled reports whether the race detector is on. Under it sync.Pool
// drops a quarter of what is Put (to expose races on pooled objects), so
// code that reuses pooled scratch (the GEMM panels, the ParallelFor jobs)
// allocates at random and allocation counts that rely on the pools are not
// checked then.
const raceEnabled = false
