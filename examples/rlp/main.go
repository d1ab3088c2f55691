// Command rlp measures how well human concepts explain the clusters of a
// representation, by reverse linear probing (RLP), on Fashion-MNIST.
//
// It trains ConvNet3 with SimCLR (the steps of examples/simclr: two views →
// ConvNet3 → projection 128→256→BN→ReLU→64 → NT-Xent, temperature 0.2 → SGD)
// under the fmnist-ssl-v1 protocol, or, with -pretrained FILE, takes the
// ConvNet3 of an examples/simclr checkpoint and trains nothing. Then, on the
// test split, for three representations — the trained ConvNet3, the same
// network at its random initialization (never trained) and the raw pixels —
// it quantizes the L2-normalized features by k-means into K clusters y
// (-clusters, default 20; best of 5 restarts) and, for each concept set c,
// fits the linear softmax probe p(y | c) = softmax(W·c + b) from concepts to
// clusters and scores it (probe.ReverseProbe, probe.RLP):
//
//	H(y) − CE(probe) ≤ I(y; c)   (the mutual-information bound, nats)
//	NMI(y, ŷ), ŷ = argmax_y p(y | c)   (the interpretability score)
//
// The concept sets are one-hot vectors per image: the 10 classes; five
// super-categories — tops (T-shirt/top, pullover, coat, shirt), bottoms
// (trouser), dresses, footwear (sandal, sneaker, ankle boot) and bags; and
// their combination (classes and super-categories side by side, 15
// concepts). Dresses are their own super-category by default, as a one-piece
// garment is neither a top nor a bottom; -dress-with-tops files them under
// tops (four super-categories). As the super-categories are a function of
// the classes, the combination carries no more information than the classes
// alone: its row checks that the probe reaches the same score, where the
// paper combines concept sources that are independent.
//
// A representation whose clusters follow the semantic concepts scores higher
// than one whose clusters follow pixel statistics; the random network and the
// raw pixels are the baselines the paper compares self-supervised models
// with. The table is printed and written into result.json ("rlp") beside the
// protocol's evaluation of the trained network.
//
// Reference: Laina, Asano and Vedaldi, Measuring the Interpretability of
// Unsupervised Representations via Quantized Reversed Probing, ICLR 2022,
// Sec. 3 (eq. 2 and 3). No official code is public. Choices made here: the
// test split (the protocol's evaluation split) as the probing set; K = 20
// clusters, twice the classes, so that the clusters can split a class the
// concepts do not split; k-means as the protocol runs it (L2-normalized
// rows, 5 restarts) for all three representations, the raw pixels included;
// the probe's L2 penalty the linear probe's default 1e-4. Since every
// concept vector here is one-hot, the probe predicts at most as many
// distinct clusters as there are distinct concept vectors (10 or 5); when it
// sends the 10 classes to 10 different clusters, ŷ is a relabeling of the
// classes and the score equals NMI(y, classes), which the table prints
// beside it.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"

	"ssl"
	"ssl/assign"
	"ssl/backbone"
	"ssl/dataset"
	"ssl/examples/internal/run"
	"ssl/losses"
	"ssl/probe"
)

func main() { run.Main(rlp) }

// Fashion-MNIST's classes: 0 T-shirt/top, 1 trouser, 2 pullover, 3 dress,
// 4 coat, 5 sandal, 6 shirt, 7 sneaker, 8 bag, 9 ankle boot.
var (
	superNames  = []string{"tops", "bottoms", "dresses", "footwear", "bags"}
	superOf     = []int{0, 1, 0, 2, 0, 3, 0, 3, 4, 3}
	superNames4 = []string{"tops (with dresses)", "bottoms", "footwear", "bags"}
	superOf4    = []int{0, 1, 0, 0, 0, 2, 0, 2, 3, 2}
)

// Row is one line of the RLP table.
type Row struct {
	Representation string  `json:"representation"`
	Concepts       string  `json:"concepts"`
	NumConcepts    int     `json:"num_concepts"`
	ClassNMI       float64 `json:"class_nmi"` // NMI of the k-means clusters with the classes
	EntropyY       float64 `json:"entropy_clusters"`
	CrossEntropy   float64 `json:"cross_entropy"`
	MIBound        float64 `json:"mi_lower_bound"`
	Accuracy       float64 `json:"accuracy"`
	NMI            float64 `json:"nmi"`
}

// Report is what result.json holds: the protocol's result and the table.
type Report struct {
	*run.Result
	RLP struct {
		Split         string `json:"split"`
		Clusters      int    `json:"clusters"`
		DressWithTops bool   `json:"dress_with_tops"`
		Pretrained    string `json:"pretrained,omitempty"`
		Rows          []Row  `json:"rows"`
	} `json:"rlp"`
}

func rlp(args []string, log io.Writer) error {
	clusters, dressWithTops, pretrained := 20, false, ""
	cfg, err := run.Parse("rlp", run.Defaults{EpochsEmbedded: 10, EpochsFull: 1, Flags: func(fs *flag.FlagSet) {
		fs.IntVar(&clusters, "clusters", clusters, "k-means clusters K of each representation")
		fs.BoolVar(&dressWithTops, "dress-with-tops", dressWithTops, "file dresses under tops (four super-categories) instead of their own")
		fs.StringVar(&pretrained, "pretrained", "", "probe the ConvNet3 of this examples/simclr checkpoint (-out DIR/checkpoint.safetensors) and train nothing")
	}}, args, log)
	if err != nil {
		return err
	}
	if clusters < 2 {
		return fmt.Errorf("rlp: -clusters %d must be ≥ 2", clusters)
	}
	data, err := run.LoadData(cfg)
	if err != nil {
		return err
	}
	rng := run.InitRand(cfg)
	net, model, err := run.Encoder("simclr", 64, rng)
	if err != nil {
		return err
	}
	// The random-network baseline: the same architecture, initialized from
	// its own stream and never trained.
	random, err := backbone.NewConvNet3(rand.New(rand.NewPCG(cfg.Seed, 0x72616e64)), nil)
	if err != nil {
		return err
	}
	if pretrained != "" {
		if err := run.LoadWeights(pretrained, append(net.Params(), net.Buffers()...)); err != nil {
			return err
		}
	}
	opt, err := backbone.NewSGD(model.Params(), &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 5e-4})
	if err != nil {
		return err
	}
	tr, err := run.NewTrainer(cfg, data, net, run.State{Params: model.Params(), Buffers: model.Buffers(), Opt: opt})
	if err != nil {
		return err
	}

	if pretrained == "" {
		// SimCLR, as examples/simclr trains it.
		views, err := cfg.MultiCrop(0)
		if err != nil {
			return err
		}
		b := cfg.Batch
		x := make([]ssl.Tensor, 2)
		z, dz, ws := run.Tensors(2, b, 64), run.Tensors(2, b, 64), run.Workspaces(2)
		lossOpts := &losses.NTXentOptions{Workspace: losses.NewWorkspace()}
		for tr.Next() {
			if x, err = views.Apply(x, tr.Images(), tr.IDs(), cfg.Seed, uint64(tr.Epoch())); err != nil {
				return err
			}
			backbone.ZeroGrad(model.Params())
			if err := run.Forward(model, ws, z, x); err != nil {
				return err
			}
			loss, err := losses.NTXent(dz[0], dz[1], z[0], z[1], 0.2, lossOpts)
			if err != nil {
				return err
			}
			if err := run.Backward(model, ws, dz); err != nil {
				return err
			}
			if err := opt.Step(tr.LR()); err != nil {
				return err
			}
			tr.Done(loss)
		}
	}
	res, err := tr.Finish(nil)
	if err != nil {
		return err
	}

	// Reverse linear probing of the three representations.
	test := data.Test
	names, of := superNames, superOf
	if dressWithTops {
		names, of = superNames4, superOf4
	}
	sets := []struct {
		name     string
		concepts ssl.Tensor
	}{
		{"classes", oneHot(test, nil, test.Classes, nil)},
		{fmt.Sprintf("super-categories (%d)", len(names)), oneHot(test, of, len(names), nil)},
		{"classes + super-categories", oneHot(test, of, len(names), oneHot(test, nil, test.Classes, nil))},
	}
	reps := []struct {
		name  string
		feats func() (ssl.Tensor, error)
	}{
		{"SimCLR ConvNet3", func() (ssl.Tensor, error) { return run.Features(net, test) }},
		{"random ConvNet3", func() (ssl.Tensor, error) { return run.Features(random, test) }},
		{"raw pixels", func() (ssl.Tensor, error) { return pixels(test) }},
	}
	report := Report{Result: res}
	report.RLP.Split, report.RLP.Clusters, report.RLP.DressWithTops, report.RLP.Pretrained = test.Name, clusters, dressWithTops, pretrained
	fmt.Fprintf(log, "\nreverse linear probing on %s, %d k-means clusters (nats; NMI is the score)\n", test.Name, clusters)
	fmt.Fprintf(log, "%-16s %-30s %3s %9s %7s %7s %8s %7s %7s\n", "representation", "concepts", "C", "NMI(y,cls)", "H(y)", "CE", "MI ≥", "acc", "NMI")
	for _, rep := range reps {
		feats, err := rep.feats()
		if err != nil {
			return err
		}
		unit, err := ssl.NormalizeRows(nil, feats)
		if err != nil {
			return err
		}
		ids := make([]int, test.N)
		if _, err := assign.KMeans(nil, ids, unit, clusters, rand.New(rand.NewPCG(cfg.Seed, 11)), &assign.KMeansOptions{Restarts: 5}); err != nil {
			return err
		}
		classNMI, err := probe.NMI(ids, test.Labels)
		if err != nil {
			return err
		}
		for _, set := range sets {
			r, err := probe.ReverseProbe(set.concepts, ids, clusters, nil)
			if err != nil {
				return err
			}
			row := Row{
				Representation: rep.name, Concepts: set.name, NumConcepts: set.concepts.Shape()[1], ClassNMI: classNMI,
				EntropyY: r.EntropyClusters, CrossEntropy: r.CrossEntropy, MIBound: r.MILowerBound, Accuracy: r.Accuracy, NMI: r.NMI,
			}
			report.RLP.Rows = append(report.RLP.Rows, row)
			fmt.Fprintf(log, "%-16s %-30s %3d %9.4f %7.4f %7.4f %8.4f %7.4f %7.4f\n", row.Representation, row.Concepts, row.NumConcepts,
				row.ClassNMI, row.EntropyY, row.CrossEntropy, row.MIBound, row.Accuracy, row.NMI)
		}
	}
	js, err := json.MarshalIndent(report, "", "  ")
	if err != nil {
		return err
	}
	path := filepath.Join(cfg.Out, "result.json")
	if err := os.WriteFile(path+".tmp", append(js, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}

// oneHot returns, for every image of s, the one-hot vector of its class
// mapped through group (nil: the class itself) into n concepts, placed after
// the columns of prefix (nil: none) for a combination of concept sets.
func oneHot(s *dataset.Set, group []int, n int, prefix ssl.Tensor) ssl.Tensor {
	p := 0
	if prefix != nil {
		p = prefix.Shape()[1]
	}
	c := ssl.New(s.N, p+n)
	d := c.Data().([]float32)
	for i, y := range s.Labels {
		if prefix != nil {
			copy(d[i*(p+n):], prefix.Data().([]float32)[i*p:(i+1)*p])
		}
		if group != nil {
			y = group[y]
		}
		d[i*(p+n)+p+y] = 1
	}
	return c
}

// pixels returns the normalized images of s as an N×(C·H·W) matrix: the
// raw-pixel representation.
func pixels(s *dataset.Set) (ssl.Tensor, error) {
	ids := make([]int, s.N)
	for i := range ids {
		ids[i] = i
	}
	x, err := run.Normalized(nil, s, ids)
	if err != nil {
		return nil, err
	}
	return ssl.Reshape(x, s.N, s.C*s.H*s.W)
}
