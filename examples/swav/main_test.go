package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"ssl"
	"ssl/augment"
	"ssl/backbone"
	"ssl/dist"
	"ssl/examples/internal/run"
	"ssl/examples/internal/runtest"
	"ssl/losses"
	"ssl/sinkhorn"
)

func TestSmoke(t *testing.T) {
	r := runtest.Smoke(t, "swav", swav)
	if r.HeadACC <= 0 {
		t.Errorf("swav: the prototype head was not evaluated: %+v", r)
	}
}

func TestSmokeTwoCrops(t *testing.T) { runtest.Smoke(t, "swav", swav, "-local", "0") }

func TestSmokePrototypes(t *testing.T) {
	out := t.TempDir()
	args := append(append([]string(nil), runtest.Tiny...), "-epochs", "1", "-out", out, "-prototypes", "100", "-temperature", "0.2")
	if err := swav(args, io.Discard); err != nil {
		t.Fatal(err)
	}
	ck := runtest.ReadCheckpoint(t, out)
	if _, shape, ok := ck.Info("prototypes.weight"); !ok || !slices.Equal(shape, []int{100, 64}) {
		t.Errorf("prototypes.weight has shape %v (present %t), want [100 64]", shape, ok)
	}
}

// Each bad setting is an error that names its flag and value.
func TestBadFlags(t *testing.T) {
	for _, c := range [][2]string{{"-prototypes", "1"}, {"-temperature", "0"}, {"-temperature", "-0.1"}, {"-local-min", "0"}, {"-local-max", "1.5"}, {"-local-max", "0.05"}, {"-proj-hidden", "0"}, {"-proj-out", "0"},
		{"-late", "1"}, {"-late", "-0.5"}, {"-late-crop-min", "0"}, {"-instance", "-1"}, {"-instance-temperature", "0"}, {"-wd", "-1"}, {"-eta", "0"}, {"-optimizer", "adam"}, {"-jitter", "1.5"}, {"-jitter", "-0.1"}, {"-blur", "1.5"}, {"-blur", "-0.1"}, {"-global-size", "7"}, {"-global-size", "32"}, {"-queue", "-1"}, {"-queue-start", "-1"}, {"-late-global-size", "-1"}, {"-late-global-size", "20"}, {"-ema", "1"}, {"-ema", "-0.1"}} {
		args := append(append([]string(nil), runtest.Tiny...), "-epochs", "1", "-out", t.TempDir(), c[0], c[1])
		if err := swav(args, io.Discard); err == nil || !strings.Contains(err.Error(), c[0]+" "+c[1]) {
			t.Errorf("swav %s %s: err = %v, want one naming the flag", c[0], c[1], err)
		}
	}
	// A late side outside [8, 28] is refused where the crops are built,
	// naming the -late flags.
	for _, side := range []string{"7", "29"} {
		args := append(append([]string(nil), runtest.Tiny...), "-epochs", "1", "-out", t.TempDir(), "-late", "0.5", "-late-global-size", side)
		if err := swav(args, io.Discard); err == nil || !strings.Contains(err.Error(), "-late-global-size "+side) {
			t.Errorf("swav -late 0.5 -late-global-size %s: err = %v, want one naming the flag", side, err)
		}
	}
}

func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, swav) }

// levers turns on every lever beside the protocol's recipe.
var levers = []string{"-queue", "64", "-queue-start", "0", "-jitter", "0.8", "-blur", "0.5", "-global-size", "20", "-optimizer", "lars", "-wd", "1e-6", "-instance", "0.5", "-late", "0.5", "-late-crop-min", "0.9", "-late-global-size", "28", "-proj-hidden", "32", "-proj-out", "16", "-ema", "0.9"}

// The levers keep a run resumable bit for bit: the late crops start at a
// step of the plan, not of the process, and the queues are checkpointed (a
// 64-row queue is full after one batch of 64, so the codes of the resumed
// steps read it).
func TestResumeLevers(t *testing.T) { runtest.Resume(t, swav, levers...) }

// Each lever changes what is trained, so none of them is silently dropped;
// -proj-out sets the prototypes' dimension.
func TestLevers(t *testing.T) {
	train := func(extra ...string) *backbone.Checkpoint {
		ck, _ := trainTiny(t, 1, extra...)
		return ck
	}
	conv := func(c *backbone.Checkpoint) []byte {
		_, _, raw, ok := c.Raw("conv1.weight")
		if !ok {
			t.Fatal("no conv1.weight in the checkpoint")
		}
		return raw
	}
	base := conv(train())
	for _, l := range [][]string{{"-optimizer", "lars", "-wd", "1e-6"}, {"-instance", "0.5"}, {"-late", "0.5"}, {"-proj-hidden", "32"}, {"-jitter", "0.8"}, {"-blur", "1"}, {"-global-size", "24"}, {"-queue", "64", "-queue-start", "0"}, {"-weak-codes"}} {
		if bytes.Equal(conv(train(l...)), base) {
			t.Errorf("swav %v trained the same network as the default", l)
		}
	}
	// -late-global-size alone: the late crops differ from the early ones in
	// their side only.
	late := []string{"-global-size", "20", "-late", "0.5", "-late-crop-min", "0.25"}
	if bytes.Equal(conv(train(append(late, "-late-global-size", "28")...)), conv(train(late...))) {
		t.Errorf("swav %v -late-global-size 28 trained the same network as without it", late)
	}
	if _, shape, ok := train("-proj-out", "16").Info("prototypes.weight"); !ok || !slices.Equal(shape, []int{30, 16}) {
		t.Errorf("-proj-out 16: prototypes.weight has shape %v (present %t), want [30 16]", shape, ok)
	}
}

// TestEMA checks -ema: the trained network is the one trained without
// it, the checkpoint holds its average beside it, and the evaluation
// reads the average while result.json also scores the trained network.
func TestEMA(t *testing.T) {
	plain, pr := trainTiny(t, 2)
	avg, ar := trainTiny(t, 2, "-ema", "0.9")
	for _, name := range plain.Names() {
		_, _, a, _ := plain.Raw(name)
		_, _, b, ok := avg.Raw(name)
		if !ok || !bytes.Equal(a, b) {
			t.Errorf("-ema changed the trained tensor %s", name)
		}
	}
	for _, name := range []string{"conv1.weight", "bn1.running_mean"} {
		_, _, a, ok := avg.Raw(name)
		_, _, b, okAvg := avg.Raw("state." + name)
		if !ok || !okAvg {
			t.Fatalf("-ema: %s present %t, its average present %t; tensors %v", name, ok, okAvg, avg.Names())
		}
		if bytes.Equal(a, b) {
			t.Errorf("-ema: the average of %s equals the trained tensor", name)
		}
	}
	if pr.OnlineKNN != 0 || pr.OnlineLinear != 0 {
		t.Errorf("without -ema result.json scores an online network: %+v", pr)
	}
	if ar.OnlineKNN != pr.KNN || ar.OnlineLinear != pr.Linear {
		t.Errorf("-ema: the trained network scores kNN %g linear %g, the same run without -ema %g %g", ar.OnlineKNN, ar.OnlineLinear, pr.KNN, pr.Linear)
	}
	if ar.KNN == pr.KNN && ar.Linear == pr.Linear {
		t.Errorf("-ema: the average scores as the trained network (kNN %g, linear %g)", ar.KNN, ar.Linear)
	}
}

// TestTeacher checks -teacher: refused without -ema or with -queue;
// otherwise it trains another network than -ema alone, its average covers
// the head, and runs resume bit for bit, in one process and on two ranks.
func TestTeacher(t *testing.T) {
	for _, bad := range [][]string{{"-teacher"}, {"-teacher", "-ema", "0.9", "-queue", "64"}} {
		args := append(append(append([]string(nil), runtest.Tiny...), "-epochs", "1", "-out", t.TempDir()), bad...)
		if err := swav(args, io.Discard); err == nil || !strings.Contains(err.Error(), "-teacher") {
			t.Errorf("swav %v: err = %v, want one naming -teacher", bad, err)
		}
	}
	ema, _ := trainTiny(t, 1, "-ema", "0.9")
	teacher, _ := trainTiny(t, 1, "-ema", "0.9", "-teacher")
	_, _, a, _ := ema.Raw("conv1.weight")
	_, _, b, _ := teacher.Raw("conv1.weight")
	if bytes.Equal(a, b) {
		t.Error("-teacher trained the same network as -ema alone")
	}
	if _, _, ok := ema.Info("state.prototypes.weight"); ok {
		t.Error("-ema alone averages the prototypes")
	}
	if _, shape, ok := teacher.Info("state.prototypes.weight"); !ok || !slices.Equal(shape, []int{30, 64}) {
		t.Errorf("-teacher: the average's prototypes have shape %v (present %t), want [30 64]", shape, ok)
	}
	runtest.Resume(t, swav, "-ema", "0.9", "-teacher")
	runDist(t, "swav", swav, "-ema", "0.9", "-teacher")
}

// TestSyncBNAverage checks that -sync-bn reaches the trained backbone's
// batch norms when the evaluation reads an average (-ema), and the
// teacher's when it runs in training mode (-teacher): ConvNet3 has 3, the
// projection 1.
func TestSyncBNAverage(t *testing.T) {
	for _, c := range []struct {
		flags []string
		want  int
	}{{nil, 4}, {[]string{"-ema", "0.9"}, 7}, {[]string{"-ema", "0.9", "-teacher"}, 8}} {
		var log bytes.Buffer
		args := append(append(slices.Clone(runtest.Tiny), c.flags...), "-epochs", "1", "-out", t.TempDir(), "-sync-bn")
		if err := run.InProcess(2, swav, args, &log); err != nil {
			t.Fatalf("swav %v on 2 ranks: %v", c.flags, err)
		}
		if want := fmt.Sprintf("-sync-bn: %d BatchNorm layers", c.want); !strings.Contains(log.String(), want) {
			t.Errorf("swav %v -sync-bn: the log does not say %q:\n%s", c.flags, want, log.String())
		}
	}
}

// trainTiny trains the tiny test run for the given epochs with the extra
// flags and returns its checkpoint and result.
func trainTiny(t *testing.T, epochs int, extra ...string) (*backbone.Checkpoint, run.Result) {
	t.Helper()
	out := t.TempDir()
	args := append(append(slices.Clone(runtest.Tiny), "-epochs", fmt.Sprint(epochs), "-out", out), extra...)
	if err := swav(args, io.Discard); err != nil {
		t.Fatalf("swav %v: %v", extra, err)
	}
	return runtest.ReadCheckpoint(t, out), runtest.ReadResult(t, out)
}

// TestWeakCodes checks -weak-codes: refused with -queue, naming both; its
// view is each image whole at the given side, mirrored or not; and a run
// with it, a momentum teacher computing the codes and late views of
// another side resumes bit for bit and runs on 2 ranks.
func TestWeakCodes(t *testing.T) {
	args := append(slices.Clone(runtest.Tiny), "-epochs", "1", "-out", t.TempDir(), "-weak-codes", "-queue", "64")
	if err := swav(args, io.Discard); err == nil || !strings.Contains(err.Error(), "-weak-codes") || !strings.Contains(err.Error(), "-queue 64") {
		t.Errorf("swav -weak-codes -queue 64: err = %v, want one naming both", err)
	}
	const batch, side = 16, 20
	rng := rand.New(rand.NewPCG(3, 4))
	src := ssl.New(batch, 1, 28, 28)
	_, data, _ := ssl.View(src)
	for i := range data {
		data[i] = rng.Float32()
	}
	views, err := weakView(side).Apply(nil, src, nil, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, got, _ := ssl.View(views[0])
	flipped := 0
	for i := range batch {
		img, _ := ssl.Rows(src, i, i+1)
		img, _ = ssl.Reshape(img, 1, 28, 28)
		want, err := augment.ResizedCrop(ssl.New(1, side, side), img, 0, 0, 28, 28)
		if err != nil {
			t.Fatal(err)
		}
		_, w, _ := ssl.View(want)
		g := got[i*side*side : (i+1)*side*side]
		same, mirror := true, true
		for y := range side {
			for x := range side {
				n := (w[y*side+x] - float32(run.Mean)) / float32(run.Std)
				same = same && math.Abs(float64(g[y*side+x]-n)) < 1e-5
				mirror = mirror && math.Abs(float64(g[y*side+side-1-x]-n)) < 1e-5
			}
		}
		if !same && !mirror {
			t.Fatalf("image %d: the weak view is neither the whole image resized to %d×%d nor its mirror", i, side, side)
		}
		if mirror && !same {
			flipped++
		}
	}
	if flipped == 0 || flipped == batch {
		t.Errorf("%d of %d weak views flipped, want some (p 0.5)", flipped, batch)
	}
	lever := []string{"-weak-codes", "-ema", "0.9", "-teacher", "-global-size", "20", "-late", "0.5", "-late-global-size", "28"}
	runtest.Resume(t, swav, lever...)
	runDist(t, "swav", swav, "-weak-codes")
}

// TestCodesSharded checks the -dist codes: Sinkhorn over 2 and 4 ranks'
// shares of a batch (dist.Local, the options of the -dist step) gives each
// rank its rows of the codes one process computes for the whole batch
// inside losses.SwAV.
func TestCodesSharded(t *testing.T) {
	const b, prototypes, tau = 24, 30, 0.1 // the global batch, the example's defaults
	rng := rand.New(rand.NewPCG(9, 9))
	sv := make([]float32, 2*b*prototypes) // two crops
	for i := range sv {
		sv[i] = float32(rng.NormFloat64()) * 0.3
	}
	scores := ssl.FromSlice(sv, 2*b, prototypes)
	want := ssl.New(2, b, prototypes)
	if _, err := losses.SwAV(want, nil, scores, 2, []int{0, 1}, tau, &losses.SwAVOptions{Epsilon: epsilon, Iterations: iterations}); err != nil {
		t.Fatal(err)
	}
	_, wv, _ := ssl.View(want)
	for _, ranks := range []int{2, 4} {
		t.Run(fmt.Sprintf("ranks=%d", ranks), func(t *testing.T) {
			m := b / ranks
			got := make([]float32, 2*b*prototypes)
			errs := make([]error, ranks)
			var wg sync.WaitGroup
			for _, c := range dist.Local(ranks) {
				wg.Go(func() {
					opts := &sinkhorn.BalanceOptions{Iterations: iterations, Reducer: c}
					for v := range 2 {
						lo := (v*b + c.Rank()*m) * prototypes
						mine := ssl.FromSlice(sv[lo:lo+m*prototypes], m, prototypes)
						dst := ssl.FromSlice(got[lo:lo+m*prototypes], m, prototypes)
						if _, err := sinkhorn.Balance(dst, mine, epsilon, opts); err != nil {
							errs[c.Rank()] = err
							return
						}
					}
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			for i := range wv {
				if math.Abs(float64(got[i]-wv[i])) > 1e-5*math.Abs(float64(wv[i]))+1e-7 {
					t.Fatalf("codes[%d] = %v on %d ranks, want %v", i, got[i], ranks, wv[i])
				}
			}
		})
	}
}

// TestQueueCodes checks -queue's codes against Sinkhorn over the matrix
// written out by hand: the queue's cosine scores against the prototypes
// (dot products of unit rows) above the batch's scores, the batch keeping
// the last rows; then the same on 2 and 3 ranks, each pushing its share of
// the batches and computing the codes of its rows.
func TestQueueCodes(t *testing.T) {
	const n, b, d, k = 13, 6, 4, 7
	rng := rand.New(rand.NewPCG(3, 4))
	randn := func(rows, cols int) []float32 {
		v := make([]float32, rows*cols)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return v
	}
	protos, err := backbone.NewPrototypes("prototypes", d, k, rng)
	if err != nil {
		t.Fatal(err)
	}
	protos.Normalize()
	batches := [][]float32{randn(b, d), randn(b, d), randn(b, d)} // 18 rows pushed: the ring wraps
	sv := randn(b, k)

	// codes runs one rank of a job of comm's size (nil: one process): its
	// rows of the three batches pushed, then its rows of the codes.
	codes := func(comm dist.Comm) ([]float32, *run.Queue, error) {
		lo, hi := run.Shard(comm, b)
		queue, err := run.NewQueue("queue", n, d)
		if err != nil {
			return nil, nil, err
		}
		qc := newQueueCodes(n, hi-lo, d, k, comm)
		for _, z := range batches {
			if err := qc.push(queue, ssl.FromSlice(z[lo*d:hi*d], hi-lo, d)); err != nil {
				return nil, nil, err
			}
		}
		got := ssl.New(hi-lo, k)
		err = qc.codes(got, ssl.FromSlice(sv[lo*k:hi*k], hi-lo, k), queue, protos)
		_, g, _ := ssl.View(got)
		return g, queue, err
	}
	got, queue, err := codes(nil)
	if err != nil {
		t.Fatal(err)
	}

	_, keys, _ := ssl.View(queue.Tensor())
	_, c, _ := ssl.View(protos.Weight.Value)
	m := make([]float32, 0, (n+b)*k)
	for i := range n {
		var norm float64
		for j := range d {
			norm += float64(keys[i*d+j]) * float64(keys[i*d+j])
		}
		if math.Abs(norm-1) > 1e-5 {
			t.Fatalf("queue row %d has squared norm %g, want 1", i, norm)
		}
		for p := range k {
			var dot float64
			for j := range d {
				dot += float64(keys[i*d+j]) * float64(c[p*d+j])
			}
			m = append(m, float32(dot))
		}
	}
	m = append(m, sv...)
	all, err := sinkhorn.Balance(nil, ssl.FromSlice(m, n+b, k), epsilon, &sinkhorn.BalanceOptions{Iterations: iterations})
	if err != nil {
		t.Fatal(err)
	}
	_, want, _ := ssl.View(all.Plan)
	want = want[n*k:]
	near := func(t *testing.T, got, want []float32) {
		t.Helper()
		for i := range want {
			if math.Abs(float64(got[i]-want[i])) > 1e-5*math.Abs(float64(want[i]))+1e-7 {
				t.Fatalf("codes[%d] = %v, want %v", i, got[i], want[i])
			}
		}
	}
	near(t, got, want)

	for _, ranks := range []int{2, 3} {
		t.Run(fmt.Sprintf("ranks=%d", ranks), func(t *testing.T) {
			got := make([][]float32, ranks)
			errs := make([]error, ranks)
			var wg sync.WaitGroup
			for _, c := range dist.Local(ranks) {
				wg.Go(func() { got[c.Rank()], _, errs[c.Rank()] = codes(c) })
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			near(t, slices.Concat(got...), want)
		})
	}
}

// TestDist runs a tiny two-epoch job of two in-process ranks: codes
// balanced over both ranks, the ranks in lockstep (their states are
// compared at every epoch's end), rank 0 writing the results.
func TestDist(t *testing.T) { runDist(t, "swav", swav) }

// TestDistLevers runs the levers on 2 ranks: -instance gathers its
// negatives from both ranks' shares.
func TestDistLevers(t *testing.T) { runDist(t, "swav", swav, levers...) }

// runDist runs main as a two-rank in-process job of two tiny epochs and
// checks rank 0's result.json.
func runDist(t *testing.T, method string, main runtest.Main, extra ...string) {
	out := t.TempDir()
	args := append(append(slices.Clone(runtest.Tiny), extra...), "-epochs", "2", "-out", out)
	if err := run.InProcess(2, main, args, io.Discard); err != nil {
		t.Fatalf("%s on 2 ranks: %v", method, err)
	}
	r := runtest.ReadResult(t, out)
	if r.Method != method || r.Batch != 64 || r.KNN <= 0.1 {
		t.Errorf("result.json = %+v: want %s, the global batch 64, kNN above chance", r, method)
	}
}

// TestEvalLeavesTraining checks that the kNN curve (-eval-every) does not
// touch training: two tiny epochs evaluated after each give the network,
// heads, BatchNorm statistics and optimizer state, bit for bit, of the
// same run evaluated only at the end.
func TestEvalLeavesTraining(t *testing.T) {
	ck := func(every string) *backbone.Checkpoint {
		out := t.TempDir()
		args := append(append([]string(nil), runtest.Tiny...), "-epochs", "2", "-out", out, "-eval-every", every)
		if err := swav(args, io.Discard); err != nil {
			t.Fatal(err)
		}
		return runtest.ReadCheckpoint(t, out)
	}
	a, b := ck("0"), ck("1")
	for _, name := range a.Names() {
		da, sa, ra, _ := a.Raw(name)
		db, sb, rb, ok := b.Raw(name)
		if !ok || da != db || !slices.Equal(sa, sb) || !bytes.Equal(ra, rb) {
			t.Errorf("tensor %s differs with -eval-every 1", name)
		}
	}
	if len(a.Names()) < 10 {
		t.Errorf("the checkpoint holds %d tensors: %v", len(a.Names()), a.Names())
	}
}
