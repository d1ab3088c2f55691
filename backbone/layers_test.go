package backbone_test

import (
	"fmt"
	"math"
	"testing"

	"gorgonia.org/tensor"

	"ssl"
	"ssl/backbone"
	"ssl/internal/testutil"
)

// naiveFn is a float64 forward pass: input, parameter values (in the order
// of Params) and buffer values (in the order of Buffers, as they were
// before the forward pass).
type naiveFn func(x []float64, ps, bufs [][]float64) []float64

type gradCase struct {
	name  string
	layer backbone.Layer
	x     *tensor.Dense
	train bool
	naive naiveFn
	// rtol overrides gcRTol where the case documents why.
	rtol float64
}

func f64s(ps []*backbone.Param) [][]float64 {
	out := make([][]float64, len(ps))
	for i, p := range ps {
		out[i] = testutil.F64s(p.Data())
	}
	return out
}

// Tolerances of the gradient checks: float32 results against float64
// central differences, STYLE 7.3's rtol 1e-4 with an absolute floor of
// 1e-5 of the largest element (FORMAT.md's float32 rule), which covers the
// cancellation in batch-normalization gradients.
const (
	gcRTol = 1e-4
	gcATol = 1e-5
	gcStep = 1e-6 // central-difference step, inputs are O(1)
)

// checkLayer runs tc's forward pass and compares it with the oracle, then
// runs the backward pass of a random upstream gradient and compares ∂L/∂x
// and every parameter gradient with central differences of the oracle's
// L = Σ out·up. Destinations are NaN-poisoned and inputs checked unchanged.
func checkLayer(t *testing.T, tc gradCase) {
	t.Helper()
	rng := testutil.Rand(7)
	shape := []int(tc.x.Shape())
	outShape, err := tc.layer.OutShape(shape)
	if err != nil {
		t.Fatalf("%s: OutShape(%v): %v", tc.name, shape, err)
	}
	ps := tc.layer.Params()
	pv, bufs := f64s(ps), f64s(tc.layer.Buffers())
	x64 := testutil.F64(tc.x)
	xc := testutil.Clone(tc.x)
	y := testutil.NaNs(outShape...)
	ws := backbone.NewWorkspace()
	if err := tc.layer.Forward(ws, y, tc.x, tc.train); err != nil {
		t.Fatalf("%s: Forward: %v", tc.name, err)
	}
	testutil.Unchanged(t, tc.name+": x", tc.x, xc)
	want := tc.naive(x64, pv, bufs)
	testutil.AllClose32(t, tc.name+": out", testutil.Data(y), want, gcATol*testutil.MaxAbs(want), gcRTol)

	up := testutil.RandN(rng, 1, outShape...)
	up64 := testutil.F64(up)
	upc := testutil.Clone(up)
	backbone.ZeroGrad(ps)
	dx := testutil.NaNs(shape...)
	if err := tc.layer.Backward(ws, dx, up); err != nil {
		t.Fatalf("%s: Backward: %v", tc.name, err)
	}
	testutil.Unchanged(t, tc.name+": dy", up, upc)
	testutil.Unchanged(t, tc.name+": x", tc.x, xc)
	loss := func(xx []float64, pp [][]float64) float64 { return dot64(tc.naive(xx, pp, bufs), up64) }
	num := testutil.NumGrad(func(xx []float64) float64 { return loss(xx, pv) }, append([]float64(nil), x64...), gcStep)
	nums := make([][]float64, len(ps))
	scale := testutil.MaxAbs(num)
	for i := range ps {
		pp := append([][]float64(nil), pv...)
		nums[i] = testutil.NumGrad(func(v []float64) float64 { pp[i] = v; return loss(x64, pp) }, append([]float64(nil), pv[i]...), gcStep)
		scale = max(scale, testutil.MaxAbs(nums[i]))
	}
	// The absolute floor is relative to the largest gradient of the layer:
	// a gradient that is 0 in exact arithmetic (a bias before batch
	// normalization) is rounding noise of that size.
	rtol := gcRTol
	if tc.rtol != 0 {
		rtol = tc.rtol
	}
	testutil.AllClose32(t, tc.name+": dx", testutil.Data(dx), num, gcATol*scale, rtol)
	grads := make([][]float32, len(ps))
	for i, p := range ps {
		grads[i] = append([]float32(nil), p.GradData()...)
		testutil.AllClose32(t, tc.name+": grad "+p.Name, p.GradData(), nums[i], gcATol*scale, rtol)
	}

	// A second backward pass adds the same parameter gradients again (up
	// to the float32 rounding of the partial sums, 1e-5 of the layer's
	// gradient scale) and overwrites dx.
	dx2 := testutil.NaNs(shape...)
	if err := tc.layer.Backward(ws, dx2, up); err != nil {
		t.Fatalf("%s: second Backward: %v", tc.name, err)
	}
	testutil.Unchanged(t, tc.name+": dx of the second pass", dx2, dx)
	for i, p := range ps {
		for j, g := range p.GradData() {
			if w := 2 * grads[i][j]; math.Abs(float64(g-w)) > 1e-5*(math.Abs(float64(w))+scale) {
				t.Errorf("%s: %s grad[%d] after two passes = %v, want 2×%v", tc.name, p.Name, j, g, grads[i][j])
				break
			}
		}
	}
	// A nil dx skips the input gradient only.
	backbone.ZeroGrad(ps)
	if err := tc.layer.Backward(ws, nil, up); err != nil {
		t.Fatalf("%s: Backward(nil dx): %v", tc.name, err)
	}
	for i, p := range ps {
		for j, g := range p.GradData() {
			if g != grads[i][j] {
				t.Errorf("%s: %s grad[%d] with nil dx = %v, want %v", tc.name, p.Name, j, g, grads[i][j])
				break
			}
		}
	}
}

func mustConv(t *testing.T, in, out, k, s, p int, bias bool) *backbone.Conv2D {
	c, err := backbone.NewConv2D("conv", in, out, k, s, p, bias, testutil.Rand(3))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustBN(t *testing.T, c int) *backbone.BatchNorm {
	bn, err := backbone.NewBatchNorm("bn", c, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Non-trivial γ, β and running statistics.
	r := testutil.Rand(5)
	for i := range c {
		bn.Weight.Data()[i] = float32(0.5 + r.Float64())
		bn.Bias.Data()[i] = float32(r.NormFloat64())
		bn.RunningMean.Data()[i] = float32(0.3 * r.NormFloat64())
		bn.RunningVar.Data()[i] = float32(0.5 + r.Float64())
	}
	return bn
}

func TestConv2DGrad(t *testing.T) {
	for _, tc := range []struct {
		n, c, h, w, o, k, s, p int
		bias                   bool
	}{
		{2, 3, 7, 7, 4, 3, 1, 1, true},
		{2, 3, 7, 6, 4, 3, 2, 0, false}, // H ≠ W, last row unused
		{3, 2, 8, 8, 3, 3, 2, 1, true},
		{2, 3, 5, 5, 4, 1, 1, 0, true},   // 1×1: patches are the image
		{20, 2, 5, 5, 3, 3, 1, 1, false}, // many images per block and chunk
		{2, 1, 24, 24, 2, 3, 1, 1, true}, // one image per block
		{2, 2, 24, 24, 2, 1, 1, 0, false},
	} {
		name := fmt.Sprintf("n%d_c%d_h%dw%d_o%d_k%d_s%d_p%d_bias%v", tc.n, tc.c, tc.h, tc.w, tc.o, tc.k, tc.s, tc.p, tc.bias)
		t.Run(name, func(t *testing.T) {
			conv := mustConv(t, tc.c, tc.o, tc.k, tc.s, tc.p, tc.bias)
			checkLayer(t, gradCase{name: "Conv2D " + name, layer: conv, train: true,
				x: testutil.RandN(testutil.Rand(11), 1, tc.n, tc.c, tc.h, tc.w),
				naive: func(x []float64, ps, _ [][]float64) []float64 {
					var b []float64
					if tc.bias {
						b = ps[1]
					}
					out, _, _ := convNaive(x, ps[0], b, tc.n, tc.c, tc.h, tc.w, tc.o, tc.k, tc.s, tc.p)
					return out
				}})
		})
	}
}

func TestBatchNormGrad(t *testing.T) {
	for _, tc := range []struct {
		name   string
		shape  []int
		train  bool
		offset float64
	}{
		{"2d_train_n4_c3_h5w5", []int{4, 3, 5, 5}, true, 0},
		{"2d_train_n1_c2_h3w3", []int{1, 2, 3, 3}, true, 0},
		{"2d_eval_n2_c3_h4w4", []int{2, 3, 4, 4}, false, 0},
		{"1d_train_n8_c4", []int{8, 4}, true, 0},
		{"1d_train_n6_c3_offset100", []int{6, 3}, true, 100},
		{"1d_eval_n5_c3", []int{5, 3}, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bn := mustBN(t, tc.shape[1])
			x := testutil.RandN(testutil.Rand(13), 1, tc.shape...)
			for i := range testutil.Data(x) {
				testutil.Data(x)[i] += float32(tc.offset)
			}
			n, c := tc.shape[0], tc.shape[1]
			hw := len(testutil.Data(x)) / (n * c)
			checkLayer(t, gradCase{name: "BatchNorm " + tc.name, layer: bn, x: x, train: tc.train,
				naive: func(x []float64, ps, bufs [][]float64) []float64 {
					return bnNaive(x, ps[0], ps[1], bufs[0], bufs[1], n, c, hw, 1e-5, tc.train)
				}})
		})
	}
}

func TestBatchNormRunningStats(t *testing.T) {
	bn := mustBN(t, 2)
	rm0, rv0 := testutil.F64s(bn.RunningMean.Data()), testutil.F64s(bn.RunningVar.Data())
	x := testutil.RandN(testutil.Rand(17), 2, 3, 2, 2, 2)
	if err := bn.Forward(backbone.NewWorkspace(), testutil.NaNs(3, 2, 2, 2), x, true); err != nil {
		t.Fatal(err)
	}
	xv := testutil.F64(x)
	for c := range 2 {
		var vals []float64
		for i := range 3 {
			vals = append(vals, xv[(i*2+c)*4:(i*2+c+1)*4]...)
		}
		mu := 0.0
		for _, v := range vals {
			mu += v
		}
		mu /= float64(len(vals))
		ss := 0.0
		for _, v := range vals {
			ss += (v - mu) * (v - mu)
		}
		wantM := 0.9*rm0[c] + 0.1*mu
		wantV := 0.9*rv0[c] + 0.1*ss/float64(len(vals)-1) // unbiased, as PyTorch
		if !testutil.Close(float64(bn.RunningMean.Data()[c]), wantM, 1e-6, 1e-5) || !testutil.Close(float64(bn.RunningVar.Data()[c]), wantV, 1e-6, 1e-5) {
			t.Errorf("channel %d: running (mean, var) = (%v, %v), want (%v, %v)", c, bn.RunningMean.Data()[c], bn.RunningVar.Data()[c], wantM, wantV)
		}
	}
}

func TestSimpleLayersGrad(t *testing.T) {
	r := testutil.Rand(19)
	lin, err := backbone.NewLinear("fc", 6, 4, true, r)
	if err != nil {
		t.Fatal(err)
	}
	linNB, err := backbone.NewLinear("fc", 5, 3, false, r)
	if err != nil {
		t.Fatal(err)
	}
	pool, err := backbone.NewMaxPool2D("pool", 2, 2)
	if err != nil {
		t.Fatal(err)
	}
	pool3, err := backbone.NewMaxPool2D("pool", 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Inputs away from ReLU's kink and without ties in pooling windows.
	relX := testutil.RandN(r, 1, 3, 2, 3, 3)
	for i, v := range testutil.Data(relX) {
		if math.Abs(float64(v)) < 0.05 {
			testutil.Data(relX)[i] = 0.3
		}
	}
	for _, tc := range []gradCase{
		{name: "ReLU", layer: backbone.NewReLU("relu"), x: relX,
			naive: func(x []float64, _, _ [][]float64) []float64 { return reluNaive(x) }},
		{name: "MaxPool2D_k2s2_h7w6", layer: pool, x: testutil.RandN(r, 1, 2, 3, 7, 6),
			naive: func(x []float64, _, _ [][]float64) []float64 { o, _, _ := poolNaive(x, 6, 7, 6, 2, 2); return o }},
		{name: "MaxPool2D_k3s2_h7w7", layer: pool3, x: testutil.RandN(r, 1, 1, 2, 7, 7),
			naive: func(x []float64, _, _ [][]float64) []float64 { o, _, _ := poolNaive(x, 2, 7, 7, 3, 2); return o }},
		{name: "GlobalAvgPool", layer: backbone.NewGlobalAvgPool("gap"), x: testutil.RandN(r, 1, 2, 3, 4, 5),
			naive: func(x []float64, _, _ [][]float64) []float64 { return gapNaive(x, 6, 20) }},
		{name: "GlobalAvgPool_1x1", layer: backbone.NewGlobalAvgPool("gap"), x: testutil.RandN(r, 1, 2, 3, 1, 1),
			naive: func(x []float64, _, _ [][]float64) []float64 { return gapNaive(x, 6, 1) }},
		{name: "Linear_bias", layer: lin, x: testutil.RandN(r, 1, 5, 6),
			naive: func(x []float64, ps, _ [][]float64) []float64 { return linearNaive(x, ps[0], ps[1], 5, 6, 4) }},
		{name: "Linear_nobias", layer: linNB, x: testutil.RandN(r, 1, 1, 5),
			naive: func(x []float64, ps, _ [][]float64) []float64 { return linearNaive(x, ps[0], nil, 1, 5, 3) }},
		{name: "L2Normalize", layer: backbone.NewL2Normalize("norm"), x: testutil.RandN(r, 3, 4, 6),
			naive: func(x []float64, _, _ [][]float64) []float64 { return l2Naive(x, 4, 6, 1e-12) }},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.train = true; checkLayer(t, tc) })
	}
}

func TestHeadsGrad(t *testing.T) {
	r := testutil.Rand(23)
	mlp, err := backbone.NewMLP("projection", 6, 8, 3, r)
	if err != nil {
		t.Fatal(err)
	}
	checkLayer(t, gradCase{name: "MLP", layer: mlp, x: testutil.RandN(r, 1, 5, 6), train: true,
		naive: func(x []float64, ps, _ [][]float64) []float64 {
			h := linearNaive(x, ps[0], ps[1], 5, 6, 8)
			ones := make([]float64, 8)
			h = reluNaive(bnNaive(h, ps[2], ps[3], ones, ones, 5, 8, 1, 1e-5, true))
			return linearNaive(h, ps[4], ps[5], 5, 8, 3)
		}})
	protos, err := backbone.NewPrototypes("prototypes", 4, 5, r)
	if err != nil {
		t.Fatal(err)
	}
	for k := range 5 {
		row := testutil.F64s(protos.Weight.Data()[k*4 : (k+1)*4])
		if n := math.Sqrt(dot64(row, row)); math.Abs(n-1) > 1e-6 {
			t.Errorf("NewPrototypes: row %d has norm %v, want 1", k, n)
		}
	}
	checkLayer(t, gradCase{name: "Prototypes", layer: protos, x: testutil.RandN(r, 1, 3, 4), train: true,
		naive: func(x []float64, ps, _ [][]float64) []float64 { return linearNaive(x, ps[0], nil, 3, 4, 5) }})
}

func TestPrototypesFreezeNormalize(t *testing.T) {
	r := testutil.Rand(29)
	p, err := backbone.NewPrototypes("prototypes", 4, 3, r)
	if err != nil {
		t.Fatal(err)
	}
	opt, err := backbone.NewSGD(p.Params(), &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	x := testutil.RandN(r, 1, 2, 4)
	ws := backbone.NewWorkspace()
	y := testutil.NaNs(2, 3)
	p.Freeze(true)
	if err := p.Forward(ws, y, x, true); err != nil {
		t.Fatal(err)
	}
	dx := testutil.NaNs(2, 4)
	if err := p.Backward(ws, dx, testutil.RandN(r, 1, 2, 3)); err != nil {
		t.Fatal(err)
	}
	for i, g := range p.Weight.GradData() {
		if g != 0 {
			t.Fatalf("frozen prototypes got gradient [%d] = %v", i, g)
		}
	}
	if !allFinite(testutil.Data(dx)) {
		t.Errorf("frozen prototypes: dx not written: %v", testutil.Data(dx))
	}
	before := testutil.Clone(p.Weight.Value)
	if err := opt.Step(1); err != nil {
		t.Fatal(err)
	}
	testutil.Unchanged(t, "frozen prototype weights after SGD.Step", p.Weight.Value, before)
	p.Freeze(false)
	for i := range p.Weight.Data() {
		p.Weight.Data()[i] *= 3
	}
	p.Normalize()
	for k := range 3 {
		row := testutil.F64s(p.Weight.Data()[k*4 : (k+1)*4])
		if n := math.Sqrt(dot64(row, row)); math.Abs(n-1) > 1e-6 {
			t.Errorf("Normalize: row %d has norm %v, want 1", k, n)
		}
	}
}

func TestMaxPoolTies(t *testing.T) {
	negZero := float32(math.Copysign(0, -1))
	for _, tc := range []struct {
		win  [4]float32
		want int
	}{
		{[4]float32{1, 1, 1, 1}, 0},
		{[4]float32{negZero, 0, -1, -2}, 0}, // −0 and +0 tie: the first wins
		{[4]float32{0, negZero, 0, 0}, 0},
		{[4]float32{0.5, 1, 1, 0.5}, 1},
		{[4]float32{0, 0, 0, 1}, 3},
		{[4]float32{-1, -1, -0.5, -0.5}, 2},
		{[4]float32{-3e38, -2e38, -3e38, -1e-38}, 3},
	} {
		pool, err := backbone.NewMaxPool2D("pool", 2, 2)
		if err != nil {
			t.Fatal(err)
		}
		x := ssl.FromSlice(tc.win[:], 1, 1, 2, 2)
		y := testutil.NaNs(1, 1, 1, 1)
		ws := backbone.NewWorkspace()
		if err := pool.Forward(ws, y, x, true); err != nil {
			t.Fatal(err)
		}
		if got := testutil.Data(y)[0]; math.Float32bits(got) != math.Float32bits(tc.win[tc.want]) {
			t.Errorf("MaxPool2D(%v) = %v, want %v", tc.win, got, tc.win[tc.want])
		}
		dx := testutil.NaNs(1, 1, 2, 2)
		if err := pool.Backward(ws, dx, ssl.FromSlice([]float32{2}, 1, 1, 1, 1)); err != nil {
			t.Fatal(err)
		}
		for i, g := range testutil.Data(dx) {
			want := float32(0)
			if i == tc.want {
				want = 2
			}
			if g != want {
				t.Errorf("MaxPool2D(%v): dx = %v, want the gradient at %d only", tc.win, testutil.Data(dx), tc.want)
				break
			}
		}
	}
}
