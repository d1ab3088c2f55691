package run

import (
	"fmt"

	"ssl"
	"ssl/assign"
	"ssl/probe"
)

// reliableNeighbors is how many nearest training images (cosine, on the
// backbone's features, the image itself excluded) judge whether a
// pseudo-label is reliable.
const reliableNeighbors = 20

// Reliable returns, in increasing order, the images whose pseudo-label is
// shared by at least the fraction ratio of their neighbors: nbrs holds k
// neighbor indices per image (row i is image i's), pseudo one label per
// image. It is SPICE's reliable pseudo-labelling (Niu et al., SPICE:
// Semantic Pseudo-labeling for Image Clustering, IEEE TIP 2022, Sec.
// III-C): a label that the image's neighborhood agrees with is kept, one
// on a boundary between clusters is not.
func Reliable(pseudo, nbrs []int, k int, ratio float64) ([]int, error) {
	if k < 1 || len(nbrs) != len(pseudo)*k {
		return nil, fmt.Errorf("run: Reliable: %d neighbor indices for %d images of %d neighbors", len(nbrs), len(pseudo), k)
	}
	if !(ratio > 0 && ratio <= 1) {
		return nil, fmt.Errorf("run: Reliable: ratio %g not in (0, 1]", ratio)
	}
	var keep []int
	for i, p := range pseudo {
		same := 0
		for _, j := range nbrs[i*k : (i+1)*k] {
			if j < 0 || j >= len(pseudo) {
				return nil, fmt.Errorf("run: Reliable: neighbor %d of image %d is outside [0, %d)", j, i, len(pseudo))
			}
			if pseudo[j] == p {
				same++
			}
		}
		if float64(same) >= ratio*float64(k) {
			keep = append(keep, i)
		}
	}
	return keep, nil
}

// propagated is the clustering of the test set that the head's reliable
// pseudo-labels give: the head labels every training image, [Reliable]
// keeps those its 20 nearest training images agree with (fraction
// head.Reliable), and each test image takes the protocol's weighted kNN
// vote (k 20, T 0.07) of the kept images and their pseudo-labels. It
// returns the test clusters and the number of images kept; with fewer
// than 20 kept (too few to vote) the clusters are nil.
func propagated(head *Head, train, test ssl.Tensor) ([]int, int, error) {
	pseudo, err := headPredictions(head, train)
	if err != nil {
		return nil, 0, err
	}
	nbrs, _, err := assign.MineNeighbors(nil, nil, train, reliableNeighbors, &assign.MineNeighborsOptions{ExcludeSelf: true, AllowZero: true})
	if err != nil {
		return nil, 0, err
	}
	keep, err := Reliable(pseudo, nbrs, reliableNeighbors, head.Reliable)
	if err != nil {
		return nil, 0, err
	}
	if len(keep) < probe.DefaultK {
		return nil, len(keep), nil
	}
	_, tv, err := ssl.View(train)
	if err != nil {
		return nil, 0, err
	}
	d := train.Shape()[1]
	bank, labels := ssl.New(len(keep), d), make([]int, len(keep))
	_, bv, err := ssl.View(bank)
	if err != nil {
		return nil, 0, err
	}
	for r, i := range keep {
		copy(bv[r*d:(r+1)*d], tv[i*d:(i+1)*d])
		labels[r] = pseudo[i]
	}
	pred, err := probe.KNN(nil, bank, labels, test, head.K, nil)
	return pred, len(keep), err
}
