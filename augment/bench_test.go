package augment

import (
	"testing"

	"ssl"
	"ssl/dataset"
)

// fmnistBatch returns the first b images of the embedded Fashion-MNIST
// training subset as a [b, 1, 28, 28] tensor in [0, 1].
func fmnistBatch(tb testing.TB, b int) ssl.Tensor {
	tb.Helper()
	set, err := dataset.EmbeddedFashionMNIST(dataset.Train)
	if err != nil {
		tb.Fatal(err)
	}
	idx := make([]int, b)
	for i := range idx {
		idx[i] = i
	}
	x, err := set.Batch(nil, idx)
	if err != nil {
		tb.Fatal(err)
	}
	return x
}

// BenchmarkMultiCrop runs the fmnist-ssl-v1 views on batches of
// Fashion-MNIST: local=4 is SwAV's 2×28 + 4×16, local=0 the two-view
// pipeline. images/s counts source images (each giving 2+local views),
// views/s the views written.
func BenchmarkMultiCrop(b *testing.B) {
	for _, bc := range []struct {
		name  string
		batch int
		local int
	}{{"b256", 256, 4}, {"two_view/b256", 256, 0}, {"b64", 64, 4}} {
		b.Run(bc.name, func(b *testing.B) {
			mc, err := protocolCrops(bc.local)
			if err != nil {
				b.Fatal(err)
			}
			src := fmnistBatch(b, bc.batch)
			views, err := mc.NewViews(bc.batch, 1, 28, 28)
			if err != nil {
				b.Fatal(err)
			}
			ids := make([]int, bc.batch)
			b.ReportAllocs()
			epoch := uint64(0)
			for b.Loop() {
				if _, err := mc.Apply(views, src, ids, 1, epoch); err != nil {
					b.Fatal(err)
				}
				epoch++
			}
			imgs := float64(bc.batch) * float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(imgs, "images/s")
			b.ReportMetric(imgs*float64(mc.Views()), "views/s")
		})
	}
}

// BenchmarkTransform times single transforms on one 28×28 image.
func BenchmarkTransform(b *testing.B) {
	src := fmnistBatch(b, 1)
	in := Image{C: 1, H: 28, W: 28, Pix: src.Data().([]float32)}
	for _, tc := range []struct {
		name string
		t    Transform
	}{
		{"crop28", RandomResizedCrop{Size: 28, Scale: [2]float64{0.25, 1}}},
		{"crop16", RandomResizedCrop{Size: 16, Scale: [2]float64{0.08, 0.25}}},
		{"flip", RandomHorizontalFlip{P: 0.5}},
		{"jitter", ColorJitter{Brightness: 0.4, Contrast: 0.4}},
		{"blur5", RandomGaussianBlur{KernelSize: 5}},
		{"normalize", Normalization{Mean: []float64{testMean}, Std: []float64{testStd}}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c, h, w, err := tc.t.Shape(1, 28, 28)
			if err != nil {
				b.Fatal(err)
			}
			out := Image{C: c, H: h, W: w, Pix: make([]float32, c*h*w)}
			r := Stream(1, 0, 0, 0)
			b.ReportAllocs()
			for b.Loop() {
				tc.t.Apply(out, in, r)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
