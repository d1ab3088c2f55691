// Command swav trains ConvNet3 with SwAV's swapped prediction on
// Fashion-MNIST under the fmnist-ssl-v1 protocol and evaluates it, the
// prototypes serving as a K-way clustering head.
//
// Each step: multi-crop (2×28 + -local 4×16 by default; the 16×16 crops'
// area fraction between -local-min 0.08 and -local-max 0.25) → ConvNet3 →
// projection MLP (128→256→BN→ReLU→64; -proj-hidden, -proj-out) →
// L2-normalize → K prototypes (-prototypes, the protocol's 30) → Sinkhorn
// codes of the two global crops (ε 0.05, 3 iterations) → swapped prediction
// (-temperature, 0.1) → backward through every crop → SGD (momentum 0.9,
// -wd 5e-4) → prototypes re-normalized; the prototypes stay frozen during
// the first epoch (the first half of a one-epoch run), as SwAV freezes them
// for its first iterations.
//
// Levers beside the protocol's recipe, off by default:
//   - -optimizer lars: LARS as solo-learn's SwAV runs it (momentum 0.9,
//     trust coefficient -eta, clipped, biases and BatchNorm parameters
//     neither scaled nor decayed), usually with -wd 1e-6.
//   - -instance λ: λ·NT-Xent (Chen et al. 2020, -instance-temperature 0.2)
//     on the two global crops' projections added to the swapped prediction,
//     an instance-discrimination term beside the cluster assignment.
//   - -late f: the last fraction f of the steps crop the global views with
//     scale (-late-crop-min, 1), weaker augmentation at the end of training,
//     and resize them to -late-global-size (0: -global-size): with a
//     -global-size below 28, -late-global-size 28 ends training at the
//     evaluation's resolution, as Touvron et al. (2019) fine-tune at the
//     test resolution. -budget's plan is timed on the first steps' crops,
//     so larger late crops run over the budget by about f times their
//     extra cost per step.
//   - -jitter s: brightness and contrast jitter of strength s (the
//     protocol's 0.4) on every crop.
//   - -blur p: a Gaussian blur (3×3, σ uniform in [0.1, 2]) of every crop
//     with probability p after the jitter, as SwAV's views blur theirs
//     (the protocol's views are not blurred).
//   - -global-size s: the two global crops resized to s×s instead of
//     28×28: cheaper steps (about (s/28)² of a global view's cost), and,
//     evaluated at 28×28, the apparent object size of training matched to
//     that of the test images (Touvron et al., Fixing the train-test
//     resolution discrepancy, NeurIPS 2019).
//   - -ema m: the evaluation reads an exponential moving average of
//     ConvNet3's weights and batch-norm statistics, updated after every
//     step (θ̄ ← m·θ̄ + (1 − m)·θ, backbone.EMAUpdate) as BYOL updates its
//     target network, instead of the trained network itself: Polyak
//     averaging (Polyak and Juditsky, SIAM J. Control Optim. 1992), as
//     DINO reads its momentum teacher's lead over its student (Caron et
//     al., ICCV 2021, §5.2). Training is unchanged; result.json also scores
//     the trained network (online_knn, online_linear), and the checkpoint
//     holds the average.
//   - -teacher (with -ema m): the average covers the projection and the
//     prototypes too, and the codes of the two global crops come from it,
//     run on them in training mode (batch statistics, its batch-norm
//     statistics its own rather than averaged), instead of from the
//     trained network: a momentum teacher gives the targets, as in DINO
//     (Caron et al., ICCV 2021) and MIRA (Lee et al., NeurIPS 2022), the
//     trained network predicting them from every crop. One forward pass of
//     the two global crops more per step.
//   - -weak-codes: the codes come from one weakly augmented view of each
//     image, the whole image resized to the global crops' side and flipped
//     with p 0.5 (no crop, jitter or blur), which every crop predicts,
//     instead of from the two global crops: targets from the view closest
//     to the images the evaluation reads, as ReSSL computes its teacher's
//     relations on weak views (Zheng et al., NeurIPS 2021) and FixMatch
//     its pseudo-labels (Sohn et al., NeurIPS 2020). The weak view runs
//     forward in training mode and gets no gradient (no crop's codes are
//     its target); with -teacher the teacher computes its codes. One
//     forward pass of a global-sized view more per step. On the full set it
//     learned far slower than the global crops' codes (kNN 0.810 against
//     0.872 after 5 epochs, the loss near ln K: examples/README.md).
//   - -queue N: SwAV's feature queue. From epoch -queue-start on, the
//     normalized embeddings of each global crop are pushed into a queue of
//     N rows of its own; once full, a crop's codes are computed by Sinkhorn
//     over the queue's prototype scores stacked over the batch's, and the
//     batch keeps its last B rows (main_swav.py's queue), so that K
//     prototypes are balanced over N+B samples instead of B: SwAV's remedy
//     when the batch is small next to K. The queue is checkpointed. A
//     queue that starts early or is long next to the batch can stall
//     training, the loss rising towards ln K (with -prototypes 1000
//     -queue 3840 from epoch 5 it did on the full set); SwAV's README
//     advises a later start or a shorter queue then (-queue 1024
//     -queue-start 15 of a 48-epoch run trained stably, ending where the
//     runs without a queue end: examples/README.md).
//
// With -dist mpi each global crop's codes are balanced over the whole
// global batch, as SwAV's distributed_sinkhorn does: each rank holds its
// rows, and the iterations all-reduce the total mass and the K prototype
// sums (sinkhorn.BalanceOptions.Reducer).
//
// Reference: Caron et al., Unsupervised Learning of Visual Features by
// Contrasting Cluster Assignments, NeurIPS 2020.
package main

import (
	"flag"
	"fmt"
	"io"

	"ssl"
	"ssl/augment"
	"ssl/backbone"
	"ssl/dist"
	"ssl/examples/internal/run"
	"ssl/losses"
	"ssl/sinkhorn"
)

func main() { run.Main(swav) }

const (
	epsilon    = 0.05 // Sinkhorn's entropic regularization
	iterations = 3    // Sinkhorn's iterations
)

func swav(args []string, log io.Writer) error {
	local, freeze, prototypes, tau := 4, -1, 30, 0.1
	hidden, dim := 256, 64
	late, lateCropMin, lateGlobal := 0.0, 0.0, 0
	optName, wd, eta := "sgd", 5e-4, 0.02
	instance, instanceTau := 0.0, 0.2
	jitter, blur, globalSize := run.ProtocolJitter, 0.0, run.ProtocolGlobalSize
	localScale := run.ProtocolLocalScale
	queueLen, queueStart := 0, 5
	ema, teacher, weak := 0.0, false, false
	cfg, err := run.Parse("swav", run.Defaults{EpochsEmbedded: 10, EpochsFull: 1, Flags: func(fs *flag.FlagSet) {
		fs.IntVar(&local, "local", 4, "number of 16×16 local crops beside the two 28×28 ones (0: 2×28 only)")
		fs.IntVar(&freeze, "freeze", -1, "steps with the prototypes frozen (-1: the first epoch, at most half the run)")
		fs.IntVar(&prototypes, "prototypes", 30, "number of prototypes K (the protocol's 30)")
		fs.Float64Var(&tau, "temperature", 0.1, "temperature of the swapped prediction")
		fs.IntVar(&hidden, "proj-hidden", 256, "width of the projection MLP's hidden layer (the protocol's 256)")
		fs.IntVar(&dim, "proj-out", 64, "width of the projection, the prototypes' dimension (the protocol's 64)")
		fs.StringVar(&optName, "optimizer", "sgd", `"sgd" (momentum 0.9, the protocol's) or "lars" (momentum 0.9, -eta, clipped, biases and norms excluded: solo-learn's SwAV)`)
		fs.Float64Var(&wd, "wd", 5e-4, "weight decay (the protocol's 5e-4; solo-learn's LARS SwAV uses 1e-6)")
		fs.Float64Var(&eta, "eta", 0.02, "LARS trust coefficient (with -optimizer lars)")
		fs.Float64Var(&instance, "instance", 0, "weight of an NT-Xent term on the two global crops' projections beside the swapped prediction (0: none)")
		fs.Float64Var(&instanceTau, "instance-temperature", 0.2, "NT-Xent temperature of -instance")
		fs.Float64Var(&jitter, "jitter", jitter, "strength of the brightness and contrast jitter, in [0, 1] (the protocol's 0.4)")
		fs.Float64Var(&blur, "blur", 0, "probability of a 3×3 Gaussian blur (σ uniform in [0.1, 2]) of every crop after the jitter, in [0, 1] (the protocol's 0)")
		fs.IntVar(&globalSize, "global-size", globalSize, "side of the two global crops in pixels, in [8, 28] (the protocol's 28; evaluation reads 28×28)")
		fs.Float64Var(&late, "late", 0, "fraction of the run's last steps whose global crops use -late-crop-min and -late-global-size (0: none)")
		fs.Float64Var(&lateCropMin, "late-crop-min", 0.8, "smallest area fraction of the global crops during the -late steps")
		fs.IntVar(&lateGlobal, "late-global-size", 0, "side of the global crops during the -late steps, in [8, 28] (0: -global-size)")
		fs.Float64Var(&localScale[0], "local-min", localScale[0], "smallest area fraction of the 16×16 local crops (the protocol's 0.08)")
		fs.Float64Var(&localScale[1], "local-max", localScale[1], "largest area fraction of the 16×16 local crops (the protocol's 0.25)")
		fs.IntVar(&queueLen, "queue", 0, "rows of SwAV's feature queue per global crop, whose prototype scores join the batch's in Sinkhorn once full (0: none)")
		fs.IntVar(&queueStart, "queue-start", 5, "first epoch (0-based) whose embeddings fill the -queue")
		fs.Float64Var(&ema, "ema", 0, "momentum m in [0, 1) of a moving average of ConvNet3's weights and batch-norm statistics, updated after every step, that the evaluation reads instead of the trained network (0: none; e.g. 0.999)")
		fs.BoolVar(&weak, "weak-codes", false, "the codes come from one weakly augmented view of each image (the whole image at -global-size, flipped with p 0.5), which every crop predicts, instead of from the two global crops")
		fs.BoolVar(&teacher, "teacher", false, "with -ema: the codes of the global crops come from the moving average of the whole network (ConvNet3, projection, prototypes), a momentum teacher")
	}}, args, log)
	if err != nil {
		return err
	}
	cfg.Jitter, cfg.Blur, cfg.GlobalSize = jitter, blur, globalSize
	if prototypes < 2 || !(tau > 0) {
		return fmt.Errorf("swav: -prototypes %d must be ≥ 2 and -temperature %g > 0", prototypes, tau)
	}
	if hidden < 1 || dim < 1 {
		return fmt.Errorf("swav: -proj-hidden %d and -proj-out %d must be ≥ 1", hidden, dim)
	}
	if !(late >= 0 && late < 1) || !(lateCropMin > 0 && lateCropMin <= 1) {
		return fmt.Errorf("swav: -late %g must be in [0, 1) and -late-crop-min %g in (0, 1]", late, lateCropMin)
	}
	if lateGlobal < 0 || (lateGlobal > 0 && late == 0) {
		return fmt.Errorf("swav: -late-global-size %d must be 0, or a side with -late > 0 (-late %g)", lateGlobal, late)
	}
	if !(instance >= 0) || !(instanceTau > 0) || !(wd >= 0) || !(eta > 0) {
		return fmt.Errorf("swav: -instance %g and -wd %g must be ≥ 0, -instance-temperature %g and -eta %g > 0", instance, wd, instanceTau, eta)
	}
	if queueLen < 0 || queueStart < 0 {
		return fmt.Errorf("swav: -queue %d and -queue-start %d must be ≥ 0", queueLen, queueStart)
	}
	if !(ema >= 0 && ema < 1) {
		return fmt.Errorf("swav: -ema %g must be in [0, 1)", ema)
	}
	if teacher && (ema == 0 || queueLen > 0) {
		return fmt.Errorf("swav: -teacher needs -ema > 0 (-ema %g) and no -queue (-queue %d)", ema, queueLen)
	}
	if weak && queueLen > 0 {
		return fmt.Errorf("swav: -weak-codes takes the codes from a view the -queue does not hold (-queue %d)", queueLen)
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
	proj, err := backbone.NewMLP("projection", 128, hidden, dim, rng)
	if err != nil {
		return err
	}
	protos, err := backbone.NewPrototypes("prototypes", dim, prototypes, rng)
	if err != nil {
		return err
	}
	protos.Normalize()
	head := backbone.NewSequential("head", proj, backbone.NewL2Normalize("normalize"), protos)
	model := backbone.NewSequential("swav", net, head)
	var opt backbone.Optimizer
	switch optName {
	case "sgd":
		opt, err = backbone.NewSGD(model.Params(), &backbone.SGDOptions{Momentum: 0.9, WeightDecay: wd})
	case "lars":
		opt, err = backbone.NewLARS(model.Params(), &backbone.LARSOptions{Momentum: 0.9, WeightDecay: wd, Eta: eta, ClipLR: true, ExcludeBiasAndNorm: true})
	default:
		err = fmt.Errorf("swav: -optimizer %s: want sgd or lars", optName)
	}
	if err != nil {
		return err
	}
	// -queue: one queue per global crop, as main_swav.py's queue[i].
	var queues []*run.Queue
	var saved []run.Checkpointer
	if queueLen > 0 {
		for i := range 2 {
			q, err := run.NewQueue(fmt.Sprintf("queue%d", i), queueLen, dim)
			if err != nil {
				return err
			}
			queues, saved = append(queues, q), append(saved, q)
		}
	}
	// -ema: the average starts as the initial network and is checkpointed
	// with the method's state (a resumed run restores it). With -teacher it
	// averages the head too and computes the codes.
	var evalNet backbone.Layer = net
	var avg, online, extra []*backbone.Param
	var teach backbone.Layer
	if ema > 0 {
		r := run.InitRand(cfg) // the average's initial weights are overwritten
		a, err := backbone.NewConvNet3(r, nil)
		if err != nil {
			return err
		}
		var avgModel, trained backbone.Layer = a, net
		if teacher {
			p, err := backbone.NewMLP("projection", 128, hidden, dim, r)
			if err != nil {
				return err
			}
			k, err := backbone.NewPrototypes("prototypes", dim, prototypes, r)
			if err != nil {
				return err
			}
			teach = backbone.NewSequential("teacher", a, p, backbone.NewL2Normalize("normalize"), k)
			avgModel, trained = teach, model
		}
		extra = append(avgModel.Params(), avgModel.Buffers()...)
		if err := backbone.CopyParams(extra, append(trained.Params(), trained.Buffers()...)); err != nil {
			return err
		}
		// The teacher's batch-norm statistics are its own, from its
		// forward passes; the average of ConvNet3 alone averages them.
		avg, online = avgModel.Params(), trained.Params()
		if !teacher {
			avg, online = extra, append(trained.Params(), trained.Buffers()...)
		}
		evalNet = a
	}
	// -sync-bn synchronizes the evaluated network's batch norms and these:
	// with -ema the trained backbone is not the evaluated one, and the
	// teacher runs in training mode.
	layers := []backbone.Layer{head}
	if ema > 0 {
		layers = append(layers, net)
	}
	if teach != nil {
		layers = append(layers, teach)
	}
	tr, err := run.NewTrainer(cfg, data, evalNet, run.State{Params: model.Params(), Buffers: model.Buffers(), Opt: opt, Extra: extra, Saved: saved, Layers: layers})
	if err != nil {
		return err
	}
	if ema > 0 {
		tr.Online = net
	}

	if freeze < 0 {
		freeze = min(tr.StepsPerEpoch(), tr.StepsPerEpoch()*cfg.Epochs/2)
	}
	crops, err := cfg.MultiCropLocalScale(local, localScale) // refuses a bad -local-min/-local-max by name
	if err != nil {
		return fmt.Errorf("swav: %w", err)
	}
	lateCrops := crops
	if late > 0 {
		c := *cfg
		c.CropMin = lateCropMin
		if lateGlobal > 0 {
			c.GlobalSize = lateGlobal
		}
		if lateCrops, err = c.MultiCropLocalScale(local, localScale); err != nil {
			return fmt.Errorf("swav: the -late crops (-late-crop-min %g, -late-global-size %d): %w", lateCropMin, lateGlobal, err)
		}
	}
	lateStart := int(float64(tr.StepsPerEpoch()*cfg.Epochs) * (1 - late))
	b, n := cfg.Batch, crops.Views()
	// The crops whose codes are the targets: the two global ones, or with
	// -weak-codes the weak view, stacked after the n crops as view n.
	assign, nv := []int{0, 1}, n
	var weakCrops, lateWeakCrops *augment.MultiCrop
	if weak {
		assign, nv = []int{n}, n+1
		weakCrops = weakView(globalSize)
		lateWeakCrops = weakCrops
		if lateGlobal > 0 {
			lateWeakCrops = weakView(lateGlobal)
		}
	}
	// The scores of all views stacked: rows v·B … v·B+B−1 belong to view v.
	scores, dscores := ssl.New(nv*b, prototypes), ssl.New(nv*b, prototypes)
	sv, dv := make([]ssl.Tensor, nv), make([]ssl.Tensor, nv)
	ws := make([]*backbone.Workspace, nv)
	for v := range nv {
		if sv[v], err = ssl.Rows(scores, v*b, (v+1)*b); err != nil {
			return err
		}
		if dv[v], err = ssl.Rows(dscores, v*b, (v+1)*b); err != nil {
			return err
		}
		ws[v] = backbone.NewWorkspace()
	}
	lossOpts := &losses.SwAVOptions{Epsilon: epsilon, Iterations: iterations, Workspace: losses.NewWorkspace()}
	// -dist: the codes of the assigned views, balanced over every rank's
	// rows.
	comm := cfg.Sharded()
	codes := ssl.New(len(assign), b, prototypes)
	cv := make([]ssl.Tensor, len(assign))
	for i := range cv {
		if cv[i], err = ssl.Rows(codes, i, i+1); err != nil {
			return err
		}
		if cv[i], err = ssl.Reshape(cv[i], b, prototypes); err != nil {
			return err
		}
	}
	balanceOpts := &sinkhorn.BalanceOptions{Iterations: iterations, Reducer: comm, Workspace: sinkhorn.NewWorkspace(b, prototypes)}
	var qc *queueCodes
	if queueLen > 0 {
		qc = newQueueCodes(queueLen, b, dim, prototypes, comm)
	}
	var views, earlyViews, lateViews []ssl.Tensor // the late crops' sides may differ
	var earlyWeak, lateWeak []ssl.Tensor
	all := make([]ssl.Tensor, nv) // the crops, then the weak view
	// The network up to the projection, then the rest of the head, so that
	// -instance's NT-Xent gradient joins at the projection.
	enc := backbone.NewSequential("encoder", net, proj)
	rest := backbone.NewSequential("assign", head.Layers[1], protos)
	pv, dp := make([]ssl.Tensor, nv), make([]ssl.Tensor, nv)
	wr := make([]*backbone.Workspace, nv)
	dz := [2]ssl.Tensor{ssl.New(b, dim), ssl.New(b, dim)}
	for v := range nv {
		pv[v], dp[v], wr[v] = ssl.New(b, dim), ssl.New(b, dim), backbone.NewWorkspace()
	}
	ntOpts := &losses.NTXentOptions{Workspace: losses.NewWorkspace()}
	var ts []ssl.Tensor // -teacher: its scores of the assigned views
	var tws *backbone.Workspace
	if teach != nil {
		tws = backbone.NewWorkspace()
		for range assign {
			ts = append(ts, ssl.New(b, prototypes))
		}
	}
	if c := cfg.Comm(); c != nil && c.Size() > 1 {
		ntOpts.Comm = c // -dist: negatives gathered from every rank's batch, as simclr
	}

	for tr.Next() {
		protos.Freeze(tr.GlobalStep() < freeze)
		cr, buf, wc, wbuf := crops, &earlyViews, weakCrops, &earlyWeak
		if tr.GlobalStep() >= lateStart {
			cr, buf, wc, wbuf = lateCrops, &lateViews, lateWeakCrops, &lateWeak
		}
		if *buf, err = cr.Apply(*buf, tr.Images(), tr.IDs(), cfg.Seed, uint64(tr.Epoch())); err != nil {
			return err
		}
		views = *buf
		copy(all, views)
		if weak { // its own seed: not the flips of the crops
			if *wbuf, err = wc.Apply(*wbuf, tr.Images(), tr.IDs(), cfg.Seed^weakSeed, uint64(tr.Epoch())); err != nil {
				return err
			}
			all[n] = (*wbuf)[0]
		}
		backbone.ZeroGrad(model.Params())
		for v := range nv {
			if err := enc.Forward(ws[v], pv[v], all[v], true); err != nil {
				return err
			}
			if err := rest.Forward(wr[v], sv[v], pv[v], true); err != nil {
				return err
			}
		}
		// Codes from the two global crops, each predicting every other crop
		// (-weak-codes: from the weak view, predicted by every crop).
		var loss float64
		full := queues != nil && queues[0].Len() == queueLen
		if comm == nil && !full && teach == nil {
			loss, err = losses.SwAV(nil, dscores, scores, nv, assign, tau, lossOpts)
		} else {
			for i, c := range assign {
				if teach != nil {
					if err := teach.Forward(tws, ts[i], all[c], true); err != nil {
						return err
					}
					_, err = sinkhorn.Balance(cv[i], ts[i], epsilon, balanceOpts)
				} else if full { // no -weak-codes: c = i
					err = qc.codes(cv[i], sv[c], queues[i], protos)
				} else {
					_, err = sinkhorn.Balance(cv[i], sv[c], epsilon, balanceOpts)
				}
				if err != nil {
					return err
				}
			}
			loss, err = losses.SwAVFromCodes(dscores, scores, codes, nv, assign, tau, lossOpts)
		}
		if err != nil {
			return err
		}
		if queues != nil && tr.Epoch() >= queueStart {
			for i, q := range queues { // after the codes: a batch is not its own queue
				if err := qc.push(q, pv[i]); err != nil {
					return err
				}
			}
		}
		if instance > 0 {
			il, err := losses.NTXent(dz[0], dz[1], pv[0], pv[1], instanceTau, ntOpts)
			if err != nil {
				return err
			}
			loss += instance * il
		}
		for v := range n { // the weak view's gradient is zero
			if err := rest.Backward(wr[v], dp[v], dv[v]); err != nil {
				return err
			}
			if instance > 0 && v < 2 {
				run.Scale(dz[v], float32(instance))
				run.Add(dp[v], dz[v])
			}
			if err := enc.Backward(ws[v], nil, dp[v]); err != nil {
				return err
			}
		}
		if err := tr.AverageGrads(); err != nil { // -dist: the mean over the ranks
			return err
		}
		if err := opt.Step(tr.LR()); err != nil {
			return err
		}
		protos.Normalize()
		if avg != nil {
			if err := backbone.EMAUpdate(avg, online, ema); err != nil {
				return err
			}
		}
		tr.Done(loss)
	}
	_, err = tr.Finish(&run.Head{Layer: head, K: prototypes})
	return err
}

// weakSeed separates the weak view's randomness (its flips) from the
// crops', which augment.Stream draws from the same seed, epoch and image.
const weakSeed = 0x7765616b

// weakView returns -weak-codes' view: each image whole, resized to
// side×side, flipped with p 0.5 and normalized as the crops are.
func weakView(side int) *augment.MultiCrop {
	return &augment.MultiCrop{Groups: []augment.CropGroup{{N: 1, T: augment.Compose{
		augment.RandomResizedCrop{Size: side, Scale: [2]float64{1, 1}, Ratio: [2]float64{1, 1}},
		augment.RandomHorizontalFlip{P: 0.5},
		augment.Normalization{Mean: []float64{run.Mean}, Std: []float64{run.Std}},
	}}}}
}

// queueCodes computes a global crop's codes with SwAV's feature queue:
// Sinkhorn over the N×K scores of the queue's embeddings stacked over the
// crop's B×K scores, the crop keeping the last B rows of the codes.
//
// With -dist every rank pushes the whole global batch's embeddings, so the
// ranks hold the same queue (checkpointed once, compared in lockstep), and
// each rank stacks only its [run.Shard] of the queue's rows over its share
// of the batch: the sharded Sinkhorn then balances the N queue rows and the
// global batch once each, as one process with the same queue would. (SwAV's
// main_swav.py gives each GPU a queue of its own embeddings; the rows
// balanced together are the same N + B.)
type queueCodes struct {
	comm          dist.Comm
	lo, hi        int        // the queue rows this rank stacks
	stacked, plan ssl.Tensor // (hi−lo+B)×K
	top, bottom   ssl.Tensor // rows of stacked: the queue's, the batch's
	fresh         ssl.Tensor // the batch's rows of plan
	emb           ssl.Tensor // B×D normalized embeddings to push
	opts          *sinkhorn.BalanceOptions
}

// newQueueCodes sizes the scratch for a queue of n rows, this rank's b
// rows of a batch, dimension d and k prototypes; comm is -dist's (nil for
// one process).
func newQueueCodes(n, b, d, k int, comm dist.Comm) *queueCodes {
	lo, hi := run.Shard(comm, n)
	m := hi - lo
	q := &queueCodes{comm: comm, lo: lo, hi: hi, stacked: ssl.New(m+b, k), plan: ssl.New(m+b, k), emb: ssl.New(b, d),
		opts: &sinkhorn.BalanceOptions{Iterations: iterations, Reducer: comm, Workspace: sinkhorn.NewWorkspace(m+b, k)}}
	// Rows of freshly allocated row-major tensors: no error is possible.
	q.top, _ = ssl.Rows(q.stacked, 0, m)
	q.bottom, _ = ssl.Rows(q.stacked, m, m+b)
	q.fresh, _ = ssl.Rows(q.plan, m, m+b)
	return q
}

// codes writes into dst (B×K) the codes of the crop whose scores are s,
// balanced together with the full queue's scores against the prototypes.
func (q *queueCodes) codes(dst, s ssl.Tensor, queue *run.Queue, protos *backbone.Prototypes) error {
	keys, err := ssl.Rows(queue.Tensor(), q.lo, q.hi)
	if err != nil {
		return err
	}
	if _, err := ssl.MatMul(q.top, keys, protos.Weight.Value, false, true); err != nil {
		return err
	}
	run.Copy(q.bottom, s)
	if _, err := sinkhorn.Balance(q.plan, q.stacked, epsilon, q.opts); err != nil {
		return err
	}
	run.Copy(dst, q.fresh)
	return nil
}

// push adds the normalized projections z of a global crop (this rank's
// rows) to its queue: with -dist, every rank's rows.
func (q *queueCodes) push(queue *run.Queue, z ssl.Tensor) error {
	if _, err := ssl.NormalizeRows(q.emb, z); err != nil {
		return err
	}
	rows := q.emb.Shape()[0]
	if q.comm != nil {
		rows *= q.comm.Size()
	}
	all, err := run.GatherRows(q.comm, q.emb, rows)
	if err != nil {
		return err
	}
	return queue.Push(all)
}
