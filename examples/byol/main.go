// Command byol trains ConvNet3 with BYOL on Fashion-MNIST under the
// fmnist-ssl-v1 protocol and evaluates it.
//
// Each step: two augmented views → online network (ConvNet3 → projection
// 128→256→BN→ReLU→64 → predictor 64→256→BN→ReLU→64) and target network
// (ConvNet3 → projection, no gradient) → BYOL regression loss, symmetrised
// over the views → backward through the online network → SGD → target moved
// towards the online weights by an EMA whose momentum rises from 0.99 to 1
// on a cosine schedule.
//
// Reference: Grill et al., Bootstrap Your Own Latent, NeurIPS 2020.
package main

import (
	"flag"
	"io"

	"ssl"
	"ssl/backbone"
	"ssl/examples/internal/run"
	"ssl/losses"
)

func main() { run.Main(byol) }

func byol(args []string, log io.Writer) error {
	scale := 1.0
	cfg, err := run.Parse("byol", run.Defaults{EpochsEmbedded: 10, EpochsFull: 1, Flags: func(fs *flag.FlagSet) {
		fs.Float64Var(&scale, "loss-scale", 1, "multiplies the loss and its gradient: 1 is the paper's 2−2·cos per view pair, 0.25 lightly's 0.5·(−cos₁ − cos₂) (the same minimiser, a quarter of the step under SGD)")
	}}, args, log)
	if err != nil {
		return err
	}
	data, err := run.LoadData(cfg)
	if err != nil {
		return err
	}
	rng := run.InitRand(cfg)
	onlineNet, err := backbone.NewConvNet3(rng, nil)
	if err != nil {
		return err
	}
	onlineProj, err := backbone.NewMLP("projection", 128, 256, 64, rng)
	if err != nil {
		return err
	}
	predictor, err := backbone.NewPredictor("predictor", 64, 256, 64, rng)
	if err != nil {
		return err
	}
	online := backbone.NewSequential("online", onlineNet, onlineProj, predictor)
	// The target has the online encoder's architecture and starts from its
	// weights; it only ever moves by the EMA.
	targetNet, err := backbone.NewConvNet3(rng, nil)
	if err != nil {
		return err
	}
	targetProj, err := backbone.NewMLP("projection", 128, 256, 64, rng)
	if err != nil {
		return err
	}
	target := backbone.NewSequential("target", targetNet, targetProj)
	onlineEncoder := backbone.NewSequential("online", onlineNet, onlineProj)
	if err := backbone.CopyParams(target.Params(), onlineEncoder.Params()); err != nil {
		return err
	}
	opt, err := backbone.NewSGD(online.Params(), &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 5e-4})
	if err != nil {
		return err
	}
	tr, err := run.NewTrainer(cfg, data, onlineNet, run.State{
		Params:  online.Params(),
		Buffers: online.Buffers(),
		Opt:     opt,
		Extra:   append(target.Params(), target.Buffers()...),
	})
	if err != nil {
		return err
	}

	views, err := cfg.MultiCrop(0)
	if err != nil {
		return err
	}
	b := cfg.Batch
	x := make([]ssl.Tensor, 2)
	p := []ssl.Tensor{ssl.New(b, 64), ssl.New(b, 64)}
	z := []ssl.Tensor{ssl.New(b, 64), ssl.New(b, 64)}
	dp := []ssl.Tensor{ssl.New(b, 64), ssl.New(b, 64)}
	ws := []*backbone.Workspace{backbone.NewWorkspace(), backbone.NewWorkspace()}
	tws := backbone.NewWorkspace()
	total := tr.StepsPerEpoch() * cfg.Epochs

	for tr.Next() {
		if x, err = views.Apply(x, tr.Images(), tr.IDs(), cfg.Seed, uint64(tr.Epoch())); err != nil {
			return err
		}
		backbone.ZeroGrad(online.Params())
		for v := range 2 {
			if err := online.Forward(ws[v], p[v], x[v], true); err != nil {
				return err
			}
			if err := target.Forward(tws, z[v], x[v], true); err != nil {
				return err
			}
		}
		// Symmetrised: view 1's prediction regresses view 2's target and
		// back; each term is already a batch mean.
		var loss float64
		for v := range 2 {
			l, err := losses.BYOL(dp[v], p[v], z[1-v])
			if err != nil {
				return err
			}
			loss += scale * l
			if scale != 1 {
				_, g, err := ssl.View(dp[v])
				if err != nil {
					return err
				}
				for i := range g {
					g[i] *= float32(scale)
				}
			}
		}
		for v := range 2 {
			if err := online.Backward(ws[v], nil, dp[v]); err != nil {
				return err
			}
		}
		if err := opt.Step(tr.LR()); err != nil {
			return err
		}
		tau, err := backbone.EMATau(0.99, tr.GlobalStep(), total)
		if err != nil {
			return err
		}
		if err := backbone.EMAUpdate(target.Params(), onlineEncoder.Params(), tau); err != nil {
			return err
		}
		tr.Done(loss)
	}
	_, err = tr.Finish(nil)
	return err
}
