// Command deepercluster trains ConvNet3 by DeeperCluster on Fashion-MNIST
// under the fmnist-ssl-v1 protocol and evaluates it: DeepCluster's k-means
// pseudo-labels made hierarchical and crossed with rotation prediction.
//
// At the start of every epoch the features of the whole training set
// (un-augmented, evaluation mode) are PCA-whitened to 64 dimensions and
// L2-normalized, and clustered by assign.HierarchicalKMeans: k-means splits
// them into 5 super-clusters, then each super-cluster is clustered on its own
// into 6 sub-clusters (30 clusters in all, DeepCluster's count here). The
// heads are re-initialized (momentum cleared) and the epoch's images are
// drawn uniformly over the 30 clusters (assign.UniformLabelSample). Each step
// makes one augmented view of every image, all four of its rotations
// (augment.Rotations), and trains ConvNet3 and two linear heads on them:
//
//	super-class  y_n = s_n·4 + r_n              (rotation × super-cluster, 20 classes;
//	                                              losses.RotationClusterTargets)
//	sub-class    z_n = j_n within super-class y_n (6 classes, one head W_y per super-class)
//	L = 1/4B Σ_n CE(V f(x_n), y_n) + 1/4B Σ_n CE(W_{y_n} f(x_n), z_n)
//
// the hierarchical loss of the paper's Sec. 3.3 over super-classes and
// sub-classes, the super-class being the rotation × super-cluster pair of
// Sec. 3.2; each cross-entropy is losses.PseudoLabelCE. The 20 sub-class heads W_y are one 128→120 linear
// layer of which each row uses only the 6 outputs of its super-class (the
// authors train each W_y on its own group of GPUs, on the images of its
// super-class only; here every image of the batch trains the head of its own
// super-class, the same loss).
//
// The comparison: -hierarchical=false is flat DeepCluster with rotations at
// the same budget: k-means with 30 clusters in one level and one 120-way
// head on the joint target cluster × rotation (losses.RotationClusterTargets
// with the 30 flat clusters), everything else equal (features, sampler,
// epochs, the four rotations of one view per image).
//
// Choices the paper leaves to its scale: 5 × 6 clusters (the paper
// clusters tens of millions of YFCC100M images into far more); PCA to 64
// dimensions (DeepCluster's 256 on 4096-d features); one augmented view per
// image, rotated four ways, so a step sees 4B images; heads re-initialized
// at every relabelling and learning rate 0.1, as examples/deepcluster.
//
// Reference: Caron, Bojanowski, Mairal, Joulin, Unsupervised Pre-Training
// of Image Features on Non-Curated Data, ICCV 2019
// (facebookresearch/DeeperCluster); DeepCluster: Caron et al., ECCV 2018.
package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"ssl"
	"ssl/assign"
	"ssl/augment"
	"ssl/backbone"
	"ssl/examples/internal/run"
	"ssl/losses"
)

func main() { run.Main(deepercluster) }

const (
	k1     = 5       // super-clusters
	k2     = 6       // sub-clusters per super-cluster
	k      = k1 * k2 // clusters in all (the flat variant's k)
	rots   = 4       // rotations 0°, 90°, 180°, 270°
	pcaDim = 64
)

func deepercluster(args []string, log io.Writer) error {
	hierarchical := true
	cfg, err := run.Parse("deepercluster", run.Defaults{EpochsEmbedded: 10, EpochsFull: 1, LR: 0.1, Flags: func(fs *flag.FlagSet) {
		fs.BoolVar(&hierarchical, "hierarchical", true, "hierarchical k-means (5 super × 6 sub-clusters, super- and sub-class heads); false: flat k-means with 30 clusters and one rotation × cluster head")
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
	// Hierarchical: super (rotation × super-cluster, 20) and sub (6 per
	// super-class, 120). Flat: one head on rotation × cluster (120).
	type head struct {
		name string
		out  int
		l    *backbone.Linear
	}
	heads := []*head{{name: "super", out: rots * k1}, {name: "sub", out: rots * k1 * k2}}
	if !hierarchical {
		heads = []*head{{name: "classifier", out: rots * k}}
	}
	params := net.Params()
	for _, h := range heads {
		if h.l, err = backbone.NewLinear(h.name, 128, h.out, true, rng); err != nil {
			return err
		}
		params = append(params, h.l.Params()...)
	}
	opt, err := backbone.NewSGD(params, &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 5e-4})
	if err != nil {
		return err
	}
	// Label of image n: super·k2 + sub (hierarchical) or its flat cluster.
	labels := run.NewLabels("labels", data.Train.N, k)
	tr, err := run.NewTrainer(cfg, data, net, run.State{Params: params, Buffers: net.Buffers(), Opt: opt, Saved: []run.Checkpointer{labels}})
	if err != nil {
		return err
	}

	tr.OnEpoch = func(epoch int) error {
		feats, err := run.Features(net, data.Train)
		if err != nil {
			return err
		}
		x, _, err := assign.PCAWhiten(nil, feats, pcaDim, nil)
		if err != nil {
			return err
		}
		var inertia float64
		if hierarchical {
			res, err := assign.HierarchicalKMeans(x, k1, k2, tr.Rand(1), nil)
			if err != nil {
				return err
			}
			labels.Set(res.Labels)
			inertia = res.Inertia
		} else {
			lab := make([]int, data.Train.N)
			res, err := assign.KMeans(nil, lab, x, k, tr.Rand(1), nil)
			if err != nil {
				return err
			}
			labels.Set(lab)
			inertia = res.Inertia
		}
		// Fresh heads for the new labels, with no momentum left.
		for i, h := range heads {
			fresh, err := backbone.NewLinear(h.name, 128, h.out, true, tr.Rand(uint64(2+i)))
			if err != nil {
				return err
			}
			if err := backbone.CopyParams(h.l.Params(), fresh.Params()); err != nil {
				return err
			}
			for _, s := range opt.State() {
				if strings.HasPrefix(s.Name, h.name+".") {
					clear(s.Data())
				}
			}
		}
		if !cfg.Quiet {
			kind := "flat k-means"
			if hierarchical {
				kind = fmt.Sprintf("hierarchical k-means %d×%d", k1, k2)
			}
			fmt.Fprintf(log, "epoch %d: %s on %d whitened features: inertia %.4g, %d of %d clusters used\n",
				epoch+1, kind, data.Train.N, inertia, labels.Used(), k)
		}
		return nil
	}
	// Images drawn uniformly over the clusters (DeepCluster's sampler).
	tr.Order = func(epoch int) ([]int, error) {
		return assign.UniformLabelSample(nil, labels.All(), k, data.Train.N, tr.Rand(5))
	}

	view, err := augment.NewMultiCrop([]int{28}, []int{1}, []float64{0.25}, []float64{1},
		augment.RandomHorizontalFlip{P: 0.5},
		augment.RandomApply{T: augment.ColorJitter{Brightness: 0.4, Contrast: 0.4}, P: 0.8},
		augment.Normalization{Mean: []float64{run.Mean}, Std: []float64{run.Std}})
	if err != nil {
		return err
	}
	b4 := rots * cfg.Batch
	var x []ssl.Tensor
	xr := ssl.New(b4, 1, 28, 28)
	rot := make([]int, b4)
	feat, dfeat, dfeat2 := ssl.New(b4, 128), ssl.New(b4, 128), ssl.New(b4, 128)
	logits, dlogits := make([]ssl.Tensor, len(heads)), make([]ssl.Tensor, len(heads))
	for i, h := range heads {
		logits[i], dlogits[i] = ssl.New(b4, h.out), ssl.New(b4, h.out)
	}
	block, dblock := ssl.New(b4, k2), ssl.New(b4, k2) // each row's own super-class block of the sub head
	netWS, headWS := backbone.NewWorkspace(), run.Workspaces(len(heads))
	ceOpts := &losses.PseudoLabelCEOptions{Workspace: losses.NewWorkspace()}
	var y, cluster, super, sub, target []int
	cluster, super, sub = make([]int, b4), make([]int, b4), make([]int, b4)

	for tr.Next() {
		if x, err = view.Apply(x, tr.Images(), tr.IDs(), cfg.Seed, uint64(tr.Epoch())); err != nil {
			return err
		}
		// Row 4i+r is image i turned by r quarter turns.
		if _, _, err = augment.Rotations(xr, rot, x[0]); err != nil {
			return err
		}
		y = labels.Gather(y, tr.IDs())
		for n := range b4 {
			cluster[n] = y[n/rots]
			super[n], sub[n] = cluster[n]/k2, cluster[n]%k2
		}
		backbone.ZeroGrad(params)
		if err := net.Forward(netWS, feat, xr, true); err != nil {
			return err
		}
		for i, h := range heads {
			if err := h.l.Forward(headWS[i], logits[i], feat, true); err != nil {
				return err
			}
		}
		var loss float64
		if hierarchical {
			// Super-class: rotation × super-cluster.
			if target, err = losses.RotationClusterTargets(target, rot, super, rots, k1); err != nil {
				return err
			}
			l, err := losses.PseudoLabelCE(dlogits[0], logits[0], target, ceOpts)
			if err != nil {
				return err
			}
			loss += l
			// Sub-class: the sub-cluster, among the 6 outputs of the row's
			// own super-class head.
			if err := gatherBlocks(block, logits[1], target); err != nil {
				return err
			}
			l, err = losses.PseudoLabelCE(dblock, block, sub, ceOpts)
			if err != nil {
				return err
			}
			loss += l
			if err := scatterBlocks(dlogits[1], dblock, target); err != nil {
				return err
			}
		} else {
			if target, err = losses.RotationClusterTargets(target, rot, cluster, rots, k); err != nil {
				return err
			}
			l, err := losses.PseudoLabelCE(dlogits[0], logits[0], target, ceOpts)
			if err != nil {
				return err
			}
			loss += l
		}
		for i, h := range heads {
			dst := dfeat
			if i > 0 {
				dst = dfeat2
			}
			if err := h.l.Backward(headWS[i], dst, dlogits[i]); err != nil {
				return err
			}
			if i > 0 {
				run.Add(dfeat, dfeat2)
			}
		}
		if err := net.Backward(netWS, nil, dfeat); err != nil {
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

// gatherBlocks copies into dst (B×k2) the k2 outputs of row n of logits
// (B×(S·k2)) that belong to super-class s[n].
func gatherBlocks(dst, logits ssl.Tensor, s []int) error {
	for n, c := range s {
		d, err := ssl.Row(dst, n)
		if err != nil {
			return err
		}
		l, err := ssl.Row(logits, n)
		if err != nil {
			return err
		}
		copy(d, l[c*k2:(c+1)*k2])
	}
	return nil
}

// scatterBlocks writes the gradient of gatherBlocks: row n of dblock into
// super-class s[n]'s outputs of dlogits, zero elsewhere.
func scatterBlocks(dlogits, dblock ssl.Tensor, s []int) error {
	for n, c := range s {
		d, err := ssl.Row(dlogits, n)
		if err != nil {
			return err
		}
		g, err := ssl.Row(dblock, n)
		if err != nil {
			return err
		}
		clear(d)
		copy(d[c*k2:(c+1)*k2], g)
	}
	return nil
}
