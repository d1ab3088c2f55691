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
//	[FitPCA], [PCAWhiten]  Caron et al., ECCV 2018, Sec. 4: y = normalise(Λ^(−1/2) Vᵀ(x − μ)).
//	[MineNeighbors]        Van Gansbeke et al., ECCV 2020, Sec. 2.1 (SCAN): the top-k
//	                       cosine neighbours N_x of every row, with or without itself.
//	[Search], [LocalAggregationNeighbors], [CloseNeighbors]
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
// block of rows at a time (at most 2^20 products in memory), and
// [MineNeighbors] and [Search] compute inner products on 1024×1024 blocks
// and stream them into per-row top-k lists; the N×K or N×N matrices never
// exist in memory. Mining exploits the symmetry of f̂f̂ᵀ and computes the
// upper triangle only.
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
// Matrices are contiguous row-major float32 [ssl.Tensor] values; labels are
// []int. Every random choice comes from a caller's *rand.Rand
// (math/rand/v2), and results are the same bits for any GOMAXPROCS: work is
// split into fixed blocks and every sum is combined in a fixed order.
// Functions check every argument before writing anything and return errors
// wrapping ssl.ErrShape, ssl.ErrParam or ssl.ErrNotFinite (and
// [ErrNotConverged] where a tolerance is missed); inputs are never modified;
// destinations are overwritten, and a nil destination is allocated and
// returned.
package assign
