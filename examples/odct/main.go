// Command odct trains ConvNet3 by deep clustering with track consistency
// (ODCT) on Fashion-MNIST under the fmnist-ssl-v1 protocol and evaluates it.
//
// ODCT clusters the patches of object tracks found in videos and constrains
// the patches of one track to share one cluster label. Fashion-MNIST has no
// videos, so each training image stands in for one: its track is a sequence
// of T = 4 frames, crops of the image along a smooth random affine
// trajectory (a square box whose position and size move linearly from a
// random start to a random nearby end, augment.ResizedCrop back to 28×28;
// the trajectory is drawn once per image from the seed, as a video's track
// is fixed). Training frames then get the protocol's flip and brightness /
// contrast jitter, each frame its own, per epoch.
//
// At the start of every epoch the features of all N·T frames (evaluation
// mode, no jitter) are PCA-whitened to 64 dimensions, L2-normalized and
// clustered by k-means (30 clusters), and the classifier is re-initialized
// (momentum cleared). Each step takes B images, i.e. B tracks of T frames,
// and trains ConvNet3 and the classifier by
//
//	y = TrackLabels(labels, tracks)        every frame takes its track's majority label
//	L = 1/(T·B) Σ_frames CE(logits, y)     (losses.ODCT)
//
// The paper has no public code; this follows its Sec. III as losses.ODCT and
// losses.TrackLabels document it (the track's label by majority vote is the
// library's reading). What had to be chosen here: the stand-in tracks; the
// clustering, which ODCT takes from ODC's online samples memory and this
// example takes from k-means once per epoch (DeepCluster's offline form of
// the same labels); 30 clusters; all T frames of a track in the same batch,
// so that the majority is over the whole track; learning rate 0.1, as
// examples/deepcluster.
//
// The comparison: -tracks=false trains on each frame's own k-means label
// (losses.PseudoLabelCE on the same logits), the same frames, clusters and
// budget without the track constraint. Each epoch's line reports how far the
// clustering itself agrees with the tracks: the fraction of frames whose
// k-means label is their track's majority label.
//
// Reference: Alfani, Becattini, Seidenari and Del Bimbo, Online Deep
// Clustering with Video Track Consistency, arXiv:2206.03086, 2022; ODC: Zhan
// et al., CVPR 2020; DeepCluster: Caron et al., ECCV 2018.
package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"strings"

	"ssl"
	"ssl/assign"
	"ssl/augment"
	"ssl/backbone"
	"ssl/dataset"
	"ssl/examples/internal/run"
	"ssl/losses"
)

func main() { run.Main(odct) }

const (
	frames    = 4  // frames per track
	k         = 30 // clusters
	pcaDim    = 64
	size      = 28   // image side
	trackView = 1000 // augment stream of the trajectories (views are 0 … frames−1)
)

func odct(args []string, log io.Writer) error {
	useTracks := true
	cfg, err := run.Parse("odct", run.Defaults{EpochsEmbedded: 10, EpochsFull: 1, LR: 0.1, Flags: func(fs *flag.FlagSet) {
		fs.BoolVar(&useTracks, "tracks", true, "constrain the frames of a track to one label (false: each frame its own k-means label)")
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
	classifier, err := backbone.NewLinear("classifier", 128, k, true, rng)
	if err != nil {
		return err
	}
	model := backbone.NewSequential("odct", net, classifier)
	opt, err := backbone.NewSGD(model.Params(), &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 5e-4})
	if err != nil {
		return err
	}
	n := data.Train.N
	// Frame t of image i is patch i·frames + t; its track is i.
	labels := run.NewLabels("labels", n*frames, k)
	tr, err := run.NewTrainer(cfg, data, net, run.State{Params: model.Params(), Buffers: model.Buffers(), Opt: opt, Saved: []run.Checkpointer{labels}})
	if err != nil {
		return err
	}
	allTracks := make([]int, n*frames)
	for p := range allTracks {
		allTracks[p] = p / frames
	}
	norm := augment.Normalization{Mean: []float64{run.Mean}, Std: []float64{run.Std}}

	tr.OnEpoch = func(epoch int) error {
		feats, err := trackFeatures(net, data.Train, cfg.Seed, norm)
		if err != nil {
			return err
		}
		x, _, err := assign.PCAWhiten(nil, feats, pcaDim, nil)
		if err != nil {
			return err
		}
		lab := make([]int, n*frames)
		res, err := assign.KMeans(nil, lab, x, k, tr.Rand(1), nil)
		if err != nil {
			return err
		}
		labels.Set(lab)
		fresh, err := backbone.NewLinear("classifier", 128, k, true, tr.Rand(2))
		if err != nil {
			return err
		}
		if err := backbone.CopyParams(classifier.Params(), fresh.Params()); err != nil {
			return err
		}
		for _, s := range opt.State() {
			if strings.HasPrefix(s.Name, "classifier.") {
				clear(s.Data())
			}
		}
		if !cfg.Quiet {
			major, err := losses.TrackLabels(nil, lab, allTracks, k)
			if err != nil {
				return err
			}
			agree := 0
			for p := range lab {
				if lab[p] == major[p] {
					agree++
				}
			}
			fmt.Fprintf(log, "epoch %d: k-means on %d frames of %d tracks: inertia %.4g, %d of %d clusters used, %.3f of frames carry their track's label\n",
				epoch+1, n*frames, n, res.Inertia, labels.Used(), k, float64(agree)/float64(len(lab)))
		}
		return nil
	}

	jitter := augment.Compose{
		augment.RandomHorizontalFlip{P: 0.5},
		augment.RandomApply{T: augment.ColorJitter{Brightness: 0.4, Contrast: 0.4}, P: 0.8},
		norm,
	}
	b := cfg.Batch
	crops := run.Tensors(frames, b, 1, size, size)
	x := run.Tensors(frames, b, 1, size, size)
	logits, dlogits := ssl.New(frames*b, k), ssl.New(frames*b, k)
	lv, dlv := make([]ssl.Tensor, frames), make([]ssl.Tensor, frames)
	for t := range frames {
		if lv[t], err = ssl.Rows(logits, t*b, (t+1)*b); err != nil {
			return err
		}
		if dlv[t], err = ssl.Rows(dlogits, t*b, (t+1)*b); err != nil {
			return err
		}
	}
	ws := run.Workspaces(frames)
	odctOpts := &losses.ODCTOptions{Workspace: losses.NewWorkspace()}
	ceOpts := &losses.PseudoLabelCEOptions{Workspace: losses.NewWorkspace()}
	y, tracks := make([]int, frames*b), make([]int, frames*b)

	for tr.Next() {
		ids := tr.IDs()
		// The B tracks: T frames each, then each frame's jitter.
		if err := trackFrames(crops, tr.Images(), ids, cfg.Seed); err != nil {
			return err
		}
		for t := range frames {
			if _, err := augment.Batch(x[t], crops[t], jitter, ids, cfg.Seed, uint64(tr.Epoch()), t); err != nil {
				return err
			}
		}
		all := labels.All()
		for t := range frames {
			for i, id := range ids {
				y[t*b+i], tracks[t*b+i] = all[id*frames+t], id
			}
		}
		backbone.ZeroGrad(model.Params())
		for t := range frames {
			if err := model.Forward(ws[t], lv[t], x[t], true); err != nil {
				return err
			}
		}
		var loss float64
		if useTracks {
			loss, err = losses.ODCT(dlogits, logits, y, tracks, odctOpts)
		} else {
			loss, err = losses.PseudoLabelCE(dlogits, logits, y, ceOpts)
		}
		if err != nil {
			return err
		}
		for t := range frames {
			if err := model.Backward(ws[t], nil, dlv[t]); err != nil {
				return err
			}
		}
		if err := opt.Step(tr.LR()); err != nil {
			return err
		}
		tr.Done(loss)
	}
	_, err = tr.Finish(nil)
	return err
}

// trajectory is the crop box of a track's frame t: a square box of side
// s(t) with top-left corner (top(t), left(t)), each moving linearly from
// the track's start to its end, drawn from the seed and the image alone.
func trajectory(seed uint64, id, t int) (top, left, side int) {
	r := augment.Stream(seed, 0, id, trackView)
	s0 := size * math.Sqrt(0.35+0.65*r.Float64())       // start side: 35–100 % of the area
	s1 := min(size, s0*math.Exp(0.4*(r.Float64()-0.5))) // end: ±20 % zoom
	place := func(s float64) (float64, float64) {       // a corner keeping the box inside
		return r.Float64() * (size - s), r.Float64() * (size - s)
	}
	t0, l0 := place(s0)
	t1, l1 := place(s1)
	// The end stays within 5 pixels of the start.
	t1 = t0 + max(-5, min(5, t1-t0))
	l1 = l0 + max(-5, min(5, l1-l0))
	a := float64(t) / float64(frames-1)
	s := s0 + a*(s1-s0)
	top = int(math.Round(t0 + a*(t1-t0)))
	left = int(math.Round(l0 + a*(l1-l0)))
	side = max(8, int(math.Round(s)))
	top, left = max(0, min(size-side, top)), max(0, min(size-side, left))
	return top, left, side
}

// trackFrames writes frame t of the track of image ids[i] (the row i of
// images, [B, 1, 28, 28]) into row i of dst[t].
func trackFrames(dst []ssl.Tensor, images ssl.Tensor, ids []int, seed uint64) error {
	for i, id := range ids {
		img, err := ssl.Rows(images, i, i+1)
		if err != nil {
			return err
		}
		src, err := ssl.Reshape(img, 1, size, size)
		if err != nil {
			return err
		}
		for t := range frames {
			row, err := ssl.Rows(dst[t], i, i+1)
			if err != nil {
				return err
			}
			out, err := ssl.Reshape(row, 1, size, size)
			if err != nil {
				return err
			}
			top, left, side := trajectory(seed, id, t)
			if _, err := augment.ResizedCrop(out, src, top, left, side, side); err != nil {
				return err
			}
		}
	}
	return nil
}

// trackFeatures returns net's features (evaluation mode) of every frame of
// every track of s, normalized but not jittered: row i·frames + t is frame t
// of image i.
func trackFeatures(net backbone.Layer, s *dataset.Set, seed uint64, norm augment.Normalization) (ssl.Tensor, error) {
	const chunk = 256
	feats := ssl.New(s.N*frames, 128)
	images := ssl.New(chunk, 1, size, size)
	crops := run.Tensors(frames, chunk, 1, size, size)
	normed := ssl.New(chunk, 1, size, size)
	out := ssl.New(chunk, 128)
	ws := backbone.NewWorkspace()
	ids := make([]int, 0, chunk)
	for lo := 0; lo < s.N; lo += chunk {
		hi := min(s.N, lo+chunk)
		ids = ids[:0]
		for i := lo; i < hi; i++ {
			ids = append(ids, i)
		}
		m := hi - lo
		img, err := ssl.Rows(images, 0, m)
		if err != nil {
			return nil, err
		}
		if _, err := s.Batch(img, ids); err != nil {
			return nil, err
		}
		view := make([]ssl.Tensor, frames)
		for t := range frames {
			if view[t], err = ssl.Rows(crops[t], 0, m); err != nil {
				return nil, err
			}
		}
		if err := trackFrames(view, img, ids, seed); err != nil {
			return nil, err
		}
		o, err := ssl.Rows(out, 0, m)
		if err != nil {
			return nil, err
		}
		x, err := ssl.Rows(normed, 0, m)
		if err != nil {
			return nil, err
		}
		for t := range frames {
			if _, err := augment.Batch(x, view[t], norm, nil, 0, 0, 0); err != nil {
				return nil, err
			}
			if err := net.Forward(ws, o, x, false); err != nil {
				return nil, err
			}
			for i := range m {
				src, err := ssl.Row(o, i)
				if err != nil {
					return nil, err
				}
				dst, err := ssl.Row(feats, (lo+i)*frames+t)
				if err != nil {
					return nil, err
				}
				copy(dst, src)
			}
		}
	}
	return feats, nil
}
