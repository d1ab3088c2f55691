package run

import (
	"fmt"

	"ssl"
	"ssl/augment"
)

// ProtocolMultiCrop returns the views of the fmnist-ssl-v1 protocol
// (examples/PROTOCOL.md, "Augmentations"): two global crops
// RandomResizedCrop 28 with scale (0.25, 1) and ratio (3/4, 4/3), then
// local small crops 16×16 with scale (0.08, 0.25); each followed by a
// horizontal flip with p 0.5, brightness and contrast jitter of strength 0.4
// applied with p 0.8, and normalization with the protocol's [Mean] and
// [Std]. local = 0 gives the two-view pipeline, local = 4 SwAV's
// 2×28 + 4×16. It returns an error wrapping ssl.ErrParam if local < 0.
func ProtocolMultiCrop(local int) (*augment.MultiCrop, error) {
	return multiCrop(local, ProtocolGlobalSize, ProtocolCropMin, ProtocolLocalScale, ProtocolJitter, 0)
}

// ProtocolGlobalSize is the side of the protocol's two global views.
const ProtocolGlobalSize = 28

// ProtocolJitter is the protocol's strength of the brightness and contrast
// jitter, applied with probability 0.8.
const ProtocolJitter = 0.4

// ProtocolCropMin is the protocol's smallest area fraction of the 28×28
// views' RandomResizedCrop.
const ProtocolCropMin = 0.25

// ProtocolLocalScale is the protocol's area-fraction range of the 16×16
// local crops' RandomResizedCrop.
var ProtocolLocalScale = [2]float64{0.08, 0.25}

// MultiCrop is [ProtocolMultiCrop] with the global views' crop scale
// (c.CropMin, 1) (-crop-min; the protocol's 0.25 by default), the jitter
// strength c.Jitter, the blur probability c.Blur (the protocol's 0) and the
// global views' side c.GlobalSize (the protocol's 28; a smaller side trains
// on the same crops at a lower resolution).
func (c *Config) MultiCrop(local int) (*augment.MultiCrop, error) {
	return multiCrop(local, c.GlobalSize, c.CropMin, ProtocolLocalScale, c.Jitter, c.Blur)
}

// MultiCropLocalScale is [Config.MultiCrop] with the 16×16 local crops'
// scale range (scale[0], scale[1]) in place of the protocol's (0.08, 0.25).
// It returns an error wrapping ssl.ErrParam, naming the examples' flags
// -local-min and -local-max, if the range is not 0 < scale[0] ≤ scale[1] ≤
// 1, and one if local < 0.
func (c *Config) MultiCropLocalScale(local int, scale [2]float64) (*augment.MultiCrop, error) {
	if !(scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1) {
		return nil, fmt.Errorf("run: the local crops' scale -local-min %g and -local-max %g must satisfy 0 < min ≤ max ≤ 1: %w", scale[0], scale[1], ssl.ErrParam)
	}
	return multiCrop(local, c.GlobalSize, c.CropMin, scale, c.Jitter, c.Blur)
}

func multiCrop(local, global int, cropMin float64, localScale [2]float64, jitter, blur float64) (*augment.MultiCrop, error) {
	if local < 0 {
		return nil, fmt.Errorf("run: ProtocolMultiCrop: local crops must be ≥ 0 (local=%d): %w", local, ssl.ErrParam)
	}
	if !(jitter >= 0 && jitter <= 1) {
		return nil, fmt.Errorf("run: the brightness and contrast jitter -jitter %g must be in [0, 1]: %w", jitter, ssl.ErrParam)
	}
	if global < 8 || global > 28 {
		return nil, fmt.Errorf("run: the global views' side -global-size %d must be in [8, 28]: %w", global, ssl.ErrParam)
	}
	if !(blur >= 0 && blur <= 1) {
		return nil, fmt.Errorf("run: the blur probability -blur %g must be in [0, 1]: %w", blur, ssl.ErrParam)
	}
	post := []augment.Transform{
		augment.RandomHorizontalFlip{P: 0.5},
		augment.RandomApply{T: augment.ColorJitter{Brightness: jitter, Contrast: jitter}, P: 0.8},
	}
	if blur > 0 {
		post = append(post, augment.RandomApply{T: augment.RandomGaussianBlur{KernelSize: 3, Sigma: [2]float64{0.1, 2}}, P: blur})
	}
	post = append(post, augment.Normalization{Mean: []float64{Mean}, Std: []float64{Std}})
	if local == 0 {
		return augment.NewMultiCrop([]int{global}, []int{2}, []float64{cropMin}, []float64{1}, post...)
	}
	return augment.NewMultiCrop([]int{global, 16}, []int{2, local}, []float64{cropMin, localScale[0]}, []float64{1, localScale[1]}, post...)
}
