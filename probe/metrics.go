package probe

import (
	"math"
	"math/big"
	"slices"

	"ssl"
	"ssl/internal/check"
)

// ClusterACCOptions holds the optional settings of [ClusterACC] and
// [EvaluateClusters]. A nil *ClusterACCOptions means the defaults.
type ClusterACCOptions struct {
	// Majority maps every cluster to the class most of its members carry
	// (many-to-one, IIC's evaluation of overclustering, Ji et al. 2019,
	// Sec. 4) instead of the one-to-one Hungarian matching. Default false.
	Majority bool
}

// ClusterACCResult is the result of [ClusterACC].
type ClusterACCResult struct {
	// ACC is the fraction of samples whose cluster is matched to their
	// class, in [0, 1].
	ACC float64
	// Match[p] is the class cluster p is mapped to, or −1 if it is matched
	// to none (more clusters than classes under one-to-one matching).
	Match []int
}

// EvaluateClustersResult holds the clustering metrics of
// [EvaluateClusters].
type EvaluateClustersResult struct {
	// ACC is the fraction of samples whose cluster is matched to their
	// class, in [0, 1].
	ACC float64
	// NMI is the normalised mutual information (scikit-learn's
	// normalized_mutual_info_score, arithmetic mean), in [0, 1].
	NMI float64
	// ARI is the adjusted Rand index (scikit-learn's adjusted_rand_score),
	// in [−0.5, 1].
	ARI float64
	// Match[p] is the class cluster p is mapped to, or −1 if it is matched
	// to none (more clusters than classes under one-to-one matching).
	Match []int
}

// Confusion counts W[p·numClasses + c] = #{i : pred_i = p and target_i = c},
// the numClusters×numClasses contingency table (row-major) of a clustering
// against the classes; ssl/probe/plot's ConfusionHeatmap draws it. dst receives it (nil
// is allocated, otherwise it must have numClusters·numClasses entries).
//
// It returns an error wrapping ssl.ErrShape if pred and target differ in
// length or are empty, or dst has the wrong length, and ssl.ErrParam if
// numClusters or numClasses is < 1 or a label is out of its range.
func Confusion(dst []int, pred, target []int, numClusters, numClasses int) ([]int, error) {
	const fn = "probe: Confusion"
	if err := checkClustering(fn, pred, target, numClusters, numClasses); err != nil {
		return nil, err
	}
	if dst != nil && len(dst) != numClusters*numClasses {
		return nil, check.Errorf(fn, ssl.ErrShape, "len(dst) is %d, want numClusters·numClasses=%d", len(dst), numClusters*numClasses)
	}
	if dst == nil {
		dst = make([]int, numClusters*numClasses)
	}
	clear(dst)
	for i, p := range pred {
		dst[p*numClasses+target[i]]++
	}
	return dst, nil
}

// checkClustering checks a clustering pred against classes target; fn is
// "probe: Func".
func checkClustering(fn string, pred, target []int, numClusters, numClasses int) error {
	if err := check.AtLeast(fn, "len(pred)", len(pred), 1); err != nil {
		return err
	}
	if err := check.Count(fn, "numClusters", numClusters, 1); err != nil {
		return err
	}
	if err := check.Count(fn, "numClasses", numClasses, 1); err != nil {
		return err
	}
	if err := check.Labels(fn, "pred", pred, len(pred), numClusters); err != nil {
		return err
	}
	return check.Labels(fn, "target", target, len(pred), numClasses)
}

// ClusterACC returns the clustering accuracy of cluster ids pred ∈
// [0, numClusters) against classes target ∈ [0, numClasses), as SCAN
// evaluates it:
//
//	W[p,c] = #{i : pred_i = p and target_i = c}
//	match  = the one-to-one matching of clusters to classes maximising Σ W[p, match(p)]
//	ACC    = Σ_p W[p, match(p)] / N
//
// and the matching (Match[p] is a class, or −1). The matching is found by
// [Hungarian] on N − W. With numClusters = numClasses this is SCAN's
// hungarian_evaluate. With more clusters than classes SCAN's code does not
// apply (it asserts equal counts); here each class is matched to a distinct
// cluster and the samples of the clusters left unmatched count as errors,
// which is what linear_sum_assignment on the rectangular N − W gives. With
// opts.Majority each cluster maps to its most frequent class instead
// (ties: the lower class), the usual many-to-one score for overclustering.
//
// It returns the errors of [Confusion].
//
// Reference: Van Gansbeke et al., SCAN: Learning to Classify Images without
// Labels, ECCV 2020, Sec. 4.1; wvangansbeke/Unsupervised-Classification
// utils/evaluate_utils.py hungarian_evaluate and _hungarian_match.
func ClusterACC(pred, target []int, numClusters, numClasses int, opts *ClusterACCOptions) (ClusterACCResult, error) {
	if err := checkClustering("probe: ClusterACC", pred, target, numClusters, numClasses); err != nil {
		return ClusterACCResult{}, err
	}
	w := confusion(pred, target, numClusters, numClasses)
	acc, match := accFromConfusion(w, len(pred), numClusters, numClasses, opts != nil && opts.Majority)
	return ClusterACCResult{ACC: acc, Match: match}, nil
}

// confusion is Confusion on checked input.
func confusion(pred, target []int, numClusters, numClasses int) []int {
	w := make([]int, numClusters*numClasses)
	for i, p := range pred {
		w[p*numClasses+target[i]]++
	}
	return w
}

func accFromConfusion(w []int, n, numClusters, numClasses int, majority bool) (float64, []int) {
	match := make([]int, numClusters)
	hit := 0
	if majority {
		for p := range numClusters {
			row := w[p*numClasses : (p+1)*numClasses]
			best := 0
			for c, v := range row {
				if v > row[best] {
					best = c
				}
			}
			match[p] = best
			hit += row[best]
		}
		return float64(hit) / float64(n), match
	}
	cost := make([]float64, len(w))
	for i, v := range w {
		cost[i] = float64(n - v)
	}
	// Valid sizes and finite costs: Hungarian cannot fail here.
	if _, _, err := Hungarian(match, cost, numClusters, numClasses); err != nil {
		panic("probe: ClusterACC: " + err.Error())
	}
	for p, c := range match {
		if c >= 0 {
			hit += w[p*numClasses+c]
		}
	}
	return float64(hit) / float64(n), match
}

// EvaluateClusters returns ACC ([ClusterACC]), NMI ([NMI]) and ARI ([ARI])
// of the clustering pred against the classes target, the three numbers
// SCAN's hungarian_evaluate reports. It returns the errors of [Confusion].
func EvaluateClusters(pred, target []int, numClusters, numClasses int, opts *ClusterACCOptions) (EvaluateClustersResult, error) {
	if err := checkClustering("probe: EvaluateClusters", pred, target, numClusters, numClasses); err != nil {
		return EvaluateClustersResult{}, err
	}
	w := confusion(pred, target, numClusters, numClasses)
	acc, match := accFromConfusion(w, len(pred), numClusters, numClasses, opts != nil && opts.Majority)
	n, ka, kb := contingency(pred, target)
	return EvaluateClustersResult{
		ACC: acc, NMI: nmiFromContingency(n, ka, kb), ARI: ariFromContingency(n, ka, kb, int64(len(pred))), Match: match,
	}, nil
}

// contingency relabels a and b (any ints) to 0..ka−1 and 0..kb−1 in sorted
// order of their values and returns the ka×kb table of co-occurrence counts
// n_ij = #{s : a_s = i-th value of a, b_s = j-th value of b}.
func contingency(a, b []int) (n []int64, ka, kb int) {
	ia, ka := relabel(a)
	ib, kb := relabel(b)
	n = make([]int64, ka*kb)
	for s := range ia {
		n[ia[s]*kb+ib[s]]++
	}
	return n, ka, kb
}

// relabel maps the values of x to their rank among the distinct values.
func relabel(x []int) ([]int, int) {
	u := slices.Clone(x)
	slices.Sort(u)
	u = slices.Compact(u)
	out := make([]int, len(x))
	lo, hi := u[0], u[len(u)-1]
	if hi-lo < 4*len(x)+1024 { // dense values: a lookup table
		lut := make([]int, hi-lo+1)
		for r, v := range u {
			lut[v-lo] = r
		}
		for i, v := range x {
			out[i] = lut[v-lo]
		}
		return out, len(u)
	}
	for i, v := range x {
		out[i], _ = slices.BinarySearch(u, v)
	}
	return out, len(u)
}

// NMI returns the normalised mutual information between two labelings of
// the same samples, exactly as scikit-learn's normalized_mutual_info_score
// with average_method="arithmetic" (natural log) defines it:
//
//	if a and b each have one distinct label:   NMI = 1
//	MI = Σ_{i,j: n_ij>0} (n_ij/N) · log(N·n_ij / (n_i·n_j))   (0 if either has one label)
//	if MI = 0:                                 NMI = 0
//	NMI = MI / ((H(a) + H(b)) / 2),   H(x) = −Σ_i (n_i/N) log(n_i/N)
//
// with sklearn's details kept: each MI term below float64 eps in magnitude
// is zeroed and MI is clipped at 0. Labels may be any ints (only equality
// matters); NMI is symmetric in a and b.
//
// It returns an error wrapping ssl.ErrShape if a and b differ in length or
// are empty (sklearn would return 1 on empty input).
//
// Reference: Strehl and Ghosh, Cluster Ensembles, JMLR 2002 (with the
// arithmetic mean of Vinh et al., JMLR 2010); scikit-learn 1.2
// sklearn/metrics/cluster/_supervised.py normalized_mutual_info_score,
// mutual_info_score and entropy.
func NMI(a, b []int) (float64, error) {
	if err := checkLabelings("probe: NMI", a, b); err != nil {
		return 0, err
	}
	n, ka, kb := contingency(a, b)
	return nmiFromContingency(n, ka, kb), nil
}

// checkLabelings checks two labelings of the same non-empty samples.
func checkLabelings(fn string, a, b []int) error {
	if len(a) != len(b) {
		return check.Errorf(fn, ssl.ErrShape, "labelings have %d and %d entries", len(a), len(b))
	}
	return check.AtLeast(fn, "the number of samples", len(a), 1)
}

func nmiFromContingency(n []int64, ka, kb int) float64 {
	if ka == 1 && kb == 1 {
		return 1
	}
	mi := mutualInfo(n, ka, kb)
	if mi == 0 {
		return 0
	}
	pa, pb := marginals(n, ka, kb)
	ha, hb := entropy(pa), entropy(pb)
	return mi / ((ha + hb) / 2)
}

func marginals(n []int64, ka, kb int) (pa, pb []int64) {
	pa, pb = make([]int64, ka), make([]int64, kb)
	for i := range ka {
		for j := range kb {
			v := n[i*kb+j]
			pa[i] += v
			pb[j] += v
		}
	}
	return pa, pb
}

// mutualInfo is sklearn's mutual_info_score on a contingency table, term
// for term.
func mutualInfo(n []int64, ka, kb int) float64 {
	if ka == 1 || kb == 1 {
		return 0
	}
	pa, pb := marginals(n, ka, kb)
	var total int64
	for _, v := range pa {
		total += v
	}
	sum := float64(total)
	logSum := math.Log(sum)
	mi := 0.0
	for i := range ka {
		for j := range kb {
			v := n[i*kb+j]
			if v == 0 {
				continue
			}
			nm := float64(v) / sum
			logOuter := -math.Log(float64(pa[i]*pb[j])) + logSum + logSum
			t := nm*(math.Log(float64(v))-logSum) + nm*logOuter
			if math.Abs(t) < eps64 {
				t = 0
			}
			mi += t
		}
	}
	return max(mi, 0)
}

// eps64 is numpy's finfo(float64).eps, sklearn's threshold for zeroing a
// mutual-information term.
const eps64 = 0x1p-52

// entropy is sklearn's entropy of a labeling from its nonzero class counts:
// −Σ (p_i/Σp)·(log p_i − log Σp), 0 for a single class.
func entropy(counts []int64) float64 {
	var total int64
	nz := 0
	for _, c := range counts {
		total += c
		if c > 0 {
			nz++
		}
	}
	if nz == 1 {
		return 0
	}
	s := float64(total)
	ls := math.Log(s)
	h := 0.0
	for _, c := range counts {
		if c > 0 {
			h += float64(c) / s * (math.Log(float64(c)) - ls)
		}
	}
	return -h
}

// ARI returns the adjusted Rand index between two labelings of the same
// samples, exactly as scikit-learn's adjusted_rand_score defines it. Over
// ordered pairs of distinct samples, with tp the pairs together in both,
// tn apart in both, fp together in b only and fn together in a only:
//
//	if fn = fp = 0:  ARI = 1
//	ARI = 2(tp·tn − fn·fp) / ((tp+fn)(fn+tn) + (tp+fp)(fp+tn))
//
// The pair counts are exact integers and the products are formed in
// arbitrary precision (they pass 2⁶³ from about 55,000 samples), then
// rounded to float64 as sklearn's Python integers are. Labels may be any
// ints; ARI is symmetric in a and b.
//
// It returns an error wrapping ssl.ErrShape if a and b differ in length or
// are empty.
//
// Reference: Hubert and Arabie, Comparing Partitions, J. Classification
// 1985; scikit-learn 1.2 sklearn/metrics/cluster/_supervised.py
// adjusted_rand_score and pair_confusion_matrix.
func ARI(a, b []int) (float64, error) {
	if err := checkLabelings("probe: ARI", a, b); err != nil {
		return 0, err
	}
	n, ka, kb := contingency(a, b)
	return ariFromContingency(n, ka, kb, int64(len(a))), nil
}

func ariFromContingency(n []int64, ka, kb int, samples int64) float64 {
	pa, pb := marginals(n, ka, kb)
	var ss, sa, sb int64
	for _, v := range n {
		ss += v * v
	}
	for _, v := range pa {
		sa += v * v
	}
	for _, v := range pb {
		sb += v * v
	}
	// sklearn's pair_confusion_matrix(labels_true=a, labels_pred=b).
	tp := ss - samples
	fp := sb - ss
	fn := sa - ss
	tn := samples*samples - fp - fn - ss
	if fn == 0 && fp == 0 {
		return 1
	}
	B := func(v int64) *big.Int { return big.NewInt(v) }
	num := new(big.Int).Sub(new(big.Int).Mul(B(tp), B(tn)), new(big.Int).Mul(B(fn), B(fp)))
	den := new(big.Int).Add(
		new(big.Int).Mul(B(tp+fn), B(fn+tn)),
		new(big.Int).Mul(B(tp+fp), B(fp+tn)))
	nf, _ := new(big.Float).SetInt(num).Float64()
	df, _ := new(big.Float).SetInt(den).Float64()
	return 2 * nf / df
}
