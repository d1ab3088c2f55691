package augment

import (
	"math/rand/v2"

	"ssl"
	"ssl/internal/check"
)

// Cutout masks one square of the image, as DeVries & Taylor's Cutout (the
// strong augmentation of SCAN's clustering step): with probability P it
// draws a side s — Size, or uniform in [1, Size] when RandomSize is set, as
// SCAN's Cutout(random=True) — and a center (y, x) uniformly over the
// pixels, then sets every channel of rows [y − ⌊s/2⌋, y + ⌊s/2⌋) and columns
// [x − ⌊s/2⌋, x + ⌊s/2⌋), clipped to the image, to Value (the reference's
// box: an odd side masks one pixel less). The square may lie partly outside
// the image. Placed after [Normalization], Value 0 is the
// data set's mean, as in SCAN's pipeline.
//
// Its draws, in order: one float32 for P (only when P < 1), the side (only
// with RandomSize), the center row, the center column.
//
// Reference: DeVries & Taylor, Improved Regularization of Convolutional
// Neural Networks with Cutout, arXiv:1708.04552, 2017;
// wvangansbeke/Unsupervised-Classification data/augment.py Cutout.
type Cutout struct {
	// Size is the side of the square in pixels, at least 1.
	Size int
	// RandomSize draws the side uniformly in [1, Size] for each image.
	RandomSize bool
	// P is the probability of masking, in [0, 1].
	P float64
	// Value fills the square.
	Value float32
}

// Shape implements [Transform].
func (t Cutout) Shape(c, h, w int) (int, int, int, error) {
	const fn = "augment: Cutout"
	if t.Size < 1 {
		return 0, 0, 0, check.Errorf(fn, ssl.ErrParam, "size must be ≥ 1 (Size=%d)", t.Size)
	}
	if err := check.Within(fn, "P", t.P, 0, 1); err != nil {
		return 0, 0, 0, err
	}
	if err := check.Finite(fn, "Value", float64(t.Value)); err != nil {
		return 0, 0, 0, err
	}
	return c, h, w, nil
}

// Apply implements [Transform].
func (t Cutout) Apply(dst, src Image, r *rand.Rand) {
	copyImage(dst, src)
	if t.P < 1 && !(r.Float32() < float32(t.P)) {
		return
	}
	s := t.Size
	if t.RandomSize {
		s = 1 + r.IntN(t.Size)
	}
	y, x := r.IntN(src.H), r.IntN(src.W)
	y0, y1 := max(y-s/2, 0), min(y+s/2, src.H)
	x0, x1 := max(x-s/2, 0), min(x+s/2, src.W)
	for c := range src.C {
		p := dst.plane(c)
		for i := y0; i < y1; i++ {
			row := p[i*src.W+x0 : i*src.W+x1]
			for j := range row {
				row[j] = t.Value
			}
		}
	}
}
