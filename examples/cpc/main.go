// Command cpc trains a patch encoder by Contrastive Predictive Coding
// (CPC v2) on Fashion-MNIST and evaluates its grid-pooled features under
// the fmnist-ssl-v1 protocol.
//
// Each image (one protocol view: crop, flip, jitter, normalization) is cut
// into a 6×6 grid of overlapping 8×8 patches at stride 4 (half a patch of
// overlap, as CPC v2's 64×64 patches at stride 32). Each step:
//
//	z_{b,r,c} = f(patch_{b,r,c})          patch encoder: ConvNet3's three
//	                                       blocks on 8×8 inputs (8→4→2→pool),
//	                                       128-d per patch
//	t_{b,r,c} = W_t z_{b,r,c}              target projection (1×1, 128→64)
//	c_{b,r,c} = ReLU(masked conv 3×3 of z) the context: it sees rows r−2..r
//	                                       of the grid (and columns c±1),
//	                                       never a row below r
//	p^k_{b,r,c} = W_k c_{b,r,c}            one prediction per offset k (128→64)
//
// and, for each offset k, InfoNCE (losses.InfoNCE, τ 0.2 on normalized
// vectors; eq. 5 of CPC v2, eq. 4 of CPC) between every prediction
// p^k_{b,r,c} and its target t_{b,r+k,c}, the negatives being the targets
// of every other (image, row, column) pair of the batch, as the paper's
// pseudo-code does (its logits are all predictions against all targets of
// the batch); the loss is the mean over the offsets → backward through
// predictions, context, targets and the encoder → SGD (momentum 0.9,
// weight decay 5e-4, warm-up + cosine: the protocol's settings).
//
// Offsets: the paper's pseudo-code ignores the first two offsets, whose
// patches overlap the context's, and predicts the third; here k = 3 by
// default (-first-offset, -last-offset: 6 rows leave rows 0–2 as contexts
// for k = 3).
//
// Evaluation: the protocol's kNN, linear probe and k-means, on the mean of
// the 36 patch features of each un-augmented image (128-d), since the
// protocol's ConvNet3 on whole images is not what CPC trains; the pooled
// network (pooled, in grid.go) is what run.Finish evaluates.
//
// CPC v2 has no public code; we followed the paper's text and its Appendix
// pseudo-code. What we chose at this scale: ConvNet3's blocks as the patch
// encoder with batch normalization (CPC v2 uses a ResNet with layer
// normalization, as batch statistics can leak information between patches
// of one image), a single masked 3×3 convolution as the context network (a
// PixelCNN stack in the paper), normalized InfoNCE with τ 0.2 (the paper
// scales raw dot products), and the protocol's whole-image augmentation
// before cutting the patches (the paper augments each patch).
//
// References: Hénaff, Srinivas, De Fauw, Razavi, Doersch, Eslami and van den
// Oord, Data-Efficient Image Recognition with Contrastive Predictive Coding,
// ICML 2020; van den Oord, Li and Vinyals, Representation Learning with
// Contrastive Predictive Coding, 2018.
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

func main() { run.Main(cpc) }

const (
	tau = 0.2 // InfoNCE temperature
	dim = 64  // targets and predictions
)

func cpc(args []string, log io.Writer) error {
	first, last := 3, 3
	cfg, err := run.Parse("cpc", run.Defaults{EpochsEmbedded: 8, EpochsFull: 1, Flags: func(fs *flag.FlagSet) {
		fs.IntVar(&first, "first-offset", 3, "first row offset predicted (rows closer overlap the context)")
		fs.IntVar(&last, "last-offset", 3, "last row offset predicted")
	}}, args, log)
	if err != nil {
		return err
	}
	if first < 1 || last < first || last >= grid {
		return fmt.Errorf("cpc: offsets must satisfy 1 ≤ first ≤ last < %d (first=%d last=%d): %w", grid, first, last, ssl.ErrParam)
	}
	data, err := run.LoadData(cfg)
	if err != nil {
		return err
	}
	rng := run.InitRand(cfg)
	enc, err := backbone.NewConvNet3(rng, nil)
	if err != nil {
		return err
	}
	target, err := backbone.NewLinear("target", feat, dim, true, rng)
	if err != nil {
		return err
	}
	ctx := backbone.NewSequential("context",
		must(backbone.NewConv2D("context", feat, feat, 3, 1, 1, true, rng)), backbone.NewReLU("context.relu"))
	var preds []*backbone.Linear
	params := append(append(enc.Params(), target.Params()...), ctx.Params()...)
	for k := first; k <= last; k++ {
		p, err := backbone.NewLinear(fmt.Sprintf("predict%d", k), feat, dim, true, rng)
		if err != nil {
			return err
		}
		preds, params = append(preds, p), append(params, p.Params()...)
	}
	opt, err := backbone.NewSGD(params, &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 5e-4})
	if err != nil {
		return err
	}
	tr, err := run.NewTrainer(cfg, data, &pooled{enc}, run.State{Params: params, Buffers: enc.Buffers(), Opt: opt})
	if err != nil {
		return err
	}

	view, err := augment.NewMultiCrop([]int{size}, []int{1}, []float64{0.25}, []float64{1},
		augment.RandomHorizontalFlip{P: 0.5},
		augment.RandomApply{T: augment.ColorJitter{Brightness: 0.4, Contrast: 0.4}, P: 0.8},
		augment.Normalization{Mean: []float64{run.Mean}, Std: []float64{run.Std}})
	if err != nil {
		return err
	}
	b := cfg.Batch
	n := b * cells
	// The pairs of offset k: context rows (b, r, c) with r + k < grid and
	// their targets (b, r+k, c).
	from, to := make([][]int, len(preds)), make([][]int, len(preds))
	for i := range preds {
		k := first + i
		for im := range b {
			for r := range grid - k {
				for c := range grid {
					from[i] = append(from[i], im*cells+r*grid+c)
					to[i] = append(to[i], im*cells+(r+k)*grid+c)
				}
			}
		}
	}
	patches := ssl.New(n, 1, patch, patch)
	z, dz := ssl.New(n, feat), ssl.New(n, feat)
	t, dt := ssl.New(n, dim), ssl.New(n, dim)
	zm, dzm := ssl.New(b, feat, grid+2, grid), ssl.New(b, feat, grid+2, grid)
	cm, dcm := ssl.New(b, feat, grid+2, grid), ssl.New(b, feat, grid+2, grid)
	c, dc, dck := ssl.New(n, feat), ssl.New(n, feat), ssl.New(n, feat)
	p, dp := ssl.New(n, dim), ssl.New(n, dim)
	pk, tk := ssl.New(len(from[0]), dim), ssl.New(len(from[0]), dim)
	dpk, dtk := ssl.New(len(from[0]), dim), ssl.New(len(from[0]), dim)
	wsEnc, wsT, wsCtx, wsP := backbone.NewWorkspace(), backbone.NewWorkspace(), backbone.NewWorkspace(), backbone.NewWorkspace()
	lossOpts := &losses.InfoNCEOptions{Workspace: losses.NewWorkspace()}
	d := func(t ssl.Tensor) []float32 { _, v, _ := ssl.View(t); return v }
	var x []ssl.Tensor

	for tr.Next() {
		if x, err = view.Apply(x, tr.Images(), tr.IDs(), cfg.Seed, uint64(tr.Epoch())); err != nil {
			return err
		}
		backbone.ZeroGrad(params)
		// Patches → features → targets and masked context.
		extract(d(patches), d(x[0]), b)
		if err := enc.Forward(wsEnc, z, patches, true); err != nil {
			return err
		}
		if err := target.Forward(wsT, t, z, true); err != nil {
			return err
		}
		shiftDown(d(zm), d(z), b)
		if err := ctx.Forward(wsCtx, cm, zm, true); err != nil {
			return err
		}
		cropUp(d(c), d(cm), b)

		// Each offset: predict, contrast with every target of the batch,
		// carry the gradient back to the context and the targets.
		clear(d(dt))
		clear(d(dc))
		var loss float64
		w := float32(1) / float32(len(preds))
		for i, pred := range preds {
			if err := pred.Forward(wsP, p, c, true); err != nil {
				return err
			}
			gather(d(pk), d(p), from[i], dim)
			gather(d(tk), d(t), to[i], dim)
			m := len(from[i]) * dim
			l, err := losses.InfoNCE(ssl.FromSlice(d(dpk)[:m], len(from[i]), dim), ssl.FromSlice(d(dtk)[:m], len(from[i]), dim),
				ssl.FromSlice(d(pk)[:m], len(from[i]), dim), ssl.FromSlice(d(tk)[:m], len(from[i]), dim), tau, lossOpts)
			if err != nil {
				return err
			}
			loss += l / float64(len(preds))
			clear(d(dp))
			scatterAdd(d(dp), d(dpk), from[i], dim, w)
			scatterAdd(d(dt), d(dtk), to[i], dim, w)
			if err := pred.Backward(wsP, dck, dp); err != nil {
				return err
			}
			run.Add(dc, dck)
		}

		// Back through the context and the targets into the encoder.
		cropUpAdjoint(d(dcm), d(dc), b)
		if err := ctx.Backward(wsCtx, dzm, dcm); err != nil {
			return err
		}
		if err := target.Backward(wsT, dz, dt); err != nil {
			return err
		}
		shiftDownAdjoint(d(dz), d(dzm), b)
		if err := enc.Backward(wsEnc, nil, dz); err != nil {
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

// must returns the layer, panicking on an error: for constructors whose
// arguments are the program's own constants.
func must[L any](l L, err error) L {
	if err != nil {
		panic(err)
	}
	return l
}
