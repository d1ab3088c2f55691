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
// With -dist mpi the label matrix is sharded by rows, as SeLa's
// multi-GPU code holds it: each rank computes the probabilities of its
// block of the training set and balances its rows with Sinkhorn-Knopp,
// whose scaling needs only an all-reduce of a K-vector per update
// (sinkhorn.SeLaOptions.Reducer); the labels are then all-gathered, since
// any rank may draw any image.
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
	"ssl/dist"
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

	// Self-labelling of the whole training set: this rank's rows [lo, hi)
	// of it (all of them in one process).
	n, comm := data.Train.N, cfg.Sharded()
	lo, hi := run.Shard(comm, n)
	probs := ssl.New(hi-lo, k)
	// SeLa's schedule (its error tested every 10 updates, stop at 0.1), on
	// probs itself; with -dist, one solve over every rank's rows.
	selaOpts := &sinkhorn.SeLaOptions{Tol: 0.1, InPlace: true, Workspace: sinkhorn.NewWorkspace(hi-lo, k), Reducer: comm}
	tr.OnEpoch = func(epoch int) error {
		feats, err := run.FeatureRows(net, data.Train, lo, hi)
		if err != nil {
			return err
		}
		if err := classifier.Forward(backbone.NewWorkspace(), probs, feats, false); err != nil {
			return err
		}
		if _, err := ssl.SoftmaxRows(probs, probs, 1); err != nil {
			return err
		}
		lab, res, err := selfLabel(comm, probs, n, selaOpts)
		if err != nil {
			return err
		}
		labels.Set(lab)
		if !cfg.Quiet {
			fmt.Fprintf(cfg.Log, "epoch %d: SeLa labeled %d images in %d updates (residual %.3g), %d of %d labels used\n",
				epoch+1, n, res.Iterations, res.Residual, labels.Used(), k)
		}
		return nil
	}

	views, err := cfg.MultiCrop(0)
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
		if err := tr.AverageGrads(); err != nil { // -dist: the mean over the ranks
			return err
		}
		if err := opt.Step(tr.LR()); err != nil {
			return err
		}
		tr.Done(loss)
	}
	_, err = tr.Finish(&run.Head{Layer: classifier, K: k})
	return err
}

// selfLabel returns SeLa's label of each of the n training images, given
// probs, the probabilities of this rank's rows of them (run.Shard(c, n);
// all n with c nil). With c, opts.Reducer is c: the rows are balanced as
// one problem over every rank's, and the labels gathered. Missing the
// tolerance within SeLa's 10,000 updates still gives the labels of the
// last plan, as SeLa's code uses them.
func selfLabel(c dist.Comm, probs ssl.Tensor, n int, opts *sinkhorn.SeLaOptions) ([]int, sinkhorn.SeLaResult, error) {
	lo, hi := run.Shard(c, n)
	lab := make([]int, hi-lo)
	res, err := sinkhorn.SeLa(lab, nil, probs, lambda, opts)
	if err != nil && !errors.Is(err, ssl.ErrNotConverged) {
		return nil, res, err
	}
	all, err := run.GatherInts(c, lab, n)
	return all, res, err
}
