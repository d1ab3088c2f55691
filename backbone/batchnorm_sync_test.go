package backbone

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"ssl"
	"ssl/dist"
	"ssl/internal/testutil"
)

// TestSyncBatchNorm checks a BatchNorm synchronized over 2 and 4 ranks
// against one BatchNorm on the concatenated batch: the same outputs and
// running statistics on every rank, each rank's rows of ∂L/∂x, and the
// ranks' ∂L/∂γ, ∂L/∂β summing to the single one's.
func TestSyncBatchNorm(t *testing.T) {
	for _, size := range []int{2, 4} {
		for _, shape := range [][]int{{3, 5, 4, 3}, {6, 7}} {
			for _, relu := range []bool{false, true} {
				t.Run(fmt.Sprintf("%d/%v/relu=%v", size, shape, relu), func(t *testing.T) {
					syncBNCase(t, size, shape, relu)
				})
			}
		}
	}
}

func syncBNCase(t *testing.T, size int, shape []int, relu bool) {
	rng := testutil.Rand(uint64(size + len(shape)))
	c := shape[1]
	per := 1 // values per sample
	for _, v := range shape[1:] {
		per *= v
	}
	whole := append([]int{size * shape[0]}, shape[1:]...)
	// Channels at different offsets and scales, as real activations.
	x := testutil.RandN(rng, 1, whole...)
	xv := testutil.Data(x)
	for i := range xv {
		ch := (i % per) / (per / c)
		xv[i] = xv[i]*float32(1+ch) + float32(3*ch)
	}
	dy := testutil.RandN(rng, 1, whole...)
	newBN := func(comm dist.Comm) *BatchNorm {
		bn, err := NewBatchNorm("bn", c, nil)
		if err != nil {
			t.Fatal(err)
		}
		bn.relu, bn.Comm = relu, comm
		r := rand.New(rand.NewPCG(7, 7))
		for i := range c {
			bn.Weight.Data()[i] = float32(0.5 + r.Float64())
			bn.Bias.Data()[i] = float32(r.NormFloat64())
		}
		return bn
	}
	one := newBN(nil)
	ws := NewWorkspace()
	out, dx := ssl.New(whole...), ssl.New(whole...)
	if err := one.Forward(ws, out, x, true); err != nil {
		t.Fatal(err)
	}
	if err := one.Backward(ws, dx, dy); err != nil {
		t.Fatal(err)
	}

	bns := make([]*BatchNorm, size)
	outs, dxs := make([]float32, len(xv)), make([]float32, len(xv))
	errs := make([]error, size)
	var wg sync.WaitGroup
	for r, comm := range dist.Local(size) {
		bns[r] = newBN(comm)
		wg.Go(func() {
			lo, hi := r*shape[0]*per, (r+1)*shape[0]*per
			rows := func(v []float32) ssl.Tensor { return ssl.FromSlice(v[lo:hi], shape...) }
			ws := NewWorkspace()
			if errs[r] = bns[r].Forward(ws, rows(outs), rows(xv), true); errs[r] != nil {
				return
			}
			errs[r] = bns[r].Backward(ws, rows(dxs), rows(testutil.Data(dy)))
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	testutil.AllClose(t, "out", testutil.F64s(outs), testutil.F64(out), 1e-5, 1e-5)
	testutil.AllClose(t, "dx", testutil.F64s(dxs), testutil.F64(dx), 1e-5, 1e-4)
	gg, gb := make([]float64, c), make([]float64, c)
	for r, bn := range bns {
		testutil.AllClose(t, fmt.Sprintf("rank %d running mean", r), testutil.F64s(bn.RunningMean.Data()), testutil.F64s(one.RunningMean.Data()), 1e-6, 1e-5)
		testutil.AllClose(t, fmt.Sprintf("rank %d running var", r), testutil.F64s(bn.RunningVar.Data()), testutil.F64s(one.RunningVar.Data()), 1e-6, 1e-5)
		for i := range c {
			gg[i] += float64(bn.Weight.GradData()[i])
			gb[i] += float64(bn.Bias.GradData()[i])
		}
	}
	testutil.AllClose(t, "Σ dγ", gg, testutil.F64s(one.Weight.GradData()), 1e-5, 1e-4)
	testutil.AllClose(t, "Σ dβ", gb, testutil.F64s(one.Bias.GradData()), 1e-5, 1e-4)
}

// TestSyncBatchNormNetworks: SyncBatchNorm reaches every BatchNorm of the
// package's networks and a nil communicator turns them back.
func TestSyncBatchNormNetworks(t *testing.T) {
	rng := testutil.Rand(1)
	cn, err := NewConvNet3(rng, nil)
	if err != nil {
		t.Fatal(err)
	}
	rn, err := NewResNet18(rng, nil)
	if err != nil {
		t.Fatal(err)
	}
	mlp, err := NewMLP("projection", 128, 256, 64, rng)
	if err != nil {
		t.Fatal(err)
	}
	comm := dist.Local(1)[0]
	if got := SyncBatchNorm(comm, NewSequential("model", cn, mlp), rn, cn); got != 3+1+20 {
		t.Errorf("SyncBatchNorm set %d layers, want 24 (ConvNet3 3, MLP 1, ResNet-18 20; ConvNet3 passed twice counts once)", got)
	}
	if cn.BN[1].Comm != comm || rn.Layers[len(rn.Layers)-2] == nil {
		t.Errorf("ConvNet3's second BatchNorm has Comm %v", cn.BN[1].Comm)
	}
	SyncBatchNorm(nil, cn)
	if cn.BN[0].Comm != nil {
		t.Error("SyncBatchNorm(nil) left a communicator")
	}
}
