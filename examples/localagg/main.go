// Command localagg trains ConvNet3 by Local Aggregation on Fashion-MNIST
// under the fmnist-ssl-v1 protocol and evaluates it, then reports how well
// the memory bank itself clusters.
//
// A memory bank holds one unit embedding per training image
// (losses.MemoryBank, started from random unit vectors). At the start of
// every epoch after the first, the bank is clustered by H = 3 k-means runs
// (different seeds, N/128 clusters each); image i's close neighbors C_i are
// the bank entries that share its cluster in at least one run. Each step:
// one augmented view → ConvNet3 → projection 128→256→BN→ReLU→128 → v_i
// (normalized) → background neighbors B_i, the k = 4096 bank entries most
// similar to v_i, and the Local Aggregation loss (eq. 1–3)
//
//	P(A | v_i) = Σ_{j∈A} exp(v_i·m_j/τ) / Z,   τ = 0.07
//	L_i = −log P(C_i ∩ B_i | v_i) / P(B_i | v_i)
//
// (losses.LocalAgg, the authors' code's form) → backward → SGD → the bank
// rows of the batch move to m_i ← normalize(0.5·m_i + 0.5·v_i)
// (losses.LocalAggMemory, Sec. 3.3). assign.LocalAggregationNeighbors
// computes the same two sets for the progress line: the mean size of
// C_i ∩ B_i and the fraction of those neighbors of i's class (labels serve
// that diagnostic and the evaluation only).
//
// The first epoch is instance recognition, LA's starting point (the paper
// initializes from an IR network): the same loss with every image its own
// cluster and all N bank entries as background, which is exactly
// −log exp(v_i·m_i/τ) / Σ_j exp(v_i·m_j/τ) (Wu et al. 2018, full softmax
// instead of NCE).
//
// Choices made for Fashion-MNIST: N/128 clusters per run (ImageNet's 10,000
// for 1.28M images), at least 10; 4096 background neighbors (the paper's
// value), at most N; a 128-d embedding as in the paper; one IR epoch
// (-ir-epochs); the protocol's augmentation, one view per image per step;
// learning rate 0.03 (the paper's) instead of the protocol's 0.3.
//
// After the protocol evaluation, the memory bank is clustered by k-means (10
// clusters, L2-normalized rows, best of 5 restarts) against the training
// labels and its ACC/NMI/ARI printed and written to bank.json. The bank is
// part of the checkpoint (its rows, see bankState), as are the H clusterings,
// so -resume continues bit-identically.
//
// Reference: Zhuang, Zhai and Yamins, Local Aggregation for Unsupervised
// Learning of Visual Embeddings, ICCV 2019 (neuroailab/LocalAggregation);
// instance recognition: Wu, Xiong, Yu, Lin, CVPR 2018.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"ssl"
	"ssl/assign"
	"ssl/augment"
	"ssl/backbone"
	"ssl/examples/internal/run"
	"ssl/losses"
	"ssl/probe"
)

func main() { run.Main(localagg) }

const (
	dim        = 128  // embedding (the bank's rows)
	tau        = 0.07 // temperature
	bankMoment = 0.5  // memory-bank momentum
	runs       = 3    // k-means runs H
	background = 4096 // background neighbors k
	perCluster = 128  // images per k-means cluster
)

func localagg(args []string, log io.Writer) error {
	irEpochs := 1
	cfg, err := run.Parse("localagg", run.Defaults{EpochsEmbedded: 10, EpochsFull: 1, LR: 0.03, Flags: func(fs *flag.FlagSet) {
		fs.IntVar(&irEpochs, "ir-epochs", 1, "epochs of instance recognition before the k-means neighbors join")
	}}, args, log)
	if err != nil {
		return err
	}
	data, err := run.LoadData(cfg)
	if err != nil {
		return err
	}
	rng := run.InitRand(cfg)
	net, model, err := run.Encoder("localagg", dim, rng)
	if err != nil {
		return err
	}
	opt, err := backbone.NewSGD(model.Params(), &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 5e-4})
	if err != nil {
		return err
	}
	n := data.Train.N
	bank, err := newBank("bank", n, dim, rng)
	if err != nil {
		return err
	}
	clusters := max(10, n/perCluster)
	kB := min(background, n)
	labels := make([]*run.Labels, runs)
	saved := []run.Checkpointer{bank}
	for h := range labels {
		labels[h] = run.NewLabels(fmt.Sprintf("clusters%d", h), n, clusters)
		saved = append(saved, labels[h])
	}
	tr, err := run.NewTrainer(cfg, data, net, run.State{Params: model.Params(), Buffers: model.Buffers(), Opt: opt, Saved: saved})
	if err != nil {
		return err
	}

	// Instance recognition: every image its own cluster, every entry a
	// background neighbor.
	self := make([]int, n)
	for i := range self {
		self[i] = i
	}
	tr.OnEpoch = func(epoch int) error {
		if epoch < irEpochs {
			return nil
		}
		for h := range labels {
			lab := make([]int, n)
			res, err := assign.KMeans(nil, lab, bank.Tensor(), clusters, tr.Rand(uint64(h)), nil)
			if err != nil {
				return err
			}
			labels[h].Set(lab)
			if !cfg.Quiet {
				fmt.Fprintf(log, "epoch %d: k-means run %d on the bank: %d clusters, inertia %.4g, %d used\n",
					epoch+1, h+1, clusters, res.Inertia, labels[h].Used())
			}
		}
		return nil
	}

	view, err := augment.NewMultiCrop([]int{28}, []int{1}, []float64{0.25}, []float64{1},
		augment.RandomHorizontalFlip{P: 0.5},
		augment.RandomApply{T: augment.ColorJitter{Brightness: 0.4, Contrast: 0.4}, P: 0.8},
		augment.Normalization{Mean: []float64{run.Mean}, Std: []float64{run.Std}})
	if err != nil {
		return err
	}
	b := cfg.Batch
	var x []ssl.Tensor
	out, dout, v, rows := ssl.New(b, dim), ssl.New(b, dim), ssl.New(b, dim), ssl.New(b, dim)
	ws := backbone.NewWorkspace()
	laOpts := &losses.LocalAggOptions{Workspace: losses.NewWorkspace()}
	runLabels := make([][]int, runs)
	var closeSum, closeSame, diagSteps int

	for tr.Next() {
		if x, err = view.Apply(x, tr.Images(), tr.IDs(), cfg.Seed, uint64(tr.Epoch())); err != nil {
			return err
		}
		ids := tr.IDs()
		backbone.ZeroGrad(model.Params())
		if err := model.Forward(ws, out, x[0], true); err != nil {
			return err
		}
		lab, k := [][]int{self}, n
		if tr.Epoch() >= irEpochs {
			for h := range labels {
				runLabels[h] = labels[h].All()
			}
			lab, k = runLabels, kB
		}
		loss, err := losses.LocalAgg(dout, out, bank.Tensor(), ids, lab, k, tau, laOpts)
		if err != nil {
			return err
		}
		if err := model.Backward(ws, nil, dout); err != nil {
			return err
		}
		if err := opt.Step(tr.LR()); err != nil {
			return err
		}
		// The bank moves towards this step's embeddings.
		if _, err := losses.LocalAggMemory(rows, out, bank.Tensor(), ids, bankMoment); err != nil {
			return err
		}
		if err := bank.Set(ids, rows); err != nil {
			return err
		}

		if !cfg.Quiet && tr.Epoch() >= irEpochs {
			// Diagnostic: the close ∩ background sets and their purity.
			if _, err := ssl.NormalizeRows(v, out); err != nil {
				return err
			}
			nb, err := assign.LocalAggregationNeighbors(v, ids, bank.Tensor(), lab, k)
			if err != nil {
				return err
			}
			for i, c := range nb.Close {
				if c {
					closeSum++
					if data.Train.Labels[nb.Background[i]] == data.Train.Labels[ids[i/k]] {
						closeSame++
					}
				}
			}
			diagSteps++
			if tr.Step() == tr.StepsPerEpoch()-1 {
				fmt.Fprintf(log, "epoch %d: |C∩B| %.1f per image, %.3f of them of the image's class\n",
					tr.Epoch()+1, float64(closeSum)/float64(diagSteps*b), float64(closeSame)/float64(max(closeSum, 1)))
				closeSum, closeSame, diagSteps = 0, 0, 0
			}
		}
		tr.Done(loss)
	}
	if _, err := tr.Finish(nil); err != nil || tr.Interrupted() {
		return err
	}
	return bankClusters(bank, data, cfg, log)
}

// bankClusters clusters the memory bank's rows by k-means with 10 clusters
// (best of 5 restarts, as the protocol clusters test features) and scores
// them against the training labels; it prints the scores and writes them to
// bank.json in -out.
func bankClusters(bank *bankState, data *run.Data, cfg *run.Config, log io.Writer) error {
	n, classes := bank.Len(), data.Train.Classes
	pred := make([]int, n)
	if _, err := assign.KMeans(nil, pred, bank.Tensor(), classes, augment.Stream(cfg.Seed, 0, 0, 1<<20), &assign.KMeansOptions{Restarts: 5}); err != nil {
		return err
	}
	res, err := probe.EvaluateClusters(pred, data.Train.Labels[:n], classes, classes, nil)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "localagg     memory bank k-means (%d clusters, %d training images): ACC %.4f NMI %.4f ARI %.4f\n",
		classes, n, res.ACC, res.NMI, res.ARI)
	js, err := json.MarshalIndent(map[string]any{"bank_images": n, "acc": res.ACC, "nmi": res.NMI, "ari": res.ARI}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(cfg.Out, "bank.json"), append(js, '\n'), 0o644)
}
