// Package probe measures what self-supervised training learned: the weighted
// kNN classifier and the linear probe on frozen features, clustering
// accuracy (Hungarian matching), NMI and ARI, reverse linear probing, and
// the pictures users look at instead of numbers.
//
// # kNN
//
// [KNN] is DINO's weighted k-nearest-neighbour classifier (Caron et al.
// 2021, Sec. 4.1; Wu et al. 2018, eq. 7): bank (training) and query (test)
// features are L2-normalised (torch's F.normalize, eps 1e-12), each query
// takes its K = 20 most cosine-similar bank rows, which vote for their
// labels with weights exp(s/T), T = 0.07. Features are the backbone's
// output (DINO uses the [CLS] token; for a ConvNet, the pooled features
// before the projection head). The similarities are computed in tiles
// through the shared GEMM, so a 60,000-row bank never needs an N×M matrix.
// [Accuracy] turns the predictions into top-1 (a fraction; DINO prints
// percent).
//
// # Clustering metrics
//
// [EvaluateClusters] gives ACC, NMI and ARI as SCAN reports them (Van
// Gansbeke et al. 2020): ACC matches clusters to classes one-to-one with
// [Hungarian] (an O(n³) assignment solver) and counts the matched samples;
// NMI ([NMI]) and ARI ([ARI]) follow scikit-learn's definitions to the
// letter, including the values of the degenerate cases (one cluster and
// one class: NMI = ARI = 1; all samples in one cluster against several
// classes: NMI = ARI = 0). With more clusters than classes, ACC leaves the
// extra clusters unmatched (their samples count as errors), or, with
// [ClusterOptions].Majority, maps each cluster to its majority class.
// [Confusion] gives the contingency table.
//
// # Conventions
//
// Features are ssl.Tensor matrices, one row per sample; labels, class and
// cluster ids are []int. Functions check every argument before writing
// anything and return errors wrapping ssl.ErrShape, ssl.ErrParam or
// ssl.ErrNotFinite; inputs are never modified; results do not depend on
// GOMAXPROCS.
package probe
