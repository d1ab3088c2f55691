package backbone_test

import (
	"fmt"
	"testing"

	"ssl"
	"ssl/backbone"
	"ssl/internal/testutil"
)

// BenchmarkConvNet3Step times one training step of the fmnist-ssl-v1
// ConvNet3: forward and backward of two 28×28 views of every image (two
// workspaces, weights shared), then an SGD update (momentum 0.9, weight
// decay 5e-4). img/s counts images, not views, as bench/peer.py's
// convnet3_step does; cpu-ms/step is the process CPU time per step (all
// threads), a figure that a busy machine distorts less than wall time.
func BenchmarkConvNet3Step(b *testing.B) {
	for _, batch := range []int{256} {
		b.Run(fmt.Sprintf("b%d", batch), func(b *testing.B) {
			rng := testutil.Rand(1)
			net, err := backbone.NewConvNet3(rng, nil)
			if err != nil {
				b.Fatal(err)
			}
			opt, err := backbone.NewSGD(net.Params(), &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 5e-4})
			if err != nil {
				b.Fatal(err)
			}
			views := [2]ssl.Tensor{testutil.RandN(rng, 1, batch, 1, 28, 28), testutil.RandN(rng, 1, batch, 1, 28, 28)}
			ws := [2]*backbone.Workspace{backbone.NewWorkspace(), backbone.NewWorkspace()}
			out := [2]ssl.Tensor{ssl.New(batch, 128), ssl.New(batch, 128)}
			dy := testutil.RandN(rng, 1e-3, batch, 128)
			step := func() {
				backbone.ZeroGrad(net.Params())
				for v := range 2 {
					if err := net.Forward(ws[v], out[v], views[v], true); err != nil {
						b.Fatal(err)
					}
				}
				for v := range 2 {
					if err := net.Backward(ws[v], nil, dy); err != nil {
						b.Fatal(err)
					}
				}
				if err := opt.Step(0.01); err != nil {
					b.Fatal(err)
				}
			}
			step()
			b.ReportAllocs()
			c0, haveCPU := processCPU()
			for b.Loop() {
				step()
			}
			b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "img/s")
			if c1, ok := processCPU(); ok && haveCPU {
				b.ReportMetric(float64((c1-c0).Milliseconds())/float64(b.N), "cpu-ms/step")
			}
		})
	}
}

// BenchmarkResNet18Forward times the training-mode forward pass of the
// CIFAR ResNet-18 (width 64, 512-d output) on 3×32×32 images; img/s counts
// images, cpu-ms/op the process CPU time per forward pass.
func BenchmarkResNet18Forward(b *testing.B) {
	for _, batch := range []int{64} {
		b.Run(fmt.Sprintf("b%d", batch), func(b *testing.B) {
			rng := testutil.Rand(2)
			net, err := backbone.NewResNet18(rng, nil)
			if err != nil {
				b.Fatal(err)
			}
			x := testutil.RandN(rng, 1, batch, 3, 32, 32)
			out := ssl.New(batch, 512)
			ws := backbone.NewWorkspace()
			if err := net.Forward(ws, out, x, true); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			c0, haveCPU := processCPU()
			for b.Loop() {
				if err := net.Forward(ws, out, x, true); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(batch)*float64(b.N)/b.Elapsed().Seconds(), "img/s")
			if c1, ok := processCPU(); ok && haveCPU {
				b.ReportMetric(float64((c1-c0).Milliseconds())/float64(b.N), "cpu-ms/op")
			}
		})
	}
}
