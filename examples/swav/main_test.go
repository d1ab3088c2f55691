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
		{"-late", "1"}, {"-late", "-0.5"}, {"-late-crop-min", "0"}, {"-instance", "-1"}, {"-instance-temperature", "0"}, {"-wd", "-1"}, {"-eta", "0"}, {"-optimizer", "adam"}, {"-jitter", "1.5"}, {"-jitter", "-0.1"}, {"-global-size", "7"}, {"-global-size", "32"}} {
		args := append(append([]string(nil), runtest.Tiny...), "-epochs", "1", "-out", t.TempDir(), c[0], c[1])
		if err := swav(args, io.Discard); err == nil || !strings.Contains(err.Error(), c[0]+" "+c[1]) {
			t.Errorf("swav %s %s: err = %v, want one naming the flag", c[0], c[1], err)
		}
	}
}

func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, swav) }

// levers turns on every lever beside the protocol's recipe.
var levers = []string{"-jitter", "0.8", "-global-size", "20", "-optimizer", "lars", "-wd", "1e-6", "-instance", "0.5", "-late", "0.5", "-late-crop-min", "0.9", "-proj-hidden", "32", "-proj-out", "16"}

// The levers keep a run resumable bit for bit: the late crops start at a
// step of the plan, not of the process.
func TestResumeLevers(t *testing.T) { runtest.Resume(t, swav, levers...) }

// Each lever changes what is trained, so none of them is silently dropped;
// -proj-out sets the prototypes' dimension.
func TestLevers(t *testing.T) {
	train := func(extra ...string) *backbone.Checkpoint {
		out := t.TempDir()
		args := append(append(append([]string(nil), runtest.Tiny...), "-epochs", "1", "-out", out), extra...)
		if err := swav(args, io.Discard); err != nil {
			t.Fatalf("swav %v: %v", extra, err)
		}
		return runtest.ReadCheckpoint(t, out)
	}
	conv := func(c *backbone.Checkpoint) []byte {
		_, _, raw, ok := c.Raw("conv1.weight")
		if !ok {
			t.Fatal("no conv1.weight in the checkpoint")
		}
		return raw
	}
	base := conv(train())
	for _, l := range [][]string{{"-optimizer", "lars", "-wd", "1e-6"}, {"-instance", "0.5"}, {"-late", "0.5"}, {"-proj-hidden", "32"}, {"-jitter", "0.8"}, {"-global-size", "24"}} {
		if bytes.Equal(conv(train(l...)), base) {
			t.Errorf("swav %v trained the same network as the default", l)
		}
	}
	if _, shape, ok := train("-proj-out", "16").Info("prototypes.weight"); !ok || !slices.Equal(shape, []int{30, 16}) {
		t.Errorf("-proj-out 16: prototypes.weight has shape %v (present %t), want [30 16]", shape, ok)
	}
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
