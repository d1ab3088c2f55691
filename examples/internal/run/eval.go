package run

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"

	"ssl"
	"ssl/assign"
	"ssl/backbone"
	"ssl/dataset"
	"ssl/dist"
	"ssl/probe"
)

// evalBatch is the number of images per forward pass of the evaluation.
const evalBatch = 500

// Features returns net's output for every image of s, un-augmented and
// normalized, in evaluation mode (batch-norm running statistics), as the
// protocol's evaluation reads them: an N×D tensor.
func Features(net backbone.Layer, s *dataset.Set) (ssl.Tensor, error) {
	return FeatureRows(net, s, 0, s.N)
}

// FeatureRows is [Features] of the images [from, to) of s only: a
// (to−from)×D tensor, such as a rank's [Shard] of the training set.
func FeatureRows(net backbone.Layer, s *dataset.Set, from, to int) (ssl.Tensor, error) {
	if from < 0 || to > s.N || from >= to {
		return nil, fmt.Errorf("run: FeatureRows: rows [%d, %d) of %d images, want a non-empty range: %w", from, to, s.N, ssl.ErrShape)
	}
	ws := backbone.NewWorkspace()
	var out ssl.Tensor
	x := ssl.New(evalBatch, s.C, s.H, s.W)
	for lo := from; lo < to; lo += evalBatch {
		n := min(evalBatch, to-lo)
		ids := make([]int, n)
		for i := range ids {
			ids[i] = lo + i
		}
		xb := x
		if n != evalBatch {
			xb = ssl.New(n, s.C, s.H, s.W)
		}
		if _, err := Normalized(xb, s, ids); err != nil {
			return nil, err
		}
		if out == nil {
			shape, err := net.OutShape([]int{to - from, s.C, s.H, s.W})
			if err != nil {
				return nil, err
			}
			if len(shape) != 2 {
				return nil, fmt.Errorf("run: Features: the network's output has shape %v, want a matrix", shape)
			}
			out = ssl.New(shape...)
		}
		f, err := ssl.Rows(out, lo-from, lo-from+n)
		if err != nil {
			return nil, err
		}
		if err := net.Forward(ws, f, xb, false); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Result is what result.json holds: the fields a script reads.
type Result struct {
	Method      string  `json:"method"`
	Data        string  `json:"data"`
	TrainImages int     `json:"train_images"`
	TestImages  int     `json:"test_images"`
	Epochs      int     `json:"epochs"`
	Batch       int     `json:"batch"`
	CropMin     float64 `json:"crop_min"`
	// Ranks is the number of ranks of a -dist job (absent in one process);
	// SyncBN records -sync-bn.
	Ranks           int     `json:"ranks,omitempty"`
	SyncBN          bool    `json:"sync_bn,omitempty"`
	TrainSeconds    float64 `json:"train_seconds"`
	ImagesPerSecond float64 `json:"images_per_second"`
	KNN             float64 `json:"knn"`
	Linear          float64 `json:"linear"`
	LinearIters     int     `json:"linear_iterations"`
	LinearConverged bool    `json:"linear_converged"`
	ACC             float64 `json:"acc"`
	NMI             float64 `json:"nmi"`
	ARI             float64 `json:"ari"`
	HeadACC         float64 `json:"head_acc,omitempty"`
	HeadNMI         float64 `json:"head_nmi,omitempty"`
	HeadARI         float64 `json:"head_ari,omitempty"`
	// RefitImages is how many reliable pseudo-labels the head was refitted
	// to (Head.Refit), in its last round of RefitRounds; ReliableImages and
	// the Propagated scores are the head's clustering propagated from its
	// reliable pseudo-labels (Head.Reliable > 0).
	RefitImages    int     `json:"refit_images,omitempty"`
	RefitRounds    int     `json:"refit_rounds,omitempty"`
	ReliableImages int     `json:"reliable_images,omitempty"`
	PropagatedACC  float64 `json:"propagated_acc,omitempty"`
	PropagatedNMI  float64 `json:"propagated_nmi,omitempty"`
	PropagatedARI  float64 `json:"propagated_ari,omitempty"`
	// OnlineKNN and OnlineLinear score Trainer.Online, the trained network
	// whose weight average the protocol's figures above evaluate (absent
	// without one).
	OnlineKNN    float64 `json:"online_knn,omitempty"`
	OnlineLinear float64 `json:"online_linear,omitempty"`
	// Plan is how a -budget run sized itself (absent without -budget).
	Plan    *Plan  `json:"plan,omitempty"`
	Machine string `json:"machine"`
}

// Head is a method's clustering head for the evaluation: a layer mapping
// the backbone's features to K cluster scores.
type Head struct {
	Layer backbone.Layer
	K     int
	// Reliable, in (0, 1], also scores the clustering that the head's
	// reliable pseudo-labels give: the training images whose head label at
	// least this fraction of their 20 nearest training images share (see
	// [Reliable]) label the test images by the protocol's weighted kNN
	// vote. Zero: not scored.
	Reliable float64
	// Refit, with Reliable > 0, first replaces Layer by the logistic
	// regression fitted to those reliable pseudo-labels on the training
	// features (see [Trainer.Finish]); head ACC, NMI and ARI are then the
	// refitted layer's, and so is the propagation. Fewer than 20 reliable
	// images keep Layer.
	Refit bool
	// RefitRounds, with Refit, repeats the fit up to this many times: each
	// round's layer labels the training images anew and the next fits to
	// its reliable labels, until a round changes fewer than 0.1 % of the
	// labels. 0 and 1: one fit.
	RefitRounds int
}

// Finish evaluates the trained backbone under the fmnist-ssl-v1 protocol —
// weighted kNN (k 20, T 0.07), linear probe, k-means with 10 clusters on
// the L2-normalized test features (best of 5 restarts), and the head's
// argmax when head is not nil (refitted to its reliable pseudo-labels
// first with Head.Refit; their kNN propagation too with Head.Reliable) —
// then writes result.json, clusters.png and
// curves.png into -out and prints the table; with Trainer.Online, that
// network's kNN and linear accuracy too. In a -dist job every rank
// extracts the features of its shard of both sets and takes part in the
// kNN over the sharded bank and in gathering the training features; the
// other evaluations run on rank 0 alone, and the ranks other than 0 write
// nothing and return the training fields and the kNN accuracy only.
func (t *Trainer) Finish(head *Head) (*Result, error) {
	if t.err != nil {
		return nil, t.err
	}
	if t.interrupted {
		return nil, fmt.Errorf("%s: interrupted; checkpoint written", t.cfg.Method)
	}
	if head != nil && (head.Reliable < 0 || head.Reliable > 1 || head.Refit && head.Reliable == 0 || head.RefitRounds < 0) {
		return nil, fmt.Errorf("%s: Head.Reliable %g must be in [0, 1], and above 0 with Refit; Head.RefitRounds %d ≥ 0", t.cfg.Method, head.Reliable, head.RefitRounds)
	}
	c := t.cfg
	r := &Result{
		Method: c.Method, Data: t.data.Train.Name, TrainImages: t.data.Train.N, TestImages: t.data.Test.N,
		Epochs: c.Epochs, Batch: c.Batch * c.Ranks(), CropMin: c.CropMin, SyncBN: c.dist.syncBN && c.Ranks() > 1, TrainSeconds: t.trained.Seconds(), ImagesPerSecond: t.ImagesPerSecond(),
		Plan: c.Plan, Machine: machine(),
	}
	if c.Ranks() > 1 {
		r.Ranks = c.Ranks()
	}
	e, err := t.evalFeatures(t.net)
	if err != nil {
		return nil, err
	}
	if r.KNN, err = e.knn(); err != nil {
		return nil, err
	}
	// The rest runs on rank 0, over the whole training set.
	train, err := GatherRows(e.comm, e.train, t.data.Train.N)
	if err != nil {
		return nil, err
	}
	var online *evalData
	var onlineTrain ssl.Tensor
	if t.Online != nil {
		if online, err = t.evalFeatures(t.Online); err != nil {
			return nil, err
		}
		if r.OnlineKNN, err = online.knn(); err != nil {
			return nil, err
		}
		if onlineTrain, err = GatherRows(online.comm, online.train, t.data.Train.N); err != nil {
			return nil, err
		}
	}
	if !c.root() {
		return r, nil
	}
	test := e.test
	classes := t.data.Train.Classes
	lin, err := probe.EvaluateLinear(train, t.data.Train.Labels, test, t.data.Test.Labels, classes, nil)
	if err != nil {
		return nil, err
	}
	r.Linear, r.LinearIters, r.LinearConverged = lin.TestTop1, lin.Iterations, lin.Converged
	if online != nil {
		ol, err := probe.EvaluateLinear(onlineTrain, t.data.Train.Labels, online.test, t.data.Test.Labels, classes, nil)
		if err != nil {
			return nil, err
		}
		r.OnlineLinear = ol.TestTop1
	}

	unit, err := ssl.NormalizeRows(nil, test)
	if err != nil {
		return nil, err
	}
	labels := make([]int, t.data.Test.N)
	_, err = assign.KMeans(nil, labels, unit, classes, rand.New(rand.NewPCG(c.Seed, 10)), &assign.KMeansOptions{Restarts: 5})
	if err != nil {
		return nil, err
	}
	cs, err := probe.EvaluateClusters(labels, t.data.Test.Labels, classes, classes, nil)
	if err != nil {
		return nil, err
	}
	r.ACC, r.NMI, r.ARI = cs.ACC, cs.NMI, cs.ARI

	if head != nil {
		var nbrs []int // the training images' neighborhoods, mined once
		if head.Reliable > 0 {
			if nbrs, err = reliableNeighborLists(train); err != nil {
				return nil, err
			}
		}
		if head.Refit {
			lin, n, rounds, err := refitRounds(head, train, nbrs, head.RefitRounds)
			if err != nil {
				return nil, err
			}
			r.RefitImages, r.RefitRounds = n, rounds
			if lin != nil {
				head = &Head{Layer: lin, K: head.K, Reliable: head.Reliable}
			}
		}
		hp, err := headPredictions(head, test)
		if err != nil {
			return nil, err
		}
		hs, err := probe.EvaluateClusters(hp, t.data.Test.Labels, head.K, classes, nil)
		if err != nil {
			return nil, err
		}
		r.HeadACC, r.HeadNMI, r.HeadARI = hs.ACC, hs.NMI, hs.ARI
		if head.Reliable > 0 {
			pp, kept, err := propagated(head, train, test, nbrs)
			if err != nil {
				return nil, err
			}
			r.ReliableImages = kept
			if pp != nil {
				ps, err := probe.EvaluateClusters(pp, t.data.Test.Labels, head.K, classes, nil)
				if err != nil {
					return nil, err
				}
				r.PropagatedACC, r.PropagatedNMI, r.PropagatedARI = ps.ACC, ps.NMI, ps.ARI
			}
		}
	}
	if err := t.writeOutputs(r, test, labels); err != nil {
		return nil, err
	}
	c.logf("\n%-12s %6s %8s %9s %7s %7s %7s %7s\n", "method", "epochs", "img/s", "train s", "kNN", "linear", "ACC", "NMI")
	c.logf("%-12s %6d %8.0f %9.1f %7.4f %7.4f %7.4f %7.4f   ARI %.4f\n", c.Method, c.Epochs, r.ImagesPerSecond, r.TrainSeconds, r.KNN, r.Linear, r.ACC, r.NMI, r.ARI)
	if online != nil {
		c.logf("%-12s the trained network, whose weight average the row above evaluates: kNN %.4f linear %.4f\n", c.Method, r.OnlineKNN, r.OnlineLinear)
	}
	if head != nil {
		refitted := ""
		if r.RefitImages >= probe.DefaultK {
			refitted = fmt.Sprintf(", refitted to %d reliable pseudo-labels in %d rounds", r.RefitImages, r.RefitRounds)
		} else if head.Refit {
			refitted = fmt.Sprintf(", not refitted: %d reliable pseudo-labels", r.RefitImages)
		}
		c.logf("%-12s clustering head (%d clusters%s): ACC %.4f NMI %.4f ARI %.4f\n", c.Method, head.K, refitted, r.HeadACC, r.HeadNMI, r.HeadARI)
		if head.Reliable > 0 && r.ReliableImages < probe.DefaultK {
			c.logf("%-12s propagated: only %d training images have a reliable pseudo-label, too few to vote\n", c.Method, r.ReliableImages)
		} else if head.Reliable > 0 {
			c.logf("%-12s propagated from %d reliable pseudo-labels: ACC %.4f NMI %.4f ARI %.4f\n", c.Method, r.ReliableImages, r.PropagatedACC, r.PropagatedNMI, r.PropagatedARI)
		}
	}
	c.logf("%s: results in %s\n", c.Method, c.Out)
	return r, nil
}

// evalData is what the protocol's evaluation reads: the training features
// and labels — in a -dist job, this rank's shard of them — and the test
// features, whole on every rank.
type evalData struct {
	train       ssl.Tensor
	trainLabels []int
	test        ssl.Tensor
	testLabels  []int
	classes     int
	comm        dist.Comm // Config.Sharded: nil in one process
}

// evalFeatures extracts the evaluation's features of net. In a -dist job each
// rank extracts its [Shard] of the training and of the test set, and the
// test features are all-gathered.
func (t *Trainer) evalFeatures(net backbone.Layer) (*evalData, error) {
	c := t.cfg.Sharded()
	lo, hi := Shard(c, t.data.Train.N)
	train, err := FeatureRows(net, t.data.Train, lo, hi)
	if err != nil {
		return nil, err
	}
	tlo, thi := Shard(c, t.data.Test.N)
	test, err := FeatureRows(net, t.data.Test, tlo, thi)
	if err != nil {
		return nil, err
	}
	if test, err = GatherRows(c, test, t.data.Test.N); err != nil {
		return nil, err
	}
	return &evalData{
		train: train, trainLabels: t.data.Train.Labels[lo:hi], test: test, testLabels: t.data.Test.Labels,
		classes: t.data.Train.Classes, comm: c,
	}, nil
}

// knn is the protocol's weighted kNN top-1 accuracy (k 20, T 0.07), over
// the sharded bank in a -dist job.
func (e *evalData) knn() (float64, error) {
	pred, err := probe.KNN(nil, e.train, e.trainLabels, e.test, e.classes, &probe.KNNOptions{Comm: e.comm})
	if err != nil {
		return 0, err
	}
	return probe.Accuracy(pred, e.testLabels)
}

// EvaluateHead scores the clustering head on net's features of set s (the
// argmax of its scores against the labels: ACC, NMI, ARI); examples use it
// to follow a head during training.
func EvaluateHead(net backbone.Layer, head *Head, s *dataset.Set) (probe.EvaluateClustersResult, error) {
	feats, err := Features(net, s)
	if err != nil {
		return probe.EvaluateClustersResult{}, err
	}
	pred, err := headPredictions(head, feats)
	if err != nil {
		return probe.EvaluateClustersResult{}, err
	}
	return probe.EvaluateClusters(pred, s.Labels, head.K, s.Classes, nil)
}

// headPredictions returns the argmax of the head's scores for each row of
// the features.
func headPredictions(h *Head, feats ssl.Tensor) ([]int, error) {
	n := feats.Shape()[0]
	scores := ssl.New(n, h.K)
	if err := h.Layer.Forward(backbone.NewWorkspace(), scores, feats, false); err != nil {
		return nil, err
	}
	return ssl.ArgmaxRows(nil, scores)
}

func (t *Trainer) writeOutputs(r *Result, test ssl.Tensor, clusters []int) error {
	out := t.cfg.Out
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := writeAtomic(filepath.Join(out, "result.json"), append(js, '\n')); err != nil {
		return err
	}
	grid, err := os.Create(filepath.Join(out, "clusters.png"))
	if err != nil {
		return err
	}
	images := t.data.Test.Tensor()
	if err := probe.ClusterGrid(grid, images, test, clusters, t.data.Train.Classes, 10, nil); err != nil {
		grid.Close()
		return err
	}
	if err := grid.Close(); err != nil {
		return err
	}
	recs := t.records
	if len(recs) == 0 {
		return nil
	}
	for _, rec := range recs {
		if math.IsInf(rec.Loss, 0) {
			return nil // nothing sensible to plot
		}
	}
	curves, err := os.Create(filepath.Join(out, "curves.png"))
	if err != nil {
		return err
	}
	if err := TrainingCurves(curves, recs, nil); err != nil {
		curves.Close()
		return err
	}
	return curves.Close()
}
