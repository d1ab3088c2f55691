// Command simclr trains ConvNet3 with SimCLR's NT-Xent objective on
// Fashion-MNIST under the fmnist-ssl-v1 protocol and evaluates it.
//
// Each step: two augmented views of a batch → ConvNet3 → projection MLP
// (128→256→BN→ReLU→64) → NT-Xent (temperature 0.2, -temperature) → backward through both
// views → SGD (momentum 0.9, weight decay 5e-4, warm-up + cosine).
//
// Reference: Chen et al., A Simple Framework for Contrastive Learning of
// Visual Representations, ICML 2020.
package main

import (
	"flag"
	"fmt"
	"io"
	"math"

	"ssl"
	"ssl/backbone"
	"ssl/examples/internal/run"
	"ssl/losses"
)

func main() { run.Main(simclr) }

func simclr(args []string, log io.Writer) error {
	temperature := 0.2
	cfg, err := run.Parse("simclr", run.Defaults{EpochsEmbedded: 10, EpochsFull: 1, Flags: func(fs *flag.FlagSet) {
		fs.Float64Var(&temperature, "temperature", 0.2, "NT-Xent temperature τ, > 0")
	}}, args, log)
	if err != nil {
		return err
	}
	if !(temperature > 0) || math.IsInf(temperature, 0) {
		return fmt.Errorf("simclr: -temperature must be finite and > 0 (-temperature=%v)", temperature)
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
	proj, err := backbone.NewMLP("projection", 128, 256, 64, rng)
	if err != nil {
		return err
	}
	model := backbone.NewSequential("simclr", net, proj)
	opt, err := backbone.NewSGD(model.Params(), &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 5e-4})
	if err != nil {
		return err
	}
	tr, err := run.NewTrainer(cfg, data, net, run.State{Params: model.Params(), Buffers: model.Buffers(), Opt: opt, Layers: []backbone.Layer{proj}})
	if err != nil {
		return err
	}

	views, err := cfg.MultiCrop(0) // two 28×28 views
	if err != nil {
		return err
	}
	b := cfg.Batch
	x := make([]ssl.Tensor, 2)
	z := []ssl.Tensor{ssl.New(b, 64), ssl.New(b, 64)}
	dz := []ssl.Tensor{ssl.New(b, 64), ssl.New(b, 64)}
	ws := []*backbone.Workspace{backbone.NewWorkspace(), backbone.NewWorkspace()}
	lossOpts := &losses.NTXentOptions{Workspace: losses.NewWorkspace()}
	if c := cfg.Comm(); c != nil && c.Size() > 1 {
		lossOpts.Comm = c // -dist: negatives gathered from every rank's batch
	}

	for tr.Next() {
		if x, err = views.Apply(x, tr.Images(), tr.IDs(), cfg.Seed, uint64(tr.Epoch())); err != nil {
			return err
		}
		backbone.ZeroGrad(model.Params())
		for v := range 2 {
			if err := model.Forward(ws[v], z[v], x[v], true); err != nil {
				return err
			}
		}
		loss, err := losses.NTXent(dz[0], dz[1], z[0], z[1], temperature, lossOpts)
		if err != nil {
			return err
		}
		for v := range 2 {
			if err := model.Backward(ws[v], nil, dz[v]); err != nil {
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
	_, err = tr.Finish(nil)
	return err
}
