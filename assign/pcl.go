package assign

import (
	"math"
	"slices"

	"ssl"
	"ssl/internal/check"
)

// PCLConcentration returns PCL's concentration estimate φ_k of each of k
// clusters (the per-prototype temperature of ProtoNCE), from each point's
// squared distance to its centroid and its label (as [KMeans] returns them in
// Dist and Labels):
//
//	φ_k = mean_{i∈k} ‖x_i − c_k‖ / log(n_k + α),  α = 10,   for n_k ≥ 2
//	φ_k = max_{j: n_j ≥ 2} φ_j                               for n_k ≤ 1
//	φ   = clip(φ, P10(φ), P90(φ))
//	density = temperature · φ / mean_k φ
//
// as PCL's run_kmeans computes it (‖x_i − c_k‖ = sqrt(dist_i); the
// percentiles are numpy's default linear ones over all k values). Sums are
// in float64; density is rounded to float32 at the end, as PCL casts it.
// dst (len k) receives density; nil allocates.
//
// It returns an error wrapping ssl.ErrParam if k < 1, temperature is not
// finite and > 0, a label is outside [0, k) or no cluster has two points
// (φ is then 0/0 in the reference); ssl.ErrShape if dist and labels differ
// in length or are empty, or dst has the wrong length; and ssl.ErrNotFinite
// if a distance is negative, NaN or infinite, or every φ is 0 (all points
// on their centroids). Nothing is written then.
//
// Reference: Li et al., Prototypical Contrastive Learning of Unsupervised
// Representations, ICLR 2021, eq. 12 (PCL main_pcl.py run_kmeans
// @ 964da1fb).
func PCLConcentration(dst []float32, dist []float32, labels []int, k int, temperature float64) ([]float32, error) {
	const fn = "assign: PCLConcentration"
	// alpha is PCL's smoothing of the cluster size (main_pcl.py: np.log(len(dist)+10)).
	const alpha = 10
	if k < 1 {
		return nil, check.Errorf(fn, ssl.ErrParam, "k must be ≥ 1 (k=%d)", k)
	}
	if !(temperature > 0) || math.IsInf(temperature, 0) {
		return nil, check.Errorf(fn, ssl.ErrParam, "temperature must be finite and > 0 (temperature=%v)", temperature)
	}
	if len(dist) != len(labels) || len(dist) == 0 {
		return nil, check.Errorf(fn, ssl.ErrShape, "dist has len %d, labels %d; want equal and ≥ 1", len(dist), len(labels))
	}
	if dst != nil && len(dst) != k {
		return nil, check.Errorf(fn, ssl.ErrShape, "dst has len %d, want k=%d", len(dst), k)
	}
	sum := make([]float64, k)
	count := make([]int, k)
	for i, l := range labels {
		if l < 0 || l >= k {
			return nil, check.Errorf(fn, ssl.ErrParam, "labels[%d]=%d outside [0, k=%d)", i, l, k)
		}
		d := float64(dist[i])
		if !(d >= 0) || math.IsInf(d, 0) {
			return nil, check.Errorf(fn, ssl.ErrNotFinite, "dist[%d]=%v is not a finite squared distance", i, d)
		}
		sum[l] += math.Sqrt(d)
		count[l]++
	}
	phi := make([]float64, k)
	dmax, any2 := 0.0, false
	for j := range k {
		if count[j] >= 2 {
			phi[j] = sum[j] / float64(count[j]) / math.Log(float64(count[j])+alpha)
			dmax = math.Max(dmax, phi[j])
			any2 = true
		}
	}
	if !any2 {
		return nil, check.Errorf(fn, ssl.ErrParam, "no cluster has 2 points (N=%d, k=%d), so φ is undefined", len(labels), k)
	}
	for j := range k {
		if count[j] <= 1 {
			phi[j] = dmax
		}
	}
	sorted := slices.Clone(phi)
	slices.Sort(sorted)
	lo, hi := percentile(sorted, 10), percentile(sorted, 90)
	var mean float64
	for j := range phi {
		phi[j] = math.Min(math.Max(phi[j], lo), hi)
		mean += phi[j]
	}
	mean /= float64(k)
	if !(mean > 0) {
		return nil, check.Errorf(fn, ssl.ErrNotFinite, "every concentration is 0 (all points on their centroids), density is 0/0")
	}
	if dst == nil {
		dst = make([]float32, k)
	}
	for j, p := range phi {
		dst[j] = float32(temperature * p / mean)
	}
	return dst, nil
}

// percentile is numpy.percentile's default ('linear') on sorted values:
// h = (n−1)·q/100, P = s_⌊h⌋ + (h − ⌊h⌋)(s_⌊h⌋+1 − s_⌊h⌋).
func percentile(sorted []float64, q float64) float64 {
	h := float64(len(sorted)-1) * q / 100
	f := math.Floor(h)
	i := int(f)
	if i+1 >= len(sorted) {
		return sorted[len(sorted)-1]
	}
	return sorted[i] + (h-f)*(sorted[i+1]-sorted[i])
}
