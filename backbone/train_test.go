package backbone_test

import (
	"math"
	"testing"

	"ssl"
	"ssl/backbone"
	"ssl/dataset"
	"ssl/internal/testutil"
)

// crossEntropy returns the mean softmax cross-entropy of logits (B×K) for
// labels and writes its gradient into dlogits.
func crossEntropy(dlogits, logits []float32, labels []int, k int) float64 {
	b := len(labels)
	loss := 0.0
	for i, y := range labels {
		row := logits[i*k : (i+1)*k]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, float64(v))
		}
		s := 0.0
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		lse := m + math.Log(s)
		loss += lse - float64(row[y])
		for j, v := range row {
			g := math.Exp(float64(v)-lse) / float64(b)
			if j == y {
				g -= 1 / float64(b)
			}
			dlogits[i*k+j] = float32(g)
		}
	}
	return loss / float64(b)
}

// Fashion-MNIST normalization of the fmnist-ssl-v1 protocol.
const fmnistMean, fmnistStd = 0.2860, 0.3530

// TestConvNet3TrainsOnFashionMNIST trains a narrow ConvNet3 with a linear
// classifier by plain cross-entropy on the embedded Fashion-MNIST subset
// for 300 steps of 32 images, then checks the test accuracy (1,000 images,
// evaluation mode) is far above chance (0.1): forward, backward, optimizer
// and schedule fit together.
func TestConvNet3TrainsOnFashionMNIST(t *testing.T) {
	train, err := dataset.EmbeddedFashionMNIST(dataset.Train)
	if err != nil {
		t.Fatal(err)
	}
	test, err := dataset.EmbeddedFashionMNIST(dataset.Test)
	if err != nil {
		t.Fatal(err)
	}
	steps, batch := 300, 32
	if testing.Short() {
		steps = 100
	}
	r := testutil.Rand(2026)
	net, err := backbone.NewConvNet3(r, &backbone.ConvNet3Options{Widths: [3]int{8, 16, 32}})
	if err != nil {
		t.Fatal(err)
	}
	fc, err := backbone.NewLinear("fc", 32, 10, true, r)
	if err != nil {
		t.Fatal(err)
	}
	model := backbone.NewSequential("classifier", net, fc)
	opt, err := backbone.NewSGD(model.Params(), &backbone.SGDOptions{Momentum: 0.9, WeightDecay: 5e-4})
	if err != nil {
		t.Fatal(err)
	}
	lrs, err := backbone.WarmupCosine(0, 0.1, 0, 20, steps)
	if err != nil {
		t.Fatal(err)
	}
	normalize := func(x ssl.Tensor) {
		d := x.Data().([]float32)
		for i, v := range d {
			d[i] = (v - fmnistMean) / fmnistStd
		}
	}
	x, logits, dlogits := ssl.New(batch, 1, 28, 28), ssl.New(batch, 10), ssl.New(batch, 10)
	ws := backbone.NewWorkspace()
	idx, labels := make([]int, batch), make([]int, batch)
	var first, last float64
	for step := range steps {
		for i := range idx {
			idx[i] = r.IntN(train.N)
			labels[i] = train.Labels[idx[i]]
		}
		if _, err := train.Batch(x, idx); err != nil {
			t.Fatal(err)
		}
		normalize(x)
		if err := model.Forward(ws, logits, x, true); err != nil {
			t.Fatal(err)
		}
		loss := crossEntropy(testutil.Data(dlogits), testutil.Data(logits), labels, 10)
		if step < 20 {
			first += loss / 20
		}
		if step >= steps-20 {
			last += loss / 20
		}
		backbone.ZeroGrad(model.Params())
		if err := model.Backward(ws, nil, dlogits); err != nil {
			t.Fatal(err)
		}
		if err := opt.Step(lrs[step]); err != nil {
			t.Fatal(err)
		}
	}
	correct := 0
	const eb = 100
	xe, le := ssl.New(eb, 1, 28, 28), ssl.New(eb, 10)
	ids := make([]int, eb)
	for lo := 0; lo < test.N; lo += eb {
		for i := range ids {
			ids[i] = lo + i
		}
		if _, err := test.Batch(xe, ids); err != nil {
			t.Fatal(err)
		}
		normalize(xe)
		if err := model.Forward(ws, le, xe, false); err != nil {
			t.Fatal(err)
		}
		for i := range eb {
			row := testutil.Data(le)[i*10 : (i+1)*10]
			best := 0
			for j, v := range row {
				if v > row[best] {
					best = j
				}
			}
			if best == test.Labels[lo+i] {
				correct++
			}
		}
	}
	acc := float64(correct) / float64(test.N)
	t.Logf("%d steps: loss %.3f → %.3f, test accuracy %.3f", steps, first, last, acc)
	if want := 0.6; acc < want || !(last < first) {
		t.Errorf("after %d steps: test accuracy %.3f (want ≥ %.2f, chance 0.1), loss %.3f → %.3f", steps, acc, want, first, last)
	}
}
