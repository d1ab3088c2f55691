// Command uniform trains ConvNet3 by clustering through output translation
// on Fashion-MNIST under the fmnist-ssl-v1 protocol and evaluates it, the
// classifier serving as a 10-way clustering head.
//
// At the start of every epoch the whole training set is labelled from the
// network's own outputs: the classifier's logits z (N×10, un-augmented
// images, evaluation mode) are moved by one common translation b so that
// the images spread evenly over the 10 clusters (assign.UniformTranslate):
//
//	find b ∈ ℝ^K such that n_k(b) = #{i : argmax_j (z_ij + b_j) = k} ∈ {⌊N/K⌋, ⌈N/K⌉}
//	y_i = argmax_k (z_ik + b_k)
//
// A translation keeps every distance between outputs, so each image keeps
// its neighbors in output space; only the decision boundaries move until the
// distribution over clusters is uniform. Each step then trains ConvNet3
// and the classifier by cross-entropy on y (losses.PseudoLabelCE) over two
// augmented views. The classifier is kept from epoch to epoch: its outputs
// are what the next labelling translates.
//
// The paper gives no code; the assignment follows its Sec. 3 as
// assign.UniformTranslate documents it (b the dual variables of the balanced
// assignment, found by block-coordinate descent). What had to be chosen: the
// training objective, cross-entropy on the translated labels alternated with
// relabelling once per epoch (SeLa's and DeepCluster's alternation, not a
// detail taken from the paper); z are the logits (a translation of
// log-softmax outputs gives the same labels, since log-softmax only
// subtracts a per-row constant); K = 10 clusters, the number of classes, so
// the head is evaluated directly; the protocol's two views, each counting
// half.
//
// The comparison: -assign=kmeans labels the epoch by k-means instead
// (DeepCluster's rule at the same budget: features PCA-whitened to 64
// dimensions and L2-normalized, k-means++ with 10 clusters, classifier
// re-initialized and its momentum cleared since cluster indices change,
// images drawn uniformly over the clusters by assign.UniformLabelSample);
// the network, views, loss and epochs are the same.
//
// Reference: Li, Li, Garibaldi and Qiu, Clustering-Based Representation
// Learning through Output Translation and Its Application to Remote-Sensing
// Images, Remote Sensing 14(14):3361, 2022; DeepCluster: Caron et al.,
// ECCV 2018.
package main

import (
	"flag"
	"fmt"
	"io"
	"strings"

	"ssl"
	"ssl/assign"
	"ssl/backbone"
	"ssl/examples/internal/run"
	"ssl/losses"
)

func main() { run.Main(uniform) }

const (
	k      = 10 // clusters
	pcaDim = 64 // the k-means side's whitening
)

func uniform(args []string, log io.Writer) error {
	method := "uniform"
	cfg, err := run.Parse("uniform", run.Defaults{EpochsEmbedded: 10, EpochsFull: 1, LR: 0.1, Flags: func(fs *flag.FlagSet) {
		fs.StringVar(&method, "assign", "uniform", "pseudo-labels: uniform (translated outputs) or kmeans (DeepCluster's k-means on the features)")
	}}, args, log)
	if err != nil {
		return err
	}
	if method != "uniform" && method != "kmeans" {
		return fmt.Errorf("uniform: -assign must be uniform or kmeans (-assign=%s): %w", method, ssl.ErrParam)
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
	model := backbone.NewSequential("uniform", net, classifier)
	opt, err := backbone.NewSGD(model.Params(), &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 5e-4})
	if err != nil {
		return err
	}
	labels := run.NewLabels("labels", data.Train.N, k)
	tr, err := run.NewTrainer(cfg, data, net, run.State{Params: model.Params(), Buffers: model.Buffers(), Opt: opt, Saved: []run.Checkpointer{labels}})
	if err != nil {
		return err
	}

	n := data.Train.N
	outputs, lab := ssl.New(n, k), make([]int, n)
	tr.OnEpoch = func(epoch int) error {
		feats, err := run.Features(net, data.Train)
		if err != nil {
			return err
		}
		if method == "uniform" {
			// The network's outputs, translated until every cluster holds
			// N/K images.
			if err := classifier.Forward(backbone.NewWorkspace(), outputs, feats, false); err != nil {
				return err
			}
			res, err := assign.UniformTranslate(nil, lab, outputs, nil)
			if err != nil {
				return err
			}
			labels.Set(lab)
			if !cfg.Quiet {
				fmt.Fprintf(log, "epoch %d: outputs translated in %d sweeps: imbalance %d, cluster sizes %v\n",
					epoch+1, res.Iterations, res.Imbalance, res.Counts)
			}
			return nil
		}
		x, _, err := assign.PCAWhiten(nil, feats, pcaDim, nil)
		if err != nil {
			return err
		}
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
			fmt.Fprintf(log, "epoch %d: k-means on %d whitened features: inertia %.4g, %d of %d clusters used\n",
				epoch+1, n, res.Inertia, labels.Used(), k)
		}
		return nil
	}
	if method == "kmeans" {
		tr.Order = func(epoch int) ([]int, error) {
			return assign.UniformLabelSample(nil, labels.All(), k, n, tr.Rand(3))
		}
	}

	views, err := cfg.MultiCrop(0)
	if err != nil {
		return err
	}
	b := cfg.Batch
	var x []ssl.Tensor
	logits, dlogits := run.Tensors(2, b, k), run.Tensors(2, b, k)
	ws := run.Workspaces(2)
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
		if err := opt.Step(tr.LR()); err != nil {
			return err
		}
		tr.Done(loss)
	}
	_, err = tr.Finish(&run.Head{Layer: classifier, K: k})
	return err
}
