// Command sela trains ConvNet3 by SeLa's self-labelling on Fashion-MNIST
// under the fmnist-ssl-v1 protocol and evaluates it, the classifier serving
// as a 30-way clustering head.
//
// At the start of every epoch the whole training set is labelled: the
// classifier's probabilities on un-augmented images (evaluation mode) are
// raised to λ = 25 and balanced over the 30 labels by Sinkhorn-Knopp
// (sinkhorn.SeLa), and each image takes the argmax of the transport plan.
// In between, each step trains ConvNet3 and the classifier by cross-entropy
// on those labels over two augmented views.
//
// Reference: Asano, Rupprecht, Vedaldi, Self-labelling via simultaneous
// clustering and representation learning, ICLR 2020.
package main

import (
	"errors"
	"fmt"
	"io"

	"ssl"
	"ssl/backbone"
	"ssl/examples/internal/run"
	"ssl/losses"
	"ssl/sinkhorn"
)

func main() { run.Main(sela) }

const (
	k      = 30 // labels
	lambda = 25 // SeLa's power on the probabilities
)

func sela(args []string, log io.Writer) error {
	cfg, err := run.Parse("sela", run.Defaults{EpochsEmbedded: 10, EpochsFull: 1}, args, log)
	if err != nil {
		return err
	}
	data, err := run.LoadData(cfg)
	if err != nil {
		return err
	}
	rng := run.InitRand(cfg)
	net, err := backbone.NewConvNet3(rng, nil)
	if err != nil {
		return err
	}
	classifier, err := backbone.NewLinear("classifier", 128, k, true, rng)
	if err != nil {
		return err
	}
	model := backbone.NewSequential("sela", net, classifier)
	opt, err := backbone.NewSGD(model.Params(), &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 5e-4})
	if err != nil {
		return err
	}
	labels := run.NewLabels("labels", data.Train.N, k)
	tr, err := run.NewTrainer(cfg, data, net, run.State{Params: model.Params(), Buffers: model.Buffers(), Opt: opt, Saved: []run.Checkpointer{labels}})
	if err != nil {
		return err
	}

	// Self-labelling of the whole training set.
	n := data.Train.N
	probs := ssl.New(n, k)
	// SeLa's schedule (its error tested every 10 updates, stop at 0.1), on
	// probs itself.
	selaOpts := &sinkhorn.SeLaOptions{Tol: 0.1, InPlace: true, Workspace: sinkhorn.NewWorkspace(n, k)}
	tr.OnEpoch = func(epoch int) error {
		feats, err := run.Features(net, data.Train)
		if err != nil {
			return err
		}
		if err := classifier.Forward(backbone.NewWorkspace(), probs, feats, false); err != nil {
			return err
		}
		if _, err := ssl.SoftmaxRows(probs, probs, 1); err != nil {
			return err
		}
		lab := make([]int, n)
		// Missing the tolerance within SeLa's 10,000 updates still gives
		// the labels of the last plan, as SeLa's code uses them.
		res, err := sinkhorn.SeLa(lab, nil, probs, lambda, selaOpts)
		if err != nil && !errors.Is(err, ssl.ErrNotConverged) {
			return err
		}
		labels.Set(lab)
		if !cfg.Quiet {
			fmt.Fprintf(log, "epoch %d: SeLa labeled %d images in %d updates (residual %.3g), %d of %d labels used\n",
				epoch+1, n, res.Iterations, res.Residual, labels.Used(), k)
		}
		return nil
	}

	views, err := run.ProtocolMultiCrop(0)
	if err != nil {
		return err
	}
	b := cfg.Batch
	x := make([]ssl.Tensor, 2)
	logits := []ssl.Tensor{ssl.New(b, k), ssl.New(b, k)}
	dlogits := []ssl.Tensor{ssl.New(b, k), ssl.New(b, k)}
	ws := []*backbone.Workspace{backbone.NewWorkspace(), backbone.NewWorkspace()}
	ceOpts := &losses.PseudoLabelCEOptions{Workspace: losses.NewWorkspace()}
	var y []int

	for tr.Next() {
		if x, err = views.Apply(x, tr.Images(), tr.IDs(), cfg.Seed, uint64(tr.Epoch())); err != nil {
			return err
		}
		y = labels.Gather(y, tr.IDs())
		backbone.ZeroGrad(model.Params())
		var loss float64
		for v := range 2 {
			if err := model.Forward(ws[v], logits[v], x[v], true); err != nil {
				return err
			}
			l, err := losses.PseudoLabelCE(dlogits[v], logits[v], y, ceOpts)
			if err != nil {
				return err
			}
			loss += l / 2
			run.Scale(dlogits[v], 0.5) // each view's loss counts half
			if err := model.Backward(ws[v], nil, dlogits[v]); err != nil {
				return err
			}
		}
		if err := opt.Step(tr.LR()); err != nil {
			return err
		}
		tr.Done(loss)
	}
	_, err = tr.Finish(&run.Head{Layer: classifier, K: k})
	return err
}
