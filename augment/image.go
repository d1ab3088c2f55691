package augment

import (
	"fmt"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// Image is one float32 image of C channels, H rows and W columns in CHW
// order: the value of channel c at row y, column x is Pix[(c·H+y)·W+x].
// Transforms read and write Images; [ImageOf] views a rank-3 tensor as one.
type Image struct {
	C, H, W int
	Pix     []float32
}

// ImageOf views t, a contiguous float32 tensor of shape [C, H, W], as an
// Image sharing its storage. It returns an error wrapping ssl.ErrShape for
// any other rank or layout, or an empty dimension.
func ImageOf(t ssl.Tensor) (Image, error) {
	shape, data, err := ssl.View(t)
	if err != nil {
		return Image{}, err
	}
	if len(shape) != 3 {
		return Image{}, fmt.Errorf("shape %v has rank %d, want 3 (C, H, W): %w", shape, len(shape), ssl.ErrShape)
	}
	if shape[0] < 1 || shape[1] < 1 || shape[2] < 1 {
		return Image{}, fmt.Errorf("shape %v has an empty dimension: %w", shape, ssl.ErrShape)
	}
	return Image{C: shape[0], H: shape[1], W: shape[2], Pix: data}, nil
}

// plane returns channel c.
func (m Image) plane(c int) []float32 {
	n := m.H * m.W
	return m.Pix[c*n : (c+1)*n : (c+1)*n]
}

// copyImage writes src into dst (same shape).
func copyImage(dst, src Image) { copy(dst.Pix[:len(src.Pix)], src.Pix) }

// input views the image argument img of function fn ("augment: Func").
func input(fn string, img ssl.Tensor) (Image, error) {
	if check.IsNil(img) {
		return Image{}, check.Errorf(fn, ssl.ErrShape, "img is nil")
	}
	m, err := ImageOf(img)
	if err != nil {
		return m, fmt.Errorf("%s: img: %w", fn, err)
	}
	return m, nil
}

// output views or allocates the destination of function fn, which must have
// shape [c, h, w]. If inPlace, dst may be exactly src's storage; otherwise
// (and for any partial overlap) an overlap is an error.
func output(fn string, dst ssl.Tensor, src Image, c, h, w int, inPlace bool) (ssl.Tensor, Image, error) {
	if check.IsNil(dst) {
		t := ssl.New(c, h, w)
		return t, Image{C: c, H: h, W: w, Pix: t.Float32s()}, nil
	}
	data, err := check.Dst(fn, "dst", dst, check.Shape3(c, h, w))
	if err != nil {
		return dst, Image{}, err
	}
	if kernel.Overlaps(data, src.Pix) {
		same := len(data) == len(src.Pix) && &data[0] == &src.Pix[0]
		if !inPlace || !same {
			return dst, Image{}, check.Errorf(fn, ssl.ErrShape, "dst overlaps img")
		}
	}
	return dst, Image{C: c, H: h, W: w, Pix: data}, nil
}
