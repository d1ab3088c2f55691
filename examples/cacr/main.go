// Command cacr trains ConvNet3 by Contrastive Attraction and Contrastive
// Repulsion (CACR) on Fashion-MNIST under the fmnist-ssl-v1 protocol and
// evaluates it.
//
// Each step: M augmented views of a batch (-views, 2 by default) → ConvNet3
// → projection (128→256→BN→ReLU→64) → L2 normalization (the reference's
// encoder normalizes its output) → the M×B×64 views → CACR (losses.CACR,
// eq. 5 and 6 with the squared Euclidean cost):
//
//	CA = attraction: each view pulled towards the sample's other views,
//	     the farther ones weighted more, π⁺ = softmax(τ⁺·d)
//	CR = repulsion: each view pushed from the other samples of the batch,
//	     the nearer ones weighted more, π⁻ = softmax(−τ⁻·d)
//	L  = CA + CR
//
// with α = β = 1, τ⁺ = 1, τ⁻ = 0.9 (the reference's CIFAR-10 settings) →
// backward through every view → SGD (momentum 0.9, weight decay 5e-4,
// warm-up + cosine, the protocol's settings).
//
// Comparison: -cacr=false trains MoCo's InfoNCE with a queue instead
// (losses.InfoNCEQueue: the same encoder as query on view 1, its EMA with
// m 0.99 as key encoder on view 2, τ 0.2, a queue of 4,096 normalized keys)
// for the same epochs, batch and views (-views 2 only). CACR's negatives are
// the batch's other samples; MoCo's come from the queue.
//
// Choices: the reference's small-scale runs use 4 positives per sample
// (Ny 4) and 128 samples; here 2 views of 256 samples, the protocol's batch
// and augmentations, so that both sides see the same images per step
// (-views 4 runs the reference's count). The "full" CACR, not the debiased
// variant.
//
// Reference: Zheng, Wang, Dong, Wang, Zhou and Zhou, Contrastive Attraction
// and Contrastive Repulsion for Representation Learning, TMLR 2023
// (NeurIPS 2021 submission, arXiv 2105.03746), eq. 5 and 6; code
// JegZheng/CACR-SSL, small_scale_experiments. MoCo: He et al., CVPR 2020.
package main

import (
	"flag"
	"fmt"
	"io"

	"ssl"
	"ssl/augment"
	"ssl/backbone"
	"ssl/examples/internal/run"
	"ssl/losses"
)

func main() { run.Main(cacr) }

const (
	alpha, beta    = 1.0, 1.0 // weights of attraction and repulsion
	tauPos, tauNeg = 1.0, 0.9 // CACR's softmax temperatures
	tau            = 0.2      // InfoNCE temperature of the comparison
	momentum       = 0.99     // its key encoder's EMA
	dim            = 64
)

func cacr(args []string, log io.Writer) error {
	m, useCACR, queueLen := 2, true, 4096
	cfg, err := run.Parse("cacr", run.Defaults{EpochsEmbedded: 10, EpochsFull: 1, Flags: func(fs *flag.FlagSet) {
		fs.IntVar(&m, "views", 2, "augmented views per image (CACR's positives + 1)")
		fs.BoolVar(&useCACR, "cacr", true, "train with CACR (false: MoCo's InfoNCE with a queue)")
		fs.IntVar(&queueLen, "queue", 4096, "negative keys in the queue of -cacr=false")
	}}, args, log)
	if err != nil {
		return err
	}
	if m < 2 || (!useCACR && m != 2) {
		return fmt.Errorf("cacr: -views must be ≥ 2, and 2 with -cacr=false (views=%d): %w", m, ssl.ErrParam)
	}
	data, err := run.LoadData(cfg)
	if err != nil {
		return err
	}
	rng := run.InitRand(cfg)
	net, enc, err := run.Encoder("encoder", dim, rng)
	if err != nil {
		return err
	}
	opt, err := backbone.NewSGD(enc.Params(), &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 5e-4})
	if err != nil {
		return err
	}
	state := run.State{Params: enc.Params(), Buffers: enc.Buffers(), Opt: opt}
	var key *backbone.Sequential
	var queue *run.Queue
	if !useCACR {
		if _, key, err = run.Encoder("key", dim, rng); err != nil {
			return err
		}
		if err := backbone.CopyParams(key.Params(), enc.Params()); err != nil {
			return err
		}
		if queue, err = run.NewQueue("queue", queueLen, dim); err != nil {
			return err
		}
		state.Extra, state.Saved = append(key.Params(), key.Buffers()...), []run.Checkpointer{queue}
	}
	tr, err := run.NewTrainer(cfg, data, net, state)
	if err != nil {
		return err
	}

	views, err := augment.NewMultiCrop([]int{28}, []int{m}, []float64{0.25}, []float64{1},
		augment.RandomHorizontalFlip{P: 0.5},
		augment.RandomApply{T: augment.ColorJitter{Brightness: 0.4, Contrast: 0.4}, P: 0.8},
		augment.Normalization{Mean: []float64{run.Mean}, Std: []float64{run.Std}})
	if err != nil {
		return err
	}
	// The normalized embeddings of the M views, one M×B×D tensor, and a
	// B×D view of each.
	b := cfg.Batch
	model := backbone.NewSequential("cacr", enc, backbone.NewL2Normalize("normalize"))
	z, dz := ssl.New(m, b, dim), ssl.New(m, b, dim)
	zv, dzv := viewRows(z, m, b), viewRows(dz, m, b)
	ws := run.Workspaces(m)
	var x []ssl.Tensor
	lws := losses.NewWorkspace()
	cacrOpts := &losses.CACROptions{Workspace: lws}
	nceOpts := &losses.InfoNCEQueueOptions{Workspace: lws}
	k := ssl.New(b, dim)

	for tr.Next() {
		if x, err = views.Apply(x, tr.Images(), tr.IDs(), cfg.Seed, uint64(tr.Epoch())); err != nil {
			return err
		}
		backbone.ZeroGrad(enc.Params())
		var loss float64
		if useCACR {
			if err := run.Forward(model, ws, zv, x); err != nil {
				return err
			}
			res, err := losses.CACR(dz, z, alpha, beta, tauPos, tauNeg, cacrOpts)
			if err != nil {
				return err
			}
			if err := run.Backward(model, ws, dzv); err != nil {
				return err
			}
			loss = res.Loss
		} else {
			if err := enc.Forward(ws[0], zv[0], x[0], true); err != nil {
				return err
			}
			if err := key.Forward(ws[1], k, x[1], true); err != nil {
				return err
			}
			if loss, err = losses.InfoNCEQueue(dzv[0], zv[0], k, queue.Tensor(), tau, nceOpts); err != nil {
				return err
			}
			if err := enc.Backward(ws[0], nil, dzv[0]); err != nil {
				return err
			}
		}
		if err := opt.Step(tr.LR()); err != nil {
			return err
		}
		if !useCACR {
			if err := backbone.EMAUpdate(key.Params(), enc.Params(), momentum); err != nil {
				return err
			}
			if _, err := ssl.NormalizeRows(k, k); err != nil { // MoCo queues normalized keys
				return err
			}
			if err := queue.Push(k); err != nil {
				return err
			}
		}
		tr.Done(loss)
	}
	_, err = tr.Finish(nil)
	return err
}

// viewRows returns the B×D rows of each of the M views of t (M×B×D), views
// sharing t's storage.
func viewRows(t ssl.Tensor, m, b int) []ssl.Tensor {
	flat, err := ssl.Reshape(t, m*b, dim)
	if err != nil {
		panic(err) // the shapes are the program's own
	}
	out := make([]ssl.Tensor, m)
	for v := range m {
		if out[v], err = ssl.Rows(flat, v*b, (v+1)*b); err != nil {
			panic(err)
		}
	}
	return out
}
