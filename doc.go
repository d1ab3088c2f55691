// Package ssl is the root of an embeddable library of clustering-based
// self-supervised learning objectives: the pieces the SSL papers are made of,
// as small pure functions with their gradients.
//
// This package holds what every other one shares: the [Tensor] interface the
// API takes (satisfied by gorgonia.org/tensor's *tensor.Dense), the helpers
// that view a Tensor as contiguous float32 data ([Matrix], [View], …) or
// part of one ([Rows], [Row], [Reshape]), the few operations a training
// loop needs around the objectives ([MatMul], [NormalizeRows],
// [SoftmaxRows], [ArgmaxRows], [Clone]), and the sentinel errors every
// failure wraps ([ErrShape], [ErrParam], [ErrNotFinite], [ErrNotConverged],
// [ErrFormat]).
//
// # Packages
//
//	ssl/sinkhorn  Sinkhorn-Knopp balanced assignment: SwAV's per-batch codes
//	              (Caron et al. 2020, Alg. 1 / App. A.1), SeLa's self-labelling
//	              (Asano et al. 2020, eq. 6–8), general marginals and the log
//	              domain (Cuturi 2013; Schmitzer 2019), sharded over workers.
//	ssl/assign    pseudo-labels other than Sinkhorn: MIRA (Lee et al. 2022),
//	              k-means as DeepCluster (Caron et al. 2018) and PCL (Li et al.
//	              2021) run it, PCA whitening, PCL concentration, neighbour
//	              mining (SCAN, Van Gansbeke et al. 2020), hierarchical
//	              clustering (DeeperCluster, Caron et al. 2019), Local
//	              Aggregation's neighbour sets (Zhuang et al. 2019).
//	ssl/losses    every objective with its gradients: InfoNCE (van den Oord et
//	              al. 2018; MoCo, He et al. 2020), NT-Xent (SimCLR, Chen et al.
//	              2020), BYOL (Grill et al. 2020), ProtoNCE (PCL), SwAV, IIC (Ji
//	              et al. 2019), SCAN, MIRA, CARL (Silva & Ramírez Rivera 2022),
//	              Local Aggregation, CACR (Zheng et al. 2021), deep Bregman
//	              divergence (Rezaei et al. 2021), xMoCo (Seyfi et al. 2022),
//	              alignment and uniformity (Wang & Isola 2020).
//	ssl/backbone  layers with backward passes, ConvNet3 and a CIFAR ResNet-18
//	              (He et al. 2016), heads, SGD/LARS/AdamW, EMA, safetensors.
//	ssl/augment   torchvision-faithful augmentations and SwAV's multi-crop.
//	ssl/probe     weighted kNN (DINO, Caron et al. 2021), linear probe,
//	              clustering ACC/NMI/ARI, reverse linear probing (Laina et al.
//	              2022), image grids.
//	ssl/probe/plot confusion heat maps (apart, so that ssl/probe does not
//	              pull in gonum's plotting).
//	ssl/dataset   Fashion-MNIST and CIFAR files, image folders and an embedded
//	              Fashion-MNIST subset, as batches of CHW float32 images. It is
//	              public so that programs read data as the examples do.
//	ssl/dist      collectives (all-reduce, broadcast, all-gather) on goroutines
//	              (Local) or MPI loaded at run time, for sharded solves and
//	              data-parallel training. A package of its own, so that
//	              importing ssl never ties a program to MPI.
//	ssl/cuda      the hot paths on an NVIDIA GPU, loaded at run time.
//
// Shared numerics live once in ssl/internal/kernel (GEMM, exp, softmax,
// one goroutine pool) and argument checks in ssl/internal/check; internal
// packages import nothing public but this root package's Tensor type and
// sentinels. The examples use the exported API only.
//
// # Conventions
//
// Every package follows one set of rules, so a call reads the same whatever
// the method.
//
// Tensors. Tensors hold float32 in contiguous row-major order ([Tensor];
// gorgonia's *tensor.Dense satisfies it). [Rows], [Reshape] and [Row] give
// views that share storage, so a program never slices Data() itself.
//
// Arguments. Destinations come first: the primary output (dst, codes,
// labels), then gradients named d<input> (dz1, dlogits) in the order of
// the inputs, then the inputs in the order of the formula, then the required
// scalar hyper-parameters, then a pointer to the function's options. A nil
// gradient destination skips that gradient; a nil primary destination is
// allocated and returned. Destinations are overwritten, never accumulated
// into (backbone's parameter gradients are the one documented exception),
// and must not overlap an input.
//
// Scalars. Tensors are float32; scalar hyper-parameters (temperatures,
// epsilons, weights, momenta) and scalar results (losses, residuals) are
// float64 everywhere.
//
// Options. Optional settings live in a <Func>Options struct; a nil pointer
// means every default and a zero field means that field's documented
// default. Invalid values return an error wrapping [ErrParam].
//
// Workspaces. Reusable scratch memory is one type per package, named
// Workspace, passed as the Workspace field of the options; nil (or a nil
// options pointer) allocates per call. A workspace is not for concurrent
// use. With destinations and a grown workspace, hot calls allocate nothing.
// (backbone.Workspace is different in kind: it records a forward pass for
// its backward pass, so Layer.Forward and Layer.Backward take it
// positionally.)
//
// Stopping. Every iterative method has Iterations and Tol options:
// Iterations caps the iterations (zero means the method's documented
// default) and Tol, when positive, stops as soon as the method's residual is
// at most Tol. Tol == 0 runs exactly Iterations iterations with no test. A
// run that ends with its residual above a positive Tol returns its complete
// result together with an error wrapping [ErrNotConverged].
//
// Results. Several outputs come back by value in a <Func>Result struct
// (Loss and each sub-term of a loss; Iterations and the residual of a
// solver); a loss with no sub-terms returns its float64 value alone.
//
// Errors. Functions check every argument before writing anything and
// return errors wrapping [ErrShape], [ErrParam] or [ErrNotFinite], naming
// the function, the argument and the value: "losses: NTXent: tau must be
// finite and > 0 (tau=0)". Iterative methods that miss Tol wrap
// [ErrNotConverged] (each package's ErrNotConverged wraps it). Malformed
// files wrap [ErrFormat]. An outcome of the data — no confident sample in a
// batch, an empty cluster that was repaired — is reported in the result,
// never as an error. Nothing panics on bad input and inputs are never
// modified.
//
// Names. Exported names use Go's American spelling (Neighbors, Centers,
// Normalize).
//
// Determinism. Results do not depend on GOMAXPROCS: work is split in a
// fixed partition and combined in a fixed order, on one goroutine pool.
package ssl
