package backbone_test

import (
	"errors"
	"runtime"
	"testing"

	"ssl"
	"ssl/backbone"
	"ssl/internal/testutil"
)

func TestConvNet3Grad(t *testing.T) {
	widths := [3]int{2, 3, 4}
	net, err := backbone.NewConvNet3(testutil.Rand(31), &backbone.ConvNet3Options{Widths: widths})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(net.Params()); got != 9 {
		t.Fatalf("ConvNet3 has %d parameters, want 9 (conv, bn weight, bn bias per block)", got)
	}
	checkLayer(t, gradCase{name: "ConvNet3", layer: net, x: testutil.RandN(testutil.Rand(37), 1, 2, 1, 8, 8), train: true,
		naive: func(x []float64, ps, _ [][]float64) []float64 { return convnet3Naive(x, ps, widths, 2, 8, 8) }})
}

func TestConvNet3EvalGrad(t *testing.T) {
	widths := [3]int{2, 3, 4}
	net, err := backbone.NewConvNet3(testutil.Rand(73), &backbone.ConvNet3Options{Widths: widths})
	if err != nil {
		t.Fatal(err)
	}
	// Running statistics, γ and β away from their initial values, so the
	// fused ReLU cuts part of every channel in evaluation mode.
	r := testutil.Rand(79)
	for _, bn := range net.BN {
		for c := range bn.C {
			bn.RunningMean.Data()[c] = float32(0.2 * r.NormFloat64())
			bn.RunningVar.Data()[c] = float32(0.5 + r.Float64())
			bn.Weight.Data()[c] = float32(0.5 + r.Float64())
			bn.Bias.Data()[c] = float32(0.3 * r.NormFloat64())
		}
	}
	checkLayer(t, gradCase{name: "ConvNet3 eval", layer: net, x: testutil.RandN(testutil.Rand(83), 1, 2, 1, 8, 8), train: false,
		naive: func(x []float64, ps, bufs [][]float64) []float64 {
			return convnet3NaiveMode(x, ps, bufs, widths, 2, 8, 8, false)
		}})
}

func TestConvNet3Shapes(t *testing.T) {
	net, err := backbone.NewConvNet3(testutil.Rand(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, p := range net.Params() {
		n += len(p.Data())
	}
	// 9·32 + 2·32 + 9·32·64 + 2·64 + 9·64·128 + 2·128 (the protocol's ~92k).
	if want := 288 + 64 + 18432 + 128 + 73728 + 256; n != want {
		t.Errorf("ConvNet3 has %d parameter values, want %d", n, want)
	}
	for _, in := range [][]int{{3, 1, 28, 28}, {2, 1, 16, 16}} {
		out, err := net.OutShape(in)
		if err != nil || len(out) != 2 || out[0] != in[0] || out[1] != 128 {
			t.Errorf("ConvNet3.OutShape(%v) = %v, %v; want [%d 128]", in, out, err, in[0])
		}
	}
}

func TestBasicBlockGrad(t *testing.T) {
	for _, tc := range []struct {
		name         string
		in, out, str int
	}{
		{"identity_c3", 3, 3, 1},
		{"downsample_c2to3_s2", 2, 3, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			blk, err := backbone.NewBasicBlock("layer", tc.in, tc.out, tc.str, nil, testutil.Rand(41))
			if err != nil {
				t.Fatal(err)
			}
			checkLayer(t, gradCase{name: "BasicBlock " + tc.name, layer: blk, x: testutil.RandN(testutil.Rand(43), 1, 2, tc.in, 6, 6), train: true,
				naive: func(x []float64, ps, _ [][]float64) []float64 {
					o, _, _ := blockNaive(x, ps, 2, tc.in, 6, 6, tc.out, tc.str)
					return o
				}})
		})
	}
}

func TestResNet18Grad(t *testing.T) {
	if testing.Short() {
		t.Skip("finite differences over every ResNet-18 parameter")
	}
	const w = 1
	net, err := backbone.NewResNet18(testutil.Rand(47), &backbone.ResNet18Options{Width: w, InChannels: 2})
	if err != nil {
		t.Fatal(err)
	}
	// Twenty float32 layers with batch normalization over few values (1×1
	// maps of 4 images in the last stage) lose about three digits: rtol 2e-3.
	checkLayer(t, gradCase{name: "ResNet18", layer: net, x: testutil.RandN(testutil.Rand(53), 1, 4, 2, 8, 8), train: true, rtol: 2e-3,
		naive: func(x []float64, ps, _ [][]float64) []float64 {
			ones := []float64{1}
			c, _, _ := convNaive(x, ps[0], nil, 4, 2, 8, 8, w, 3, 1, 1)
			cur := reluNaive(bnNaive(c, ps[1], ps[2], ones, ones, 4, w, 64, 1e-5, true))
			h, in, k := 8, w, 3
			for s := range 4 {
				o := w << s
				for i := range 2 {
					stride, np := 1, 6
					if s > 0 && i == 0 {
						stride, np = 2, 9
					}
					cur, h, _ = blockNaive(cur, ps[k:k+np], 4, in, h, h, o, stride)
					k += np
					in = o
				}
			}
			return gapNaive(cur, 4*in, h*h)
		}})
}

func TestResNet18Names(t *testing.T) {
	net, err := backbone.NewResNet18(testutil.Rand(1), &backbone.ResNet18Options{Width: 4})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]int{
		"conv1.weight":                 {4, 3, 3, 3},
		"layer1.0.conv1.weight":        {4, 4, 3, 3},
		"layer2.0.downsample.0.weight": {8, 4, 1, 1},
		"layer2.0.downsample.1.weight": {8},
		"layer4.1.bn2.running_var":     {32},
	}
	all := append(net.Params(), net.Buffers()...)
	if len(net.Params()) != 60 || len(net.Buffers()) != 40 {
		t.Errorf("ResNet18 has %d parameters and %d buffers, want torchvision's 60 (without fc) and 40", len(net.Params()), len(net.Buffers()))
	}
	for _, p := range all {
		if s, ok := want[p.Name]; ok {
			if !equalInts(p.Shape(), s) {
				t.Errorf("%s has shape %v, want %v", p.Name, p.Shape(), s)
			}
			delete(want, p.Name)
		}
	}
	for n := range want {
		t.Errorf("ResNet18 has no tensor %s", n)
	}
	out, err := net.OutShape([]int{5, 3, 32, 32})
	if err != nil || !equalInts(out, []int{5, 32}) {
		t.Errorf("OutShape = %v, %v; want [5 32]", out, err)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// runConvNet3 runs a forward and backward pass and returns the output, the
// input gradient and the parameter gradients.
func runConvNet3(t *testing.T, batch int) ([]float32, []float32, [][]float32) {
	net, err := backbone.NewConvNet3(testutil.Rand(59), &backbone.ConvNet3Options{Widths: [3]int{8, 16, 32}})
	if err != nil {
		t.Fatal(err)
	}
	x := testutil.RandN(testutil.Rand(61), 1, batch, 1, 28, 28)
	y := testutil.NaNs(batch, 32)
	ws := backbone.NewWorkspace()
	if err := net.Forward(ws, y, x, true); err != nil {
		t.Fatal(err)
	}
	dx := testutil.NaNs(batch, 1, 28, 28)
	if err := net.Backward(ws, dx, testutil.RandN(testutil.Rand(67), 1, batch, 32)); err != nil {
		t.Fatal(err)
	}
	var gs [][]float32
	for _, p := range net.Params() {
		gs = append(gs, p.GradData())
	}
	return testutil.Data(y), testutil.Data(dx), gs
}

func TestDeterministicAcrossGOMAXPROCS(t *testing.T) {
	prev := runtime.GOMAXPROCS(1)
	y1, dx1, g1 := runConvNet3(t, 37)
	runtime.GOMAXPROCS(4)
	y4, dx4, g4 := runConvNet3(t, 37)
	runtime.GOMAXPROCS(prev)
	same := func(name string, a, b []float32) {
		for i := range a {
			if a[i] != b[i] {
				t.Errorf("%s[%d] = %v with GOMAXPROCS 1, %v with 4", name, i, a[i], b[i])
				return
			}
		}
	}
	same("out", y1, y4)
	same("dx", dx1, dx4)
	for i := range g1 {
		same("grad", g1[i], g4[i])
	}
}

func TestLayerErrors(t *testing.T) {
	r := testutil.Rand(71)
	net, err := backbone.NewConvNet3(r, &backbone.ConvNet3Options{Widths: [3]int{2, 2, 2}})
	if err != nil {
		t.Fatal(err)
	}
	conv := mustConv(t, 3, 2, 3, 1, 1, true)
	nanX := testutil.RandN(r, 1, 2, 1, 8, 8)
	testutil.Data(nanX)[5] = float32(posInf())
	for _, tc := range []struct {
		name     string
		layer    backbone.Layer
		dst, x   ssl.Tensor
		ws       *backbone.Workspace
		sentinel error
	}{
		{"conv_wrong_channels", conv, ssl.New(2, 2, 5, 5), testutil.RandN(r, 1, 2, 4, 5, 5), backbone.NewWorkspace(), ssl.ErrShape},
		{"conv_rank3", conv, ssl.New(2, 2, 5, 5), testutil.RandN(r, 1, 2, 3, 25), backbone.NewWorkspace(), ssl.ErrShape},
		{"conv_batch0", conv, ssl.New(0, 2, 5, 5), ssl.New(0, 3, 5, 5), backbone.NewWorkspace(), ssl.ErrShape},
		{"conv_dst_shape", conv, ssl.New(2, 2, 4, 5), testutil.RandN(r, 1, 2, 3, 5, 5), backbone.NewWorkspace(), ssl.ErrShape},
		{"conv_nil_ws", conv, ssl.New(2, 2, 5, 5), testutil.RandN(r, 1, 2, 3, 5, 5), nil, ssl.ErrParam},
		{"convnet3_inf_input", net, ssl.New(2, 2), nanX, backbone.NewWorkspace(), ssl.ErrNotFinite},
		{"convnet3_too_small", net, ssl.New(2, 2), testutil.RandN(r, 1, 2, 1, 3, 3), backbone.NewWorkspace(), ssl.ErrShape},
		{"bn1d_train_one_value", mustBN(t, 3), ssl.New(1, 3), testutil.RandN(r, 1, 1, 3), backbone.NewWorkspace(), ssl.ErrShape},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shape := []int(tc.dst.Shape())
			if numelOf(shape) > 0 {
				for i := range testutil.Data(tc.dst) {
					testutil.Data(tc.dst)[i] = 42
				}
			}
			var xc, dc ssl.Tensor
			if numelOf(shape) > 0 {
				xc, dc = testutil.Clone(tc.x), testutil.Clone(tc.dst)
			}
			err := tc.layer.Forward(tc.ws, tc.dst, tc.x, true)
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("Forward: err = %v, want %v", err, tc.sentinel)
			}
			if numelOf(shape) == 0 {
				return
			}
			testutil.Unchanged(t, "x", tc.x, xc)
			if tc.sentinel != ssl.ErrNotFinite && tc.name != "bn1d_train_one_value" {
				testutil.Unchanged(t, "dst", tc.dst, dc)
			}
		})
	}
	// Backward errors: no forward pass, wrong dy shape, non-finite dy.
	ws := backbone.NewWorkspace()
	if err := conv.Backward(ws, nil, ssl.New(2, 2, 5, 5)); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("Backward without Forward: err = %v, want ErrParam", err)
	}
	x := testutil.RandN(r, 1, 2, 3, 5, 5)
	if err := conv.Forward(ws, ssl.New(2, 2, 5, 5), x, true); err != nil {
		t.Fatal(err)
	}
	if err := conv.Backward(ws, nil, ssl.New(2, 2, 5, 4)); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("Backward with a wrong dy: err = %v, want ErrShape", err)
	}
	if err := conv.Backward(ws, ssl.New(2, 3, 5, 6), ssl.New(2, 2, 5, 5)); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("Backward with a wrong dx: err = %v, want ErrShape", err)
	}
	dy := testutil.RandN(r, 1, 2, 2, 5, 5)
	testutil.Data(dy)[3] = float32(nan())
	backbone.ZeroGrad(conv.Params())
	err = conv.Backward(ws, nil, dy)
	if !errors.Is(err, ssl.ErrNotFinite) {
		t.Errorf("Backward with NaN dy: err = %v, want ErrNotFinite", err)
	}
	for _, p := range conv.Params() {
		for _, g := range p.GradData() {
			if g != 0 {
				t.Fatalf("Backward with NaN dy changed %s", p.Name)
			}
		}
	}
	if err := net.Backward(ws, nil, ssl.New(2, 2)); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("Backward with another layer's workspace: err = %v, want ErrParam", err)
	}
	// A non-finite parameter is caught in the output.
	net.BN[2].Weight.Data()[0] = float32(nan())
	if err := net.Forward(backbone.NewWorkspace(), ssl.New(2, 2), testutil.RandN(r, 1, 2, 1, 8, 8), true); !errors.Is(err, ssl.ErrNotFinite) {
		t.Errorf("Forward with a NaN parameter: err = %v, want ErrNotFinite", err)
	}
	// Constructors.
	if _, err := backbone.NewConv2D("c", 0, 1, 3, 1, 1, false, r); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("NewConv2D(in=0): err = %v, want ErrParam", err)
	}
	if _, err := backbone.NewBatchNorm("b", 3, &backbone.BatchNormOptions{Momentum: 2}); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("NewBatchNorm(momentum=2): err = %v, want ErrParam", err)
	}
	if _, err := backbone.NewConvNet3(r, &backbone.ConvNet3Options{Widths: [3]int{4, 0, 4}}); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("NewConvNet3(width 0): err = %v, want ErrParam", err)
	}
	if _, err := backbone.NewMaxPool2D("p", 0, 1); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("NewMaxPool2D(k=0): err = %v, want ErrParam", err)
	}
	if _, err := backbone.NewLinear("l", 3, 2, true, nil); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("NewLinear(nil rng): err = %v, want ErrParam", err)
	}
}

func numelOf(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}
