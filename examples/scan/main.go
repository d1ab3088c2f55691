// Command scan trains ConvNet3 by SCAN on Fashion-MNIST under the
// fmnist-ssl-v1 protocol and evaluates it, its 10-way clustering head
// included.
//
// Three phases share the epochs: the clustering (phases 2 and 3) takes the
// last -cluster-epochs (12), at most half the run, and the pretext the
// others; with -budget the epochs, and so the pretext's length, are planned
// from the pretext's step rate, and the cheaper clustering epochs end the
// run a few minutes inside its budget.
//  1. pretext, on a warm-up + cosine schedule of its own that ends at 0
//     with the phase, as a separate pretext run would, SGD: by default
//     SwAV as examples/swav trains it (2×28 + -local 4 16×16 crops →
//     ConvNet3 → projection 128→256→BN→ReLU→64 → L2-normalize → 30
//     prototypes → Sinkhorn codes of the two global crops → swapped
//     prediction, the prototypes frozen for the first epoch); with
//     -pretext-method simclr two views → ConvNet3 → the same projection →
//     NT-Xent (τ 0.2). Its 28×28 crops keep at least -crop-min 0.5 of the
//     image (the 30-minute recipe's; the protocol's 0.25 leaves SwAV's and
//     SimCLR's 30-minute features weaker);
//  2. at the start of the next epoch the -neighbors (20) nearest
//     neighbors of every training image are mined (cosine, on the
//     un-augmented backbone features); then each step: a strongly
//     augmented anchor and a strongly augmented neighbor drawn from its
//     list (the protocol's view, crop-min 0.25, followed by Cutout, as
//     SCAN's strong augmentation ends) → ConvNet3 → -heads clustering heads
//     (linear 128→10 each) → the sum of their SCAN losses (consistency −
//     5·entropy) → Adam, as SCAN trains (base rate 1e-2 for the heads, on
//     one cosine over phases 2 and 3: the budget is a few epochs, not
//     SCAN's hundred). The backbone stays frozen (-backbone-ratio 0; r > 0
//     trains it at r times the heads' rate, 0.01 giving SCAN's 1e-4: on
//     30-minute SwAV features that cost 4 points of kNN and of head ACC
//     here). After each SCAN epoch the head of lowest SCAN loss over the
//     training set and all its mined neighbors is kept, as SCAN's
//     scan_evaluate does (-choose agreement keeps the head whose clusters
//     keep the mined neighborhoods together best instead: the highest
//     Cohen's κ between an image's cluster and its neighbors', label-free);
//  3. self-labelling (the last -selflabel 0.1 of the clustering epochs,
//     rounded), only if every cluster of the kept head holds a training
//     image of confidence above -threshold (otherwise SCAN goes on): the
//     kept head's prediction on the
//     un-augmented image, where its confidence exceeds 0.99, is the
//     class-balanced cross-entropy target of a strongly augmented view →
//     Adam: by default the clustering schedule and -backbone-ratio go on;
//     -selflabel-lr R trains the backbone and the kept head with a fresh
//     Adam at the constant rate R instead, as SCAN's self-labelling stage
//     does (1e-4 there), which lets a backbone frozen during phase 2 learn
//     from the pseudo-labels.
//
// The evaluation scores one clustering beyond the protocol's k-means and
// the kept head: the head's reliable pseudo-labels propagated, as SPICE
// selects them (Niu et al., SPICE: Semantic Pseudo-labeling for Image
// Clustering, IEEE TIP 2022). The head labels every training image; the
// images whose label at least -reliable (0.9) of their 20 nearest
// training images share (cosine, backbone features) are kept, and each
// test image takes the protocol's weighted kNN vote (k 20, T 0.07) of the
// kept images' labels. No label and no training step enter it: it
// replaces the head's linear boundary, where it cuts through a
// neighborhood, by the neighborhood's majority (SPICE trains a network on
// the reliable labels instead). With -refit (the default) the kept head
// itself is first replaced by the logistic regression fitted to those
// reliable labels on the backbone's features (run.Head.Refit: the optimum
// of a linear head on a frozen backbone), for up to -refit-rounds (10)
// rounds: each round's head labels the training images anew and the next
// fits to its reliable labels, until a round changes fewer than 0.1 % of
// them (self-training, as SPICE retrains on its own model's labels); both
// scores are the last refitted head's.
//
// SCAN runs its stages as separate programs; -pretrained does the same
// here: it starts from the ConvNet3 and projection of an examples/simclr
// or examples/swav checkpoint (both hold ConvNet3 and the same
// 128→256→BN→ReLU→64 projection), skips phase 1 and clusters for all its
// epochs. After each clustering epoch the kept head's
// ACC/NMI/ARI and cluster sizes on the test set, every head's ACC, loss
// and neighbor κ, and the heads' agreement (NMI with the kept head) are printed: the
// diagnostics for merged or empty clusters (labels serve nothing else).
//
// Reference: Van Gansbeke et al., SCAN: Learning to Classify Images
// without Labels, ECCV 2020.
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"slices"

	"ssl"
	"ssl/augment"
	"ssl/backbone"
	"ssl/examples/internal/run"
	"ssl/losses"
)

func main() { run.Main(scan) }

const (
	clusters      = 10
	entropyWeight = 5.0 // SCAN's weight on the entropy of the mean prediction
)

func scan(args []string, log io.Writer) error {
	pretextFrac, selfFrac, threshold, clusterLR, netRatio, selfLR, pretrained := -1.0, 0.1, 0.99, 1e-2, 0.0, 0.0, ""
	nHeads, cutout, neighbors, reliable, refit, rounds := 10, 14, 20, 0.9, true, 10
	method, clusterEpochs, local, choose := "swav", 12, 4, "loss"
	cfg, err := run.Parse("scan", run.Defaults{EpochsEmbedded: 10, EpochsFull: 2, CropMin: 0.5, Flags: func(fs *flag.FlagSet) {
		fs.StringVar(&method, "pretext-method", method, "the pretext: swav (2×28 + -local 16×16 crops, 30 prototypes, Sinkhorn codes, as examples/swav) or simclr (two views, NT-Xent, as examples/simclr)")
		fs.IntVar(&local, "local", local, "16×16 local crops of the SwAV pretext beside its two 28×28 ones")
		fs.IntVar(&clusterEpochs, "cluster-epochs", clusterEpochs, "epochs of clustering (SCAN, then self-labelling) at the end of the run, at most half of it after a pretext; the pretext takes the others")
		fs.Float64Var(&pretextFrac, "pretext", pretextFrac, "fraction of the epochs for the pretext, in place of -cluster-epochs (-1: -cluster-epochs decides)")
		fs.Float64Var(&selfFrac, "selflabel", selfFrac, "fraction of the clustering epochs for self-labelling (at the end)")
		fs.Float64Var(&threshold, "threshold", threshold, "self-labelling confidence threshold")
		fs.Float64Var(&clusterLR, "cluster-lr", clusterLR, "Adam's base learning rate of the heads after the pretext")
		fs.Float64Var(&netRatio, "backbone-ratio", netRatio, "the backbone's Adam learning rate after the pretext, as a fraction of the heads' (0: backbone frozen)")
		fs.Float64Var(&selfLR, "selflabel-lr", selfLR, "Adam's constant learning rate of the whole network (kept head and backbone, one fresh optimizer) while self-labelling, as SCAN's 1e-4 (0: the clustering schedule and -backbone-ratio go on)")
		fs.IntVar(&nHeads, "heads", nHeads, "clustering heads trained side by side; one is kept (-choose)")
		fs.StringVar(&choose, "choose", choose, "which head is kept after each SCAN epoch: loss (the lowest SCAN loss over the training set and its mined neighbors, as SCAN) or agreement (the highest Cohen's κ between an image's cluster and its mined neighbors')")
		fs.IntVar(&neighbors, "neighbors", neighbors, "nearest neighbors mined per image (SCAN: 20)")
		fs.Float64Var(&reliable, "reliable", reliable, "also score the kept head's pseudo-labels propagated by kNN from the training images whose label at least this fraction of their 20 nearest neighbors share (0: not scored)")
		fs.BoolVar(&refit, "refit", refit, "replace the kept head, once trained, by a logistic regression fitted to its reliable pseudo-labels (-reliable; false: SCAN's head as trained)")
		fs.IntVar(&rounds, "refit-rounds", rounds, "-refit rounds at most: each round's head labels the training images anew and the next fits to its reliable labels, until a round changes fewer than 0.1% of them")
		fs.IntVar(&cutout, "cutout", cutout, "largest side of the Cutout square in the SCAN and self-labelling views (0: none)")
		fs.StringVar(&pretrained, "pretrained", "", "start from the ConvNet3 and projection of a SimCLR or SwAV checkpoint (examples/simclr's or examples/swav's -out DIR/checkpoint.safetensors) and skip the pretext")
	}}, args, log)
	if err != nil {
		return err
	}
	data, err := run.LoadData(cfg)
	if err != nil {
		return err
	}
	if (method != "swav" && method != "simclr") || (choose != "loss" && choose != "agreement") || local < 0 || clusterEpochs < 1 || !(pretextFrac == -1 || pretextFrac >= 0 && pretextFrac <= 1) || !(selfFrac >= 0 && selfFrac <= 1) || !(threshold >= 0 && threshold < 1) || !(clusterLR >= 0) || !(netRatio >= 0) || !(selfLR >= 0) || nHeads < 1 || cutout < 0 || neighbors < 1 || neighbors >= data.Train.N || !(reliable >= 0 && reliable <= 1) || refit && reliable == 0 || rounds < 1 {
		return fmt.Errorf("scan: -pretext-method %s must be swav or simclr, -choose %s loss or agreement, -local %d ≥ 0, -cluster-epochs %d ≥ 1, -pretext %g -1 or in [0, 1], -selflabel %g in [0, 1], -threshold %g in [0, 1), -cluster-lr %g, -backbone-ratio %g and -selflabel-lr %g ≥ 0, -heads %d ≥ 1, -cutout %d ≥ 0, -neighbors %d in [1, %d), -reliable %g in [0, 1] and above 0 with -refit=%t, -refit-rounds %d ≥ 1",
			method, choose, local, clusterEpochs, pretextFrac, selfFrac, threshold, clusterLR, netRatio, selfLR, nHeads, cutout, neighbors, data.Train.N, reliable, refit, rounds)
	}
	pretextEnd := phases(cfg.Epochs, clusterEpochs, pretextFrac, pretrained != "")
	selfFrom := cfg.Epochs - int(math.Round(selfFrac*float64(cfg.Epochs-pretextEnd)))
	swav := method == "swav" && pretextEnd > 0
	rng := run.InitRand(cfg)
	net, pretext, err := run.Encoder("pretext", 64, rng)
	if err != nil {
		return err
	}
	// The heads are one linear layer: head h is rows h·K … h·K+K−1 of its
	// weight, each initialised as a 128→K layer of its own.
	heads, err := backbone.NewLinear("heads", 128, nHeads*clusters, true, rng)
	if err != nil {
		return err
	}
	if pretrained != "" && !cfg.Resume {
		if err := run.LoadWeights(pretrained, append(pretext.Params(), pretext.Buffers()...)); err != nil {
			return err
		}
	}
	proj := pretext.Layers[1]
	cluster := backbone.NewSequential("cluster", net, heads)
	params := append(pretext.Params(), heads.Params()...)
	// The SwAV pretext: examples/swav's model, made after the heads so that
	// they start as they do after a -pretrained SwAV run.
	var protos *backbone.Prototypes
	var swavNet *backbone.Sequential
	if swav {
		if protos, err = backbone.NewPrototypes("prototypes", 64, prototypes, rng); err != nil {
			return err
		}
		protos.Normalize()
		swavNet = backbone.NewSequential("swav", net, proj, backbone.NewL2Normalize("normalize"), protos)
		params = append(params, protos.Params()...)
	}
	opt, err := backbone.NewSGD(params, &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 5e-4})
	if err != nil {
		return err
	}
	// SCAN trains the heads and, slower (-backbone-ratio), the backbone with Adam.
	adamHead, err := backbone.NewAdamW(heads.Params(), &backbone.AdamWOptions{WeightDecay: 1e-4})
	if err != nil {
		return err
	}
	adamNet, err := backbone.NewAdamW(net.Params(), &backbone.AdamWOptions{WeightDecay: 1e-4})
	if err != nil {
		return err
	}
	// Self-labelling, as SCAN's, trains everything with an Adam of its own.
	adamSelf, err := backbone.NewAdamW(append(net.Params(), heads.Params()...), &backbone.AdamWOptions{WeightDecay: 1e-4})
	if err != nil {
		return err
	}
	selfState := adamSelf.State() // saved as "self." + name: adamNet's state has the same names
	for i, p := range selfState {
		selfState[i] = &backbone.Param{Name: "self." + p.Name, Value: p.Value}
	}
	nbrs := run.NewNeighbors("neighbors", data.Train.N, neighbors)
	st := &scanState{kept: 0, self: undecided}
	tr, err := run.NewTrainer(cfg, data, net, run.State{Params: params, Buffers: pretext.Buffers(), Opt: opt,
		Extra: slices.Concat(adamHead.State(), adamNet.State(), selfState), Saved: []run.Checkpointer{nbrs, st}})
	if err != nil {
		return err
	}
	multi := &multiHead{all: heads, n: nHeads}

	tr.OnEpoch = func(epoch int) error {
		if epoch == pretextEnd && epoch < selfFrom {
			feats, err := run.Features(net, data.Train)
			if err != nil {
				return err
			}
			purity, err := nbrs.Mine(feats, data.Train.Labels)
			if err != nil {
				return err
			}
			if !cfg.Quiet {
				fmt.Fprintf(log, "epoch %d: mined %d neighbors of every image: %.1f%% share its label\n", epoch+1, neighbors, 100*purity)
			}
		}
		if epoch <= pretextEnd {
			return nil
		}
		feats, err := run.Features(net, data.Train)
		if err != nil {
			return err
		}
		trainLoss, err := multi.losses(feats, nbrs)
		if err != nil {
			return err
		}
		kappa, err := multi.agreement(feats, nbrs)
		if err != nil {
			return err
		}
		if afterSCAN := epoch <= selfFrom || st.self == noSelfLabelling; afterSCAN {
			// After a SCAN epoch: keep the head of lowest SCAN loss over the
			// training set and its mined neighbors, as SCAN's scan_evaluate,
			// or with -choose agreement the head whose clusters keep those
			// neighborhoods together best.
			if choose == "agreement" {
				st.kept = argmax(kappa)
			} else {
				st.kept = argmin(trainLoss)
			}
		}
		if epoch == selfFrom {
			// Self-label only if every cluster of the kept head has a
			// confident image: a missing cluster never comes back, and
			// SCAN's authors see self-labelling lower accuracy then.
			conf, err := multi.confident(feats, st.kept, threshold)
			if err != nil {
				return err
			}
			st.self = selfLabelling
			if slices.Min(conf) == 0 {
				st.self = noSelfLabelling
			}
			if !cfg.Quiet {
				fmt.Fprintf(log, "epoch %d: confident (> %g) training images per cluster of head %d: %v", epoch+1, threshold, st.kept, conf)
				if st.self == noSelfLabelling {
					fmt.Fprintf(log, " — a cluster has none: SCAN continues instead of self-labelling")
				}
				fmt.Fprintln(log)
			}
		}
		if !cfg.Quiet { // follow the heads on the test set (labels used for the printout only)
			if err := multi.report(log, epoch, net, data.Test, trainLoss, kappa, st.kept); err != nil {
				return err
			}
		}
		return nil
	}

	// The pretext's views: -crop-min (0.5 by default) for the 28×28 crops.
	// SCAN's strong view is the protocol's (crop-min 0.25) followed by Cutout.
	var views *augment.MultiCrop
	if swav {
		views, err = cfg.MultiCrop(local)
	} else {
		views, err = cfg.MultiCrop(0)
	}
	if err != nil {
		return err
	}
	plain, err := run.ProtocolMultiCrop(0)
	if err != nil {
		return err
	}
	aug := plain.Groups[0].T // one 28×28 view
	strong := aug
	if cutout > 0 { // SCAN's strong augmentation ends with Cutout, after normalisation
		strong = augment.Compose{aug, augment.Cutout{Size: cutout, RandomSize: true, P: 1}}
	}
	b := cfg.Batch
	x, z, dz := make([]ssl.Tensor, 2), run.Tensors(2, b, 64), run.Tensors(2, b, 64)
	l, dl, ws := run.Tensors(2, b, nHeads*clusters), run.Tensors(2, b, nHeads*clusters), run.Workspaces(2)
	lh, dlh := run.Tensors(2, b, clusters), run.Tensors(2, b, clusters)
	lws := losses.NewWorkspace()
	ntOpts := &losses.NTXentOptions{Workspace: lws}
	scanOpts := &losses.SCANOptions{Workspace: lws}
	selfOpts := &losses.SCANSelfLabelOptions{Balance: true, Workspace: lws}
	nbImages, weak := ssl.New(b, 1, 28, 28), ssl.New(b, 1, 28, 28)
	var nbIDs []int
	sw, err := newSwAVStep(b, views.Views())
	crops := make([]ssl.Tensor, views.Views())
	if err != nil {
		return err
	}

	// Two schedules: the pretext's (to 0 at its end) and the clustering's.
	steps := tr.StepsPerEpoch()
	pretextLR, err := backbone.WarmupCosine(0, cfg.LR, 0, min(cfg.Warmup, pretextEnd*steps), pretextEnd*steps)
	if err != nil {
		return err
	}
	clusterLRs, err := backbone.WarmupCosine(0, clusterLR, 0, 0, (cfg.Epochs-pretextEnd)*steps)
	if err != nil {
		return err
	}

	// SwAV keeps its prototypes frozen for the first epoch, at most half
	// the pretext.
	freeze := min(steps, pretextEnd*steps/2)

	for tr.Next() {
		e, ids := tr.Epoch(), tr.IDs()
		run.SetFrozen(heads.Params(), e < pretextEnd)
		run.SetFrozen(proj.Params(), e >= pretextEnd)
		if swav {
			protos.Freeze(e >= pretextEnd || tr.GlobalStep() < freeze)
		}
		backbone.ZeroGrad(params)
		var loss float64
		switch {
		case e < pretextEnd && swav: // SwAV pretext
			if crops, err = views.Apply(crops, tr.Images(), ids, cfg.Seed, uint64(e)); err != nil {
				return err
			}
			if loss, err = sw.step(swavNet, crops); err != nil {
				return err
			}
		case e < pretextEnd: // SimCLR pretext
			if x, err = views.Apply(x, tr.Images(), ids, cfg.Seed, uint64(e)); err != nil {
				return err
			}
			if err := run.Forward(pretext, ws, z, x); err != nil {
				return err
			}
			if loss, err = losses.NTXent(dz[0], dz[1], z[0], z[1], 0.2, ntOpts); err != nil {
				return err
			}
			if err := run.Backward(pretext, ws, dz); err != nil {
				return err
			}
		case e < selfFrom || st.self == noSelfLabelling: // SCAN: anchors and one random neighbor each, every head
			nbIDs = nbrs.Draw(nbIDs, ids, cfg.Seed, uint64(e), 2)
			if _, err := data.Train.Batch(nbImages, nbIDs); err != nil {
				return err
			}
			if x[0], err = augment.Batch(x[0], tr.Images(), strong, ids, cfg.Seed, uint64(e), 0); err != nil {
				return err
			}
			if x[1], err = augment.Batch(x[1], nbImages, strong, nbIDs, cfg.Seed, uint64(e), 1); err != nil {
				return err
			}
			if err := run.Forward(cluster, ws, l, x); err != nil {
				return err
			}
			for h := range nHeads { // SCAN sums the heads' losses
				for v := range 2 {
					multi.gather(lh[v], l[v], h)
				}
				res, err := losses.SCAN(dlh[0], dlh[1], lh[0], lh[1], entropyWeight, scanOpts)
				if err != nil {
					return err
				}
				loss += res.Loss / float64(nHeads)
				for v := range 2 {
					multi.scatter(dl[v], dlh[v], h)
				}
			}
			if err := run.Backward(cluster, ws, dl); err != nil {
				return err
			}
		default: // self-labelling of the kept head: confident predictions on the plain image
			if _, err := run.Normalized(weak, data.Train, ids); err != nil {
				return err
			}
			if err := cluster.Forward(ws[1], l[1], weak, false); err != nil {
				return err
			}
			if x[0], err = augment.Batch(x[0], tr.Images(), strong, ids, cfg.Seed, uint64(e), 0); err != nil {
				return err
			}
			if err := cluster.Forward(ws[0], l[0], x[0], true); err != nil {
				return err
			}
			multi.gather(lh[1], l[1], st.kept)
			multi.gather(lh[0], l[0], st.kept)
			res, err := losses.SCANSelfLabel(dlh[0], lh[1], lh[0], threshold, selfOpts)
			if err != nil {
				return err
			}
			if res.Confident == 0 { // no confident image in this batch: no step
				tr.Done(0)
				continue
			}
			loss = res.Loss
			clear(dense(dl[0]))
			multi.scatter(dl[0], dlh[0], st.kept)
			if err := cluster.Backward(ws[0], nil, dl[0]); err != nil {
				return err
			}
		}
		if selfLabel := e >= selfFrom && st.self == selfLabelling; e < pretextEnd {
			if err = opt.Step(pretextLR[tr.GlobalStep()]); err == nil && swav {
				protos.Normalize()
			}
		} else if selfLabel && selfLR > 0 {
			err = adamSelf.Step(selfLR)
		} else {
			lr := clusterLRs[tr.GlobalStep()-pretextEnd*steps]
			if err = adamHead.Step(lr); err == nil {
				err = adamNet.Step(lr * netRatio)
			}
		}
		if err != nil {
			return err
		}
		tr.Done(loss)
	}
	if tr.Err() != nil || tr.Interrupted() {
		_, err = tr.Finish(nil)
		return err
	}
	keep, err := multi.head(st.kept)
	if err != nil {
		return err
	}
	if !cfg.Quiet {
		fmt.Fprintf(log, "the kept head: %d of %d\n", st.kept, nHeads)
	}
	_, err = tr.Finish(&run.Head{Layer: keep, K: clusters, Reliable: reliable, Refit: refit, RefitRounds: rounds})
	return err
}
