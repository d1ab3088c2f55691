// Command scan trains ConvNet3 by SCAN on Fashion-MNIST under the
// fmnist-ssl-v1 protocol and evaluates it, its 10-way clustering head
// included.
//
// Three phases share the epochs:
//  1. pretext (the first half by default): SimCLR, two views → ConvNet3 →
//     projection 128→256→BN→ReLU→64 → NT-Xent (τ 0.2) → SGD on a warm-up +
//     cosine schedule of its own that ends at 0 with the phase, as a
//     separate pretext run would;
//  2. at the start of the next epoch the 20 nearest neighbors of every
//     training image are mined (cosine, on the un-augmented backbone
//     features); then each step: an augmented anchor and an augmented
//     neighbor drawn from its list → ConvNet3 → cluster head (linear
//     128→10) → SCAN loss (consistency − 5·entropy) → backward through both
//     → Adam, as SCAN trains (base rate 1e-2 for the head, 1e-4 for the
//     backbone, on one cosine over phases 2 and 3: the budget is a few
//     epochs, not SCAN's hundred);
//  3. self-labelling (the last fifth by default): the head's prediction on
//     the un-augmented image, where its confidence exceeds 0.99, is the
//     class-balanced cross-entropy target of an augmented view → Adam.
//
// SCAN runs its stages as separate programs; -pretrained does the same
// here: it starts from the ConvNet3 and projection of an examples/simclr
// checkpoint and skips phase 1. After each clustering epoch the head's
// ACC/NMI/ARI on the test set is printed.
//
// Reference: Van Gansbeke et al., SCAN: Learning to Classify Images
// without Labels, ECCV 2020.
package main

import (
	"flag"
	"fmt"
	"io"
	"math"

	"ssl"
	"ssl/augment"
	"ssl/backbone"
	"ssl/examples/internal/run"
	"ssl/losses"
)

func main() { run.Main(scan) }

const (
	clusters      = 10
	neighbors     = 20  // mined per image (the list also holds the image itself)
	entropyWeight = 5.0 // SCAN's weight on the entropy of the mean prediction
)

func scan(args []string, log io.Writer) error {
	pretextFrac, selfFrac, threshold, clusterLR, netRatio, pretrained := 0.5, 0.2, 0.99, 1e-2, 0.01, ""
	cfg, err := run.Parse("scan", run.Defaults{EpochsEmbedded: 10, EpochsFull: 2, Flags: func(fs *flag.FlagSet) {
		fs.Float64Var(&pretextFrac, "pretext", pretextFrac, "fraction of the epochs for the SimCLR pretext")
		fs.Float64Var(&selfFrac, "selflabel", selfFrac, "fraction of the epochs for self-labelling (at the end)")
		fs.Float64Var(&threshold, "threshold", threshold, "self-labelling confidence threshold")
		fs.Float64Var(&clusterLR, "cluster-lr", clusterLR, "Adam's base learning rate of the head after the pretext")
		fs.Float64Var(&netRatio, "backbone-ratio", netRatio, "the backbone's Adam learning rate after the pretext, as a fraction of the head's (0: backbone frozen)")
		fs.StringVar(&pretrained, "pretrained", "", "start from the ConvNet3 and projection of a SimCLR checkpoint (examples/simclr's -out DIR/checkpoint.safetensors) and skip the pretext")
	}}, args, log)
	if err != nil {
		return err
	}
	data, err := run.LoadData(cfg)
	if err != nil {
		return err
	}
	if pretrained != "" {
		pretextFrac = 0
	}
	pretextEnd := int(math.Round(pretextFrac * float64(cfg.Epochs)))
	selfFrom := cfg.Epochs - int(math.Round(selfFrac*float64(cfg.Epochs)))
	if pretextFrac < 0 || selfFrac < 0 || pretextEnd > selfFrom || !(threshold >= 0 && threshold < 1) || !(clusterLR >= 0) || !(netRatio >= 0) {
		return fmt.Errorf("scan: -pretext %g and -selflabel %g must be ≥ 0 and sum to at most 1, -threshold %g in [0, 1), -cluster-lr %g and -backbone-ratio %g ≥ 0",
			pretextFrac, selfFrac, threshold, clusterLR, netRatio)
	}
	rng := run.InitRand(cfg)
	net, pretext, err := run.Encoder("pretext", 64, rng)
	if err != nil {
		return err
	}
	head, err := backbone.NewLinear("head", 128, clusters, true, rng)
	if err != nil {
		return err
	}
	if pretrained != "" && !cfg.Resume {
		if err := run.LoadWeights(pretrained, append(pretext.Params(), pretext.Buffers()...)); err != nil {
			return err
		}
	}
	proj := pretext.Layers[1]
	cluster := backbone.NewSequential("cluster", net, head)
	params := append(pretext.Params(), head.Params()...)
	opt, err := backbone.NewSGD(params, &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 5e-4})
	if err != nil {
		return err
	}
	// SCAN trains the head and, slower (-backbone-ratio), the backbone with Adam.
	adamHead, err := backbone.NewAdamW(head.Params(), &backbone.AdamWOptions{WeightDecay: 1e-4})
	if err != nil {
		return err
	}
	adamNet, err := backbone.NewAdamW(net.Params(), &backbone.AdamWOptions{WeightDecay: 1e-4})
	if err != nil {
		return err
	}
	nbrs := run.NewNeighbors("neighbors", data.Train.N, neighbors)
	tr, err := run.NewTrainer(cfg, data, net, run.State{Params: params, Buffers: pretext.Buffers(), Opt: opt,
		Extra: append(adamHead.State(), adamNet.State()...), Saved: []run.Checkpointer{nbrs}})
	if err != nil {
		return err
	}

	tr.OnEpoch = func(epoch int) error {
		if epoch > pretextEnd && !cfg.Quiet { // follow the head on the test set
			hs, err := run.EvaluateHead(net, &run.Head{Layer: head, K: clusters}, data.Test)
			if err != nil {
				return err
			}
			fmt.Fprintf(log, "after epoch %d: head on the test set: ACC %.4f NMI %.4f ARI %.4f\n", epoch, hs.ACC, hs.NMI, hs.ARI)
		}
		if epoch != pretextEnd || epoch == selfFrom {
			return nil
		}
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
		return nil
	}

	views, err := run.ProtocolMultiCrop(0)
	if err != nil {
		return err
	}
	aug := views.Groups[0].T // one 28×28 view
	b := cfg.Batch
	x, z, dz := make([]ssl.Tensor, 2), run.Tensors(2, b, 64), run.Tensors(2, b, 64)
	l, dl, ws := run.Tensors(2, b, clusters), run.Tensors(2, b, clusters), run.Workspaces(2)
	lws := losses.NewWorkspace()
	ntOpts := &losses.NTXentOptions{Workspace: lws}
	scanOpts := &losses.SCANOptions{Workspace: lws}
	selfOpts := &losses.SCANSelfLabelOptions{Balance: true, Workspace: lws}
	nbImages, weak := ssl.New(b, 1, 28, 28), ssl.New(b, 1, 28, 28)
	var nbIDs []int

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

	for tr.Next() {
		e, ids := tr.Epoch(), tr.IDs()
		run.SetFrozen(head.Params(), e < pretextEnd)
		run.SetFrozen(proj.Params(), e >= pretextEnd)
		backbone.ZeroGrad(params)
		var loss float64
		switch {
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
		case e < selfFrom: // SCAN: anchors and one random neighbor each
			nbIDs = nbrs.Draw(nbIDs, ids, cfg.Seed, uint64(e), 2)
			if _, err := data.Train.Batch(nbImages, nbIDs); err != nil {
				return err
			}
			if x[0], err = augment.Batch(x[0], tr.Images(), aug, ids, cfg.Seed, uint64(e), 0); err != nil {
				return err
			}
			if x[1], err = augment.Batch(x[1], nbImages, aug, nbIDs, cfg.Seed, uint64(e), 1); err != nil {
				return err
			}
			if err := run.Forward(cluster, ws, l, x); err != nil {
				return err
			}
			res, err := losses.SCAN(dl[0], dl[1], l[0], l[1], entropyWeight, scanOpts)
			if err != nil {
				return err
			}
			loss = res.Loss
			if err := run.Backward(cluster, ws, dl); err != nil {
				return err
			}
		default: // self-labelling: confident predictions on the plain image
			if _, err := run.Normalized(weak, data.Train, ids); err != nil {
				return err
			}
			if err := cluster.Forward(ws[1], l[1], weak, false); err != nil {
				return err
			}
			if x[0], err = augment.Batch(x[0], tr.Images(), aug, ids, cfg.Seed, uint64(e), 0); err != nil {
				return err
			}
			if err := cluster.Forward(ws[0], l[0], x[0], true); err != nil {
				return err
			}
			res, err := losses.SCANSelfLabel(dl[0], l[1], l[0], threshold, selfOpts)
			if err != nil {
				return err
			}
			if res.Confident == 0 { // no confident image in this batch: no step
				tr.Done(0)
				continue
			}
			loss = res.Loss
			if err := cluster.Backward(ws[0], nil, dl[0]); err != nil {
				return err
			}
		}
		if e < pretextEnd {
			err = opt.Step(pretextLR[tr.GlobalStep()])
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
	_, err = tr.Finish(&run.Head{Layer: head, K: clusters})
	return err
}
