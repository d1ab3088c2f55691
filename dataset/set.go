package dataset

import (
	"fmt"

	"gorgonia.org/tensor"

	"ssl"
	"ssl/internal/check"
)

// ErrFormat is wrapped by every error that reports a malformed or truncated
// file; it wraps ssl.ErrFormat, so errors.Is(err, ssl.ErrFormat) holds for
// them too.
var ErrFormat = fmt.Errorf("dataset: %w", ssl.ErrFormat)

// Set is a labelled set of N images of C channels, H rows and W columns.
type Set struct {
	// Name says where the set came from, e.g. "fashion-mnist/train (embedded
	// subset)" or the file it was read from.
	Name string
	// N, C, H, W are the number of images and each image's channels, rows
	// and columns.
	N, C, H, W int
	// Pix holds the images, N·C·H·W bytes: image i occupies
	// Pix[i·C·H·W : (i+1)·C·H·W] in CHW order.
	Pix []uint8
	// Labels holds one class index per image, each in [0, Classes).
	Labels []int
	// Classes is the number of classes.
	Classes int
	// ClassNames holds the name of each class when the format carries it
	// (Fashion-MNIST, CIFAR-10, CIFAR-100 with its label files, image
	// folders), else nil.
	ClassNames []string
}

// ImageSize returns C·H·W, the number of bytes (and of float32 values) per
// image.
func (s *Set) ImageSize() int { return s.C * s.H * s.W }

// Image returns the bytes of image i in CHW order; the slice aliases s.Pix.
// It panics if i is out of range, as slice indexing does.
func (s *Set) Image(i int) []uint8 {
	n := s.ImageSize()
	return s.Pix[i*n : (i+1)*n : (i+1)*n]
}

// Batch writes the images idx[0], idx[1], … into dst, a float32 tensor of
// shape [len(idx), C, H, W], as p/255 (torchvision's ToTensor), and returns
// dst; a nil dst is allocated. It returns an error wrapping ssl.ErrShape if
// dst has another shape and one wrapping ssl.ErrParam if an index is out of
// range; nothing is written then.
func (s *Set) Batch(dst ssl.Tensor, idx []int) (ssl.Tensor, error) {
	const fn = "dataset: Set.Batch"
	if err := s.checkIndices(fn, idx); err != nil {
		return dst, err
	}
	if check.IsNil(dst) {
		dst = ssl.New(len(idx), s.C, s.H, s.W)
	}
	out, err := check.Dst(fn, "dst", dst, check.Shape4(len(idx), s.C, s.H, s.W))
	if err != nil {
		return dst, err
	}
	n := s.ImageSize()
	for k, i := range idx {
		toFloat(out[k*n:(k+1)*n], s.Pix[i*n:(i+1)*n])
	}
	return dst, nil
}

// Tensor returns every image as a new float32 tensor of shape [N, C, H, W]
// with values p/255.
func (s *Set) Tensor() *tensor.Dense {
	out := make([]float32, len(s.Pix))
	toFloat(out, s.Pix)
	return ssl.FromSlice(out, s.N, s.C, s.H, s.W)
}

// Subset returns a new set holding the images idx[0], idx[1], … (copied) and
// their labels. It returns an error wrapping ssl.ErrParam if an index is out
// of range.
func (s *Set) Subset(idx []int) (*Set, error) {
	if err := s.checkIndices("dataset: Set.Subset", idx); err != nil {
		return nil, err
	}
	n := s.ImageSize()
	sub := &Set{Name: s.Name + " (subset)", N: len(idx), C: s.C, H: s.H, W: s.W,
		Pix: make([]uint8, len(idx)*n), Labels: make([]int, len(idx)),
		Classes: s.Classes, ClassNames: s.ClassNames}
	for k, i := range idx {
		copy(sub.Pix[k*n:], s.Pix[i*n:(i+1)*n])
		sub.Labels[k] = s.Labels[i]
	}
	return sub, nil
}

// ClassCounts returns the number of images of each class.
func (s *Set) ClassCounts() []int {
	counts := make([]int, s.Classes)
	for _, l := range s.Labels {
		counts[l]++
	}
	return counts
}

// toFloat writes dst[i] = src[i]/255, torchvision's ToTensor scaling
// (img.float().div(255)).
func toFloat(dst []float32, src []uint8) {
	dst = dst[:len(src)]
	for i, p := range src {
		dst[i] = float32(p) / 255
	}
}

// checkIndices returns an error wrapping ssl.ErrParam naming the first index
// of idx outside [0, N).
func (s *Set) checkIndices(fn string, idx []int) error {
	for k, i := range idx {
		if i < 0 || i >= s.N {
			return check.Errorf(fn, ssl.ErrParam, "index out of range [0, %d) (idx[%d]=%d)", s.N, k, i)
		}
	}
	return nil
}
