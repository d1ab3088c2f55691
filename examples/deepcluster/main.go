// Command deepcluster trains ConvNet3 by DeepCluster on Fashion-MNIST under
// the fmnist-ssl-v1 protocol and evaluates it.
//
// At the start of every epoch: the features of the whole training set
// (un-augmented, evaluation mode) are PCA-whitened to 64 dimensions and
// L2-normalized, k-means (k-means++, 30 clusters) gives every image a
// pseudo-label, the classifier is re-initialized (and its momentum
// cleared), and the epoch's images are drawn uniformly over the clusters.
// Each step then trains ConvNet3 and the classifier by cross-entropy on the
// pseudo-labels over two augmented views.
//
// With -dist mpi each rank computes the features of its block of the
// training set; the blocks are all-gathered for the PCA (fitted on the
// whole set, so every rank whitens alike), then k-means runs over the
// ranks' blocks as DeepCluster-v2 runs it across GPUs: rank 0 draws the
// initial centroids from its block and broadcasts them, and every iteration
// all-reduces the K×D sums and the K counts (assign.KMeansOptions.Comm).
// The labels are all-gathered, so that every rank draws the same uniform
// order over the clusters.
//
// Reference: Caron, Bojanowski, Joulin, Douze, Deep Clustering for
// Unsupervised Learning of Visual Features, ECCV 2018.
package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"ssl"
	"ssl/assign"
	"ssl/backbone"
	"ssl/dist"
	"ssl/examples/internal/run"
	"ssl/losses"
)

func main() { run.Main(deepcluster) }

const (
	k      = 30 // clusters
	pcaDim = 64 // DeepCluster whitens to 256 dimensions on 4096-d AlexNet features
)

func deepcluster(args []string, log io.Writer) error {
	cfg, err := run.Parse("deepcluster", run.Defaults{EpochsEmbedded: 10, EpochsFull: 1, LR: 0.1}, args, log)
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
	model := backbone.NewSequential("deepcluster", net, classifier)
	opt, err := backbone.NewSGD(model.Params(), &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 5e-4})
	if err != nil {
		return err
	}
	labels := run.NewLabels("labels", data.Train.N, k)
	tr, err := run.NewTrainer(cfg, data, net, run.State{Params: model.Params(), Buffers: model.Buffers(), Opt: opt, Saved: []run.Checkpointer{labels}})
	if err != nil {
		return err
	}

	// The features of this rank's rows [lo, hi) of the training set (all
	// of them in one process).
	comm := cfg.Sharded()
	lo, hi := run.Shard(comm, data.Train.N)
	tr.OnEpoch = func(epoch int) error {
		feats, err := run.FeatureRows(net, data.Train, lo, hi)
		if err != nil {
			return err
		}
		lab, res, err := cluster(comm, feats, data.Train.N, tr.Rand(1), nil)
		if err != nil {
			return err
		}
		labels.Set(lab)
		// A fresh classifier for the new labels, with no momentum left.
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
			fmt.Fprintf(cfg.Log, "epoch %d: k-means on %d whitened features: inertia %.4g, %d of %d clusters used\n",
				epoch+1, data.Train.N, res.Inertia, labels.Used(), k)
		}
		return nil
	}
	// Images drawn uniformly over the pseudo-labels (DeepCluster's sampler).
	tr.Order = func(epoch int) ([]int, error) {
		return assign.UniformLabelSample(nil, labels.All(), k, data.Train.N, tr.Rand(3))
	}

	views, err := cfg.MultiCrop(0)
	if err != nil {
		return err
	}
	b := cfg.Batch
	x := make([]ssl.Tensor, 2)
	logits := []ssl.Tensor{ssl.New(b, k), ssl.New(b, k)}
	dlogits := []ssl.Tensor{ssl.New(b, k), ssl.New(b, k)}
	ws := []*backbone.Workspace{backbone.NewWorkspace(), backbone.NewWorkspace()}
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

// cluster returns DeepCluster's k-means label of each of the n training
// images, given feats, the features of this rank's rows of them
// (run.Shard(c, n); all n with c nil): the features of every rank are
// gathered and PCA-whitened together, and k-means runs on this rank's rows
// of the result, over every rank's with c. init, when not nil, gives the
// initial centroids (tests) instead of k-means++ drawn from rng.
func cluster(c dist.Comm, feats ssl.Tensor, n int, rng *rand.Rand, init ssl.Tensor) ([]int, assign.KMeansResult, error) {
	all, err := run.GatherRows(c, feats, n)
	if err != nil {
		return nil, assign.KMeansResult{}, err
	}
	x, _, err := assign.PCAWhiten(nil, all, pcaDim, nil)
	if err != nil {
		return nil, assign.KMeansResult{}, err
	}
	lo, hi := run.Shard(c, n)
	mine, err := ssl.Rows(x, lo, hi)
	if err != nil {
		return nil, assign.KMeansResult{}, err
	}
	var opts *assign.KMeansOptions
	if c != nil || init != nil {
		opts = &assign.KMeansOptions{Comm: c, Init: init}
	}
	lab := make([]int, hi-lo)
	res, err := assign.KMeans(nil, lab, mine, k, rng, opts)
	if err != nil {
		return nil, res, err
	}
	lab, err = run.GatherInts(c, lab, n)
	return lab, res, err
}
