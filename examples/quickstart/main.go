// Command quickstart is a small, self-contained SwAV run that uses only the
// library's exported packages, so it builds unchanged in a module of your own
// (see "Using it from another module" in the repository's README.md). It
//
//   - reads Fashion-MNIST with ssl/dataset: the subset embedded in the library
//     (6,000 training and 1,000 test images) by default, or the four original
//     files from -data DIR;
//   - defines a layer of its own (Affine, a learnable per-feature scale and
//     shift) and puts it in a backbone.Sequential after ConvNet3;
//   - trains a few SwAV steps (Caron et al. 2020): multi-crop views from
//     ssl/augment, backbone.Prototypes, Sinkhorn codes and the swapped
//     prediction loss from ssl/losses, SGD from ssl/backbone;
//   - keeps a losses.Queue of recent embeddings, whose prototype scores join
//     the Sinkhorn step once it is full (SwAV's queue), saves it in a
//     backbone.Checkpoint, reads it back and checks it is restored bit for bit;
//   - measures the features before and after training with the weighted kNN
//     of ssl/probe.
//
// The defaults run in well under a minute on two cores. A few dozen steps on
// a small subset do not make a good model, and the kNN accuracy usually ends
// below that of the untrained network, whose random convolutional features
// already score about 0.75 on the embedded subset: the point is the code.
// examples/swav trains the same way for real (kNN 0.81 after one epoch of the
// full set, 0.86 after four; see examples/README.md).
//
// Usage:
//
//	go run ./examples/quickstart [-steps 40] [-batch 64] [-data DIR] [-out DIR]
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"ssl"
	"ssl/augment"
	"ssl/backbone"
	"ssl/dataset"
	"ssl/losses"
	"ssl/probe"
	"ssl/sinkhorn"
)

func main() {
	if _, err := run(os.Args[1:], os.Stdout); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// Fashion-MNIST's pixel mean and standard deviation.
var (
	mean = []float64{0.2860}
	std  = []float64{0.3530}
)

const (
	embedDim = 64   // the projection's output, where the prototypes live
	epsilon  = 0.05 // SwAV's Sinkhorn regularization ε
	tau      = 0.1  // SwAV's softmax temperature τ
)

// summary is what a run measured.
type summary struct {
	Losses       []float64         // the loss of every step
	QueueRows    int               // rows in the queue when it was saved
	Queue        losses.QueueState // the queue's state when it was saved
	Restored     bool              // the queue read back from the checkpoint equals the saved one bit for bit
	KNNBefore    float64           // kNN top-1 accuracy of the untrained network
	KNNAfter     float64           // kNN top-1 accuracy after training
	Train, Test  int               // images in the kNN bank and queries
	Checkpoint   string            // the file written
	TrainSeconds float64
}

func run(args []string, w io.Writer) (summary, error) {
	var s summary
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.SetOutput(w)
	var (
		dataDir  = fs.String("data", "", "folder with the four original Fashion-MNIST files (empty: the embedded subset)")
		steps    = fs.Int("steps", 40, "training steps")
		batch    = fs.Int("batch", 64, "images per step")
		local    = fs.Int("local", 2, "16×16 local crops per image beside the two 28×28 ones")
		protos   = fs.Int("prototypes", 30, "number of prototypes K")
		queueLen = fs.Int("queue", 384, "rows of the embedding queue (≥ batch)")
		lr       = fs.Float64("lr", 0.1, "peak learning rate (SGD, momentum 0.9)")
		bank     = fs.Int("bank", 0, "training images in the kNN bank (0: all)")
		test     = fs.Int("test", 0, "test images for the kNN accuracy (0: all)")
		every    = fs.Int("log-every", 10, "steps per progress line")
		seed     = fs.Uint64("seed", 1, "random seed")
		out      = fs.String("out", filepath.Join("out", "quickstart"), "folder for the checkpoint")
	)
	if err := fs.Parse(args); err != nil {
		return s, err
	}
	if *steps < 1 || *batch < 2 || *local < 0 || *protos < 2 || *queueLen < *batch || *every < 1 {
		return s, fmt.Errorf("need -steps ≥ 1, -batch ≥ 2, -local ≥ 0, -prototypes ≥ 2, -queue ≥ -batch, -log-every ≥ 1")
	}

	// Data.
	train, testSet, err := load(*dataDir)
	if err != nil {
		return s, err
	}
	if b := *batch; b > train.N {
		return s, fmt.Errorf("-batch %d is larger than the training set (%d images)", b, train.N)
	}
	fmt.Fprintf(w, "data: %s (%d images), %s (%d images)\n", train.Name, train.N, testSet.Name, testSet.N)

	// The network: ConvNet3, then the program's own layer, make the encoder
	// whose 128-d output is the feature; a projection and row normalization
	// give the embedding z, which the prototypes score.
	rng := rand.New(rand.NewPCG(*seed, 0))
	net, err := backbone.NewConvNet3(rng, nil)
	if err != nil {
		return s, err
	}
	featDim := net.Widths[2]
	encoder := backbone.NewSequential("encoder", net, NewAffine("affine", featDim))
	proj, err := backbone.NewMLP("projection", featDim, 256, embedDim, rng)
	if err != nil {
		return s, err
	}
	trunk := backbone.NewSequential("trunk", encoder, proj, backbone.NewL2Normalize("normalize"))
	prototypes, err := backbone.NewPrototypes("prototypes", embedDim, *protos, rng)
	if err != nil {
		return s, err
	}
	params := append(trunk.Params(), prototypes.Params()...)
	opt, err := backbone.NewSGD(params, &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 5e-4})
	if err != nil {
		return s, err
	}
	lrs, err := backbone.WarmupCosine(0, *lr, 0, min(10, *steps/4), *steps)
	if err != nil {
		return s, err
	}

	// Views: SwAV's multi-crop with the fmnist-ssl-v1 augmentations
	// (examples/PROTOCOL.md): two 28×28 crops and some 16×16 ones, each
	// flipped, jittered and normalized.
	sizes, counts, lo, hi := []int{28}, []int{2}, []float64{0.25}, []float64{1}
	if *local > 0 {
		sizes, counts, lo, hi = append(sizes, 16), append(counts, *local), append(lo, 0.08), append(hi, 0.25)
	}
	crops, err := augment.NewMultiCrop(sizes, counts, lo, hi,
		augment.RandomHorizontalFlip{P: 0.5},
		augment.RandomApply{T: augment.ColorJitter{Brightness: 0.4, Contrast: 0.4}, P: 0.8},
		augment.Normalization{Mean: mean, Std: std})
	if err != nil {
		return s, err
	}

	s.KNNBefore, s.Train, s.Test, err = evaluate(encoder, featDim, train, testSet, *bank, *test)
	if err != nil {
		return s, err
	}
	fmt.Fprintf(w, "kNN before training: %.3f (bank %d, queries %d)\n", s.KNNBefore, s.Train, s.Test)

	// Buffers, all allocated once. The embeddings and scores of every crop
	// are stacked, rows v·B … v·B+B−1 for crop v, as losses.SwAV takes them;
	// zv[v], sv[v], … are views of crop v's rows.
	b, n, k := *batch, crops.Views(), *protos
	assign := []int{0, 1} // the two 28×28 crops give the codes
	z, dz := ssl.New(n*b, embedDim), ssl.New(n*b, embedDim)
	scores, dscores := ssl.New(n*b, k), ssl.New(n*b, k)
	zv, dzv, sv, dsv := make([]ssl.Tensor, n), make([]ssl.Tensor, n), make([]ssl.Tensor, n), make([]ssl.Tensor, n)
	wsTrunk, wsProto := make([]*backbone.Workspace, n), make([]*backbone.Workspace, n)
	for v := range n {
		for _, p := range []struct {
			dst *ssl.Tensor
			src ssl.Tensor
		}{{&zv[v], z}, {&dzv[v], dz}, {&sv[v], scores}, {&dsv[v], dscores}} {
			if *p.dst, err = ssl.Rows(p.src, v*b, (v+1)*b); err != nil {
				return s, err
			}
		}
		wsTrunk[v], wsProto[v] = backbone.NewWorkspace(), backbone.NewWorkspace()
	}
	queue, err := losses.NewQueue(*queueLen, embedDim)
	if err != nil {
		return s, err
	}
	q := *queueLen
	stacked, codesAll := ssl.New(q+b, k), ssl.New(q+b, k) // queue scores above one crop's scores
	codes := ssl.New(len(assign), b, k)
	lossOpts := &losses.SwAVOptions{Epsilon: epsilon, Workspace: losses.NewWorkspace()}
	balanceOpts := &sinkhorn.BalanceOptions{Workspace: new(sinkhorn.Workspace)}
	images := ssl.New(b, train.C, train.H, train.W)
	var views []ssl.Tensor

	fmt.Fprintf(w, "training: %d steps of %d images, %d crops each, %d prototypes, queue of %d\n", *steps, b, n, k, q)
	start := time.Now()
	order, pos, epoch := rng.Perm(train.N), 0, 0
	freeze := *steps / 4 // SwAV keeps the prototypes fixed for the first iterations
	for step := range *steps {
		// The batch: the next B images of a shuffled order, reshuffled
		// each epoch.
		if pos+b > train.N {
			order, pos, epoch = rng.Perm(train.N), 0, epoch+1
		}
		ids := order[pos : pos+b]
		pos += b
		if _, err := train.Batch(images, ids); err != nil {
			return s, err
		}
		if views, err = crops.Apply(views, images, ids, *seed, uint64(epoch)); err != nil {
			return s, err
		}

		prototypes.Freeze(step < freeze)
		backbone.ZeroGrad(params)
		for v := range n {
			if err := trunk.Forward(wsTrunk[v], zv[v], views[v], true); err != nil {
				return s, err
			}
			if err := prototypes.Forward(wsProto[v], sv[v], zv[v], true); err != nil {
				return s, err
			}
		}
		var loss float64
		if queue.Len() == queue.Cap() {
			// SwAV's queue: the codes of each assigned crop come from
			// Sinkhorn over the queue's scores stacked above the crop's,
			// so that B images need not fill K prototypes on their own.
			if err := queueCodes(codes, stacked, codesAll, queue, prototypes, sv, assign, balanceOpts); err != nil {
				return s, err
			}
			loss, err = losses.SwAVFromCodes(dscores, scores, codes, n, assign, tau, lossOpts)
		} else {
			loss, err = losses.SwAV(nil, dscores, scores, n, assign, tau, lossOpts)
		}
		if err != nil {
			return s, err
		}
		for v := range n {
			if err := prototypes.Backward(wsProto[v], dzv[v], dsv[v]); err != nil {
				return s, err
			}
			if err := trunk.Backward(wsTrunk[v], nil, dzv[v]); err != nil {
				return s, err
			}
		}
		if err := opt.Step(lrs[step]); err != nil {
			return s, err
		}
		prototypes.Normalize()

		// The queue keeps the embeddings of the two 28×28 crops.
		global, err := ssl.Rows(z, 0, len(assign)*b)
		if err != nil {
			return s, err
		}
		if err := queue.Push(global); err != nil {
			return s, err
		}

		s.Losses = append(s.Losses, loss)
		if (step+1)%*every == 0 || step+1 == *steps {
			from := max(0, step+1-*every)
			fmt.Fprintf(w, "step %4d/%d  loss %.4f (mean of steps %d–%d)  lr %.3f  %.1f s\n",
				step+1, *steps, meanOf(s.Losses[from:]), from+1, step+1, lrs[step], time.Since(start).Seconds())
		}
	}
	s.TrainSeconds = time.Since(start).Seconds()

	// Checkpoint: the queue's state and the weights in one safetensors file.
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return s, err
	}
	s.Checkpoint = filepath.Join(*out, "checkpoint.safetensors")
	s.QueueRows, s.Queue = queue.Len(), queue.State()
	if s.Restored, err = checkpointQueue(s.Checkpoint, queue, params); err != nil {
		return s, err
	}
	fmt.Fprintf(w, "queue: %d of %d rows saved to %s; restored bit for bit: %v\n", queue.Len(), queue.Cap(), s.Checkpoint, s.Restored)

	s.KNNAfter, _, _, err = evaluate(encoder, featDim, train, testSet, *bank, *test)
	if err != nil {
		return s, err
	}
	fmt.Fprintf(w, "kNN after %d steps: %.3f (before: %.3f; k = 20, T = 0.07, %d-d features)\n", *steps, s.KNNAfter, s.KNNBefore, featDim)
	fmt.Fprintf(w, "(a random ConvNet3 already scores about 0.75 here; a short run rarely beats it; the repository's examples/swav trains for real)\n")
	if !s.Restored {
		return s, errors.New("the queue read back from the checkpoint differs from the one saved")
	}
	return s, nil
}

// load returns the training and test splits: the embedded subset, or the
// original files in dir.
func load(dir string) (train, test *dataset.Set, err error) {
	get := dataset.EmbeddedFashionMNIST
	if dir != "" {
		get = func(sp dataset.Split) (*dataset.Set, error) { return dataset.FashionMNIST(dir, sp) }
	}
	if train, err = get(dataset.Train); err != nil {
		return nil, nil, err
	}
	if test, err = get(dataset.Test); err != nil {
		return nil, nil, err
	}
	return train, test, nil
}

// queueCodes writes into codes (|A|×B×K) the codes of each assigned crop:
// Sinkhorn over [queue·Cᵀ; S_c], keeping the last B rows (SwAV's
// main_swav.py with its queue).
func queueCodes(codes, stacked, codesAll ssl.Tensor, queue *losses.Queue, p *backbone.Prototypes,
	sv []ssl.Tensor, assign []int, opts *sinkhorn.BalanceOptions) error {
	q := queue.Len()
	top, err := ssl.Rows(stacked, 0, q)
	if err != nil {
		return err
	}
	if _, err := ssl.MatMul(top, queue.Tensor(), p.Weight.Value, false, true); err != nil {
		return err
	}
	bottom, err := ssl.Rows(stacked, q, stacked.Shape()[0])
	if err != nil {
		return err
	}
	fresh, err := ssl.Rows(codesAll, q, codesAll.Shape()[0])
	if err != nil {
		return err
	}
	for i, c := range assign {
		if err := copyTensor(bottom, sv[c]); err != nil {
			return err
		}
		if _, err := sinkhorn.Balance(codesAll, stacked, epsilon, opts); err != nil {
			return err
		}
		ci, err := ssl.Rows(codes, i, i+1)
		if err != nil {
			return err
		}
		ci2, err := ssl.Reshape(ci, fresh.Shape()...)
		if err != nil {
			return err
		}
		if err := copyTensor(ci2, fresh); err != nil {
			return err
		}
	}
	return nil
}

// copyTensor copies src into dst, of the same shape.
func copyTensor(dst, src ssl.Tensor) error {
	shape, s, err := ssl.View(src)
	if err != nil {
		return err
	}
	d, err := ssl.ViewOf(dst, shape...)
	if err != nil {
		return err
	}
	copy(d, s)
	return nil
}

// checkpointQueue writes the queue's state and the parameters to path,
// reads the file back into a new queue and reports whether that queue's state
// equals the original bit for bit.
func checkpointQueue(path string, queue *losses.Queue, params []*backbone.Param) (bool, error) {
	st := queue.State()
	ck := backbone.NewCheckpoint()
	ck.Metadata = map[string]string{"program": "quickstart"}
	if err := ck.SetFloat32("queue.keys", st.Keys); err != nil {
		return false, err
	}
	if err := ck.SetInts("queue.position", []int{st.Head, st.Len}); err != nil {
		return false, err
	}
	if err := ck.SetParams(params); err != nil {
		return false, err
	}
	f, err := os.Create(path)
	if err != nil {
		return false, err
	}
	if _, err := ck.WriteTo(f); err != nil {
		f.Close()
		return false, err
	}
	if err := f.Close(); err != nil {
		return false, err
	}

	f, err = os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	back, err := backbone.ReadCheckpoint(f)
	if err != nil {
		return false, err
	}
	keys := ssl.New(queue.Cap(), queue.Dim())
	if err := back.Float32(keys, "queue.keys"); err != nil {
		return false, err
	}
	pos, err := back.Ints("queue.position", 2)
	if err != nil {
		return false, err
	}
	restored, err := losses.NewQueue(queue.Cap(), queue.Dim())
	if err != nil {
		return false, err
	}
	if err := restored.Restore(losses.QueueState{Keys: keys, Head: pos[0], Len: pos[1]}); err != nil {
		return false, err
	}
	return sameState(restored.State(), st)
}

// sameState reports whether two queue states are equal bit for bit.
func sameState(a, b losses.QueueState) (bool, error) {
	_, av, err := ssl.View(a.Keys)
	if err != nil {
		return false, err
	}
	_, bv, err := ssl.View(b.Keys)
	if err != nil {
		return false, err
	}
	if a.Head != b.Head || a.Len != b.Len || len(av) != len(bv) {
		return false, nil
	}
	for i := range av {
		if math.Float32bits(av[i]) != math.Float32bits(bv[i]) {
			return false, nil
		}
	}
	return true, nil
}

// evaluate returns the weighted-kNN top-1 accuracy (DINO's rule, k 20, T
// 0.07) of the encoder's features of the first nTest test images against those
// of the first nTrain training images (0: all).
func evaluate(encoder backbone.Layer, dim int, train, test *dataset.Set, nTrain, nTest int) (acc float64, bank, queries int, err error) {
	bank, queries = clip(nTrain, train.N), clip(nTest, test.N)
	trainFeat, err := features(encoder, dim, train, bank)
	if err != nil {
		return 0, 0, 0, err
	}
	testFeat, err := features(encoder, dim, test, queries)
	if err != nil {
		return 0, 0, 0, err
	}
	acc, err = probe.EvaluateKNN(trainFeat, train.Labels[:bank], testFeat, test.Labels[:queries], train.Classes, nil)
	return acc, bank, queries, err
}

func clip(n, all int) int {
	if n <= 0 || n > all {
		return all
	}
	return n
}

// features runs the encoder in evaluation mode on the first count images of
// set, normalized, in chunks, and returns the count×dim features.
func features(encoder backbone.Layer, dim int, set *dataset.Set, count int) (ssl.Tensor, error) {
	const chunk = 500
	feats := ssl.New(count, dim)
	images := ssl.New(chunk, set.C, set.H, set.W)
	normed := ssl.New(chunk, set.C, set.H, set.W)
	ws := backbone.NewWorkspace()
	idx := make([]int, 0, chunk)
	for lo := 0; lo < count; lo += chunk {
		hi := min(lo+chunk, count)
		idx = idx[:0]
		for i := lo; i < hi; i++ {
			idx = append(idx, i)
		}
		img, err := ssl.Rows(images, 0, hi-lo)
		if err != nil {
			return nil, err
		}
		nrm, err := ssl.Rows(normed, 0, hi-lo)
		if err != nil {
			return nil, err
		}
		dst, err := ssl.Rows(feats, lo, hi)
		if err != nil {
			return nil, err
		}
		if _, err := set.Batch(img, idx); err != nil {
			return nil, err
		}
		if _, err := augment.Batch(nrm, img, augment.Normalization{Mean: mean, Std: std}, nil, 0, 0, 0); err != nil {
			return nil, err
		}
		if err := encoder.Forward(ws, dst, nrm, false); err != nil {
			return nil, err
		}
	}
	return feats, nil
}

func meanOf(xs []float64) float64 {
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

// Affine is this program's own layer: a learnable scale and shift of each
// feature of an N×D input,
//
//	out[n,j] = x[n,j]·Scale[j] + Shift[j]
//	∂L/∂Scale[j] = Σ_n dy[n,j]·x[n,j],  ∂L/∂Shift[j] = Σ_n dy[n,j],  ∂L/∂x[n,j] = dy[n,j]·Scale[j]
//
// It implements backbone.Layer with exported methods only, so it goes into a
// backbone.Sequential next to the library's layers and trains with its
// optimizers (see "Writing a layer" in package backbone).
type Affine struct {
	D            int
	Scale, Shift *backbone.Param
}

// NewAffine returns the identity map on d features (Scale 1, Shift 0), with
// parameters name+".scale" and name+".shift".
func NewAffine(name string, d int) *Affine {
	a := &Affine{
		D:     d,
		Scale: &backbone.Param{Name: name + ".scale", Value: ssl.New(d), Grad: ssl.New(d)},
		Shift: &backbone.Param{Name: name + ".shift", Value: ssl.New(d), Grad: ssl.New(d)},
	}
	for j := range a.Scale.Data() {
		a.Scale.Data()[j] = 1
	}
	return a
}

// Params returns the scale and the shift.
func (a *Affine) Params() []*backbone.Param { return []*backbone.Param{a.Scale, a.Shift} }

// Buffers returns nil: the layer has no running statistics.
func (a *Affine) Buffers() []*backbone.Param { return nil }

// OutShape returns in, which must be N×D.
func (a *Affine) OutShape(in []int) ([]int, error) {
	if len(in) != 2 || in[0] < 1 || in[1] != a.D {
		return nil, fmt.Errorf("Affine: input shape %v, want N×%d: %w", in, a.D, ssl.ErrShape)
	}
	return []int{in[0], a.D}, nil
}

// Forward writes x·Scale + Shift into dst and saves x for Backward.
func (a *Affine) Forward(ws *backbone.Workspace, dst, x ssl.Tensor, train bool) error {
	shape, xv, err := ssl.View(x)
	if err != nil {
		return fmt.Errorf("Affine.Forward: x: %w", err)
	}
	if _, err := a.OutShape(shape); err != nil {
		return err
	}
	out, err := ssl.ViewOf(dst, shape...)
	if err != nil {
		return fmt.Errorf("Affine.Forward: dst: %w", err)
	}
	scale, shift := a.Scale.Data(), a.Shift.Data()
	for n := range shape[0] {
		xr, or := xv[n*a.D:(n+1)*a.D], out[n*a.D:(n+1)*a.D]
		for j, v := range xr {
			or[j] = v*scale[j] + shift[j]
		}
	}
	ws.Save(a, x)
	return nil
}

// Backward adds the parameters' gradients and writes dy·Scale into dx
// (skipped when dx is nil).
func (a *Affine) Backward(ws *backbone.Workspace, dx, dy ssl.Tensor) error {
	saved, err := ws.Saved(a)
	if err != nil {
		return err
	}
	shape, xv, err := ssl.View(saved[0])
	if err != nil {
		return err
	}
	dyv, err := ssl.ViewOf(dy, shape...)
	if err != nil {
		return fmt.Errorf("Affine.Backward: dy: %w", err)
	}
	var dxv []float32
	if dx != nil {
		if dxv, err = ssl.ViewOf(dx, shape...); err != nil {
			return fmt.Errorf("Affine.Backward: dx: %w", err)
		}
	}
	scale, gScale, gShift := a.Scale.Data(), a.Scale.GradData(), a.Shift.GradData()
	for n := range shape[0] {
		row := n * a.D
		for j := range a.D {
			g := dyv[row+j]
			gScale[j] += g * xv[row+j]
			gShift[j] += g
			if dxv != nil {
				dxv[row+j] = g * scale[j]
			}
		}
	}
	return nil
}
