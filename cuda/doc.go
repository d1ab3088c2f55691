// Package cuda runs the library's hot paths on an NVIDIA GPU: matrix
// products and batched products through cuBLAS, fused row/column
// log-sum-exp, softmax, log-softmax and L2 normalization kernels, SwAV's
// per-batch Sinkhorn-Knopp ([Device.Balance], the contract of
// sinkhorn.swav) and SeLa's self-labelling over a matrix held on the device
// ([Device.SeLa], the contract of sinkhorn.sela).
//
// # What must be installed
//
// Nothing to build: the package compiles on every machine. At run time it
// loads the CUDA driver (libcuda.so.1), NVRTC (libnvrtc.so.13, .12 or
// .11.2) and cuBLAS (libcublas.so.13, .12 or .11) with dlopen, binding only
// the versioned ABI symbols (cuCtxCreate_v2, cuMemAlloc_v2, …) so that one
// binary works across driver versions; gorgonia.org/cu is not used because
// its latest release needs the toolkit headers at build time and does not
// compile against CUDA 13, whose cuCtxCreate takes four arguments. The
// kernels are CUDA C sources embedded in the package (kernels/kernels.cu)
// and compiled by NVRTC for the device's compute capability when a [Device]
// is opened. Without cgo, or without a driver or device, [Available]
// reports false and [Open] returns an error wrapping [ErrNoDevice].
//
// # Threads and memory
//
// A CUDA context is bound to an OS thread, so each [Device] owns one
// goroutine locked to its thread, and every call runs there. Device memory
// is held by [Tensor] values (float32, row-major, contiguous); they satisfy
// ssl.Tensor's shape side, and the CPU packages reject them with an error
// wrapping ssl.ErrShape ("not in Go memory"), so a device tensor can never
// be read by host code by mistake. Move data with [Device.Upload] and
// [Device.Download]. Free what you allocate with [Tensor.Free].
//
// # Conventions
//
// The package follows the library's conventions (see [ssl],
// "Conventions"): destinations first, scalar hyper-parameters in float64
// (rounded to float32 on the device), options last. The solvers take and
// return their CPU twins' types: [Device.Balance] takes
// sinkhorn.BalanceOptions and returns sinkhorn.Result, [Device.SeLa] takes
// sinkhorn.SeLaOptions and returns sinkhorn.SeLaResult, under the one
// stopping rule (Iterations caps, Tol = 0 runs exactly Iterations, a
// positive Tol stops once the residual is ≤ Tol). The device keeps its own
// scratch, so the options' Workspace is ignored; it always runs the log
// domain and one device, so Domain Exp and a Reducer are errors.
//
// # Errors
//
// Arguments are checked on the Go side before any call into the driver,
// with the same messages as the CPU twins; a failing CUDA, NVRTC or cuBLAS
// call returns an [*Error] that carries the call and the result's name. A
// missed Tol returns the complete result with an error wrapping
// [ErrNotConverged], which is sinkhorn.ErrNotConverged (and wraps
// ssl.ErrNotConverged). No panic crosses the boundary and C never keeps a
// Go pointer.
//
// # Numerics
//
// Balance and SeLa iterate on dual potentials in the log domain (log-sum-exp
// reductions over scores/ε + potentials), so no exponential can overflow or
// underflow float32 whatever the scale of the scores; this equals SwAV's and
// SeLa's exp-domain iterations exactly in real arithmetic (the shift each
// normalization applies is absorbed by the potentials).
package cuda
