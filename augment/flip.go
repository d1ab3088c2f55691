package augment

import (
	"math/rand/v2"

	"ssl"
	"ssl/internal/check"
)

// HFlip writes img [C, H, W] mirrored left to right into dst:
//
//	out[c,i,j] = img[c,i,W−1−j]
//
// as torchvision's F.hflip. dst may be img itself (exact aliasing); a nil dst
// is allocated; dst is returned. It returns an error wrapping ssl.ErrShape if
// img is not rank 3, dst's shape differs or dst partly overlaps img.
//
// Reference: torchvision/transforms/functional.py hflip (v0.14.1).
func HFlip(dst, img ssl.Tensor) (ssl.Tensor, error) {
	src, err := input("augment: HFlip", img)
	if err != nil {
		return dst, err
	}
	dst, out, err := output("augment: HFlip", dst, src, src.C, src.H, src.W, true)
	if err != nil {
		return dst, err
	}
	hflip(out, src)
	return dst, nil
}

// hflip mirrors src into dst; dst may equal src.
func hflip(dst, src Image) {
	w := src.W
	for r := 0; r < src.C*src.H; r++ {
		in, out := src.Pix[r*w:(r+1)*w], dst.Pix[r*w:(r+1)*w]
		for i, j := 0, w-1; i <= j; i, j = i+1, j-1 {
			out[i], out[j] = in[j], in[i]
		}
	}
}

// RandomHorizontalFlip is torchvision's RandomHorizontalFlip(P): it flips the
// image ([HFlip]) if a float32 uniform draw is below P.
type RandomHorizontalFlip struct {
	// P is the probability of flipping, in [0, 1]. torchvision's default is
	// 0.5; here the zero value means never, so set it.
	P float64
}

// Shape implements [Transform].
func (t RandomHorizontalFlip) Shape(c, h, w int) (int, int, int, error) {
	if err := check.Within("augment: RandomHorizontalFlip", "P", t.P, 0, 1); err != nil {
		return 0, 0, 0, err
	}
	return c, h, w, nil
}

// Apply implements [Transform].
func (t RandomHorizontalFlip) Apply(dst, src Image, r *rand.Rand) {
	if r.Float32() < float32(t.P) {
		hflip(dst, src)
		return
	}
	copyImage(dst, src)
}
