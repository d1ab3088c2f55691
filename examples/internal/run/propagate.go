package run

import (
	"fmt"
	"math/rand/v2"

	"ssl"
	"ssl/assign"
	"ssl/backbone"
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

// reliableNeighborLists returns the 20 nearest training images of every
// row of train (cosine, the image itself excluded): the neighborhoods
// that judge every pseudo-label of one evaluation.
func reliableNeighborLists(train ssl.Tensor) ([]int, error) {
	nbrs, _, err := assign.MineNeighbors(nil, nil, train, reliableNeighbors, &assign.MineNeighborsOptions{ExcludeSelf: true, AllowZero: true})
	return nbrs, err
}

// reliableBank returns the training rows whose head label is reliable
// ([Reliable] with head.Reliable over their neighbor lists nbrs, from
// reliableNeighborLists), as a bank, and their labels.
func reliableBank(head *Head, train ssl.Tensor, nbrs []int) (ssl.Tensor, []int, error) {
	pseudo, err := headPredictions(head, train)
	if err != nil {
		return nil, nil, err
	}
	keep, err := Reliable(pseudo, nbrs, reliableNeighbors, head.Reliable)
	if err != nil {
		return nil, nil, err
	}
	_, tv, err := ssl.View(train)
	if err != nil {
		return nil, nil, err
	}
	d := train.Shape()[1]
	bank, labels := ssl.New(max(len(keep), 1), d), make([]int, len(keep))
	_, bv, err := ssl.View(bank)
	if err != nil {
		return nil, nil, err
	}
	for r, i := range keep {
		copy(bv[r*d:(r+1)*d], tv[i*d:(i+1)*d])
		labels[r] = pseudo[i]
	}
	return bank, labels, nil
}

// propagated is the clustering of the test set that the head's reliable
// pseudo-labels give: each test image takes the protocol's weighted kNN
// vote (k 20, T 0.07) of the training images [reliableBank] keeps. It
// returns the test clusters and the number of images kept; with fewer
// than 20 kept (too few to vote) the clusters are nil.
func propagated(head *Head, train, test ssl.Tensor, nbrs []int) ([]int, int, error) {
	bank, labels, err := reliableBank(head, train, nbrs)
	if err != nil || len(labels) < probe.DefaultK {
		return nil, len(labels), err
	}
	pred, err := probe.KNN(nil, bank, labels, test, head.K, nil)
	return pred, len(labels), err
}

// refit fits a new head to head's reliable pseudo-labels: the protocol's
// linear probe (multinomial logistic regression on standardized features,
// probe.FitLinearProbe) on the rows of train (the backbone's training
// features) that [reliableBank] keeps, folded into one in→K linear layer
// (W/σ, b − Σ W·μ/σ). SPICE trains its network on such labels; on frozen
// features a linear head's optimum is this fit. It returns the layer and
// the number of images it was fitted on; with fewer than 20 the layer is
// nil.
func refit(head *Head, train ssl.Tensor, nbrs []int) (*backbone.Linear, int, error) {
	bank, labels, err := reliableBank(head, train, nbrs)
	if err != nil || len(labels) < probe.DefaultK {
		return nil, len(labels), err
	}
	lp, err := probe.FitLinearProbe(bank, labels, head.K, nil)
	if err != nil {
		return nil, 0, err
	}
	lin, err := backbone.NewLinear("head", lp.Dim, lp.Classes, true, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, 0, err
	}
	w, b := lin.Weight.Data(), lin.Bias.Data()
	for c := range lp.Classes {
		shift := lp.B[c]
		for d := range lp.Dim {
			wd := lp.W[c*lp.Dim+d] / lp.Scale[d]
			w[c*lp.Dim+d] = float32(wd)
			shift -= wd * lp.Mean[d]
		}
		b[c] = float32(shift)
	}
	return lin, len(labels), nil
}

// refitSettled is the share of the training images whose label a refit
// round must change for another round to run.
const refitSettled = 0.001

// refitRounds repeats [refit]: each round's layer labels the training
// images anew and the next round fits to its reliable labels (self-training
// on the frozen features, as SPICE retrains on the labels its last model
// gives), for at most rounds rounds (at least one), stopping early once a
// round changes the label of fewer than refitSettled of the training
// images. It returns the last layer (nil when the first round had fewer
// than 20 reliable images; a later round that has too few ends the rounds
// and keeps the layer before it), the images that layer was fitted on and
// the rounds run.
func refitRounds(head *Head, train ssl.Tensor, nbrs []int, rounds int) (*backbone.Linear, int, int, error) {
	prev, err := headPredictions(head, train)
	if err != nil {
		return nil, 0, 0, err
	}
	var lin *backbone.Linear
	fitted, done := 0, 0
	for done < max(rounds, 1) {
		l, n, err := refit(head, train, nbrs)
		if err != nil {
			return nil, 0, 0, err
		}
		if l == nil {
			break
		}
		lin, fitted, done = l, n, done+1
		head = &Head{Layer: l, K: head.K, Reliable: head.Reliable}
		pred, err := headPredictions(head, train)
		if err != nil {
			return nil, 0, 0, err
		}
		changed := 0
		for i := range pred {
			if pred[i] != prev[i] {
				changed++
			}
		}
		if float64(changed) < refitSettled*float64(len(pred)) {
			break
		}
		prev = pred
	}
	return lin, fitted, done, nil
}
