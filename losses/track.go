package losses

import (
	"slices"

	"ssl"
	"ssl/internal/check"
)

// TrackLabels writes into dst the track-consistent pseudo-labels of ODCT:
// every patch of a video track gets the label that most patches of that
// track carry (the smallest such label on a tie), and a patch whose
// tracks entry is negative (in no track) keeps its own label:
//
//	dst[i] = argmax_c |{j : tracks[j] = tracks[i], labels[j] = c}|   (tracks[i] ≥ 0)
//	dst[i] = labels[i]                                                (tracks[i] < 0)
//
// labels are cluster indices in [0, k) (from k-means or the online
// clustering of the samples memory); tracks holds one track id per patch.
// dst may be labels itself; nil allocates. It returns dst, or an error
// wrapping ssl.ErrShape if the lengths differ and ssl.ErrParam if k < 1 or
// a label is outside [0, k); nothing is written then.
//
// No code of ODCT is public: this follows the paper's description (patches
// of one track are constrained to share one cluster label, since they
// likely show the same object or part); choosing the track's label by
// majority vote over its patches is this library's reading of it.
//
// Reference: Alfani, Becattini, Seidenari and Del Bimbo, Online Deep
// Clustering with Video Track Consistency (ODCT), arXiv:2206.03086, 2022,
// Sec. III.
func TrackLabels(dst, labels, tracks []int, k int) ([]int, error) {
	const fn = "losses: TrackLabels"
	if err := check.Count(fn, "k", k, 1); err != nil {
		return nil, err
	}
	if len(tracks) != len(labels) {
		return nil, check.Errorf(fn, ssl.ErrShape, "len(tracks) is %d, len(labels) %d", len(tracks), len(labels))
	}
	if err := check.Labels(fn, "labels", labels, len(labels), k); err != nil {
		return nil, err
	}
	if dst == nil {
		dst = make([]int, len(labels))
	} else if len(dst) != len(labels) {
		return nil, check.Errorf(fn, ssl.ErrShape, "len(dst) is %d, want %d", len(dst), len(labels))
	}
	n := len(labels)
	// Patches sorted by track (stable), then each track's votes counted.
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return tracks[a] - tracks[b] })
	out := make([]int, n)
	copy(out, labels)
	count := make([]int, k)
	for lo := 0; lo < n; {
		hi := lo + 1
		for hi < n && tracks[order[hi]] == tracks[order[lo]] {
			hi++
		}
		if tracks[order[lo]] >= 0 {
			best, votes := 0, -1
			for _, i := range order[lo:hi] {
				count[labels[i]]++
			}
			for _, i := range order[lo:hi] {
				c := labels[i]
				if count[c] > votes || (count[c] == votes && c < best) {
					best, votes = c, count[c]
				}
			}
			for _, i := range order[lo:hi] {
				count[labels[i]] = 0
				out[i] = best
			}
		}
		lo = hi
	}
	copy(dst, out)
	return dst, nil
}

// ODCTOptions holds the optional settings of [ODCT]. A nil *ODCTOptions
// means the defaults.
type ODCTOptions struct {
	// Workspace is reused scratch memory; nil allocates a fresh one per
	// call.
	Workspace *Workspace
}

// ODCT returns ODCT's track-consistent classification loss: the
// cross-entropy of the B×K classifier logits on the pseudo-labels made
// track-consistent by [TrackLabels], and writes ∂L/∂logits into dlogits:
//
//	L = 1/B · Σ_b CE(logits_b, y_b),  y = TrackLabels(labels, tracks)
//
// It is [PseudoLabelCE] with the track constraint applied to the targets;
// see both for the details, the errors and the reference. As there, the
// labels are constants. No public code exists; see [TrackLabels].
func ODCT(dlogits, logits ssl.Tensor, labels, tracks []int, opts *ODCTOptions) (float64, error) {
	const fn = "losses: ODCT"
	b, k, _, err := check.NonEmptyMatrix(fn, "logits", logits)
	if err != nil {
		return 0, err
	}
	if len(labels) != b {
		return 0, check.Errorf(fn, ssl.ErrShape, "len(labels) is %d, want B=%d", len(labels), b)
	}
	y, err := TrackLabels(nil, labels, tracks, k)
	if err != nil {
		return 0, err
	}
	var po *PseudoLabelCEOptions
	if opts != nil {
		po = &PseudoLabelCEOptions{Workspace: opts.Workspace}
	}
	return PseudoLabelCE(dlogits, logits, y, po)
}
