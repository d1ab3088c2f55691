// Command iic trains ConvNet3 by Invariant Information Clustering on
// Fashion-MNIST under the fmnist-ssl-v1 protocol and evaluates it, its
// 10-way head included.
//
// Each step: two augmented views of a batch → ConvNet3 → two heads on the
// same features, the main head (linear 128→10) and the over-clustering head
// (linear 128→50) → for each head, the IIC loss of the paired views'
// predictions (the negative mutual information of their joint
// distribution) → the two losses summed → backward through both heads and
// the backbone → Adam (learning rate 4e-3, warm-up + cosine).
//
// Reference: Ji, Henriques, Vedaldi, Invariant Information Clustering for
// Unsupervised Image Classification and Segmentation, ICCV 2019.
package main

import (
	"flag"
	"fmt"
	"io"

	"ssl"
	"ssl/backbone"
	"ssl/examples/internal/run"
	"ssl/losses"
)

func main() { run.Main(iic) }

func iic(args []string, log io.Writer) error {
	over, lambda := 50, 1.0
	cfg, err := run.Parse("iic", run.Defaults{EpochsEmbedded: 10, EpochsFull: 1, LR: 4e-3, Flags: func(fs *flag.FlagSet) {
		fs.IntVar(&over, "over", over, "clusters of the over-clustering head (0: main head only)")
		fs.Float64Var(&lambda, "lambda", lambda, "weight of the marginal entropies (1: mutual information)")
	}}, args, log)
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
	ks := []int{10}
	if over > 0 {
		ks = append(ks, over)
	}
	heads := make([]*backbone.Linear, len(ks))
	params := net.Params()
	for h, k := range ks {
		if heads[h], err = backbone.NewLinear(fmt.Sprintf("head%d", k), 128, k, true, rng); err != nil {
			return err
		}
		params = append(params, heads[h].Params()...)
	}
	// Adam, as IIC trains: at the uniform prediction the mutual information
	// is a saddle whose gradient is tiny, which SGD leaves only slowly.
	opt, err := backbone.NewAdamW(params, &backbone.AdamWOptions{WeightDecay: 1e-4})
	if err != nil {
		return err
	}
	tr, err := run.NewTrainer(cfg, data, net, run.State{Params: params, Buffers: net.Buffers(), Opt: opt})
	if err != nil {
		return err
	}

	views, err := cfg.MultiCrop(0)
	if err != nil {
		return err
	}
	b := cfg.Batch
	x := make([]ssl.Tensor, 2)
	f := []ssl.Tensor{ssl.New(b, 128), ssl.New(b, 128)}  // features of each view
	df := []ssl.Tensor{ssl.New(b, 128), ssl.New(b, 128)} // their gradients
	dfh := ssl.New(b, 128)                               // one head's share
	ws := []*backbone.Workspace{backbone.NewWorkspace(), backbone.NewWorkspace()}
	type headBufs struct {
		l, dl []ssl.Tensor
		ws    []*backbone.Workspace
	}
	hb := make([]headBufs, len(ks))
	for h, k := range ks {
		hb[h] = headBufs{
			l:  []ssl.Tensor{ssl.New(b, k), ssl.New(b, k)},
			dl: []ssl.Tensor{ssl.New(b, k), ssl.New(b, k)},
			ws: []*backbone.Workspace{backbone.NewWorkspace(), backbone.NewWorkspace()},
		}
	}
	lossOpts := &losses.IICOptions{Workspace: losses.NewWorkspace()}

	for tr.Next() {
		if x, err = views.Apply(x, tr.Images(), tr.IDs(), cfg.Seed, uint64(tr.Epoch())); err != nil {
			return err
		}
		backbone.ZeroGrad(params)
		for v := range 2 {
			if err := net.Forward(ws[v], f[v], x[v], true); err != nil {
				return err
			}
		}
		var loss float64
		for h, head := range heads {
			for v := range 2 {
				if err := head.Forward(hb[h].ws[v], hb[h].l[v], f[v], true); err != nil {
					return err
				}
			}
			l, err := losses.IIC(hb[h].dl[0], hb[h].dl[1], hb[h].l[0], hb[h].l[1], lambda, lossOpts)
			if err != nil {
				return err
			}
			loss += l
			for v := range 2 {
				// The first head writes the features' gradient, the others add to it.
				dst := df[v]
				if h > 0 {
					dst = dfh
				}
				if err := head.Backward(hb[h].ws[v], dst, hb[h].dl[v]); err != nil {
					return err
				}
				if h > 0 {
					run.Add(df[v], dfh)
				}
			}
		}
		for v := range 2 {
			if err := net.Backward(ws[v], nil, df[v]); err != nil {
				return err
			}
		}
		if err := opt.Step(tr.LR()); err != nil {
			return err
		}
		tr.Done(loss)
	}
	_, err = tr.Finish(&run.Head{Layer: heads[0], K: ks[0]})
	return err
}
