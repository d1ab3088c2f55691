// Package kernel holds the library's shared float32 numerics: the matrix
// product, the exponential and the row/column log-sum-exp, softmax and
// log-softmax built on it, L2 row normalisation and its backward, float64
// accumulating reductions, and a deterministic parallel loop.
//
// # Contract
//
// Kernels take []float32 plus explicit sizes and assume their checked caller
// passed valid sizes; a violation is a bug and may panic. They never scan for
// NaN. Each is documented by the loop it equals.
//
// # Determinism
//
// Work is split into blocks whose bounds depend only on the problem size,
// never on GOMAXPROCS, and every output element is computed by one goroutine
// in a fixed order, so results are bit-identical for any thread count.
package kernel
