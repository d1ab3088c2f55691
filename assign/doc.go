// Package assign produces pseudo-labels other than by Sinkhorn: MIRA's
// mutual-information assignment, the k-means family as DeepCluster,
// DeeperCluster and PCL run it, PCL's concentration, DeepCluster's PCA
// whitening, exact nearest-neighbour mining for SCAN and Local Aggregation,
// and the bookkeeping around them.
//
// # k-means
//
// [KMeans] is Lloyd's algorithm with k-means++ initialisation (or given
// centroids), restarts keeping the lowest inertia, a spherical variant and
// faiss's repair of empty clusters; [Nearest] is its assignment step. Both
// compute squared distances as ‖x‖² − 2x·c + ‖c‖² through the shared GEMM,
// one block of rows at a time, so the N×K distance matrix never exists.
//
// # Conventions
//
// Matrices are contiguous row-major float32 [ssl.Tensor] values; labels are
// []int. Every random choice comes from a caller's *rand.Rand
// (math/rand/v2), and results are the same bits for any GOMAXPROCS.
// Functions check every argument before writing anything and return errors
// wrapping ssl.ErrShape, ssl.ErrParam or ssl.ErrNotFinite; inputs are never
// modified.
package assign
