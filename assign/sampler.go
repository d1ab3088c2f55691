package assign

import (
	"math/rand/v2"

	"ssl"
	"ssl/internal/check"
)

// UniformLabelSample draws the indices of one DeepCluster training epoch
// uniformly over the pseudo-labels, so that large clusters do not dominate:
// with labels (len N) in [0, k) and m the number of non-empty clusters,
//
//	s = ⌊n / m⌋ + 1
//	from each non-empty cluster draw s of its members, without replacement
//	    if it has more than s members, with replacement otherwise
//	shuffle the m·s indices and keep the first n
//
// as DeepCluster's UnifLabelSampler does (its len(res) ≥ N branch, which
// always holds since m·s > n). dst (len n) receives the indices; nil
// allocates. Every draw comes from rng.
//
// It returns an error wrapping ssl.ErrParam if k < 1, n < 1, rng is nil or
// a label is outside [0, k), and ssl.ErrShape if labels is empty or dst has
// the wrong length.
//
// Reference: Caron et al., Deep Clustering, ECCV 2018, Sec. 3.4 "Avoiding
// trivial solutions" (deepcluster util.py UnifLabelSampler @ 2d1927e8).
func UniformLabelSample(dst []int, labels []int, k, n int, rng *rand.Rand) ([]int, error) {
	const fn = "assign: UniformLabelSample"
	if k < 1 || n < 1 {
		return nil, check.Errorf(fn, ssl.ErrParam, "k and n must be ≥ 1 (k=%d, n=%d)", k, n)
	}
	if len(labels) == 0 {
		return nil, check.Errorf(fn, ssl.ErrShape, "labels is empty")
	}
	if dst != nil && len(dst) != n {
		return nil, check.Errorf(fn, ssl.ErrShape, "dst has len %d, want n=%d", len(dst), n)
	}
	if err := check.Rand(fn, rng); err != nil {
		return nil, err
	}
	members := make([][]int, k)
	for i, l := range labels {
		if l < 0 || l >= k {
			return nil, check.Errorf(fn, ssl.ErrParam, "labels[%d]=%d outside [0, k=%d)", i, l, k)
		}
		members[l] = append(members[l], i)
	}
	m := 0
	for _, c := range members {
		if len(c) > 0 {
			m++
		}
	}
	s := n/m + 1
	res := make([]int, 0, m*s)
	for _, c := range members {
		if len(c) == 0 {
			continue
		}
		if len(c) <= s {
			for range s {
				res = append(res, c[rng.IntN(len(c))])
			}
			continue
		}
		// s distinct members: a partial Fisher–Yates shuffle of c.
		for t := range s {
			j := t + rng.IntN(len(c)-t)
			c[t], c[j] = c[j], c[t]
			res = append(res, c[t])
		}
	}
	rng.Shuffle(len(res), func(i, j int) { res[i], res[j] = res[j], res[i] })
	if dst == nil {
		dst = make([]int, n)
	}
	copy(dst, res[:n])
	return dst, nil
}
