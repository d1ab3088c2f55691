package augment

import (
	"math"
	"math/rand/v2"

	"ssl"
	"ssl/internal/check"
)

// ResizedCrop crops the box of height×width pixels whose top-left corner is
// (top, left) out of img [C, H, W] and resizes it to dst's size [C, S_h, S_w]
// by bilinear interpolation, as torchvision 0.14's F.resized_crop on a tensor
// with interpolation BILINEAR and antialias off (the tensor default there):
// torch.nn.functional.interpolate(mode="bilinear", align_corners=False).
// Along each axis, with n the crop's extent and s the output's,
//
//	src = max((n/s)·(d + 0.5) − 0.5, 0),  i0 = min(⌊src⌋, n−1),
//	i1 = min(i0+1, n−1),  λ = src − i0,
//	out[y,x] = (1−λy)·((1−λx)·c[y0,x0] + λx·c[y0,x1]) + λy·((1−λx)·c[y1,x0] + λx·c[y1,x1]).
//
// Downsampling does not low-pass filter (torchvision 0.17 and later default
// to antialias=True for tensors, which does). Pixels of the box outside the image
// read as 0 (torchvision pads the crop with zeros). Values are not clamped.
// A nil dst is allocated as [C, height, width] (no resize); dst is returned.
//
// It returns an error wrapping ssl.ErrShape if img is not rank 3, dst's
// channels differ or dst overlaps img, and one wrapping ssl.ErrParam if
// height or width is below 1; nothing is written then.
//
// Reference: torchvision/transforms/functional.py resized_crop (v0.14.1);
// aten/src/ATen/native/cpu/UpSampleKernel.cpp (bilinear, align_corners=False).
func ResizedCrop(dst, img ssl.Tensor, top, left, height, width int) (ssl.Tensor, error) {
	src, err := input("augment: ResizedCrop", img)
	if err != nil {
		return dst, err
	}
	if height < 1 || width < 1 {
		return dst, check.Errorf("augment: ResizedCrop", ssl.ErrParam, "crop box %d×%d is empty (height=%d, width=%d)", height, width, height, width)
	}
	oh, ow := height, width
	if !check.IsNil(dst) {
		shape := dst.Shape()
		if len(shape) != 3 {
			return dst, check.Errorf("augment: ResizedCrop", ssl.ErrShape, "dst: shape %v has rank %d, want 3", shape, len(shape))
		}
		oh, ow = shape[1], shape[2]
		if oh < 1 || ow < 1 {
			return dst, check.Errorf("augment: ResizedCrop", ssl.ErrShape, "dst: output size %d×%d is empty", oh, ow)
		}
	}
	dst, out, err := output("augment: ResizedCrop", dst, src, src.C, oh, ow, false)
	if err != nil {
		return dst, err
	}
	resizedCrop(out, src, top, left, height, width)
	return dst, nil
}

// axisTable fills i0, i1 (absolute source indices, possibly outside
// [0, size) when the box leaves the image) and lam for one axis: output
// extent s, crop offset off and extent n.
func axisTable(i0, i1 []int32, lam []float32, s, off, n int) {
	scale := float64(n) / float64(s)
	for d := 0; d < s; d++ {
		src := max(scale*(float64(d)+0.5)-0.5, 0)
		a := min(int(src), n-1)
		b := min(a+1, n-1)
		i0[d], i1[d] = int32(off+a), int32(off+b)
		lam[d] = float32(src - float64(a))
	}
}

// tableMax is the output extent up to which resizedCrop keeps its index
// tables on the stack.
const tableMax = 256

// resizedCrop is the kernel of ResizedCrop: dst [C, S_h, S_w] from the box
// of src; sizes valid.
func resizedCrop(dst, src Image, top, left, height, width int) {
	sh, sw := dst.H, dst.W
	var yb0, yb1, xb0, xb1 [tableMax]int32
	var ylb, xlb [tableMax]float32
	y0, y1, ly := yb0[:], yb1[:], ylb[:]
	x0, x1, lx := xb0[:], xb1[:], xlb[:]
	if sh > tableMax {
		y0, y1, ly = make([]int32, sh), make([]int32, sh), make([]float32, sh)
	}
	if sw > tableMax {
		x0, x1, lx = make([]int32, sw), make([]int32, sw), make([]float32, sw)
	}
	y0, y1, ly = y0[:sh], y1[:sh], ly[:sh]
	x0, x1, lx = x0[:sw], x1[:sw], lx[:sw]
	axisTable(y0, y1, ly, sh, top, height)
	axisTable(x0, x1, lx, sw, left, width)
	inside := top >= 0 && left >= 0 && top+height <= src.H && left+width <= src.W
	// Inside the image the interpolation is separable: each source row the
	// output needs is interpolated along x once (rows are used in
	// non-decreasing order, so two cached rows suffice), then output rows
	// are blends of two cached rows. The arithmetic is the same as the
	// direct formula's, in the same order.
	var cacheBuf [2][tableMax]float32
	cache := [2][]float32{cacheBuf[0][:], cacheBuf[1][:]}
	if inside && sw > tableMax {
		cache = [2][]float32{make([]float32, sw), make([]float32, sw)}
	}
	for c := 0; c < src.C; c++ {
		in, out := src.plane(c), dst.plane(c)
		if inside {
			rowOf := [2]int32{-1, -1} // source row held by each cache slot
			row := func(sy int32) []float32 {
				for k := range rowOf {
					if rowOf[k] == sy {
						return cache[k][:sw]
					}
				}
				k := 0
				if rowOf[1] < rowOf[0] {
					k = 1 // replace the older (lower) row
				}
				rowOf[k] = sy
				r, o := in[int(sy)*src.W:(int(sy)+1)*src.W], cache[k][:sw]
				for x := range o {
					a, b := x0[x], x1[x]
					o[x] = r[a] + lx[x]*(r[b]-r[a])
				}
				return o
			}
			for y := 0; y < sh; y++ {
				t, b := row(y0[y]), row(y1[y])
				o := out[y*sw : (y+1)*sw]
				wy := ly[y]
				for x := range o {
					o[x] = t[x] + wy*(b[x]-t[x])
				}
			}
			continue
		}
		for y := 0; y < sh; y++ {
			o := out[y*sw : (y+1)*sw]
			wy := ly[y]
			at := func(yy, xx int32) float32 {
				if yy < 0 || xx < 0 || int(yy) >= src.H || int(xx) >= src.W {
					return 0
				}
				return in[int(yy)*src.W+int(xx)]
			}
			for x := range o {
				wx := lx[x]
				top := (1-wx)*at(y0[y], x0[x]) + wx*at(y0[y], x1[x])
				bot := (1-wx)*at(y1[y], x0[x]) + wx*at(y1[y], x1[x])
				o[x] = (1-wy)*top + wy*bot
			}
		}
	}
}

// RandomResizedCrop is torchvision's RandomResizedCrop(Size, Scale, Ratio,
// BILINEAR): it draws a box covering a fraction in Scale of the image's area
// with an aspect ratio in Ratio (log-uniform), as [RandomResizedCrop.Params]
// describes, and resizes it to Size×Size with [ResizedCrop]'s bilinear rule
// (antialias off, the tensor default of torchvision 0.14).
//
// Reference: torchvision/transforms/transforms.py RandomResizedCrop
// (v0.14.1); SwAV's multi-crop applies one per crop (Caron et al. 2020, §3.2).
type RandomResizedCrop struct {
	// Size is the output's height and width, at least 1.
	Size int
	// Scale is the range of the crop's area as a fraction of the image's,
	// with 0 < Scale[0] ≤ Scale[1] ≤ 1. Zero means torchvision's default
	// (0.08, 1).
	Scale [2]float64
	// Ratio is the range of the crop's aspect ratio (width/height), with
	// 0 < Ratio[0] ≤ Ratio[1]. Zero means torchvision's default (3/4, 4/3).
	Ratio [2]float64
}

// torchvision's RandomResizedCrop defaults.
var (
	defaultScale = [2]float64{0.08, 1}
	defaultRatio = [2]float64{3.0 / 4, 4.0 / 3}
)

func (t RandomResizedCrop) ranges() (scale, ratio [2]float64) {
	scale, ratio = t.Scale, t.Ratio
	if scale == [2]float64{} {
		scale = defaultScale
	}
	if ratio == [2]float64{} {
		ratio = defaultRatio
	}
	return scale, ratio
}

func (t RandomResizedCrop) check() error {
	scale, ratio := t.ranges()
	if t.Size < 1 {
		return check.Count("augment: RandomResizedCrop", "Size", t.Size, 1)
	}
	if !(scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1) {
		return check.Errorf("augment: RandomResizedCrop", ssl.ErrParam, "scale range outside (0, 1] or reversed (Scale=%v)", scale)
	}
	if !(ratio[0] > 0 && ratio[0] <= ratio[1] && !math.IsInf(ratio[1], 0)) {
		return check.Errorf("augment: RandomResizedCrop", ssl.ErrParam, "ratio range not positive and ordered (Ratio=%v)", ratio)
	}
	return nil
}

// Shape implements [Transform]: c×h×w becomes c×Size×Size.
func (t RandomResizedCrop) Shape(c, h, w int) (int, int, int, error) {
	if err := t.check(); err != nil {
		return 0, 0, 0, err
	}
	return c, t.Size, t.Size, nil
}

// Params draws the crop box for an image of height×width pixels as
// torchvision 0.14's RandomResizedCrop.get_params does:
//
//	repeat up to 10 times:
//	    target = height·width · U(Scale[0], Scale[1])
//	    aspect = exp(U(ln Ratio[0], ln Ratio[1]))
//	    w = round(√(target·aspect)),  h = round(√(target/aspect))   (ties to even)
//	    if 0 < w ≤ width and 0 < h ≤ height:
//	        top ~ U{0 … height−h},  left ~ U{0 … width−w};  return
//	fall back to the central crop of the whole image clipped to Ratio.
//
// The uniform draws are float32, as torch's uniform_ on a float tensor. The
// settings must be valid (Shape accepts them).
func (t RandomResizedCrop) Params(r *rand.Rand, height, width int) (top, left, h, w int) {
	scale, ratio := t.ranges()
	area := float64(height * width)
	lr0, lr1 := float32(math.Log(ratio[0])), float32(math.Log(ratio[1]))
	s0, s1 := float32(scale[0]), float32(scale[1])
	for range 10 {
		target := area * float64(s0+(s1-s0)*r.Float32())
		aspect := math.Exp(float64(lr0 + (lr1-lr0)*r.Float32()))
		w = int(math.RoundToEven(math.Sqrt(target * aspect)))
		h = int(math.RoundToEven(math.Sqrt(target / aspect)))
		if 0 < w && w <= width && 0 < h && h <= height {
			top = r.IntN(height - h + 1)
			left = r.IntN(width - w + 1)
			return top, left, h, w
		}
	}
	inRatio := float64(width) / float64(height)
	switch {
	case inRatio < ratio[0]:
		w = width
		h = int(math.RoundToEven(float64(w) / ratio[0]))
	case inRatio > ratio[1]:
		h = height
		w = int(math.RoundToEven(float64(h) * ratio[1]))
	default:
		w, h = width, height
	}
	return (height - h) / 2, (width - w) / 2, h, w
}

// Apply implements [Transform].
func (t RandomResizedCrop) Apply(dst, src Image, r *rand.Rand) {
	top, left, h, w := t.Params(r, src.H, src.W)
	resizedCrop(dst, src, top, left, h, w)
}
