// Command pcl trains ConvNet3 by Prototypical Contrastive Learning on
// Fashion-MNIST under the fmnist-ssl-v1 protocol and evaluates it.
//
// At the start of every epoch after the first (instance-only warm-up) the
// key encoder's normalized outputs for the whole training set
// (un-augmented, evaluation mode) are clustered by spherical k-means at
// three granularities (10, 20 and 30 prototypes), and each prototype gets
// PCL's concentration φ (temperature 0.2). Each step: two augmented views →
// query encoder (ConvNet3 → projection 128→256→BN→ReLU→64) on view 1 and
// momentum key encoder (its EMA, m 0.99) on view 2 → ProtoNCE: InfoNCE
// against a queue of 4,096 negative keys (τ 0.2) plus, per clustering, the
// cross-entropy of the query against its own prototype among the batch's
// and all other prototypes, each scaled by its φ → backward through the
// query encoder → SGD → EMA of the key encoder → keys pushed on the queue.
//
// With -dist mpi each rank computes the keys of its block of the training
// set, and the k-means runs over the ranks' blocks (rank 0's initial
// centroids broadcast, the K×D sums and K counts all-reduced per iteration:
// assign.KMeansOptions.Comm), so every rank holds the same prototypes; the
// labels and distances are all-gathered, so every rank computes the same
// concentrations. (PCL's own code clusters on rank 0 alone and broadcasts
// the result.) Each step all-gathers the ranks' keys, in rank order, and
// pushes all of them on the queue, as MoCo's concat_all_gather does, so
// every rank keeps the same negatives; the prototype term is that of the
// global batch (losses.ProtoNCEOptions.Comm: every rank's rows against the
// positive prototypes of every rank's images, the negatives the prototypes
// none of them has), so that -batch means what it means in one process.
//
// Reference: Li, Zhou, Xiong, Hoi, Prototypical Contrastive Learning of
// Unsupervised Representations, ICLR 2021 (MoCo: He et al., CVPR 2020).
package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"

	"ssl"
	"ssl/assign"
	"ssl/backbone"
	"ssl/dist"
	"ssl/examples/internal/run"
	"ssl/losses"
)

func main() { run.Main(pcl) }

const (
	tau      = 0.2  // InfoNCE temperature and PCL's concentration scale
	momentum = 0.99 // key encoder EMA
	dim      = 64
)

var granularities = []int{10, 20, 30}

func pcl(args []string, log io.Writer) error {
	queueLen, warm := 4096, 1
	cfg, err := run.Parse("pcl", run.Defaults{EpochsEmbedded: 10, EpochsFull: 2, Flags: func(fs *flag.FlagSet) {
		fs.IntVar(&queueLen, "queue", 4096, "negative keys in the queue")
		fs.IntVar(&warm, "instance-epochs", 1, "epochs of instance InfoNCE alone before the prototypes join")
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
	// The clusterings: centroids, concentrations and every image's label.
	n := data.Train.N
	protos := make([]losses.ProtoNCEClustering, len(granularities))
	labels := make([]*run.Labels, len(granularities))
	extra := append(key.Params(), key.Buffers()...)
	saved := []run.Checkpointer{queue}
	for m, k := range granularities {
		c, phi := ssl.New(k, dim), ssl.New(k)
		protos[m] = losses.ProtoNCEClustering{Centroids: c, Density: phi}
		labels[m] = run.NewLabels(fmt.Sprintf("labels%d", k), n, k)
		extra = append(extra, &backbone.Param{Name: fmt.Sprintf("centroids%d", k), Value: c},
			&backbone.Param{Name: fmt.Sprintf("concentration%d", k), Value: phi})
		saved = append(saved, labels[m])
	}
	tr, err := run.NewTrainer(cfg, data, net, run.State{Params: query.Params(), Buffers: query.Buffers(), Opt: opt, Extra: extra, Saved: saved, Layers: []backbone.Layer{query, key}})
	if err != nil {
		return err
	}

	// The keys of this rank's rows [lo, hi) of the training set (all of
	// them in one process).
	comm := cfg.Sharded()
	lo, hi := run.Shard(comm, n)
	tr.OnEpoch = func(epoch int) error {
		if epoch < warm {
			return nil
		}
		feats, err := run.FeatureRows(key, data.Train, lo, hi)
		if err != nil {
			return err
		}
		keys, err := ssl.NormalizeRows(nil, feats)
		if err != nil {
			return err
		}
		for m, k := range granularities {
			lab, res, err := cluster(comm, protos[m], keys, n, k, tr.Rand(uint64(k)), nil)
			if err != nil {
				return err
			}
			labels[m].Set(lab)
			if !cfg.Quiet {
				fmt.Fprintf(cfg.Log, "epoch %d: k-means with %d prototypes: inertia %.4g, %d used\n", epoch+1, k, res.Inertia, labels[m].Used())
			}
		}
		return nil
	}

	views, err := cfg.MultiCrop(0)
	if err != nil {
		return err
	}
	b := cfg.Batch
	var x []ssl.Tensor
	q, k, dq := ssl.New(b, dim), ssl.New(b, dim), ssl.New(b, dim)
	pushed := k // the keys the queue takes: with -dist, every rank's
	if comm != nil {
		pushed = ssl.New(comm.Size()*b, dim)
	}
	qws, kws := backbone.NewWorkspace(), backbone.NewWorkspace()
	// With -dist the loss is that of the global batch: every rank's rows
	// against the positive prototypes of every rank's images.
	lossOpts := &losses.ProtoNCEOptions{Workspace: losses.NewWorkspace(), Comm: comm}
	var mine, batchLabels []int64 // -dist: the global batch's labels

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
		// Each clustering: the (global) batch's own prototypes, then every
		// other one as a negative (PCL samples r of them; here all fit).
		clusterings := protos[:0]
		for m, c := range protos {
			if tr.Epoch() < warm {
				break
			}
			clusterings, c.Labels, c.Negatives = protos, labels[m].Gather(c.Labels, tr.IDs()), c.Negatives[:0]
			inBatch := func(id int) bool { return slices.Contains(c.Labels, id) }
			if comm != nil {
				mine, batchLabels = mine[:0], slices.Grow(batchLabels[:0], comm.Size()*b)[:comm.Size()*b]
				for _, l := range c.Labels {
					mine = append(mine, int64(l))
				}
				if err := comm.AllGather(batchLabels, mine); err != nil {
					return err
				}
				inBatch = func(id int) bool { return slices.Contains(batchLabels, int64(id)) }
			}
			for id := range granularities[m] {
				if !inBatch(id) {
					c.Negatives = append(c.Negatives, id)
				}
			}
			protos[m] = c
		}
		loss, err := losses.ProtoNCE(dq, q, k, queue.Tensor(), clusterings, tau, lossOpts)
		if err != nil {
			return err
		}
		if err := query.Backward(qws, nil, dq); err != nil {
			return err
		}
		if err := tr.AverageGrads(); err != nil { // -dist: the mean over the ranks
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
		if comm != nil {
			_, kv, _ := ssl.View(k)
			_, pv, _ := ssl.View(pushed)
			if err := comm.AllGather(pv, kv); err != nil {
				return err
			}
		}
		if err := queue.Push(pushed); err != nil {
			return err
		}
		tr.Done(loss.Loss)
	}
	_, err = tr.Finish(nil)
	return err
}

// cluster runs PCL's spherical k-means with k prototypes over keys, the
// normalized keys of this rank's rows of the n training images
// (run.Shard(c, n); all n with c nil), and over every rank's with c: it
// writes the centroids and their concentrations φ into p and returns every
// image's label (gathered with c). init, when not nil, gives the initial
// centroids (tests) instead of k-means++ drawn from rng.
func cluster(c dist.Comm, p losses.ProtoNCEClustering, keys ssl.Tensor, n, k int, rng *rand.Rand, init ssl.Tensor) ([]int, assign.KMeansResult, error) {
	lo, hi := run.Shard(c, n)
	lab := make([]int, hi-lo)
	res, err := assign.KMeans(p.Centroids, lab, keys, k, rng, &assign.KMeansOptions{Spherical: true, Comm: c, Init: init})
	if err != nil {
		return nil, res, err
	}
	if lab, err = run.GatherInts(c, lab, n); err != nil {
		return nil, res, err
	}
	d, err := run.GatherFloat32(c, res.Dist, n, 1)
	if err != nil {
		return nil, res, err
	}
	_, phi, err := ssl.View(p.Density)
	if err != nil {
		return nil, res, err
	}
	if _, err := assign.PCLConcentration(phi, d, lab, k, tau); err != nil {
		return nil, res, err
	}
	return lab, res, nil
}
