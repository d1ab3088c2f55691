package augment

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// tol32 is the float32-against-float64 tolerance of FORMAT.md.
func check32(t *testing.T, name string, got ssl.Tensor, want []float64) {
	t.Helper()
	testutil.AllClose32(t, name, testutil.Data(got), want, testutil.ATol32*math.Max(testutil.MaxAbs(want), 1), testutil.RTol32)
}

func TestResizedCrop(t *testing.T) {
	for _, tc := range []struct {
		c, h, w, top, left, ch, cw, sh, sw int
	}{
		{1, 28, 28, 0, 0, 28, 28, 16, 16},
		{1, 28, 28, 3, 5, 20, 17, 28, 28},
		{3, 32, 32, 4, 2, 24, 28, 16, 16},
		{3, 32, 32, 0, 0, 32, 32, 32, 32},
		{1, 28, 28, 10, 10, 7, 9, 28, 28},
		{2, 5, 7, 0, 0, 1, 1, 3, 4},             // a single pixel
		{1, 10, 10, -3, 6, 8, 8, 12, 9},         // box leaves the image: zeros
		{1, 10, 10, -20, -20, 5, 5, 4, 4},       // box entirely outside
		{1, 300, 300, 0, 0, 300, 300, 290, 270}, // tables beyond the stack size
	} {
		name := fmt.Sprintf("c%d_h%dw%d_t%dl%dh%dw%d_s%dx%d", tc.c, tc.h, tc.w, tc.top, tc.left, tc.ch, tc.cw, tc.sh, tc.sw)
		t.Run(name, func(t *testing.T) {
			img := testutil.RandU(testutil.Rand(1), -0.5, 1.5, tc.c, tc.h, tc.w)
			before := testutil.Clone(img)
			dst := testutil.NaNs(tc.c, tc.sh, tc.sw)
			if _, err := ResizedCrop(dst, img, tc.top, tc.left, tc.ch, tc.cw); err != nil {
				t.Fatalf("ResizedCrop(%s): %v", name, err)
			}
			testutil.Unchanged(t, "img", img, before)
			check32(t, "ResizedCrop "+name, dst, cropNaive(testutil.F64(img), tc.c, tc.h, tc.w, tc.top, tc.left, tc.ch, tc.cw, tc.sh, tc.sw))
		})
	}
	// nil dst: the crop at its own size, an exact copy.
	img := testutil.RandU(testutil.Rand(2), 0, 1, 1, 6, 6)
	got, err := ResizedCrop(nil, img, 1, 2, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	check32(t, "ResizedCrop(nil dst)", got, cropNaive(testutil.F64(img), 1, 6, 6, 1, 2, 3, 4, 3, 4))
}

func TestGeometry(t *testing.T) {
	for _, s := range [][3]int{{1, 5, 6}, {3, 4, 4}, {2, 1, 7}, {1, 3, 1}} {
		img := testutil.RandU(testutil.Rand(3), 0, 1, s[0], s[1], s[2])
		before := testutil.Clone(img)
		dst := testutil.NaNs(s[0], s[1], s[2])
		if _, err := HFlip(dst, img); err != nil {
			t.Fatal(err)
		}
		testutil.AllClose32(t, fmt.Sprintf("HFlip%v", s), testutil.Data(dst), flipNaive(testutil.F64(img), s[0], s[1], s[2]), 0, 0)
		// In place.
		inPlace := testutil.Clone(img)
		if _, err := HFlip(inPlace, inPlace); err != nil {
			t.Fatal(err)
		}
		testutil.AllClose32(t, fmt.Sprintf("HFlip%v in place", s), testutil.Data(inPlace), flipNaive(testutil.F64(img), s[0], s[1], s[2]), 0, 0)
		for k := -1; k <= 5; k++ {
			kk := ((k % 4) + 4) % 4
			oh, ow := s[1], s[2]
			if kk%2 == 1 {
				oh, ow = ow, oh
			}
			dst := testutil.NaNs(s[0], oh, ow)
			if _, err := Rotate90(dst, img, k); err != nil {
				t.Fatalf("Rotate90(%v, %d): %v", s, k, err)
			}
			testutil.AllClose32(t, fmt.Sprintf("Rotate90%v k=%d", s, k), testutil.Data(dst), rotNaive(testutil.F64(img), s[0], s[1], s[2], kk), 0, 0)
		}
		testutil.Unchanged(t, "img", img, before)
	}
}

func TestColour(t *testing.T) {
	type fn func(dst, img ssl.Tensor, f float64) (ssl.Tensor, error)
	for _, c := range []int{1, 3} {
		for _, lo := range []float64{0, -0.5} { // -0.5: values outside [0, 1]
			img := testutil.RandU(testutil.Rand(uint64(4+c)), lo, 1-2*lo, c, 5, 6)
			x := testutil.F64(img)
			for _, tc := range []struct {
				name   string
				f      fn
				vals   []float64
				oracle func(f float64) []float64
			}{
				{"AdjustBrightness", AdjustBrightness, []float64{0, 0.6, 1, 1.4}, func(f float64) []float64 { return brightnessNaive(x, f) }},
				{"AdjustContrast", AdjustContrast, []float64{0, 0.6, 1, 1.7}, func(f float64) []float64 { return contrastNaive(x, c, 5, 6, f) }},
				{"AdjustSaturation", AdjustSaturation, []float64{0, 0.5, 1.6}, func(f float64) []float64 { return saturationNaive(x, c, 5, 6, f) }},
				{"AdjustHue", AdjustHue, []float64{-0.5, -0.3, 0, 0.1, 0.5}, func(f float64) []float64 { return hueNaive(x, c, 5, 6, f) }},
				{"Solarize", Solarize, []float64{0.3, 0.5, 1, -1}, func(f float64) []float64 {
					out := make([]float64, len(x))
					for i, v := range x {
						out[i] = v
						if float32(v) >= float32(f) {
							out[i] = 1 - v
						}
					}
					return out
				}},
			} {
				if tc.name == "AdjustHue" && lo < 0 {
					continue // hue is defined on [0, 1]
				}
				for _, f := range tc.vals {
					name := fmt.Sprintf("%s(c=%d, lo=%v, f=%v)", tc.name, c, lo, f)
					before := testutil.Clone(img)
					dst := testutil.NaNs(c, 5, 6)
					if _, err := tc.f(dst, img, f); err != nil {
						t.Fatalf("%s: %v", name, err)
					}
					testutil.Unchanged(t, name+" img", img, before)
					want := tc.oracle(f)
					check32(t, name, dst, want)
					inPlace := testutil.Clone(img)
					if _, err := tc.f(inPlace, inPlace, f); err != nil {
						t.Fatalf("%s in place: %v", name, err)
					}
					check32(t, name+" in place", inPlace, want)
				}
			}
		}
	}
	// Grayscale and normalisation.
	img := testutil.RandU(testutil.Rand(9), -0.2, 1.2, 3, 4, 5)
	g := grayNaive(testutil.F64(img), 4, 5)
	for _, oc := range []int{1, 3} {
		dst := testutil.NaNs(oc, 4, 5)
		if _, err := RGBToGrayscale(dst, img); err != nil {
			t.Fatal(err)
		}
		var want []float64
		for range oc {
			want = append(want, g...)
		}
		check32(t, fmt.Sprintf("RGBToGrayscale(%d)", oc), dst, want)
	}
	mean, std := []float64{0.485, 0.456, 0.406}, []float64{0.229, 0.224, 1e-3}
	dst := testutil.NaNs(3, 4, 5)
	if _, err := Normalize(dst, img, mean, std); err != nil {
		t.Fatal(err)
	}
	want := testutil.F64(img)
	for i := range want {
		want[i] = (want[i] - mean[i/20]) / std[i/20]
	}
	check32(t, "Normalize", dst, want)
}

func TestGaussianBlur(t *testing.T) {
	for _, tc := range []struct {
		c, h, w, kx, ky int
		sx, sy          float64
	}{
		{1, 8, 8, 3, 3, 1, 1},
		{3, 9, 7, 5, 3, 1.5, 0.8},
		{1, 6, 6, 7, 7, 2, 2},
		{1, 5, 5, 5, 5, 0.1, 0.1},
		{2, 4, 9, 1, 3, 1, 1},
		{1, 3, 600, 9, 1, 3, 1}, // row buffer beyond the stack size
	} {
		name := fmt.Sprintf("c%d_h%dw%d_k%dx%d_s%vx%v", tc.c, tc.h, tc.w, tc.kx, tc.ky, tc.sx, tc.sy)
		img := testutil.RandU(testutil.Rand(11), 0, 1, tc.c, tc.h, tc.w)
		dst := testutil.NaNs(tc.c, tc.h, tc.w)
		if _, err := GaussianBlur(dst, img, tc.kx, tc.ky, tc.sx, tc.sy); err != nil {
			t.Fatalf("GaussianBlur(%s): %v", name, err)
		}
		check32(t, "GaussianBlur "+name, dst, blurNaive(testutil.F64(img), tc.c, tc.h, tc.w, tc.kx, tc.ky, tc.sx, tc.sy))
	}
	k, err := GaussianKernel2D(3, 1, 1, 1)
	if err != nil || len(k) != 3 || !testutil.Close(k[0]+k[1]+k[2], 1, 1e-15, 0) || k[0] != k[2] {
		t.Errorf("GaussianKernel2D(3, 1) = %v, %v", k, err)
	}
}

// errCase is one bad call: it must fail with the sentinel, name want, and
// leave dst untouched.
type errCase struct {
	name     string
	sentinel error
	want     string
	call     func(dst ssl.Tensor) error
	dst      ssl.Tensor
}

func TestFunctionalErrors(t *testing.T) {
	img := testutil.RandU(testutil.Rand(12), 0, 1, 3, 6, 6)
	gray := testutil.RandU(testutil.Rand(13), 0, 1, 1, 6, 6)
	rank2 := testutil.RandU(testutil.Rand(14), 0, 1, 6, 6)
	four := testutil.RandU(testutil.Rand(15), 0, 1, 4, 6, 6)
	base := make([]float32, 3*6*6+1)
	shifted, part := ssl.FromSlice(base[:3*6*6], 3, 6, 6), ssl.FromSlice(base[1:], 3, 6, 6) // partial overlap
	nan := func(s ...int) ssl.Tensor { return testutil.NaNs(s...) }
	cases := []errCase{
		{"crop_zero_height", ssl.ErrParam, "height=0", func(d ssl.Tensor) error { _, err := ResizedCrop(d, img, 0, 0, 0, 4); return err }, nan(3, 4, 4)},
		{"crop_rank2", ssl.ErrShape, "rank 2", func(d ssl.Tensor) error { _, err := ResizedCrop(d, rank2, 0, 0, 2, 2); return err }, nan(3, 4, 4)},
		{"crop_dst_channels", ssl.ErrShape, "dst", func(d ssl.Tensor) error { _, err := ResizedCrop(d, img, 0, 0, 2, 2); return err }, nan(1, 4, 4)},
		{"crop_nil_img", ssl.ErrShape, "nil", func(d ssl.Tensor) error { _, err := ResizedCrop(d, nil, 0, 0, 2, 2); return err }, nan(3, 4, 4)},
		{"hflip_partial_overlap", ssl.ErrShape, "overlaps", func(d ssl.Tensor) error { _, err := HFlip(part, shifted); return err }, nan(1)},
		{"hflip_shape", ssl.ErrShape, "dst", func(d ssl.Tensor) error { _, err := HFlip(d, img); return err }, nan(3, 6, 5)},
		{"rotate_inplace", ssl.ErrShape, "overlaps", func(d ssl.Tensor) error { _, err := Rotate90(img, img, 2); return err }, nan(1)},
		{"rotate_shape", ssl.ErrShape, "dst", func(d ssl.Tensor) error { _, err := Rotate90(d, img, 1); return err }, nan(3, 6, 5)},
		{"brightness_neg", ssl.ErrParam, "AdjustBrightness: f must be finite and ≥ 0 (f=-0.1)", func(d ssl.Tensor) error { _, err := AdjustBrightness(d, img, -0.1); return err }, nan(3, 6, 6)},
		{"brightness_nan", ssl.ErrParam, "NaN", func(d ssl.Tensor) error { _, err := AdjustBrightness(d, img, math.NaN()); return err }, nan(3, 6, 6)},
		{"contrast_inf", ssl.ErrParam, "+Inf", func(d ssl.Tensor) error { _, err := AdjustContrast(d, img, math.Inf(1)); return err }, nan(3, 6, 6)},
		{"contrast_4ch", ssl.ErrShape, "4 channels", func(d ssl.Tensor) error { _, err := AdjustContrast(d, four, 1); return err }, nan(4, 6, 6)},
		{"saturation_neg", ssl.ErrParam, "AdjustSaturation: f must be finite and ≥ 0 (f=-1)", func(d ssl.Tensor) error { _, err := AdjustSaturation(d, img, -1); return err }, nan(3, 6, 6)},
		{"hue_range", ssl.ErrParam, "AdjustHue: h must be in [-0.5, 0.5] (h=0.6)", func(d ssl.Tensor) error { _, err := AdjustHue(d, img, 0.6); return err }, nan(3, 6, 6)},
		{"hue_rank", ssl.ErrShape, "rank 2", func(d ssl.Tensor) error { _, err := AdjustHue(d, rank2, 0.1); return err }, nan(3, 6, 6)},
		{"gray_4ch", ssl.ErrShape, "4 channels", func(d ssl.Tensor) error { _, err := RGBToGrayscale(d, four); return err }, nan(1, 6, 6)},
		{"gray_dst", ssl.ErrShape, "dst", func(d ssl.Tensor) error { _, err := RGBToGrayscale(d, img); return err }, nan(2, 6, 6)},
		{"blur_even", ssl.ErrParam, "kx=4", func(d ssl.Tensor) error { _, err := GaussianBlur(d, img, 4, 3, 1, 1); return err }, nan(3, 6, 6)},
		{"blur_sigma", ssl.ErrParam, "sy=0", func(d ssl.Tensor) error { _, err := GaussianBlur(d, img, 3, 3, 1, 0); return err }, nan(3, 6, 6)},
		{"blur_too_big", ssl.ErrParam, "ky=13", func(d ssl.Tensor) error { _, err := GaussianBlur(d, img, 3, 13, 1, 1); return err }, nan(3, 6, 6)},
		{"solarize_above1", ssl.ErrParam, "threshold=1.5", func(d ssl.Tensor) error { _, err := Solarize(d, img, 1.5); return err }, nan(3, 6, 6)},
		{"normalize_std0", ssl.ErrParam, "std[1]=0", func(d ssl.Tensor) error { _, err := Normalize(d, img, []float64{0}, []float64{1, 0, 1}); return err }, nan(3, 6, 6)},
		{"normalize_len", ssl.ErrParam, "want 1 or 1", func(d ssl.Tensor) error { _, err := Normalize(d, gray, []float64{0, 0}, []float64{1}); return err }, nan(1, 6, 6)},
		{"normalize_nil", ssl.ErrShape, "nil", func(d ssl.Tensor) error { _, err := Normalize(d, nil, []float64{0}, []float64{1}); return err }, nan(1, 6, 6)},
	}
	imgBefore := testutil.Clone(img)
	runErrCases(t, cases)
	testutil.Unchanged(t, "img", img, imgBefore)
	if _, err := GaussianKernel(0, 1); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("GaussianKernel(0, 1) = %v, want ErrParam", err)
	}
}

func runErrCases(t *testing.T, cases []errCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.Clone(tc.dst)
			err := tc.call(tc.dst)
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("%s: error %v, want %v", tc.name, err, tc.sentinel)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "augment: ") {
				t.Errorf("%s: error %q does not start with \"augment: \" and name %q", tc.name, err, tc.want)
			}
			testutil.Unchanged(t, tc.name+" dst", tc.dst, before)
		})
	}
}
