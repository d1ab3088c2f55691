package backbone_test

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"

	"ssl"
	"ssl/backbone"
	"ssl/dist"
	"ssl/internal/testutil"
)

// mlp builds Linear(6→8), ReLU, Linear(8→3) from seed.
func mlp(t *testing.T, seed uint64) *backbone.Sequential {
	t.Helper()
	rng := testutil.Rand(seed)
	l1, err := backbone.NewLinear("fc1", 6, 8, true, rng)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := backbone.NewLinear("fc2", 8, 3, true, rng)
	if err != nil {
		t.Fatal(err)
	}
	return backbone.NewSequential("net", l1, backbone.NewReLU("relu"), l2)
}

// mlpBN is mlp with a BatchNorm after the first layer, synchronized over
// comm when comm is not nil.
func mlpBN(t *testing.T, seed uint64, comm dist.Comm) *backbone.Sequential {
	t.Helper()
	net := mlp(t, seed)
	bn, err := backbone.NewBatchNorm("bn", 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	net.Layers = append([]backbone.Layer{net.Layers[0], bn}, net.Layers[1:]...)
	backbone.SyncBatchNorm(comm, net)
	return net
}

// sgdStep takes one SGD step (momentum, weight decay) on the mean of
// ½‖y − target‖² over the rows of x, after sync (nil for one process).
func sgdStep(net *backbone.Sequential, x, target []float32, rows int, sync func() error) error {
	ws := backbone.NewWorkspace()
	y := ssl.New(rows, 3)
	if err := net.Forward(ws, y, ssl.FromSlice(x, rows, 6), true); err != nil {
		return err
	}
	dy := ssl.New(rows, 3)
	yd, dd := y.Data().([]float32), dy.Data().([]float32)
	for i := range dd {
		dd[i] = (yd[i] - target[i]) / float32(rows)
	}
	backbone.ZeroGrad(net.Params())
	if err := net.Backward(ws, nil, dy); err != nil {
		return err
	}
	if sync != nil {
		if err := sync(); err != nil {
			return err
		}
	}
	opt, err := backbone.NewSGD(net.Params(), &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 1e-4})
	if err != nil {
		return err
	}
	return opt.Step(0.1)
}

// TestDataParallelStep checks that one data-parallel SGD step on 2 and 4
// ranks, each with its share of the batch and its own initial weights
// replaced by rank 0's, equals one step of one process on the whole batch.
func TestDataParallelStep(t *testing.T) {
	const batch = 16
	rng := testutil.Rand(3)
	x := testutil.Data(testutil.RandU(rng, -1, 1, batch, 6))
	target := testutil.Data(testutil.RandU(rng, -1, 1, batch, 3))
	want := mlp(t, 1)
	if err := sgdStep(want, x, target, batch, nil); err != nil {
		t.Fatal(err)
	}
	for _, ranks := range []int{2, 4} {
		t.Run(fmt.Sprint(ranks), func(t *testing.T) {
			cs := dist.Local(ranks)
			nets := make([]*backbone.Sequential, ranks)
			errs := make([]error, ranks)
			var wg sync.WaitGroup
			for r, c := range cs {
				nets[r] = mlp(t, uint64(1+r)) // only rank 0 starts from want's weights
				wg.Go(func() {
					errs[r] = func() error {
						dp, err := backbone.NewDataParallel(c, nets[r].Params())
						if err != nil {
							return err
						}
						if err := dp.Broadcast(0); err != nil {
							return err
						}
						per := batch / ranks
						return sgdStep(nets[r], x[r*per*6:(r+1)*per*6], target[r*per*3:(r+1)*per*3], per, dp.AverageGrads)
					}()
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			for r, net := range nets {
				for i, p := range net.Params() {
					q := want.Params()[i]
					for j, v := range p.Data() {
						if w := q.Data()[j]; math.Abs(float64(v-w)) > 1e-6 {
							t.Fatalf("rank %d: %s[%d] = %v after the step, want %v", r, p.Name, j, v, w)
						}
					}
				}
			}
		})
	}
}

// TestDataParallelSyncBatchNorm checks that with synchronized batch
// normalization one data-parallel SGD step of a network with a BatchNorm
// equals one step of one process on the whole batch, running statistics
// included: the property plain data parallelism loses with batch norm.
func TestDataParallelSyncBatchNorm(t *testing.T) {
	const batch = 16
	rng := testutil.Rand(4)
	x := testutil.Data(testutil.RandU(rng, -1, 1, batch, 6))
	target := testutil.Data(testutil.RandU(rng, -1, 1, batch, 3))
	want := mlpBN(t, 1, nil)
	if err := sgdStep(want, x, target, batch, nil); err != nil {
		t.Fatal(err)
	}
	for _, ranks := range []int{2, 4} {
		t.Run(fmt.Sprint(ranks), func(t *testing.T) {
			cs := dist.Local(ranks)
			nets := make([]*backbone.Sequential, ranks)
			errs := make([]error, ranks)
			var wg sync.WaitGroup
			for r, c := range cs {
				nets[r] = mlpBN(t, 1, c)
				wg.Go(func() {
					errs[r] = func() error {
						dp, err := backbone.NewDataParallel(c, nets[r].Params())
						if err != nil {
							return err
						}
						per := batch / ranks
						return sgdStep(nets[r], x[r*per*6:(r+1)*per*6], target[r*per*3:(r+1)*per*3], per, dp.AverageGrads)
					}()
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			for r, net := range nets {
				got, wantAll := append(net.Params(), net.Buffers()...), append(want.Params(), want.Buffers()...)
				for i, p := range got {
					q := wantAll[i]
					for j, v := range p.Data() {
						if w := q.Data()[j]; math.Abs(float64(v-w)) > 2e-6 {
							t.Fatalf("rank %d: %s[%d] = %v after the step, want %v", r, p.Name, j, v, w)
						}
					}
				}
			}
		})
	}
}

func TestDataParallelBuffers(t *testing.T) {
	cs := dist.Local(2)
	bns := make([]*backbone.BatchNorm, 2)
	var wg sync.WaitGroup
	for r, c := range cs {
		bn, err := backbone.NewBatchNorm("bn", 2, nil)
		if err != nil {
			t.Fatal(err)
		}
		bns[r] = bn
		copy(bn.RunningMean.Data(), []float32{float32(r), 2 * float32(r)})
		wg.Go(func() {
			dp, err := backbone.NewDataParallel(c, append(bn.Params(), bn.Buffers()...))
			if err == nil {
				err = dp.AverageBuffers()
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for r, bn := range bns {
		if m := bn.RunningMean.Data(); m[0] != 0.5 || m[1] != 1 {
			t.Errorf("rank %d: running mean %v, want [0.5 1]", r, m)
		}
	}
	if _, err := backbone.NewDataParallel(nil, nil); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("NewDataParallel(nil) err = %v", err)
	}
}
