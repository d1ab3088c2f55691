// Package probe measures what self-supervised training learned: the
// weighted kNN classifier and the linear probe on frozen features,
// clustering accuracy with Hungarian matching, NMI and ARI, reverse linear
// probing, and the pictures users look at instead of reading numbers.
//
// # Features
//
// Every evaluation takes frozen features, one row per image, as an
// ssl.Tensor matrix: the backbone's output before the projection head (the
// pooled ConvNet or ResNet features; DINO uses the ViT's [CLS] token),
// computed on un-augmented images in evaluation mode. Labels, class ids and
// cluster ids are []int.
//
// # kNN
//
// [KNN] is DINO's weighted k-nearest-neighbour classifier (Caron et al.
// 2021, Sec. 4.1, after Wu et al. 2018, eq. 7):
//
//	f = x / max(‖x‖₂, 1e-12)                          bank (train) and query (test) rows
//	NN(m) = the K bank rows with the largest ⟨f_m, f_j⟩
//	vote_m[c] = Σ_{j∈NN(m), y_j = c} exp(⟨f_m, f_j⟩ / T),   prediction = argmax_c vote_m[c]
//
// with K = 20 and T = 0.07 by default, the bank being the whole training
// set. The similarities are computed in tiles of 512 queries × 4096 bank
// rows through the shared GEMM and merged into per-query top-K heaps, so a
// 60,000-row bank never needs an N×M matrix. [Accuracy] turns predictions
// into top-1 (a fraction in [0, 1]; DINO prints percent); [EvaluateKNN]
// does both. The neighbours come from assign.Search (the library's one
// neighbour search, lower bank index first on equal similarities), which
// returns the neighbours themselves.
//
// # Linear probe
//
// [FitLinearProbe] trains multinomial logistic regression on the frozen
// features (Kornblith et al. 2019; SimCLR's L-BFGS protocol, Chen et al.
// 2020, App. B.5): features standardized with the training set's mean and
// population standard deviation, objective mean cross-entropy + (λ/2)‖W‖²
// with λ = 1e-4 by default (bias not penalized), minimized from zero by
// L-BFGS (gonum/optimize, 40 correction pairs). The stopping rule is the
// library's: Iterations caps the iterations (default 1000); Tol = 0 (the
// default) runs to a stationary point of the float64 objective or the
// cap, with no error; a positive Tol stops once max |∇f| ≤ Tol ([GradTol]
// = 1e-5 is scipy's gtol) and otherwise returns the probe with an error
// wrapping [ErrNotConverged]. The objective is evaluated in float64 over
// fixed blocks, so the fit is deterministic. [EvaluateLinear] fits and
// reports, by value, train and test top-1, the iterations, the residual
// and whether the fit converged. λ should be chosen
// on a validation split for published numbers, as SimCLR does.
//
// # Clustering metrics
//
// [EvaluateClusters] gives ACC, NMI and ARI as SCAN reports them (Van
// Gansbeke et al. 2020): ACC matches clusters to classes one-to-one with
// [Hungarian] (an O(n³) assignment solver) and counts the matched samples;
// [NMI] and [ARI] follow scikit-learn's definitions to the letter, with the
// values scikit-learn gives on degenerate inputs (one cluster and one
// class: NMI = ARI = 1; everything in one cluster against several classes:
// NMI = ARI = 0). With more clusters than classes, SCAN's code does not
// apply; here ACC matches each class to a distinct cluster and counts the
// other clusters' samples as errors (linear_sum_assignment on the
// rectangular table), or, with [ClusterOptions].Majority, maps each
// cluster to its majority class. [Confusion] gives the contingency table.
//
// # Reverse linear probing
//
// Quantised reverse probing (Laina, Asano and Vedaldi, ICLR 2022) measures
// how well human concepts explain a representation's clusters: k-means ids
// y of the features (package assign), binary concept vectors c per image,
// a linear softmax probe p(y | c) trained on them ([ReverseProbe]), and the
// scores of [RLP]: H(y), the probe's cross-entropy, the mutual-information
// bound H(y) − CE ≤ I(y; c), the probe's accuracy and NMI(y, ŷ), the
// reported interpretability number.
//
// # Pictures
//
// [ClusterGrid] draws, per cluster, the images nearest its center (cosine
// similarity to the mean normalized feature, [NearestToCenters]); [Grid]
// draws any rows of images, such as a query followed by its neighbors from
// assign.Search. Both write PNG with the standard library's image/png. The
// heat map of a contingency table ([Confusion]) is in ssl/probe/plot, a
// separate package so that importing probe does not pull gonum.org/v1/plot
// and its fonts.
//
// # Conventions
//
// The library's conventions (see package ssl): destinations first, then
// inputs (features before their labels), then counts and scalar
// parameters (float64), then options; several outputs come back by value
// in a <Func>Result. Functions check every argument before writing
// anything and return errors wrapping ssl.ErrShape, ssl.ErrParam or
// ssl.ErrNotFinite, named "probe: Func: what (name=value)"; features are
// scanned for NaN and infinities (a linear pass, small next to the work).
// A fit that misses a positive Tol returns its complete result and an
// error wrapping [ErrNotConverged] (which wraps ssl.ErrNotConverged, never
// ssl.ErrParam). Inputs are never modified. Results do not depend on
// GOMAXPROCS.
package probe
