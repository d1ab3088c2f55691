package probe

import (
	"bytes"
	"errors"
	"image"
	"image/png"
	"math"
	"strings"
	"testing"

	"ssl"
	sslassign "ssl/assign"
	"ssl/dataset"
	"ssl/internal/testutil"
)

// fashion returns the first n training and m test images of the embedded
// Fashion-MNIST subset (every class, in file order) as N×1×28×28 tensors
// in [0, 1], their pixels as N×784 features, and the labels.
func fashion(t testing.TB, n, m int) (trainImg, trainX ssl.Tensor, trainY []int, testImg, testX ssl.Tensor, testY []int) {
	t.Helper()
	take := func(split dataset.Split, k int) (ssl.Tensor, ssl.Tensor, []int) {
		s, err := dataset.EmbeddedFashionMNIST(split)
		if err != nil {
			t.Fatal(err)
		}
		idx := make([]int, k)
		for i := range idx {
			idx[i] = i * s.N / k // spread over the classes
		}
		img, err := s.Batch(nil, idx)
		if err != nil {
			t.Fatal(err)
		}
		y := make([]int, k)
		for i, j := range idx {
			y[i] = s.Labels[j]
		}
		_, d, _ := ssl.View(img)
		return img, ssl.FromSlice(d, k, 784), y
	}
	trainImg, trainX, trainY = take(dataset.Train, n)
	testImg, testX, testY = take(dataset.Test, m)
	return
}

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

// TestPictures renders each picture from real data: Fashion-MNIST pixels
// as features and their kNN predictions.
func TestPictures(t *testing.T) {
	trainImg, trainX, trainY, testImg, testX, testY := fashion(t, 2000, 300)
	_ = trainImg
	pred, err := KNN(nil, trainX, trainY, testX, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	acc, _ := Accuracy(pred, testY)
	if acc < 0.6 { // raw-pixel kNN on Fashion-MNIST scores about 0.8
		t.Errorf("kNN on Fashion-MNIST pixels: top-1 %.3f", acc)
	}

	t.Run("cluster_grid", func(t *testing.T) {
		var buf bytes.Buffer
		if err := ClusterGrid(&buf, testImg, testX, pred, 10, 8, nil); err != nil {
			t.Fatal(err)
		}
		// 10 rows of 8 cells of 56×56 pixels with 2-pixel gaps.
		img := decodePNG(t, "ClusterGrid", buf.Bytes(), 8*56+9*2, 10*56+11*2)
		if distinctColors(img) < 50 {
			t.Errorf("ClusterGrid: only %d colors", distinctColors(img))
		}
		rows, err := NearestToCenters(testX, pred, 10, 8)
		if err != nil {
			t.Fatal(err)
		}
		// Cell (row 0, column 0) shows image rows[0][0] at scale 2.
		want, _ := testImg.Data().([]float32)
		i := rows[0][0]
		for _, p := range [][2]int{{0, 0}, {13, 14}, {27, 27}} {
			r, _, _, _ := img.At(2+2*p[1], 2+2*p[0]).RGBA()
			if g := uint8(r >> 8); g != uint8(math.Round(float64(want[i*784+p[0]*28+p[1]])*255)) {
				t.Errorf("grid pixel %v = %d, image %d has %v", p, g, i, want[i*784+p[0]*28+p[1]])
			}
		}
	})

	t.Run("nearest_grid", func(t *testing.T) {
		// Each query's image followed by its five nearest test images.
		q := ssl.FromSlice(testX.Data().([]float32)[:4*784], 4, 784)
		idx, _, err := sslassign.Search(nil, nil, q, testX, 6, &sslassign.SearchOptions{Normalize: true})
		if err != nil {
			t.Fatal(err)
		}
		rows := make([][]int, 4)
		for i := range rows {
			rows[i] = idx[i*6 : (i+1)*6]
			if rows[i][0] != i {
				t.Errorf("query %d is not its own nearest neighbour: %v", i, rows[i])
			}
		}
		var buf bytes.Buffer
		if err := Grid(&buf, testImg, rows, &GridOptions{Scale: 1, Pad: 3}); err != nil {
			t.Fatal(err)
		}
		decodePNG(t, "Grid", buf.Bytes(), 6*28+7*3, 4*28+5*3)
	})
}

func TestGridColor(t *testing.T) {
	// 2 RGB images of 2×2 in CHW order, values in [-1, 1].
	x := ssl.FromSlice([]float32{
		-1, 1, 0, 0 /* R */, 1, -1, 0, 0 /* G */, 0, 0, 1, -1, /* B */
		1, 1, 1, 1, -1, -1, -1, -1, 0.5, 0.5, 0.5, 0.5,
	}, 2, 3, 2, 2)
	img, err := GridImage(x, [][]int{{0, -1, 1}}, &GridOptions{Scale: 1, Pad: 1, Lo: -1, Hi: 1})
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds().Size(); b.X != 3*2+4 || b.Y != 2+2 {
		t.Fatalf("GridImage size %v", b)
	}
	if got := img.RGBAAt(1, 1); got.R != 0 || got.G != 255 || got.B != 128 {
		t.Errorf("pixel (0,0) of image 0 = %v, want {0 255 128}", got)
	}
	if got := img.RGBAAt(4, 1); got != gridBackground {
		t.Errorf("empty cell = %v, want the background", got)
	}
	if got := img.RGBAAt(7, 1); got.R != 255 || got.G != 0 || got.B != 191 {
		t.Errorf("pixel (0,0) of image 1 = %v, want {255 0 191}", got)
	}
}

func TestPicturesErrors(t *testing.T) {
	imgs := testutil.RandU(testutil.Rand(1), 0, 1, 4, 5, 5)
	nan := testutil.Clone(imgs)
	testutil.Data(nan)[30] = float32(math.NaN())
	var buf bytes.Buffer
	for _, tc := range []struct {
		name   string
		images ssl.Tensor
		rows   [][]int
		opts   *GridOptions
		want   error
	}{
		{"rank2", ssl.New(4, 25), [][]int{{0}}, nil, ssl.ErrShape},
		{"channels2", ssl.New(4, 2, 5, 5), [][]int{{0}}, nil, ssl.ErrShape},
		{"no_cells", imgs, [][]int{{}, {}}, nil, ssl.ErrShape},
		{"index", imgs, [][]int{{0, 4}}, nil, ssl.ErrParam},
		{"index_neg", imgs, [][]int{{-2}}, nil, ssl.ErrParam},
		{"scale", imgs, [][]int{{0}}, &GridOptions{Scale: -1}, ssl.ErrParam},
		{"range", imgs, [][]int{{0}}, &GridOptions{Lo: 1, Hi: 1}, ssl.ErrParam},
		{"nan", nan, [][]int{{1}}, nil, ssl.ErrNotFinite},
	} {
		buf.Reset()
		if err := Grid(&buf, tc.images, tc.rows, tc.opts); !errors.Is(err, tc.want) || !strings.HasPrefix(err.Error(), "probe: Grid: ") || buf.Len() != 0 {
			t.Errorf("Grid(%s) error = %v, want %v (and nothing written)", tc.name, err, tc.want)
		}
	}
	// The NaN image is fine when it is not shown.
	if err := Grid(&buf, nan, [][]int{{0, 2}}, nil); err != nil {
		t.Errorf("Grid(NaN image not shown): %v", err)
	}
	feats := testutil.RandN(testutil.Rand(2), 1, 4, 3)
	if err := ClusterGrid(&buf, imgs, feats, []int{0, 1, 0}, 2, 2, nil); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("ClusterGrid(short assignments) error = %v", err)
	}
	if _, err := NearestToCenters(feats, []int{0, 1, 2, 0}, 2, 2); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("NearestToCenters(assignment out of range) error = %v", err)
	}
	if _, err := NearestToCenters(feats, []int{0, 1, 1, 0}, 2, 0); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("NearestToCenters(perCluster 0) error = %v", err)
	}
}

// TestNearestToCenters checks the ranking against a direct computation.
func TestNearestToCenters(t *testing.T) {
	x := ssl.FromSlice([]float32{
		1, 0, // 0: cluster 0
		1, 0.1, // 1: cluster 0
		0, 1, // 2: cluster 1
		3, 0, // 3: cluster 0, same direction as 0
		1, 1, // 4: cluster 1
	}, 5, 2)
	rows, err := NearestToCenters(x, []int{0, 0, 1, 0, 1}, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	// Cluster 0: rows 0 and 3 are the same direction (tie: lower index
	// first) and nearer the centre than row 1. Cluster 2 is empty.
	if len(rows) != 3 || len(rows[0]) != 2 || rows[0][0] != 0 || rows[0][1] != 3 || len(rows[1]) != 2 || len(rows[2]) != 0 {
		t.Errorf("NearestToCenters = %v, want [[0 3] [2 4] or [4 2] []]", rows)
	}
}
