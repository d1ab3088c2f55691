// Command xmoco trains ConvNet3 by Extended Momentum Contrast (xMoCo) on
// Fashion-MNIST under the fmnist-ssl-v1 protocol and evaluates it.
//
// Each step: two augmented views → query encoder (ConvNet3 → projection
// 128→256→BN→ReLU→64) on view 1 and momentum key encoder (its EMA, m 0.99,
// backbone.EMAUpdate) on view 2 →
//
//	L = InfoNCE(q, k, queue; τ 0.2)                     (MoCo, eq. 1)
//	  + λ_cross·L_cross(q, k) + λ_unif·L_unif(q)        (losses.XMoCo)
//
// with L_cross = 1/B² Σ_ij (q̂_i·k̂_j − k̂_i·k̂_j)², the cross-similarity
// consistency of every pair, negatives (i ≠ j) included: the similarity of
// images i and j across the two transformations should equal their
// similarity through the key transformation alone; and L_unif the
// Wang–Isola uniformity of the batch's queries (t = 2) → backward through
// the query encoder → SGD (momentum 0.9, weight decay 5e-4, warm-up +
// cosine) → EMA of the key encoder → normalized keys pushed on a queue of
// 4,096 negatives (run.Queue, checkpointed exactly).
//
// The xMoCo paper publishes neither code nor its equations in a form we
// could read; the regularizer follows its description (abstract and Sec. 3)
// as losses.XMoCo makes it exact. What we chose: λ_cross = 1 and λ_unif = 1
// (-lambda-cross, -lambda-unif), the uniformity temperature t = 2 of Wang
// and Isola, MoCo v2's τ 0.2 and m 0.99 at this scale (as the pcl example),
// and the regularizers on the query side only (the keys are constants, as in
// MoCo).
//
// Comparison: -regularizer=false trains plain MoCo (the same encoders,
// queue, views and budget, InfoNCE alone).
//
// Reference: Seyfi, Banitalebi-Dehkordi and Zhang, Extending Momentum
// Contrast with Cross Similarity Consistency Regularization, arXiv
// 2206.04676, 2022; He et al., Momentum Contrast for Unsupervised Visual
// Representation Learning, CVPR 2020; Wang and Isola, ICML 2020, eq. 4.
package main

import (
	"flag"
	"io"

	"ssl"
	"ssl/backbone"
	"ssl/examples/internal/run"
	"ssl/losses"
)

func main() { run.Main(xmoco) }

const (
	tau      = 0.2  // InfoNCE temperature
	momentum = 0.99 // key encoder EMA
	dim      = 64
)

func xmoco(args []string, log io.Writer) error {
	queueLen, regularizer, lambdaCross, lambdaUnif := 4096, true, 1.0, 1.0
	cfg, err := run.Parse("xmoco", run.Defaults{EpochsEmbedded: 10, EpochsFull: 1, Flags: func(fs *flag.FlagSet) {
		fs.IntVar(&queueLen, "queue", 4096, "negative keys in the queue")
		fs.BoolVar(&regularizer, "regularizer", true, "add xMoCo's cross-similarity consistency and uniformity terms (false: plain MoCo)")
		fs.Float64Var(&lambdaCross, "lambda-cross", 1, "weight of the cross-similarity consistency term")
		fs.Float64Var(&lambdaUnif, "lambda-unif", 1, "weight of the uniformity term")
	}}, args, log)
	if err != nil {
		return err
	}
	data, err := run.LoadData(cfg)
	if err != nil {
		return err
	}
	rng := run.InitRand(cfg)
	net, query, err := run.Encoder("query", dim, rng)
	if err != nil {
		return err
	}
	_, key, err := run.Encoder("key", dim, rng) // moves only by the EMA
	if err != nil {
		return err
	}
	if err := backbone.CopyParams(key.Params(), query.Params()); err != nil {
		return err
	}
	opt, err := backbone.NewSGD(query.Params(), &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 5e-4})
	if err != nil {
		return err
	}
	queue, err := run.NewQueue("queue", queueLen, dim)
	if err != nil {
		return err
	}
	tr, err := run.NewTrainer(cfg, data, net, run.State{Params: query.Params(), Buffers: query.Buffers(), Opt: opt,
		Extra: append(key.Params(), key.Buffers()...), Saved: []run.Checkpointer{queue}})
	if err != nil {
		return err
	}

	views, err := cfg.MultiCrop(0)
	if err != nil {
		return err
	}
	b := cfg.Batch
	var x []ssl.Tensor
	q, k, dq, dreg := ssl.New(b, dim), ssl.New(b, dim), ssl.New(b, dim), ssl.New(b, dim)
	qws, kws := backbone.NewWorkspace(), backbone.NewWorkspace()
	lws := losses.NewWorkspace()
	nceOpts := &losses.InfoNCEQueueOptions{Workspace: lws}
	regOpts := &losses.XMoCoOptions{Workspace: lws}

	for tr.Next() {
		if x, err = views.Apply(x, tr.Images(), tr.IDs(), cfg.Seed, uint64(tr.Epoch())); err != nil {
			return err
		}
		backbone.ZeroGrad(query.Params())
		if err := query.Forward(qws, q, x[0], true); err != nil {
			return err
		}
		if err := key.Forward(kws, k, x[1], true); err != nil {
			return err
		}
		loss, err := losses.InfoNCEQueue(dq, q, k, queue.Tensor(), tau, nceOpts)
		if err != nil {
			return err
		}
		if regularizer {
			reg, err := losses.XMoCo(dreg, q, k, lambdaCross, lambdaUnif, regOpts)
			if err != nil {
				return err
			}
			run.Add(dq, dreg)
			loss += reg.Loss
		}
		if err := query.Backward(qws, nil, dq); err != nil {
			return err
		}
		if err := opt.Step(tr.LR()); err != nil {
			return err
		}
		if err := backbone.EMAUpdate(key.Params(), query.Params(), momentum); err != nil {
			return err
		}
		if _, err := ssl.NormalizeRows(k, k); err != nil { // MoCo queues normalized keys
			return err
		}
		if err := queue.Push(k); err != nil {
			return err
		}
		tr.Done(loss)
	}
	_, err = tr.Finish(nil)
	return err
}
