package augment

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/testutil"
)

func imageOf(t testing.TB, x ssl.Tensor) Image {
	t.Helper()
	m, err := ImageOf(x)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRandomResizedCropParams(t *testing.T) {
	for _, tc := range []struct {
		name  string
		h, w  int
		scale [2]float64
		ratio [2]float64
	}{
		{"fmnist_global", 28, 28, [2]float64{0.25, 1}, [2]float64{}},
		{"fmnist_local", 28, 28, [2]float64{0.08, 0.25}, [2]float64{}},
		{"rect", 20, 50, [2]float64{}, [2]float64{}},
		{"full", 32, 32, [2]float64{1, 1}, [2]float64{1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			crop := RandomResizedCrop{Size: 8, Scale: tc.scale, Ratio: tc.ratio}
			scale, ratio := crop.ranges()
			r := testutil.Rand(21)
			var meanFrac float64
			const n = 4000
			for range n {
				top, left, h, w := crop.Params(r, tc.h, tc.w)
				if top < 0 || left < 0 || h < 1 || w < 1 || top+h > tc.h || left+w > tc.w {
					t.Fatalf("Params(%d×%d) = top %d left %d h %d w %d: box outside the image", tc.h, tc.w, top, left, h, w)
				}
				frac := float64(h*w) / float64(tc.h*tc.w)
				meanFrac += frac / n
				// The target area w*·h* lies in [(w−½)(h−½), (w+½)(h+½)],
				// which must meet scale·H·W.
				area := float64(tc.h * tc.w)
				if (float64(w)+0.5)*(float64(h)+0.5) < scale[0]*area-1e-9 || (float64(w)-0.5)*(float64(h)-0.5) > scale[1]*area+1e-9 {
					t.Fatalf("box %d×%d outside scale %v of %d×%d (with rounding)", h, w, scale, tc.h, tc.w)
				}
				// w and h are the rounded w* and h*, so w*/h* lies in
				// [(w−½)/(h+½), (w+½)/(h−½)], which must meet the ratio range.
				fw, fh := float64(w), float64(h)
				if (fw+0.5)/(fh-0.5) < ratio[0]-1e-9 || (fw-0.5)/(fh+0.5) > ratio[1]+1e-9 {
					t.Fatalf("aspect %d/%d outside %v (with rounding)", w, h, ratio)
				}
			}
			// With scale ≤ 1/4 no try fails, so the area fraction is uniform
			// in scale and its mean the midpoint, up to rounding and sampling
			// error. (With larger scales wide boxes that do not fit are
			// redrawn, which favours small areas, as in torchvision.)
			if tc.name == "fmnist_local" {
				mid := (scale[0] + scale[1]) / 2
				if math.Abs(meanFrac-mid) > 0.02 {
					t.Errorf("mean area fraction %.4f, want about %.4f", meanFrac, mid)
				}
			}
		})
	}
	// No try can succeed (ratio far from the image's): the central fallback,
	// clipped to the ratio, as torchvision computes it.
	crop := RandomResizedCrop{Size: 4, Scale: [2]float64{1, 1}, Ratio: [2]float64{3, 4}}
	if top, left, h, w := crop.Params(testutil.Rand(1), 30, 30); top != 10 || left != 0 || h != 10 || w != 30 {
		t.Errorf("fallback (ratio 3–4 on 30×30) = %d %d %d %d, want 10 0 10 30", top, left, h, w)
	}
	crop.Ratio = [2]float64{0.1, 0.2}
	if top, left, h, w := crop.Params(testutil.Rand(1), 30, 30); top != 0 || left != 12 || h != 30 || w != 6 {
		t.Errorf("fallback (ratio 0.1–0.2 on 30×30) = %d %d %d %d, want 0 12 30 6", top, left, h, w)
	}
	// Apply is Params followed by ResizedCrop.
	img := testutil.RandU(testutil.Rand(22), 0, 1, 3, 28, 28)
	crop = RandomResizedCrop{Size: 16, Scale: [2]float64{0.08, 0.25}}
	dst := testutil.NaNs(3, 16, 16)
	crop.Apply(imageOf(t, dst), imageOf(t, img), testutil.Rand(5))
	top, left, h, w := crop.Params(testutil.Rand(5), 28, 28)
	want := testutil.NaNs(3, 16, 16)
	if _, err := ResizedCrop(want, img, top, left, h, w); err != nil {
		t.Fatal(err)
	}
	testutil.Unchanged(t, "RandomResizedCrop.Apply", dst, want)
}

func TestColorJitter(t *testing.T) {
	for _, c := range []int{1, 3} {
		img := testutil.RandU(testutil.Rand(31), 0, 1, c, 7, 5)
		jit := ColorJitter{Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Hue: 0.1}
		orders := map[[4]int]bool{}
		for seed := uint64(0); seed < 200; seed++ {
			dst := testutil.NaNs(c, 7, 5)
			jit.Apply(imageOf(t, dst), imageOf(t, img), testutil.Rand(seed))
			order, b, ct, s, h := jit.Params(testutil.Rand(seed))
			orders[order] = true
			if b < 0.6 || b > 1.4 || ct < 0.6 || ct > 1.4 || s < 0.6 || s > 1.4 || h < -0.1 || h > 0.1 {
				t.Fatalf("seed %d: factors %v %v %v %v outside their ranges", seed, b, ct, s, h)
			}
			// The same adjustments through the functional API, in order.
			var want ssl.Tensor = testutil.Clone(img)
			for _, fn := range order {
				var err error
				switch fn {
				case 0:
					_, err = AdjustBrightness(want, want, b)
				case 1:
					_, err = AdjustContrast(want, want, ct)
				case 2:
					_, err = AdjustSaturation(want, want, s)
				case 3:
					_, err = AdjustHue(want, want, h)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			check32(t, fmt.Sprintf("ColorJitter c=%d seed %d order %v", c, seed, order), dst, testutil.F64(want))
		}
		if len(orders) != 24 {
			t.Errorf("ColorJitter: %d of the 24 orders drawn in 200 tries", len(orders))
		}
	}
	// Disabled adjustments draw nothing and an all-zero jitter copies.
	img := testutil.RandU(testutil.Rand(32), 0, 1, 1, 3, 3)
	dst := testutil.NaNs(1, 3, 3)
	ColorJitter{}.Apply(imageOf(t, dst), imageOf(t, img), testutil.Rand(1))
	testutil.Unchanged(t, "ColorJitter{}", dst, img)
}

func TestRandomTransforms(t *testing.T) {
	img := testutil.RandU(testutil.Rand(41), 0, 1, 3, 9, 8)
	fn := func(f func(dst, img ssl.Tensor) (ssl.Tensor, error)) ssl.Tensor {
		out, err := f(nil, img)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	gray3 := testutil.NaNs(3, 9, 8)
	if _, err := RGBToGrayscale(gray3, img); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		always Transform // p = 1
		never  Transform // p = 0
		want   ssl.Tensor
	}{
		{"flip", RandomHorizontalFlip{P: 1}, RandomHorizontalFlip{P: 0}, fn(HFlip)},
		{"gray", RandomGrayscale{P: 1}, RandomGrayscale{P: 0}, gray3},
		{"solarize", RandomSolarize{Threshold: 0.5, P: 1}, RandomSolarize{Threshold: 0.5, P: 0},
			fn(func(d, x ssl.Tensor) (ssl.Tensor, error) { return Solarize(d, x, 0.5) })},
		{"apply_flip", RandomApply{T: RandomHorizontalFlip{P: 1}, P: 1}, RandomApply{T: RandomHorizontalFlip{P: 1}, P: 0}, fn(HFlip)},
	} {
		for _, tr := range []Transform{tc.always, tc.never} {
			if _, _, _, err := tr.Shape(3, 9, 8); err != nil {
				t.Fatalf("%s: Shape: %v", tc.name, err)
			}
			dst := testutil.NaNs(3, 9, 8)
			tr.Apply(imageOf(t, dst), imageOf(t, img), testutil.Rand(3))
			want := tc.want
			if tr == tc.never {
				want = img
			}
			testutil.Unchanged(t, fmt.Sprintf("%s (%+v)", tc.name, tr), dst, want)
		}
	}
	// Probability 0.5 fires about half the time.
	hits := 0
	for seed := range uint64(2000) {
		dst := testutil.NaNs(3, 9, 8)
		RandomHorizontalFlip{P: 0.5}.Apply(imageOf(t, dst), imageOf(t, img), testutil.Rand(seed))
		if testutil.Data(dst)[0] != testutil.Data(img)[0] {
			hits++
		}
	}
	if hits < 900 || hits > 1100 {
		t.Errorf("RandomHorizontalFlip{0.5} flipped %d of 2000", hits)
	}
	// RandomGaussianBlur draws σ, then blurs with GaussianBlur.
	blur := RandomGaussianBlur{KernelSize: 5, Sigma: [2]float64{0.5, 1.5}}
	dst := testutil.NaNs(3, 9, 8)
	blur.Apply(imageOf(t, dst), imageOf(t, img), testutil.Rand(7))
	sigma := float64(float32(0.5) + float32(1)*testutil.Rand(7).Float32())
	want, err := GaussianBlur(nil, img, 5, 5, sigma, sigma)
	if err != nil {
		t.Fatal(err)
	}
	check32(t, "RandomGaussianBlur", dst, testutil.F64(want))
}

func TestCompose(t *testing.T) {
	img := testutil.RandU(testutil.Rand(51), 0, 1, 1, 28, 28)
	steps := Compose{
		RandomResizedCrop{Size: 16, Scale: [2]float64{0.25, 1}},
		RandomHorizontalFlip{P: 0.5},
		Compose{RandomApply{T: ColorJitter{Brightness: 0.4, Contrast: 0.4}, P: 0.8}},
		RandomGaussianBlur{KernelSize: 3},
		Normalization{Mean: []float64{testMean}, Std: []float64{testStd}},
	}
	c, h, w, err := steps.Shape(1, 28, 28)
	if err != nil || c != 1 || h != 16 || w != 16 {
		t.Fatalf("Compose.Shape = %d %d %d %v", c, h, w, err)
	}
	for seed := range uint64(20) {
		dst := testutil.NaNs(1, 16, 16)
		steps.Apply(imageOf(t, dst), imageOf(t, img), testutil.Rand(seed))
		// Step by step with the same source.
		r := testutil.Rand(seed)
		cur := imageOf(t, img)
		for _, s := range steps {
			c, h, w, _ := s.Shape(cur.C, cur.H, cur.W)
			next := Image{C: c, H: h, W: w, Pix: make([]float32, c*h*w)}
			s.Apply(next, cur, r)
			cur = next
		}
		testutil.Unchanged(t, fmt.Sprintf("Compose seed %d", seed), dst, ssl.FromSlice(cur.Pix, 1, 16, 16))
	}
	if _, _, _, err := (Compose{}).Shape(1, 2, 3); err != nil {
		t.Errorf("empty Compose: %v", err)
	}
}

func TestTransformErrors(t *testing.T) {
	for _, tc := range []struct {
		name     string
		tr       Transform
		c        int
		sentinel error
		want     string
	}{
		{"crop_size0", RandomResizedCrop{Size: 0}, 1, ssl.ErrParam, "Size=0"},
		{"crop_scale0", RandomResizedCrop{Size: 8, Scale: [2]float64{0, 1}}, 1, ssl.ErrParam, "Scale=[0 1]"},
		{"crop_scale_above1", RandomResizedCrop{Size: 8, Scale: [2]float64{0.5, 1.2}}, 1, ssl.ErrParam, "Scale=[0.5 1.2]"},
		{"crop_scale_reversed", RandomResizedCrop{Size: 8, Scale: [2]float64{0.5, 0.2}}, 1, ssl.ErrParam, "Scale"},
		{"crop_ratio", RandomResizedCrop{Size: 8, Ratio: [2]float64{-1, 1}}, 1, ssl.ErrParam, "Ratio"},
		{"flip_p", RandomHorizontalFlip{P: 1.5}, 1, ssl.ErrParam, "P=1.5"},
		{"jitter_neg", ColorJitter{Contrast: -0.1}, 1, ssl.ErrParam, "Contrast=-0.1"},
		{"jitter_hue", ColorJitter{Hue: 0.7}, 3, ssl.ErrParam, "Hue=0.7"},
		{"jitter_channels", ColorJitter{Brightness: 0.1}, 2, ssl.ErrShape, "2 channels"},
		{"gray_p", RandomGrayscale{P: -1}, 3, ssl.ErrParam, "P=-1"},
		{"blur_even", RandomGaussianBlur{KernelSize: 4}, 1, ssl.ErrParam, "kx=4"},
		{"blur_big", RandomGaussianBlur{KernelSize: 61}, 1, ssl.ErrParam, "KernelSize=61"},
		{"blur_sigma", RandomGaussianBlur{KernelSize: 3, Sigma: [2]float64{2, 1}}, 1, ssl.ErrParam, "Sigma"},
		{"solarize", RandomSolarize{Threshold: 2, P: 1}, 1, ssl.ErrParam, "Threshold=2"},
		{"normalize", Normalization{Mean: []float64{0}, Std: []float64{0}}, 1, ssl.ErrParam, "std[0]=0"},
		{"apply_nil", RandomApply{P: 1}, 1, ssl.ErrParam, "nil"},
		{"apply_shape", RandomApply{T: RandomResizedCrop{Size: 8}, P: 1}, 1, ssl.ErrParam, "changes the shape"},
		{"compose_step", Compose{RandomHorizontalFlip{P: 0.5}, RandomResizedCrop{Size: -1}}, 1, ssl.ErrParam, "step 1"},
		{"compose_nil", Compose{nil}, 1, ssl.ErrParam, "step 0 is nil"},
	} {
		_, _, _, err := tc.tr.Shape(tc.c, 28, 28)
		if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Shape error %v, want %v naming %q", tc.name, err, tc.sentinel, tc.want)
		}
	}
}

// Fashion-MNIST's pixel mean and standard deviation, the normalization the
// tests' pipelines end with.
const (
	testMean = 0.2860
	testStd  = 0.3530
)

// protocolCrops is the multi-crop the Fashion-MNIST examples train with:
// two 28×28 global crops with scale (0.25, 1) and local 16×16 crops with
// scale (0.08, 0.25), each followed by a flip with p 0.5, brightness and
// contrast jitter of strength 0.4 with p 0.8, and normalization. local = 0
// gives the two-view pipeline.
func protocolCrops(local int) (*MultiCrop, error) {
	post := []Transform{
		RandomHorizontalFlip{P: 0.5},
		RandomApply{T: ColorJitter{Brightness: 0.4, Contrast: 0.4}, P: 0.8},
		Normalization{Mean: []float64{testMean}, Std: []float64{testStd}},
	}
	if local == 0 {
		return NewMultiCrop([]int{28}, []int{2}, []float64{0.25}, []float64{1}, post...)
	}
	return NewMultiCrop([]int{28, 16}, []int{2, local}, []float64{0.25, 0.08}, []float64{1, 0.25}, post...)
}

// protocolBatch returns n Fashion-MNIST-like images (random, in [0, 1]).
func protocolBatch(n int) ssl.Tensor { return testutil.RandU(testutil.Rand(61), 0, 1, n, 1, 28, 28) }

func TestMultiCropDeterminism(t *testing.T) {
	mc, err := protocolCrops(4)
	if err != nil {
		t.Fatal(err)
	}
	if mc.Views() != 6 {
		t.Fatalf("Views() = %d, want 6", mc.Views())
	}
	src := protocolBatch(40)
	before := testutil.Clone(src)
	ids := make([]int, 40)
	for i := range ids {
		ids[i] = 1000 + 7*i
	}
	run := func(procs int) []ssl.Tensor {
		old := runtime.GOMAXPROCS(procs)
		defer runtime.GOMAXPROCS(old)
		views, err := mc.NewViews(40, 1, 28, 28)
		if err != nil {
			t.Fatal(err)
		}
		for v := range views {
			views[v] = testutil.NaNs(views[v].Shape()...)
		}
		if _, err := mc.Apply(views, src, ids, 3, 2); err != nil {
			t.Fatal(err)
		}
		return views
	}
	one, many := run(1), run(4)
	testutil.Unchanged(t, "src", src, before)
	for v := range one {
		testutil.Unchanged(t, fmt.Sprintf("view %d GOMAXPROCS 4 vs 1", v), many[v], one[v])
	}
	// Each view of each image is its transform applied with Stream(seed,
	// epoch, id, v), whatever batch it came in.
	for _, i := range []int{0, 17, 39} {
		img := ssl.FromSlice(testutil.Data(src)[i*784:(i+1)*784], 1, 28, 28)
		for v := range 6 {
			grp := mc.Groups[0]
			if v >= 2 {
				grp = mc.Groups[1]
			}
			_, oh, ow, _ := grp.T.Shape(1, 28, 28)
			want := ssl.New(1, oh, ow)
			grp.T.Apply(imageOf(t, want), imageOf(t, img), Stream(3, 2, ids[i], v))
			got := ssl.FromSlice(testutil.Data(one[v])[i*oh*ow:(i+1)*oh*ow], 1, oh, ow)
			testutil.Unchanged(t, fmt.Sprintf("image %d view %d", i, v), got, want)
		}
	}
	// Another epoch or seed gives other views; a single-image batch with the
	// same id gives the same view.
	other, err := mc.Apply(nil, src, ids, 3, 3)
	if err != nil {
		t.Fatal(err)
	}
	if testutil.Data(other[0])[100] == testutil.Data(one[0])[100] && testutil.Data(other[0])[300] == testutil.Data(one[0])[300] {
		t.Errorf("epoch 3 repeats epoch 2's view")
	}
	single, err := mc.Apply(nil, ssl.FromSlice(testutil.Data(src)[17*784:18*784], 1, 1, 28, 28), []int{ids[17]}, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Unchanged(t, "image 17 alone, view 5", single[5], ssl.FromSlice(testutil.Data(one[5])[17*256:18*256], 1, 1, 16, 16))
	// Batch is one view of the same streams.
	got, err := Batch(nil, src, mc.Groups[1].T, ids, 3, 2, 4)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Unchanged(t, "Batch view 4", got, one[4])
}

func TestMultiCropErrors(t *testing.T) {
	mc, _ := protocolCrops(2)
	src := protocolBatch(4)
	good, _ := mc.NewViews(4, 1, 28, 28)
	for _, tc := range []struct {
		name     string
		call     func() error
		sentinel error
		want     string
	}{
		{"rank3_src", func() error { _, err := mc.Apply(nil, testutil.NaNs(4, 28, 28), nil, 0, 0); return err }, ssl.ErrShape, "[4 28 28]"},
		{"ids", func() error { _, err := mc.Apply(nil, src, []int{1, 2}, 0, 0); return err }, ssl.ErrShape, "2 ids"},
		{"dst_len", func() error { _, err := mc.Apply(good[:3], src, nil, 0, 0); return err }, ssl.ErrShape, "3 destinations"},
		{"dst_shape", func() error {
			d := append([]ssl.Tensor(nil), good...)
			d[3] = testutil.NaNs(4, 1, 28, 28)
			_, err := mc.Apply(d, src, nil, 0, 0)
			return err
		}, ssl.ErrShape, "dst[3]"},
		{"dst_alias", func() error {
			d := append([]ssl.Tensor(nil), good...)
			d[1] = d[0]
			_, err := mc.Apply(d, src, nil, 0, 0)
			return err
		}, ssl.ErrShape, "dst[1] overlaps dst[0]"},
		{"dst_src", func() error {
			d := append([]ssl.Tensor(nil), good...)
			d[0] = src
			_, err := mc.Apply(d, src, nil, 0, 0)
			return err
		}, ssl.ErrShape, "overlaps src"},
		{"channels", func() error { _, err := mc.Apply(nil, testutil.NaNs(2, 2, 28, 28), nil, 0, 0); return err }, ssl.ErrShape, "2 channels"},
		{"group_n0", func() error {
			_, err := (&MultiCrop{Groups: []CropGroup{{N: 0, T: RandomHorizontalFlip{}}}}).Apply(nil, src, nil, 0, 0)
			return err
		}, ssl.ErrParam, "N=0"},
		{"no_groups", func() error { _, err := (&MultiCrop{}).Apply(nil, src, nil, 0, 0); return err }, ssl.ErrParam, "no groups"},
		{"new_lengths", func() error { _, err := NewMultiCrop([]int{28}, []int{2, 4}, []float64{0.1}, []float64{1}); return err }, ssl.ErrParam, "one equal"},
		{"new_size0", func() error { _, err := NewMultiCrop([]int{0}, []int{2}, []float64{0.1}, []float64{1}); return err }, ssl.ErrParam, "Size=0"},
		{"new_scale", func() error { _, err := NewMultiCrop([]int{8}, []int{2}, []float64{0}, []float64{1}); return err }, ssl.ErrParam, "Scale=[0 1]"},
		{"new_count", func() error { _, err := NewMultiCrop([]int{8}, []int{0}, []float64{0.1}, []float64{1}); return err }, ssl.ErrParam, "counts[0]=0"},
		{"batch_nil", func() error { _, err := Batch(nil, src, nil, nil, 0, 0, 0); return err }, ssl.ErrParam, "nil"},
		{"batch_dst", func() error {
			_, err := Batch(testutil.NaNs(4, 1, 28, 27), src, RandomHorizontalFlip{}, nil, 0, 0, 0)
			return err
		}, ssl.ErrShape, "dst"},
	} {
		err := tc.call()
		if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %v naming %q", tc.name, err, tc.sentinel, tc.want)
		}
	}
}

func TestRotations(t *testing.T) {
	src := testutil.RandU(testutil.Rand(71), 0, 1, 3, 2, 5, 5)
	dst := testutil.NaNs(12, 2, 5, 5)
	_, labels, err := Rotations(dst, nil, src)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		img := ssl.FromSlice(testutil.Data(src)[i*50:(i+1)*50], 2, 5, 5)
		for k := range 4 {
			if labels[4*i+k] != k {
				t.Fatalf("labels[%d] = %d, want %d", 4*i+k, labels[4*i+k], k)
			}
			testutil.AllClose32(t, fmt.Sprintf("Rotations[%d]", 4*i+k), testutil.Data(dst)[(4*i+k)*50:(4*i+k+1)*50], rotNaive(testutil.F64(img), 2, 5, 5, k), 0, 0)
		}
	}
	if _, _, err := Rotations(nil, nil, testutil.NaNs(2, 1, 4, 5)); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("non-square: %v, want ErrShape", err)
	}
	if _, _, err := Rotations(nil, make([]int, 3), src); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("labels length: %v, want ErrShape", err)
	}
}

func TestStream(t *testing.T) {
	seen := map[[2]uint64]string{}
	for _, a := range [][4]int{{0, 0, 0, 0}, {1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}, {0, 0, -1, 0}, {1, 1, 1, 1}} {
		s1, s2 := StreamSeeds(uint64(a[0]), uint64(a[1]), a[2], a[3])
		key := fmt.Sprint(a)
		if prev, dup := seen[[2]uint64{s1, s2}]; dup {
			t.Errorf("StreamSeeds%v = StreamSeeds%v", key, prev)
		}
		seen[[2]uint64{s1, s2}] = key
	}
	if Stream(1, 2, 3, 4).Uint64() != rand.New(rand.NewPCG(StreamSeeds(1, 2, 3, 4))).Uint64() {
		t.Errorf("Stream is not PCG(StreamSeeds)")
	}
}

// TestTypedNilDestination: a nil *tensor.Dense destination is allocated, as
// an untyped nil is.
func TestTypedNilDestination(t *testing.T) {
	var none *tensor.Dense
	img := testutil.RandU(testutil.Rand(71), 0, 1, 1, 6, 6)
	batch := testutil.RandU(testutil.Rand(72), 0, 1, 2, 1, 6, 6)
	for _, tc := range []struct {
		name string
		call func() (ssl.Tensor, error)
	}{
		{"ResizedCrop", func() (ssl.Tensor, error) { return ResizedCrop(none, img, 1, 1, 4, 4) }},
		{"HFlip", func() (ssl.Tensor, error) { return HFlip(none, img) }},
		{"AdjustBrightness", func() (ssl.Tensor, error) { return AdjustBrightness(none, img, 0.5) }},
		{"GaussianBlur", func() (ssl.Tensor, error) { return GaussianBlur(none, img, 3, 3, 1, 1) }},
		{"Batch", func() (ssl.Tensor, error) { return Batch(none, batch, RandomHorizontalFlip{P: 1}, nil, 0, 0, 0) }},
		{"Rotations", func() (ssl.Tensor, error) { d, _, err := Rotations(none, nil, batch); return d, err }},
	} {
		got, err := tc.call()
		if err != nil || check.IsNil(got) {
			t.Errorf("%s(typed nil dst) = %v, %v; want an allocated destination", tc.name, got, err)
		}
	}
}
