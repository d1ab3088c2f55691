// Package kernel holds the library's shared float32 numerics: the matrix
// product, the exponential and the row/column log-sum-exp, softmax and
// log-softmax built on it, L2 row normalisation and its backward, the
// per-channel loops of batch normalisation, im2col and col2im for
// convolutions, 2×2 max pooling, float64 accumulating reductions, and a
// deterministic parallel loop.
//
// # Contract
//
// Kernels take []float32 plus explicit sizes and assume their checked caller
// passed valid sizes; a violation is a bug and may panic. They never scan for
// NaN. Each is documented by the loop it equals. Every kernel is safe for
// concurrent use: scratch comes from pools or the stack, never from package
// state.
//
// # Aliasing
//
// Outputs may alias inputs only where a kernel's doc says so (Exp, the
// softmax kernels, L2NormalizeRows and its backward allow dst to be the
// input itself); Gemm's C must not overlap A or B.
//
// # Determinism
//
// Work is split into blocks whose bounds depend only on the problem size,
// never on GOMAXPROCS, and every output element is computed by one goroutine
// in a fixed order, so results are bit-identical for any thread count. They
// may differ in the last bits between the accelerated and the portable
// build (fused multiply-adds, summation in vector lanes).
//
// # Acceleration
//
// On amd64 with AVX2 and FMA (checked at run time with golang.org/x/sys/cpu)
// Gemm runs a packed, cache-blocked product around a 6×16 register-blocked
// micro-kernel in assembly (gemm_amd64.s), or with AVX512F, for all but the
// smallest products, a 14×32 one (gemm512_amd64.s) that gives the same
// bits, and the exponential, log-sum-exp
// and softmax kernels run 8-lane assembly loops (prim_amd64.s, or
// prim512_amd64.s on 16 lanes). Dot, Norm and the L2 normalisation widen
// to float64 and sum in 32 lanes (norm_amd64.s, norm512_amd64.s); the
// batch-normalisation statistics and backward sums do the same in 16
// lanes, and its affine map and input gradient run element-wise with the
// portable loops' bits (bn_amd64.s, bn512_amd64.s); im2col and col2im of
// stride-1 convolutions move rows with masked loads and stores, the same
// bits as the portable loops (im2col_amd64.s, im2col512_amd64.s), and 2×2
// max pooling picks values and indices under vector masks, the same
// values and indices (pool_amd64.s, pool512_amd64.s). Elsewhere,
// or when built with the purego tag, the portable Go twins run; both are
// tested on amd64. README.md lists the measured speeds.
package kernel
