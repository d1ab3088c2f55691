// Command s4l trains ConvNet3 by S4L-Rotation, semi-supervised learning
// with a self-supervised rotation task, on Fashion-MNIST with a small
// labeled subset, and evaluates it under the fmnist-ssl-v1 protocol.
//
// The labeled subset is class-balanced: -labels of each class's training
// images (at least one), chosen by a permutation drawn from the seed, so it
// is the same on every run and on resume. Each step takes two batches:
//
//   - a labeled batch of -labeled-batch images drawn from the subset (a
//     fresh draw per step, from the seed and the step), one protocol view
//     each → ConvNet3 → classifier (128→10) → L_sup, the cross-entropy on
//     the true labels (losses.PseudoLabelCE on real labels);
//   - the trainer's batch of B images from the whole training set (labeled
//     and unlabeled alike), one protocol view each, shown under the four
//     rotations 0°, 90°, 180°, 270° (augment.Rotations, 4B images) →
//     ConvNet3 → rotation head (128→4) → L_rot, the cross-entropy on the
//     rotation index (losses.PseudoLabelCE).
//
// L = L_sup + w·L_rot (eq. 1 and 2 of the paper: L_l on labeled images,
// L_u = L_rot on all images, w = -rotation-weight, 1 by default) →
// backward → SGD (momentum 0.9, weight decay 5e-4, warm-up + cosine, the
// protocol's settings). The classifier and the rotation head are linear
// layers on the shared 128-d features, as in S4L-Rotation (one network,
// two heads).
//
// Comparison: -rotation=false drops the rotation batch and trains the same
// network on the labeled batches alone, the paper's supervised baseline,
// for the same number of steps. Run both at -labels 0.01 and -labels 0.1.
// The evaluation is the protocol's (kNN, linear probe, k-means on the
// backbone's features, which here have seen labels), and the classifier is
// scored as the run's head: its ACC, with the Hungarian matching, is the
// test accuracy of the semi-supervised classifier.
//
// Choices the paper leaves open at this scale: the labeled batch size (64,
// the paper uses equal labeled and unlabeled batches of ImageNet images),
// the weight w = 1 (the paper tunes it), the protocol's crop, flip and
// jitter as the augmentation of both batches (the paper: random crop and
// flip), and the supervised loss on the upright view only.
//
// Reference: Zhai, Oliver, Kolesnikov and Beyer, S4L: Self-Supervised
// Semi-Supervised Learning, ICCV 2019 (Sec. 3.1, S4L-Rotation); Gidaris
// et al., Unsupervised Representation Learning by Predicting Image
// Rotations, ICLR 2018.
package main

import (
	"flag"
	"fmt"
	"io"

	"ssl"
	"ssl/augment"
	"ssl/backbone"
	"ssl/dataset"
	"ssl/examples/internal/run"
	"ssl/losses"
)

func main() { run.Main(s4l) }

// Salts that separate the subset's and the labeled batches' random draws
// from the trainer's batch order.
const (
	subsetSalt = 0x5341_4c53 // "SALS"
	batchSalt  = 0x4c42_4154 // "LBAT"
)

func s4l(args []string, log io.Writer) error {
	frac, lb, rotation, weight := 0.1, 64, true, 1.0
	cfg, err := run.Parse("s4l", run.Defaults{EpochsEmbedded: 8, EpochsFull: 1, Flags: func(fs *flag.FlagSet) {
		fs.Float64Var(&frac, "labels", 0.1, "fraction of each class's training images that keep their label")
		fs.IntVar(&lb, "labeled-batch", 64, "labeled images per step")
		fs.BoolVar(&rotation, "rotation", true, "add the rotation-prediction loss on all images (false: labels alone)")
		fs.Float64Var(&weight, "rotation-weight", 1, "weight w of the rotation loss")
	}}, args, log)
	if err != nil {
		return err
	}
	if !(frac > 0 && frac <= 1) || lb < 1 || weight < 0 {
		return fmt.Errorf("s4l: -labels must be in (0, 1], -labeled-batch ≥ 1, -rotation-weight ≥ 0 (labels=%g labeled-batch=%d rotation-weight=%g): %w", frac, lb, weight, ssl.ErrParam)
	}
	data, err := run.LoadData(cfg)
	if err != nil {
		return err
	}
	labeled := subset(data.Train, frac, cfg.Seed)
	lb = min(lb, len(labeled))
	if !cfg.Quiet {
		fmt.Fprintf(log, "s4l: %d labeled training images (%.3g of each class), rotation loss %v\n", len(labeled), frac, rotation)
	}

	rng := run.InitRand(cfg)
	net, err := backbone.NewConvNet3(rng, nil)
	if err != nil {
		return err
	}
	classifier, err := backbone.NewLinear("classifier", 128, data.Train.Classes, true, rng)
	if err != nil {
		return err
	}
	rotHead, err := backbone.NewLinear("rotation", 128, 4, true, rng)
	if err != nil {
		return err
	}
	sup := backbone.NewSequential("supervised", net, classifier)
	rot := backbone.NewSequential("rotation", net, rotHead)
	params := append(sup.Params(), rotHead.Params()...)
	opt, err := backbone.NewSGD(params, &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 5e-4})
	if err != nil {
		return err
	}
	tr, err := run.NewTrainer(cfg, data, net, run.State{Params: params, Buffers: net.Buffers(), Opt: opt})
	if err != nil {
		return err
	}

	view, err := oneView()
	if err != nil {
		return err
	}
	b := cfg.Batch
	var xl, xu []ssl.Tensor
	ids, yl := make([]int, lb), make([]int, lb)
	raw := ssl.New(lb, 1, 28, 28)
	xr, yr := ssl.New(4*b, 1, 28, 28), make([]int, 4*b)
	ls, dls := ssl.New(lb, data.Train.Classes), ssl.New(lb, data.Train.Classes)
	lr, dlr := ssl.New(4*b, 4), ssl.New(4*b, 4)
	wsSup, wsRot := backbone.NewWorkspace(), backbone.NewWorkspace()

	for tr.Next() {
		backbone.ZeroGrad(params)
		// The labeled batch: lb images of the subset, drawn for this step.
		step := tr.GlobalStep()
		perm := run.Perm(len(labeled), cfg.Seed^batchSalt, step)
		for i := range lb {
			ids[i] = labeled[perm[i]]
			yl[i] = data.Train.Labels[ids[i]]
		}
		if _, err := data.Train.Batch(raw, ids); err != nil {
			return err
		}
		// Repeated draws of an image within an epoch get different
		// augmentations: the augmentation stream's epoch is the step.
		if xl, err = view.Apply(xl, raw, ids, cfg.Seed^batchSalt, uint64(step)); err != nil {
			return err
		}
		if err := sup.Forward(wsSup, ls, xl[0], true); err != nil {
			return err
		}
		lSup, err := losses.PseudoLabelCE(dls, ls, yl, nil)
		if err != nil {
			return err
		}
		if err := sup.Backward(wsSup, nil, dls); err != nil {
			return err
		}
		loss := lSup

		// The rotation batch: every image of the trainer's batch under the
		// four rotations, target the rotation index.
		if rotation {
			if xu, err = view.Apply(xu, tr.Images(), tr.IDs(), cfg.Seed, uint64(tr.Epoch())); err != nil {
				return err
			}
			if _, _, err := augment.Rotations(xr, yr, xu[0]); err != nil {
				return err
			}
			if err := rot.Forward(wsRot, lr, xr, true); err != nil {
				return err
			}
			lRot, err := losses.PseudoLabelCE(dlr, lr, yr, nil)
			if err != nil {
				return err
			}
			run.Scale(dlr, float32(weight))
			if err := rot.Backward(wsRot, nil, dlr); err != nil {
				return err
			}
			loss += weight * lRot
		}
		if err := opt.Step(tr.LR()); err != nil {
			return err
		}
		tr.Done(loss)
	}
	_, err = tr.Finish(&run.Head{Layer: classifier, K: data.Train.Classes})
	return err
}

// subset returns the labeled images: the first max(1, round(frac·n_c)) images
// of each class c in the order of a permutation drawn from the seed.
func subset(s *dataset.Set, frac float64, seed uint64) []int {
	count := make([]int, s.Classes)
	for _, y := range s.Labels {
		count[y]++
	}
	keep := make([]int, s.Classes)
	for c, n := range count {
		keep[c] = min(n, max(1, int(frac*float64(n)+0.5)))
	}
	var ids []int
	for _, i := range run.Perm(s.N, seed^subsetSalt, 0) {
		if y := s.Labels[i]; keep[y] > 0 {
			keep[y]--
			ids = append(ids, i)
		}
	}
	return ids
}

// oneView returns the protocol's augmentation (examples/PROTOCOL.md) as a
// single view: RandomResizedCrop 28 with scale (0.25, 1), flip, brightness
// and contrast jitter, normalization.
func oneView() (*augment.MultiCrop, error) {
	return augment.NewMultiCrop([]int{28}, []int{1}, []float64{0.25}, []float64{1},
		augment.RandomHorizontalFlip{P: 0.5},
		augment.RandomApply{T: augment.ColorJitter{Brightness: 0.4, Contrast: 0.4}, P: 0.8},
		augment.Normalization{Mean: []float64{run.Mean}, Std: []float64{run.Std}})
}
