package plot

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"strings"
	"testing"

	"ssl"
	"ssl/dataset"
	"ssl/probe"
)

// decodePNG checks that b is a PNG of w×h pixels and returns it.
func decodePNG(t *testing.T, name string, b []byte, w, h int) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: not a valid PNG: %v", name, err)
	}
	if got := img.Bounds().Size(); got.X != w || got.Y != h {
		t.Fatalf("%s: %d×%d pixels, want %d×%d", name, got.X, got.Y, w, h)
	}
	return img
}

// distinctColors counts the distinct colors of img (capped), to tell a
// drawn picture from a blank canvas.
func distinctColors(img image.Image) int {
	seen := map[[4]uint32]bool{}
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y += 2 {
		for x := b.Min.X; x < b.Max.X; x += 2 {
			r, g, bl, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, bl, a}] = true
			if len(seen) > 1000 {
				return len(seen)
			}
		}
	}
	return len(seen)
}

// TestConfusionHeatmap draws the confusion of a kNN classifier on
// Fashion-MNIST pixels (the embedded subset).
func TestConfusionHeatmap(t *testing.T) {
	take := func(split dataset.Split, k int) (ssl.Tensor, []int) {
		s, err := dataset.EmbeddedFashionMNIST(split)
		if err != nil {
			t.Fatal(err)
		}
		idx := make([]int, k)
		y := make([]int, k)
		for i := range idx {
			idx[i] = i * s.N / k // spread over the classes
			y[i] = s.Labels[idx[i]]
		}
		img, err := s.Batch(nil, idx)
		if err != nil {
			t.Fatal(err)
		}
		_, d, _ := ssl.View(img)
		return ssl.FromSlice(d, k, 784), y
	}
	trainX, trainY := take(dataset.Train, 1000)
	testX, testY := take(dataset.Test, 200)
	pred, err := probe.KNN(nil, trainX, trainY, testX, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	conf, err := probe.Confusion(nil, pred, testY, 10, 10)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	opts := &ConfusionHeatmapOptions{RowNames: dataset.FashionMNISTClasses, ColNames: dataset.FashionMNISTClasses,
		RowLabel: "kNN prediction", Title: "kNN on Fashion-MNIST pixels"}
	if err := ConfusionHeatmap(&buf, conf, 10, 10, opts); err != nil {
		t.Fatal(err)
	}
	img := decodePNG(t, "ConfusionHeatmap", buf.Bytes(), DefaultWidth, DefaultHeight)
	if distinctColors(img) < 20 {
		t.Errorf("ConfusionHeatmap: only %d colors", distinctColors(img))
	}
	buf.Reset()
	// A constant table and a custom size.
	if err := ConfusionHeatmap(&buf, make([]int, 6), 2, 3, &ConfusionHeatmapOptions{Width: 300, Height: 200}); err != nil {
		t.Fatal(err)
	}
	decodePNG(t, "ConfusionHeatmap(zeros)", buf.Bytes(), 300, 200)
	// A table too large for text labels.
	buf.Reset()
	if err := ConfusionHeatmap(&buf, make([]int, 30*20), 30, 20, nil); err != nil {
		t.Fatal(err)
	}
	decodePNG(t, "ConfusionHeatmap(30×20)", buf.Bytes(), DefaultWidth, DefaultHeight)
}

func TestConfusionHeatmapErrors(t *testing.T) {
	var buf bytes.Buffer
	for _, tc := range []struct {
		name string
		conf []int
		r, c int
		opts *ConfusionHeatmapOptions
		want error
		msg  string
	}{
		{"len", []int{1, 2, 3}, 2, 2, nil, ssl.ErrShape, "len(confusion) is 3"},
		{"rows0", nil, 0, 2, nil, ssl.ErrShape, "rows is 0"},
		{"negative", []int{1, -2, 3, 4}, 2, 2, nil, ssl.ErrParam, "confusion[0][1]=-2"},
		{"row_names", []int{1, 2, 3, 4}, 2, 2, &ConfusionHeatmapOptions{RowNames: []string{"a"}}, ssl.ErrShape, "RowNames"},
		{"col_names", []int{1, 2, 3, 4}, 2, 2, &ConfusionHeatmapOptions{ColNames: []string{"a", "b", "c"}}, ssl.ErrShape, "ColNames"},
		{"width", []int{1, 2, 3, 4}, 2, 2, &ConfusionHeatmapOptions{Width: 10}, ssl.ErrParam, "Width=10"},
		{"height", []int{1, 2, 3, 4}, 2, 2, &ConfusionHeatmapOptions{Height: -5}, ssl.ErrParam, "Height=-5"},
	} {
		buf.Reset()
		err := ConfusionHeatmap(&buf, tc.conf, tc.r, tc.c, tc.opts)
		if !errors.Is(err, tc.want) || !strings.HasPrefix(err.Error(), "plot: ConfusionHeatmap: ") || !strings.Contains(err.Error(), tc.msg) || buf.Len() != 0 {
			t.Errorf("ConfusionHeatmap(%s) error = %v, want %v naming %q (and nothing written)", tc.name, err, tc.want, tc.msg)
		}
	}
}
