// Command bregman trains ConvNet3 with BeCLR's deep Bregman divergence beside
// SimCLR's contrastive loss on Fashion-MNIST under the fmnist-ssl-v1 protocol
// and evaluates it.
//
// A Bregman divergence D_φ(x, y) = φ(x) − φ(y) − ⟨∇φ(y), x − y⟩ needs a
// strictly convex generator φ. BeCLR learns one as the maximum of K
// sub-networks, φ(x) = max_k f_k(x) (the functional Bregman network); for
// such a max-affine φ the divergence between two embeddings reduces to
// f_{a(x)}(x) − f_{a(y)}(x), a(·) the index of the winning sub-network, and
// it turns into a similarity exp(−D/(2σ²)) that enters a contrastive loss
// like a cosine does in SimCLR's.
//
// Each step: two augmented views of a batch → ConvNet3 → projection MLP
// (128→256→BN→ReLU→64) = z → NT-Xent on (z_1, z_2) (temperature 0.2, as the
// protocol's SimCLR) and, with -bregman, the Bregman network on z
// (L2-normalize → K = 10 sub-networks 64→64→ReLU→1) → losses.Bregman on its
// outputs (eq. 3–6: dist_il = max_k f_ik − f_{i,a_l}, s_il =
// exp(−dist_il/(2σ²))/τ, cross-entropy of each view's positive against the
// other 2B−2 views; σ 0.9, τ 0.2) → L = NT-Xent + Bregman → backward through
// both heads into one gradient of z → SGD (momentum 0.9, weight decay 5e-4,
// warm-up + cosine).
//
// Reference: Rezaei, Soleymani et al., Deep Bregman Divergence for
// Contrastive Learning of Visual Representations (BeCLR), 2021, eq. 3–6 and
// its code csfarzin/BeCLR (model.py: sub-networks on the normalized
// projection; trainer.py: the sum of the two losses, weight 1). Choices made
// here: the protocol's backbone, projection and NT-Xent temperature 0.2, also
// as the Bregman loss's τ (BeCLR uses one temperature for both, 0.5 by
// default); K = 10 sub-networks of 64 hidden units (model.py's defaults;
// main.py uses 100 of 512 on ImageNet-size networks); no dropout in the
// sub-networks (BeCLR's 0.2; the library has no dropout layer); all
// parameters trained by the protocol's SGD instead of BeCLR's Adam.
//
// Comparison: -bregman=false trains the same encoder by NT-Xent alone (the
// Bregman network is then neither built into the loss nor trained), which is
// examples/simclr's method at the same budget. With -bregman the winning
// sub-network of each image is a K-way partition of the embeddings; it is
// reported as a clustering head, and the progress line after each epoch
// says how many sub-networks won at least one image of the test set.
package main

import (
	"flag"
	"fmt"
	"io"

	"ssl"
	"ssl/backbone"
	"ssl/dataset"
	"ssl/examples/internal/run"
	"ssl/losses"
	"ssl/probe"
)

func main() { run.Main(bregman) }

const tau = 0.2 // NT-Xent's temperature (the protocol's) and the Bregman loss's τ

func bregman(args []string, log io.Writer) error {
	useBregman, k, hidden, sigma, weight := true, 10, 64, 0.9, 1.0
	cfg, err := run.Parse("bregman", run.Defaults{EpochsEmbedded: 10, EpochsFull: 1, Flags: func(fs *flag.FlagSet) {
		fs.BoolVar(&useBregman, "bregman", useBregman, "add the deep Bregman divergence loss to NT-Xent (false: NT-Xent alone, SimCLR)")
		fs.IntVar(&k, "k", k, "sub-networks of the Bregman network")
		fs.IntVar(&hidden, "hidden", hidden, "hidden units of each sub-network")
		fs.Float64Var(&sigma, "sigma", sigma, "bandwidth σ of the Bregman similarity exp(−D/(2σ²))")
		fs.Float64Var(&weight, "weight", weight, "weight of the Bregman loss beside NT-Xent")
	}}, args, log)
	if err != nil {
		return err
	}
	if k < 1 || hidden < 1 || !(sigma > 0) || !(weight >= 0) {
		return fmt.Errorf("bregman: -k %d and -hidden %d must be ≥ 1, -sigma %g > 0, -weight %g ≥ 0", k, hidden, sigma, weight)
	}
	data, err := run.LoadData(cfg)
	if err != nil {
		return err
	}
	rng := run.InitRand(cfg)
	net, model, err := run.Encoder("bregman", 64, rng)
	if err != nil {
		return err
	}
	subnets, err := newSubnetworks("subnets", 64, k, hidden, rng)
	if err != nil {
		return err
	}
	params := model.Params()
	if useBregman {
		params = append(params, subnets.Params()...)
	}
	opt, err := backbone.NewSGD(params, &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 5e-4})
	if err != nil {
		return err
	}
	tr, err := run.NewTrainer(cfg, data, net, run.State{Params: params, Buffers: model.Buffers(), Opt: opt})
	if err != nil {
		return err
	}
	// The winning sub-network of each image, from its backbone features.
	var head *run.Head
	if useBregman {
		head = &run.Head{Layer: backbone.NewSequential("argmax", model.Layers[1], subnets), K: k}
		tr.OnEpoch = func(epoch int) error {
			if epoch == 0 {
				return nil
			}
			return activeSubnetworks(log, epoch, net, head, data.Test)
		}
	}

	views, err := cfg.MultiCrop(0) // two 28×28 views
	if err != nil {
		return err
	}
	b := cfg.Batch
	x := make([]ssl.Tensor, 2)
	z, dz := run.Tensors(2, b, 64), run.Tensors(2, b, 64)
	out, dout, dzb := run.Tensors(2, b, k), run.Tensors(2, b, k), run.Tensors(2, b, 64)
	ws, hws := run.Workspaces(2), run.Workspaces(2)
	ntOpts := &losses.NTXentOptions{Workspace: losses.NewWorkspace()}
	bOpts := &losses.BregmanOptions{Sigma: sigma, Workspace: losses.NewWorkspace()}

	for tr.Next() {
		if x, err = views.Apply(x, tr.Images(), tr.IDs(), cfg.Seed, uint64(tr.Epoch())); err != nil {
			return err
		}
		backbone.ZeroGrad(params)
		if err := run.Forward(model, ws, z, x); err != nil {
			return err
		}
		loss, err := losses.NTXent(dz[0], dz[1], z[0], z[1], tau, ntOpts)
		if err != nil {
			return err
		}
		if useBregman {
			// The Bregman network on both views, its loss, and its gradient
			// of z added to NT-Xent's.
			if err := run.Forward(subnets, hws, out, z); err != nil {
				return err
			}
			bl, err := losses.Bregman(nil, dout[0], dout[1], out[0], out[1], tau, bOpts)
			if err != nil {
				return err
			}
			loss += weight * bl
			for v := range 2 {
				run.Scale(dout[v], float32(weight))
			}
			for v := range 2 {
				if err := subnets.Backward(hws[v], dzb[v], dout[v]); err != nil {
					return err
				}
				run.Add(dz[v], dzb[v])
			}
		}
		if err := run.Backward(model, ws, dz); err != nil {
			return err
		}
		if err := opt.Step(tr.LR()); err != nil {
			return err
		}
		tr.Done(loss)
	}
	_, err = tr.Finish(head)
	return err
}

// activeSubnetworks prints how many of the K sub-networks win at least one
// test image and how well the winners, as clusters, match the classes.
func activeSubnetworks(log io.Writer, epoch int, net backbone.Layer, head *run.Head, test *dataset.Set) error {
	feats, err := run.Features(net, test)
	if err != nil {
		return err
	}
	scores := ssl.New(test.N, head.K)
	if err := head.Layer.Forward(backbone.NewWorkspace(), scores, feats, false); err != nil {
		return err
	}
	winners, err := ssl.ArgmaxRows(nil, scores)
	if err != nil {
		return err
	}
	wins := make([]int, head.K)
	for _, w := range winners {
		wins[w]++
	}
	active := 0
	for _, n := range wins {
		if n > 0 {
			active++
		}
	}
	cs, err := probe.EvaluateClusters(winners, test.Labels, head.K, test.Classes, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "bregman: after epoch %d, %d of %d sub-networks win test images %v; as clusters ACC %.4f NMI %.4f ARI %.4f\n",
		epoch, active, head.K, wins, cs.ACC, cs.NMI, cs.ARI)
	return nil
}
