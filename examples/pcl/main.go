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
// Reference: Li, Zhou, Xiong, Hoi, Prototypical Contrastive Learning of
// Unsupervised Representations, ICLR 2021 (MoCo: He et al., CVPR 2020).
package main

import (
	"flag"
	"fmt"
	"io"
	"slices"

	"ssl"
	"ssl/assign"
	"ssl/backbone"
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
	tr, err := run.NewTrainer(cfg, data, net, run.State{Params: query.Params(), Buffers: query.Buffers(), Opt: opt, Extra: extra, Saved: saved})
	if err != nil {
		return err
	}

	tr.OnEpoch = func(epoch int) error {
		if epoch < warm {
			return nil
		}
		feats, err := run.Features(key, data.Train)
		if err != nil {
			return err
		}
		keys, err := ssl.NormalizeRows(nil, feats)
		if err != nil {
			return err
		}
		for m, k := range granularities {
			lab := make([]int, n)
			res, err := assign.KMeans(protos[m].Centroids, lab, keys, k, tr.Rand(uint64(k)), &assign.KMeansOptions{Spherical: true})
			if err != nil {
				return err
			}
			_, phi, err := ssl.View(protos[m].Density)
			if err != nil {
				return err
			}
			if _, err := assign.PCLConcentration(phi, res.Dist, lab, k, tau); err != nil {
				return err
			}
			labels[m].Set(lab)
			if !cfg.Quiet {
				fmt.Fprintf(log, "epoch %d: k-means with %d prototypes: inertia %.4g, %d used\n", epoch+1, k, res.Inertia, labels[m].Used())
			}
		}
		return nil
	}

	views, err := run.ProtocolMultiCrop(0)
	if err != nil {
		return err
	}
	b := cfg.Batch
	var x []ssl.Tensor
	q, k, dq := ssl.New(b, dim), ssl.New(b, dim), ssl.New(b, dim)
	qws, kws := backbone.NewWorkspace(), backbone.NewWorkspace()
	lossOpts := &losses.ProtoNCEOptions{Workspace: losses.NewWorkspace()}

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
		// Each clustering: the batch's own prototypes, then every other one
		// as a negative (PCL samples r of them; here all fit).
		clusterings := protos[:0]
		for m, c := range protos {
			if tr.Epoch() < warm {
				break
			}
			clusterings, c.Labels, c.Negatives = protos, labels[m].Gather(c.Labels, tr.IDs()), c.Negatives[:0]
			for id := range granularities[m] {
				if !slices.Contains(c.Labels, id) {
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
		tr.Done(loss.Loss)
	}
	_, err = tr.Finish(nil)
	return err
}
