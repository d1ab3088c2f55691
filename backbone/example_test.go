package backbone_test

import (
	"bytes"
	"fmt"
	"math/rand/v2"

	"ssl"
	"ssl/backbone"
)

// One training step of the fmnist-ssl-v1 ConvNet3 on two views of a batch:
// both views go forward (one workspace each), their gradients come back
// and accumulate in the shared weights, and SGD updates them.
func ExampleConvNet3() {
	rng := rand.New(rand.NewPCG(1, 2))
	net, err := backbone.NewConvNet3(rng, nil) // widths 32/64/128, no conv bias
	if err != nil {
		panic(err)
	}
	opt, err := backbone.NewSGD(net.Params(), &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 5e-4})
	if err != nil {
		panic(err)
	}
	const batch = 4
	views := [2]ssl.Tensor{ssl.New(batch, 1, 28, 28), ssl.New(batch, 1, 28, 28)}
	for _, v := range views {
		for i := range v.Data().([]float32) {
			v.Data().([]float32)[i] = float32(rng.NormFloat64())
		}
	}
	ws := [2]*backbone.Workspace{backbone.NewWorkspace(), backbone.NewWorkspace()}
	feats := [2]ssl.Tensor{ssl.New(batch, 128), ssl.New(batch, 128)}
	backbone.ZeroGrad(net.Params())
	for v := range 2 {
		if err := net.Forward(ws[v], feats[v], views[v], true); err != nil {
			panic(err)
		}
	}
	// The loss's gradient with respect to the features would go here;
	// L = Σ features / (2·batch) has ∂L/∂features = 1/(2·batch).
	dfeat := ssl.New(batch, 128)
	for i := range dfeat.Data().([]float32) {
		dfeat.Data().([]float32)[i] = 1.0 / (2 * batch)
	}
	for v := range 2 {
		if err := net.Backward(ws[v], nil, dfeat); err != nil {
			panic(err)
		}
	}
	if err := opt.Step(0.3); err != nil {
		panic(err)
	}
	fmt.Println("features:", feats[0].Shape(), "parameters:", len(net.Params()), "buffers:", len(net.Buffers()))
	fmt.Println("first parameter:", net.Params()[0].Name, net.Params()[0].Shape())
	// Output:
	// features: (4, 128) parameters: 9 buffers: 6
	// first parameter: conv1.weight [32 1 3 3]
}

// A SwAV head: projection MLP, L2 normalization and prototypes, chained;
// after the optimizer step the prototypes are re-normalized.
func ExamplePrototypes() {
	rng := rand.New(rand.NewPCG(3, 4))
	proj, _ := backbone.NewMLP("projection", 128, 256, 64, rng)
	protos, _ := backbone.NewPrototypes("prototypes", 64, 30, rng)
	head := backbone.NewSequential("head", proj, backbone.NewL2Normalize("normalize"), protos)
	x := ssl.New(8, 128)
	for i := range x.Data().([]float32) {
		x.Data().([]float32)[i] = float32(rng.NormFloat64())
	}
	scores := ssl.New(8, 30)
	ws := backbone.NewWorkspace()
	if err := head.Forward(ws, scores, x, true); err != nil {
		panic(err)
	}
	maxScore := float32(-2)
	for _, s := range scores.Data().([]float32) {
		maxScore = max(maxScore, s)
	}
	protos.Freeze(true) // SwAV freezes the prototypes during the first epoch
	protos.Normalize()  // and re-normalizes them after every step
	fmt.Printf("scores %v, cosine similarities: %v\n", scores.Shape(), maxScore <= 1)
	// Output:
	// scores (8, 30), cosine similarities: true
}

// Weights go to disk in the safetensors format and come back by name.
func ExampleSaveSafetensors() {
	rng := rand.New(rand.NewPCG(5, 6))
	net, _ := backbone.NewConvNet3(rng, nil)
	var file bytes.Buffer
	if err := backbone.SaveSafetensors(&file, append(net.Params(), net.Buffers()...), map[string]string{"format": "pt"}); err != nil {
		panic(err)
	}
	copyNet, _ := backbone.NewConvNet3(rand.New(rand.NewPCG(7, 8)), nil)
	meta, err := backbone.LoadSafetensors(&file, append(copyNet.Params(), copyNet.Buffers()...))
	if err != nil {
		panic(err)
	}
	w0, w1 := net.Params()[0].Data(), copyNet.Params()[0].Data()
	fmt.Println(meta["format"], w0[0] == w1[0] && w0[17] == w1[17])
	// Output:
	// pt true
}

// The learning rate of the fmnist-ssl-v1 reference settings: 50 linear
// warm-up steps to 0.3, then a per-step cosine decay to 0; and BYOL's EMA
// momentum from 0.99 to 1.
func ExampleWarmupCosine() {
	lr, _ := backbone.WarmupCosine(0, 0.3, 0, 50, 1000)
	tau0, _ := backbone.EMATau(0.99, 0, 1000)
	tau1, _ := backbone.EMATau(0.99, 500, 1000)
	fmt.Printf("lr[0]=%.4f lr[49]=%.4f lr[525]=%.4f lr[999]=%.6f\n", lr[0], lr[49], lr[525], lr[999])
	fmt.Printf("tau(0)=%.4f tau(500)=%.4f\n", tau0, tau1)
	// Output:
	// lr[0]=0.0000 lr[49]=0.3000 lr[525]=0.1500 lr[999]=0.000001
	// tau(0)=0.9900 tau(500)=0.9950
}

// scaleLayer is a layer written outside the package: out = x·s with a
// learnable scalar s, ∂L/∂s = Σ dy·x, ∂L/∂x = dy·s.
type scaleLayer struct{ S *backbone.Param }

func (l *scaleLayer) Params() []*backbone.Param        { return []*backbone.Param{l.S} }
func (l *scaleLayer) Buffers() []*backbone.Param       { return nil }
func (l *scaleLayer) OutShape(in []int) ([]int, error) { return append([]int(nil), in...), nil }

func (l *scaleLayer) Forward(ws *backbone.Workspace, dst, x ssl.Tensor, train bool) error {
	shape, xv, err := ssl.View(x)
	if err != nil {
		return err
	}
	dv, err := ssl.ViewOf(dst, shape...)
	if err != nil {
		return err
	}
	for i, v := range xv {
		dv[i] = v * l.S.Data()[0]
	}
	ws.Save(l, x) // Backward needs x
	return nil
}

func (l *scaleLayer) Backward(ws *backbone.Workspace, dx, dy ssl.Tensor) error {
	saved, err := ws.Saved(l)
	if err != nil {
		return err
	}
	shape, xv, err := ssl.View(saved[0])
	if err != nil {
		return err
	}
	dyv, err := ssl.ViewOf(dy, shape...)
	if err != nil {
		return err
	}
	for i, g := range dyv {
		l.S.GradData()[0] += g * xv[i] // parameter gradients accumulate
	}
	if dx == nil {
		return nil
	}
	dxv, err := ssl.ViewOf(dx, shape...)
	if err != nil {
		return err
	}
	for i, g := range dyv {
		dxv[i] = g * l.S.Data()[0] // dx is overwritten
	}
	return nil
}

// A layer of the program's own runs inside a Sequential next to built-in
// layers, and its parameter trains with them.
func ExampleLayer() {
	s := &scaleLayer{S: &backbone.Param{Name: "scale", Value: ssl.FromSlice([]float32{2}, 1), Grad: ssl.New(1)}}
	net := backbone.NewSequential("net", backbone.NewReLU("relu"), s)
	x := ssl.FromSlice([]float32{-1, 1, 2, 3}, 2, 2)
	y := ssl.New(2, 2)
	ws := backbone.NewWorkspace()
	if err := net.Forward(ws, y, x, true); err != nil {
		panic(err)
	}
	dy := ssl.FromSlice([]float32{1, 1, 1, 1}, 2, 2)
	if err := net.Backward(ws, nil, dy); err != nil {
		panic(err)
	}
	fmt.Println("out:", y.Data(), "∂L/∂scale:", s.S.GradData())
	// Output:
	// out: [0 2 4 6] ∂L/∂scale: [6]
}

// A checkpoint holds the state of a run beyond the parameters: a memory
// bank, pseudo-labels and neighbor lists, with metadata.
func ExampleCheckpoint() {
	bank := ssl.FromSlice([]float32{0.5, -1, 2, 0.25}, 2, 2)
	labels := []int{3, 1}
	neighbors := []int{1, 0} // N×k = 2×1
	c := backbone.NewCheckpoint()
	c.Metadata = map[string]string{"epoch": "7"}
	if err := c.SetFloat32("state.bank", bank); err != nil {
		panic(err)
	}
	if err := c.SetInts("state.labels", labels); err != nil {
		panic(err)
	}
	if err := c.SetInts("state.neighbors", neighbors, 2, 1); err != nil {
		panic(err)
	}
	var file bytes.Buffer
	if _, err := c.WriteTo(&file); err != nil {
		panic(err)
	}

	r, err := backbone.ReadCheckpoint(&file)
	if err != nil {
		panic(err)
	}
	restored := ssl.New(2, 2)
	if err := r.Float32(restored, "state.bank"); err != nil {
		panic(err)
	}
	gotLabels, err := r.Ints("state.labels", 2)
	if err != nil {
		panic(err)
	}
	dtype, shape, _ := r.Info("state.neighbors")
	_, err = r.Ints("state.neighbors", 2, 2)
	fmt.Println(r.Names(), r.Metadata["epoch"])
	fmt.Println(restored.Data(), gotLabels, dtype, shape)
	fmt.Println(err)
	// Output:
	// [state.bank state.labels state.neighbors] 7
	// [0.5 -1 2 0.25] [3 1] I64 [2 1]
	// backbone: Checkpoint.Ints: tensor "state.neighbors" has shape [2 1] in the checkpoint, want [2 2]: ssl: bad shape
}
