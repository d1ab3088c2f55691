// Command mira trains ConvNet3 by Mutual Information Regularized
// Assignment on Fashion-MNIST under the fmnist-ssl-v1 protocol and
// evaluates it, the prototypes serving as a 10-way clustering head.
//
// Each step: two augmented views (plus optional 16×16 local crops) →
// student (ConvNet3 → projection 128→256→BN→ReLU→64 → L2-normalize → 10
// prototypes) on every view, and teacher (the student's EMA, momentum 0.99
// rising to 1 on a cosine) on the two global views → MIRA's pseudo-labels
// of each global view from the teacher's scores (the fixed point that
// maximises the mutual information between images and labels while
// staying close to the teacher's predictions; τ 0.225, β 2/3, 30
// iterations) → cross-entropy of every other view's student prediction
// (temperature 0.1) on them → backward through the student → SGD →
// prototypes re-normalized → EMA of the teacher.
//
// Reference: Lee, Kim, Kim, Unsupervised Visual Representation Learning
// via Mutual Information Regularized Assignment, NeurIPS 2022.
package main

import (
	"flag"
	"io"

	"ssl"
	"ssl/assign"
	"ssl/backbone"
	"ssl/examples/internal/run"
	"ssl/losses"
)

func main() { run.Main(mira) }

const tauStudent = 0.1

func mira(args []string, log io.Writer) error {
	k, local, tau, beta := 10, 0, 0.225, 2.0/3
	cfg, err := run.Parse("mira", run.Defaults{EpochsEmbedded: 10, EpochsFull: 1, Flags: func(fs *flag.FlagSet) {
		fs.IntVar(&k, "k", k, "clusters (prototypes)")
		fs.IntVar(&local, "local", local, "number of 16×16 local crops beside the two 28×28 ones")
		fs.Float64Var(&tau, "tau", tau, "teacher temperature of the assignment")
		fs.Float64Var(&beta, "beta", beta, "MIRA's trade-off β in (0, 1): weight of the mutual information")
	}}, args, log)
	if err != nil {
		return err
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
		protos.Normalize()
		head := backbone.NewSequential("head", enc.Layers[1], backbone.NewL2Normalize("normalize"), protos)
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

	crops, err := cfg.MultiCrop(local)
	if err != nil {
		return err
	}
	b, v := cfg.Batch, crops.Views()
	// The student's scores of all views stacked: V×B×K.
	q, dq := ssl.New(v, b, k), ssl.New(v, b, k)
	qv, dqv, ws := make([]ssl.Tensor, v), make([]ssl.Tensor, v), run.Workspaces(v)
	for i := range v {
		if qv[i], err = viewOf(q, i); err != nil {
			return err
		}
		if dqv[i], err = viewOf(dq, i); err != nil {
			return err
		}
	}
	t, target := run.Tensors(2, b, k), run.Tensors(2, b, k)
	tws := backbone.NewWorkspace()
	miraOpts := &assign.MIRAOptions{Workspace: assign.NewWorkspace(b, k)}
	lossOpts := &losses.MIRAOptions{Workspace: losses.NewWorkspace()}
	total := tr.StepsPerEpoch() * cfg.Epochs
	var views []ssl.Tensor

	for tr.Next() {
		if views, err = crops.Apply(views, tr.Images(), tr.IDs(), cfg.Seed, uint64(tr.Epoch())); err != nil {
			return err
		}
		// Pseudo-labels of the two global views from the teacher.
		for g := range 2 {
			if err := teacher.Forward(tws, t[g], views[g], true); err != nil {
				return err
			}
			if _, err := assign.MIRA(target[g], t[g], tau, beta, miraOpts); err != nil {
				return err
			}
		}
		backbone.ZeroGrad(student.Params())
		if err := run.Forward(student, ws, qv, views); err != nil {
			return err
		}
		loss, err := losses.MIRA(dq, q, target[0], target[1], tauStudent, lossOpts)
		if err != nil {
			return err
		}
		if err := run.Backward(student, ws, dqv); err != nil {
			return err
		}
		if err := opt.Step(tr.LR()); err != nil {
			return err
		}
		protos.Normalize()
		m, err := backbone.EMATau(0.99, tr.GlobalStep(), total)
		if err != nil {
			return err
		}
		if err := backbone.EMAUpdate(teacher.Params(), student.Params(), m); err != nil {
			return err
		}
		tr.Done(loss)
	}
	_, err = tr.Finish(&run.Head{Layer: student.Layers[1], K: k})
	return err
}

// viewOf returns view i of the V×B×K tensor t as a B×K matrix sharing its
// storage.
func viewOf(t ssl.Tensor, i int) (ssl.Tensor, error) {
	r, err := ssl.Rows(t, i, i+1)
	if err != nil {
		return nil, err
	}
	return ssl.Reshape(r, t.Shape()[1:]...)
}
