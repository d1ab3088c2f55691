// Package assign produces pseudo-labels other than by Sinkhorn: MIRA's
// mutual-information assignment, the k-means family as DeepCluster,
// DeeperCluster and PCL run it, PCL's concentration, DeepCluster's PCA
// whitening and uniform sampler, exact nearest-neighbour mining for SCAN and
// Local Aggregation, and the output-translation uniform assignment.
//
// # Methods
//
//	[MIRA]                 Lee et al., NeurIPS 2022, eq. 9 / Alg. 1: the fixed point
//	                       v_k = (mean_b p_bk / Σ_j v_j^(−β/(1−β)) p_bj)^(1−β),
//	                       target_bk ∝ v_k^(−β/(1−β)) p_bk, p = softmax(logits/τ/(1−β)).
//	[KMeans], [Nearest]    Caron et al., ECCV 2018, eq. 2 (DeepCluster); Li et al.,
//	                       ICLR 2021 (PCL): min Σ_n min_k ‖x_n − c_k‖², Lloyd's
//	                       algorithm, k-means++ (Arthur and Vassilvitskii 2007),
//	                       restarts, spherical centroids, faiss's empty-cluster split.
//	[HierarchicalKMeans]   Caron et al., ICCV 2019, Sec. 3.2 (DeeperCluster):
//	                       label = super·k2 + sub.
//	[PCLConcentration]     Li et al., ICLR 2021, eq. 12:
//	                       φ_k = Σ_{i∈k} ‖v_i − c_k‖ / (n_k log(n_k + 10)), clipped, scaled.
//	[FitPCA], [PCAWhiten]  Caron et al., ECCV 2018, Sec. 4: PCA whitening to 256 dims,
//	                       then ℓ2 normalisation, y = normalise(Λ^(−1/2) Vᵀ(x − μ))
//	                       (PCAOptions.SkipNormalize: whitening alone).
//	[MineNeighbors]        Van Gansbeke et al., ECCV 2020, Sec. 2.1 (SCAN): the top-k
//	                       cosine neighbours N_x of every row, with or without itself.
//	[Search]               exact top-k by inner product or cosine of queries against a
//	                       database: the library's one neighbour search (package
//	                       probe's kNN classifier and nearest-image grids use it).
//	[LocalAggregationNeighbors], [CloseNeighbors]
//	                       Zhuang et al., ICCV 2019, Sec. 3.1: background neighbours
//	                       B_i (top-k by v_i·bank_j) and close neighbours
//	                       C_i = ∪_h {j : g_h(j) = g_h(i)}.
//	[UniformTranslate]     Li et al., Remote Sensing 14:3361, 2022: one translation b
//	                       of all outputs with argmax_k (z_ik + b_k) uniform over k.
//	[UniformLabelSample]   Caron et al., ECCV 2018, Sec. 3.4: an epoch drawn uniformly
//	                       over the pseudo-labels.
//
// DeepCluster also reports the NMI between the assignments of consecutive
// epochs to watch their stability: that is probe.NMI(previous, current)
// (package probe may import assign, not the other way round).
//
// # Distances
//
// Every distance or similarity between many vectors goes through the
// shared GEMM: [Nearest] (and so [KMeans]) computes ‖x‖² − 2x·c + ‖c‖² one
// block of rows at a time (at most 2^20 products in memory); [Search]
// computes inner products on tiles of 512 queries × 4096 database rows and
// merges them into per-query top-k heaps; [MineNeighbors] computes the
// upper triangle of the symmetric f̂f̂ᵀ on 1024×1024 blocks and streams it
// into per-row top-k lists. The N×K or N×N matrices never exist in memory.
//
// # Ties
//
// One tie rule holds everywhere: among equal similarities (or distances)
// the lower index ranks first. [Search] and [MineNeighbors] list equal
// neighbours by increasing index, and [Nearest] and [KMeans] assign a point
// equally far from two centroids to the lower one.
//
// # Zero and non-finite inputs
//
// Inputs holding a NaN or an infinity are rejected with an error wrapping
// ssl.ErrNotFinite naming the first such element. Where a cosine is needed
// ([MineNeighbors]), a zero row is rejected the same way (its cosine is
// 0/0) unless MineOptions.AllowZero asks for SCAN's behaviour
// (torch.nn.functional.normalize: the zero vector, cosine 0 with every
// row). [PCA.Whiten] leaves a row whose whitened vector is zero at zero.
// Spherical k-means keeps a centroid whose members sum to zero at zero.
//
// # Conventions
//
// The package follows the library's conventions (package ssl, "Conventions").
// Matrices are contiguous row-major float32 [ssl.Tensor] values; labels are
// []int; scalar parameters and results are float64. Destinations come
// first, are overwritten, and a nil destination is allocated and returned.
// Several outputs come back by value in a <Func>Result struct ([KMeansResult],
// [NearestResult], [MIRAResult], ...). [MIRA]'s scratch memory is the
// package's [Workspace], passed as MIRAOptions.Workspace.
//
// Stopping: every iterative method ([MIRA], [KMeans], [HierarchicalKMeans]
// through its KMeansOptions, [UniformTranslate]) takes Iterations (a cap;
// 0 is the method's documented default) and Tol (0 runs exactly Iterations;
// > 0 stops once the method's residual is ≤ Tol). A run that misses a
// positive Tol returns its complete result together with an error wrapping
// [ErrNotConverged], which wraps ssl.ErrNotConverged. An empty k-means
// cluster is repaired and counted in the result, never an error.
//
// Every random choice comes from a caller's *rand.Rand (math/rand/v2), and
// results are the same bits for any GOMAXPROCS: work is split into fixed
// blocks and every sum is combined in a fixed order. Functions check every
// argument before writing anything and return errors wrapping
// ssl.ErrShape, ssl.ErrParam or ssl.ErrNotFinite, reading
// "assign: Func: what (name=value)"; inputs are never modified.
package assign
