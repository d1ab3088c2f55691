package conformance_test

import (
	"testing"

	"ssl"
	"ssl/augment"
	"ssl/internal/conformance"
	"ssl/internal/testutil"
)

// Adapters for the augment kinds (testdata/vectors/augment/KINDS.md): each
// maps one torchvision functional call onto the package's function.
func init() {
	register("augment.resized_crop", runResizedCrop)
	register("augment.hflip", runHFlip)
	register("augment.rotate90", runRotate90)
	register("augment.adjust_brightness", runAdjust(augment.AdjustBrightness, "brightness_factor"))
	register("augment.adjust_contrast", runAdjust(augment.AdjustContrast, "contrast_factor"))
	register("augment.adjust_saturation", runAdjust(augment.AdjustSaturation, "saturation_factor"))
	register("augment.adjust_hue", runAdjust(augment.AdjustHue, "hue_factor"))
	register("augment.rgb_to_grayscale", runGrayscale)
	register("augment.gaussian_blur", runGaussianBlur)
	register("augment.solarize", runSolarize)
	register("augment.normalize", runNormalize)
}

// augmentOut returns a NaN-filled destination of the output's shape, so
// every element must be written.
func augmentOut(t testing.TB, c *conformance.Case) ssl.Tensor {
	t.Helper()
	return testutil.NaNs(c.Out(t, "out").Shape...)
}

// checkAugment compares dst with "out", or checks the error of an
// expect_error case, and that img was not modified.
func checkAugment(t testing.TB, c *conformance.Case, img, before, dst ssl.Tensor, err error) {
	t.Helper()
	if c.ExpectError != "" {
		c.CheckError(t, err)
		return
	}
	if err != nil {
		t.Fatalf("%s: %v", c.Path, err)
	}
	testutil.Unchanged(t, "img", img, before)
	c.Check32(t, "out", testutil.Data(dst))
}

func runResizedCrop(t testing.TB, c *conformance.Case) {
	if c.String(t, "interpolation") != "bilinear" || c.Bool(t, "antialias") || c.Bool(t, "align_corners") {
		t.Skipf("%s: only bilinear, antialias off, align_corners off is implemented", c.Path)
	}
	var size []int
	c.Param(t, "size", &size)
	img := c.Tensor(t, "img")
	before := testutil.Clone(img)
	var dst ssl.Tensor = testutil.NaNs(img.Shape()[0], size[0], size[1])
	_, err := augment.ResizedCrop(dst, img, c.Int(t, "top"), c.Int(t, "left"), c.Int(t, "height"), c.Int(t, "width"))
	checkAugment(t, c, img, before, dst, err)
}

func runHFlip(t testing.TB, c *conformance.Case) {
	img := c.Tensor(t, "img")
	before, dst := testutil.Clone(img), augmentOut(t, c)
	_, err := augment.HFlip(dst, img)
	checkAugment(t, c, img, before, dst, err)
}

func runRotate90(t testing.TB, c *conformance.Case) {
	img := c.Tensor(t, "img")
	before, dst := testutil.Clone(img), augmentOut(t, c)
	_, err := augment.Rotate90(dst, img, c.Int(t, "k"))
	checkAugment(t, c, img, before, dst, err)
}

func runAdjust(fn func(dst, img ssl.Tensor, f float64) (ssl.Tensor, error), param string) conformance.Runner {
	return func(t testing.TB, c *conformance.Case) {
		img := c.Tensor(t, "img")
		before, dst := testutil.Clone(img), augmentOut(t, c)
		_, err := fn(dst, img, c.Float(t, param))
		checkAugment(t, c, img, before, dst, err)
	}
}

func runGrayscale(t testing.TB, c *conformance.Case) {
	img := c.Tensor(t, "img")
	before, dst := testutil.Clone(img), augmentOut(t, c)
	if n := c.Int(t, "num_output_channels"); dst.Shape()[0] != n {
		t.Fatalf("%s: out has %d channels, num_output_channels is %d", c.Path, dst.Shape()[0], n)
	}
	_, err := augment.RGBToGrayscale(dst, img)
	checkAugment(t, c, img, before, dst, err)
}

func runGaussianBlur(t testing.TB, c *conformance.Case) {
	if c.String(t, "padding_mode") != "reflect" {
		t.Skipf("%s: only reflect padding is implemented", c.Path)
	}
	var ks []int
	var sigma []float64
	c.Param(t, "kernel_size", &ks)
	c.Param(t, "sigma", &sigma)
	img := c.Tensor(t, "img")
	before, dst := testutil.Clone(img), augmentOut(t, c)
	_, err := augment.GaussianBlur(dst, img, ks[0], ks[1], sigma[0], sigma[1])
	checkAugment(t, c, img, before, dst, err)
	if c.HasOut("kernel2d") {
		k, err := augment.GaussianKernel2D(ks[0], ks[1], sigma[0], sigma[1])
		if err != nil {
			t.Fatalf("%s: GaussianKernel2D: %v", c.Path, err)
		}
		c.CheckTol(t, "kernel2d", k, c.Tol.ATol, c.Tol.RTol) // float64 kernel: the file's own tolerance
	}
}

func runSolarize(t testing.TB, c *conformance.Case) {
	img := c.Tensor(t, "img")
	before, dst := testutil.Clone(img), augmentOut(t, c)
	_, err := augment.Solarize(dst, img, c.Float(t, "threshold"))
	checkAugment(t, c, img, before, dst, err)
}

func runNormalize(t testing.TB, c *conformance.Case) {
	var mean, std []float64
	c.Param(t, "mean", &mean)
	c.Param(t, "std", &std)
	img := c.Tensor(t, "img")
	before, dst := testutil.Clone(img), augmentOut(t, c)
	_, err := augment.Normalize(dst, img, mean, std)
	checkAugment(t, c, img, before, dst, err)
}
