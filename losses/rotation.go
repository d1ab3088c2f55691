package losses

import (
	"ssl"
	"ssl/internal/check"
)

// RotationTargets writes into dst the rotation-prediction targets of a
// batch of B images each shown under r rotations (r = 4 for the 0°, 90°,
// 180°, 270° of RotNet, S4L and DeeperCluster), laid out rotation-major:
// row i·B + b is image b rotated by i·(360/r)°, and its target is i:
//
//	dst[i·B + b] = i,  i < r, b < B
//
// Paired with [PseudoLabelCE] on the rotation head's (r·B)×r logits it is
// S4L-Rotation's self-supervised loss. dst nil allocates; otherwise it
// must have length r·B. It returns dst, or an error wrapping ssl.ErrParam
// if B < 1 or r < 1 and ssl.ErrShape for a dst of the wrong length.
//
// Reference: Zhai, Oliver, Kolesnikov and Beyer, S4L: Self-Supervised
// Semi-Supervised Learning, ICCV 2019, Sec. 3.1 (S4L-Rotation, eq. 2);
// Gidaris et al., Unsupervised Representation Learning by Predicting Image
// Rotations, ICLR 2018.
func RotationTargets(dst []int, batch, rotations int) ([]int, error) {
	const fn = "losses: RotationTargets"
	if err := check.Count(fn, "batch", batch, 1); err != nil {
		return nil, err
	}
	if err := check.Count(fn, "rotations", rotations, 1); err != nil {
		return nil, err
	}
	dst, err := intDst(fn, dst, batch*rotations)
	if err != nil {
		return nil, err
	}
	for i := range rotations {
		for b := range batch {
			dst[i*batch+b] = i
		}
	}
	return dst, nil
}

// RepeatLabels writes the class labels of B images into dst once per
// rotation, in the rotation-major layout of [RotationTargets]:
//
//	dst[i·B + b] = labels[b],  i < r
//
// so that S4L's supervised cross-entropy can be applied to every rotated
// copy of the labeled images (S4L-Rotation trains its classifier on all
// four rotations). dst nil allocates; otherwise it must have length r·B
// and must not share memory with labels. It returns an error wrapping
// ssl.ErrParam if r < 1 or labels is empty, ssl.ErrShape for a dst of the
// wrong length.
//
// Reference: Zhai et al., S4L, ICCV 2019, Sec. 3.1.
func RepeatLabels(dst, labels []int, rotations int) ([]int, error) {
	const fn = "losses: RepeatLabels"
	b := len(labels)
	if err := check.Count(fn, "len(labels)", b, 1); err != nil {
		return nil, err
	}
	if err := check.Count(fn, "rotations", rotations, 1); err != nil {
		return nil, err
	}
	dst, err := intDst(fn, dst, b*rotations)
	if err != nil {
		return nil, err
	}
	for i := range rotations {
		copy(dst[i*b:(i+1)*b], labels)
	}
	return dst, nil
}

// RotationClusterTargets writes into dst DeeperCluster's joint
// rotation × cluster targets, the Cartesian product of the r rotation
// classes and the k clusters, cluster-major as the authors' code numbers
// its super-classes (rotation = super-class mod 4, super-cluster =
// super-class div 4):
//
//	dst[n] = clusters[n]·r + rotations[n]        (r·k classes)
//
// With clusters the level-1 (super-cluster) assignments this gives the
// super-class targets of DeeperCluster's hierarchical loss; the sub-class
// targets are the level-2 cluster indices within each super-cluster,
// unchanged. With flat clusters it is the r·k-way target of the
// non-hierarchical variant. Train on it with [PseudoLabelCE]. dst may be
// nil (allocated) or of length len(clusters). It returns an error
// wrapping ssl.ErrShape if the lengths differ and ssl.ErrParam if r < 1,
// k < 1, or an entry is outside [0, r) or [0, k); nothing is written then.
//
// Reference: Caron, Bojanowski, Mairal and Joulin, Unsupervised
// Pre-Training of Image Features on Non-Curated Data (DeeperCluster), ICCV
// 2019, Sec. 3.2–3.3; the rank-to-(super-cluster, rotation) mapping of
// init_distributed_mode in src/utils.py at
// facebookresearch/DeeperCluster@9ba80a142a55fd6ea31ca20c48db64baa356d4d6.
func RotationClusterTargets(dst, rotations, clusters []int, r, k int) ([]int, error) {
	const fn = "losses: RotationClusterTargets"
	if err := check.Count(fn, "r", r, 1); err != nil {
		return nil, err
	}
	if err := check.Count(fn, "k", k, 1); err != nil {
		return nil, err
	}
	n := len(clusters)
	if err := check.Labels(fn, "rotations", rotations, n, r); err != nil {
		return nil, err
	}
	if err := check.Labels(fn, "clusters", clusters, n, k); err != nil {
		return nil, err
	}
	dst, err := intDst(fn, dst, n)
	if err != nil {
		return nil, err
	}
	for i, c := range clusters {
		dst[i] = c*r + rotations[i]
	}
	return dst, nil
}

// intDst returns dst, allocated when nil, after checking its length.
func intDst(fn string, dst []int, n int) ([]int, error) {
	if dst == nil {
		return make([]int, n), nil
	}
	if len(dst) != n {
		return nil, check.Errorf(fn, ssl.ErrShape, "len(dst) is %d, want %d", len(dst), n)
	}
	return dst, nil
}
