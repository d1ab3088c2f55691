package augment

import (
	"math"
	"math/rand/v2"

	"ssl"
	"ssl/internal/check"
)

// Solarize writes img with every value at or above threshold inverted into
// dst, as torchvision's F.solarize on a float tensor:
//
//	out = img ≥ threshold ? 1 − img : img
//
// (the comparison is ≥, in float32; nothing is clamped). dst may be img
// itself; a nil dst is allocated; dst is returned. It returns an error
// wrapping ssl.ErrParam if threshold is above 1 (torchvision rejects it for
// float images) or NaN, and one wrapping ssl.ErrShape if img is not rank 3
// or dst does not match.
//
// Reference: torchvision/transforms/functional_tensor.py solarize (v0.14.1);
// BYOL's augmentations (Grill et al. 2020, App. B).
func Solarize(dst, img ssl.Tensor, threshold float64) (ssl.Tensor, error) {
	if !(threshold <= 1) {
		return dst, check.Errorf("augment: Solarize", ssl.ErrParam, "threshold must be ≤ 1 for float images (threshold=%v)", threshold)
	}
	return pointwise("augment: Solarize", dst, img, nil, func(out, src Image) { solarize(out, src, float32(threshold)) })
}

func solarize(dst, src Image, th float32) {
	out := dst.Pix[:len(src.Pix)]
	for i, v := range src.Pix {
		if v >= th {
			v = 1 - v
		}
		out[i] = v
	}
}

// RandomSolarize is torchvision's RandomSolarize(Threshold, P): it solarizes
// ([Solarize]) if a float32 uniform draw is below P.
type RandomSolarize struct {
	// Threshold is at most 1 (BYOL uses 0.5).
	Threshold float64
	// P is the probability, in [0, 1].
	P float64
}

// Shape implements [Transform].
func (t RandomSolarize) Shape(c, h, w int) (int, int, int, error) {
	if !(t.Threshold <= 1) {
		return 0, 0, 0, check.Errorf("augment: RandomSolarize", ssl.ErrParam, "threshold must be ≤ 1 (Threshold=%v)", t.Threshold)
	}
	if err := check.Within("augment: RandomSolarize", "P", t.P, 0, 1); err != nil {
		return 0, 0, 0, err
	}
	return c, h, w, nil
}

// Apply implements [Transform].
func (t RandomSolarize) Apply(dst, src Image, r *rand.Rand) {
	if r.Float32() < float32(t.P) {
		solarize(dst, src, float32(t.Threshold))
		return
	}
	copyImage(dst, src)
}

// Normalize writes (img[c] − mean[c]) / std[c] into dst for each channel c,
// as torchvision's F.normalize: a division, not a multiplication by 1/std,
// and no clamp. mean and std have one value per channel, or one value for
// all. dst may be img itself; a nil dst is allocated; dst is returned. It
// returns an error wrapping ssl.ErrParam if mean or std has another length,
// a std is zero, or a value is not finite, and one wrapping ssl.ErrShape if
// img is not rank 3 or dst does not match.
//
// Reference: torchvision/transforms/functional_tensor.py normalize (v0.14.1).
func Normalize(dst, img ssl.Tensor, mean, std []float64) (ssl.Tensor, error) {
	t := Normalization{Mean: mean, Std: std}
	valid := func(src Image) error { _, _, _, err := t.Shape(src.C, src.H, src.W); return err }
	return pointwise("augment: Normalize", dst, img, valid, func(out, src Image) { t.Apply(out, src, nil) })
}

// Normalization is torchvision's Normalize(Mean, Std) as a [Transform] (see
// [Normalize]); it draws nothing. To normalize a whole batch of
// un-augmented images (for evaluation), run it with [Batch], for example
// with Fashion-MNIST's pixel mean and standard deviation:
//
//	Batch(dst, images, Normalization{Mean: []float64{0.2860}, Std: []float64{0.3530}}, nil, 0, 0, 0)
type Normalization struct {
	// Mean and Std hold one value per channel, or one value for all; every
	// Std is non-zero.
	Mean, Std []float64
}

// Shape implements [Transform].
func (t Normalization) Shape(c, h, w int) (int, int, int, error) {
	if (len(t.Mean) != 1 && len(t.Mean) != c) || (len(t.Std) != 1 && len(t.Std) != c) {
		return 0, 0, 0, check.Errorf("augment: Normalize", ssl.ErrParam, "mean has %d values and std %d, want 1 or %d (the channels)", len(t.Mean), len(t.Std), c)
	}
	for i, m := range t.Mean {
		if math.IsNaN(m) || math.IsInf(m, 0) {
			return 0, 0, 0, check.Errorf("augment: Normalize", ssl.ErrParam, "mean must be finite (mean[%d]=%v)", i, m)
		}
	}
	for i, s := range t.Std {
		if s == 0 || math.IsNaN(s) || math.IsInf(s, 0) {
			return 0, 0, 0, check.Errorf("augment: Normalize", ssl.ErrParam, "std must be finite and non-zero (std[%d]=%v)", i, s)
		}
	}
	return c, h, w, nil
}

// Apply implements [Transform]; r is not used and may be nil.
func (t Normalization) Apply(dst, src Image, _ *rand.Rand) {
	for c := 0; c < src.C; c++ {
		m, s := float32(t.Mean[min(c, len(t.Mean)-1)]), float32(t.Std[min(c, len(t.Std)-1)])
		in, out := src.plane(c), dst.plane(c)
		for i, v := range in {
			out[i] = (v - m) / s
		}
	}
}
