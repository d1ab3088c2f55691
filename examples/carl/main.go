// Command carl trains ConvNet3 by Consistent Assignment of views to clusters
// (CARL) on Fashion-MNIST under the fmnist-ssl-v1 protocol and evaluates it,
// the learned prototypes serving as a clustering head.
//
// CARL learns its prototypes by gradient descent alone, as anchors whose
// scores act as (negative) energies of the assignment: no k-means, no
// Sinkhorn, no queue. Each step: two augmented views (plus optional 16×16
// local crops) → student (ConvNet3 → projection 128→256→BN→ReLU→64 → K
// prototypes, the scores S_v = z_v·Cᵀ) on every view, and teacher (the
// student's EMA, momentum 0.99 rising to 1 on a cosine) on the two global
// views → losses.CARL:
//
//	P_v = softmax(S_v),  T_t = softmax(teacher scores of global view t)
//	consistency = −mean over pairs (v, t), v ≠ t, and images b of log ⟨P_v[b], T_t[b]⟩   (eq. 3–4)
//	entropy     = KL(p̄ ‖ uniform), p̄ the mean assignment over the batch of all views   (eq. 5)
//	L = consistency + entropy
//
// → backward through the student → SGD (momentum 0.9, weight decay 5e-4,
// warm-up + cosine) → prototypes re-normalized to unit rows → EMA of the
// teacher. The consistency term asks the two views of an image to put their
// mass on the same prototype with confidence (the inner product of two
// distributions is large only when both are peaked on the same cluster); the
// entropy term keeps the batch spread over all prototypes, which is what
// prevents the trivial solution without any assignment solver.
//
// Reference: Silva and Ramírez Rivera, Representation Learning via
// Consistent Assignment of Views to Clusters, ACM SAC 2022, eq. 3–5. No CARL
// code is public; the loss follows the paper and the authors' later CARP code
// (sthalles/carp, modules/carp_loss.py), of which CARL is the one-block case.
// Choices made here: the prototypes are a bias-free linear layer with unit
// rows re-normalized after every step, applied to the unnormalized projection
// (CARP's weight-normalized last layer with its gain fixed at 1, so the
// projection's norm acts as an inverse temperature); K = 10 prototypes so
// that their argmax is a 10-way clustering head (-k changes it); the
// teacher's EMA follows BYOL's cosine schedule from 0.99; no prediction head.
//
// Comparison: -partition P assigns the prototypes to random blocks of P each
// step and applies the loss within each block (CARP, Silva and Ramírez
// Rivera, NeurIPS 2023, eq. 4–6): e.g. -k 30 -partition 10 against -k 30.
// The partition of each step is drawn from (seed, step), so a resumed run
// draws the same. The default, -partition 0, is CARL's single block.
package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"

	"ssl"
	"ssl/backbone"
	"ssl/examples/internal/run"
	"ssl/losses"
)

func main() { run.Main(carl) }

func carl(args []string, log io.Writer) error {
	k, local, partition, momentum := 10, 0, 0, 0.99
	cfg, err := run.Parse("carl", run.Defaults{EpochsEmbedded: 10, EpochsFull: 1, Flags: func(fs *flag.FlagSet) {
		fs.IntVar(&k, "k", k, "prototypes (clusters of the head)")
		fs.IntVar(&local, "local", local, "number of 16×16 local crops beside the two 28×28 ones")
		fs.IntVar(&partition, "partition", partition, "prototypes per random block (CARP); 0: one block of all, CARL")
		fs.Float64Var(&momentum, "momentum", momentum, "base EMA momentum of the teacher (rises to 1 on a cosine)")
	}}, args, log)
	if err != nil {
		return err
	}
	if k < 2 || partition < 0 || partition > k || (partition > 0 && k%partition != 0) {
		return fmt.Errorf("carl: -k %d must be ≥ 2 and -partition %d in [0, k] dividing k", k, partition)
	}
	data, err := run.LoadData(cfg)
	if err != nil {
		return err
	}
	rng := run.InitRand(cfg)
	network := func(name string) (*backbone.ConvNet3, *backbone.Sequential, *backbone.Prototypes, error) {
		net, enc, err := run.Encoder(name, 64, rng)
		if err != nil {
			return nil, nil, nil, err
		}
		protos, err := backbone.NewPrototypes("prototypes", 64, k, rng)
		if err != nil {
			return nil, nil, nil, err
		}
		head := backbone.NewSequential("head", enc.Layers[1], protos)
		return net, backbone.NewSequential(name, net, head), protos, nil
	}
	net, student, protos, err := network("student")
	if err != nil {
		return err
	}
	_, teacher, _, err := network("teacher")
	if err != nil {
		return err
	}
	if err := backbone.CopyParams(teacher.Params(), student.Params()); err != nil {
		return err
	}
	opt, err := backbone.NewSGD(student.Params(), &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 5e-4})
	if err != nil {
		return err
	}
	tr, err := run.NewTrainer(cfg, data, net, run.State{
		Params: student.Params(), Buffers: student.Buffers(), Opt: opt,
		Extra: append(teacher.Params(), teacher.Buffers()...),
	})
	if err != nil {
		return err
	}

	// The prototypes' argmax is the clustering head; its test scores are
	// printed at every epoch boundary and evaluated with the protocol at
	// the end.
	head := &run.Head{Layer: student.Layers[1], K: k}
	tr.OnEpoch = func(epoch int) error {
		if epoch == 0 {
			return nil
		}
		h, err := run.EvaluateHead(net, head, data.Test)
		if err != nil {
			return err
		}
		fmt.Fprintf(log, "carl: after epoch %d the prototype head scores ACC %.4f NMI %.4f ARI %.4f on the test set\n", epoch, h.ACC, h.NMI, h.ARI)
		return nil
	}

	crops, err := cfg.MultiCrop(local)
	if err != nil {
		return err
	}
	b, v := cfg.Batch, crops.Views()
	// The student's scores of all views stacked (V·B)×K, view after view,
	// and the teacher's of the two global views (2·B)×K.
	s, ds, t := ssl.New(v*b, k), ssl.New(v*b, k), ssl.New(2*b, k)
	sv, dsv, tv := make([]ssl.Tensor, v), make([]ssl.Tensor, v), make([]ssl.Tensor, 2)
	for i := range v {
		if sv[i], err = ssl.Rows(s, i*b, (i+1)*b); err != nil {
			return err
		}
		if dsv[i], err = ssl.Rows(ds, i*b, (i+1)*b); err != nil {
			return err
		}
		if i < 2 {
			if tv[i], err = ssl.Rows(t, i*b, (i+1)*b); err != nil {
				return err
			}
		}
	}
	ws, tws := run.Workspaces(v), backbone.NewWorkspace()
	lossOpts := &losses.CARLOptions{Workspace: losses.NewWorkspace()}
	total := tr.StepsPerEpoch() * cfg.Epochs
	var views []ssl.Tensor

	for tr.Next() {
		if views, err = crops.Apply(views, tr.Images(), tr.IDs(), cfg.Seed, uint64(tr.Epoch())); err != nil {
			return err
		}
		// The teacher's scores of the two global views: constants.
		for g := range 2 {
			if err := teacher.Forward(tws, tv[g], views[g], true); err != nil {
				return err
			}
		}
		if partition > 0 {
			// CARP: a fresh random partition of the prototypes into blocks.
			lossOpts.Partition = rand.New(rand.NewPCG(cfg.Seed, uint64(tr.GlobalStep()))).Perm(k)
			lossOpts.PartitionSize = partition
		}
		backbone.ZeroGrad(student.Params())
		if err := run.Forward(student, ws, sv, views); err != nil {
			return err
		}
		res, err := losses.CARL(ds, s, t, v, lossOpts)
		if err != nil {
			return err
		}
		if err := run.Backward(student, ws, dsv); err != nil {
			return err
		}
		if err := opt.Step(tr.LR()); err != nil {
			return err
		}
		protos.Normalize()
		m, err := backbone.EMATau(momentum, tr.GlobalStep(), total)
		if err != nil {
			return err
		}
		if err := backbone.EMAUpdate(teacher.Params(), student.Params(), m); err != nil {
			return err
		}
		tr.Done(res.Loss)
	}
	_, err = tr.Finish(head)
	return err
}
