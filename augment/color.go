package augment

import (
	"math"
	"math/rand/v2"

	"ssl"
	"ssl/internal/check"
)

// torchvision's luma coefficients (functional_tensor.rgb_to_grayscale,
// v0.14.1): 0.2989, not ITU-R 601's 0.299.
const (
	grayR = 0.2989
	grayG = 0.587
	grayB = 0.114
)

// AdjustBrightness writes clamp(f·img, 0, 1) into dst, as torchvision's
// F.adjust_brightness(img, f) on a float tensor: it clamps even when f = 1.
// dst may be img itself; a nil dst is allocated; dst is returned. It returns
// an error wrapping ssl.ErrParam if f is negative or not finite and one
// wrapping ssl.ErrShape if img is not rank 3 or dst does not match.
//
// Reference: torchvision/transforms/functional_tensor.py adjust_brightness,
// _blend (v0.14.1).
func AdjustBrightness(dst, img ssl.Tensor, f float64) (ssl.Tensor, error) {
	if err := check.NonNegative("augment: AdjustBrightness", "f", f); err != nil {
		return dst, err
	}
	return pointwise("augment: AdjustBrightness", dst, img, nil, func(out, src Image) { brightness(out, src, float32(f)) })
}

// AdjustContrast writes clamp(f·img + (1−f)·m, 0, 1) into dst, where m is the
// mean over all pixels of the gray image (0.2989·R + 0.587·G + 0.114·B) for
// 3 channels, or of img itself for 1 channel, taken before clamping; as
// torchvision's F.adjust_contrast. m is accumulated in float64. dst may be
// img itself; a nil dst is allocated; dst is returned. It returns an error
// wrapping ssl.ErrParam if f is negative or not finite and one wrapping
// ssl.ErrShape if img is not rank 3 with 1 or 3 channels or dst does not
// match.
//
// Reference: torchvision/transforms/functional_tensor.py adjust_contrast
// (v0.14.1).
func AdjustContrast(dst, img ssl.Tensor, f float64) (ssl.Tensor, error) {
	if err := check.NonNegative("augment: AdjustContrast", "f", f); err != nil {
		return dst, err
	}
	return pointwise13("augment: AdjustContrast", dst, img, func(out, src Image) { contrast(out, src, float32(f)) })
}

// AdjustSaturation writes clamp(f·img + (1−f)·gray(img), 0, 1) into dst for
// a 3-channel image, the gray value of each pixel broadcast over the
// channels; a 1-channel image is copied unchanged and unclamped. As
// torchvision's F.adjust_saturation. dst may be img itself; a nil dst is
// allocated; dst is returned. Errors as [AdjustContrast].
//
// Reference: torchvision/transforms/functional_tensor.py adjust_saturation
// (v0.14.1).
func AdjustSaturation(dst, img ssl.Tensor, f float64) (ssl.Tensor, error) {
	if err := check.NonNegative("augment: AdjustSaturation", "f", f); err != nil {
		return dst, err
	}
	return pointwise13("augment: AdjustSaturation", dst, img, func(out, src Image) { saturation(out, src, float32(f)) })
}

// AdjustHue shifts the hue of a 3-channel image by h ∈ [−0.5, 0.5] of a turn,
// as torchvision's F.adjust_hue on a float tensor: RGB → HSV, h' = (h_pix +
// h) mod 1, HSV → RGB, where only the p, q, t terms of the way back are
// clamped to [0, 1] (v is not). A 1-channel image is copied unchanged. The
// round trip runs in float64. dst may be img itself; a nil dst is allocated;
// dst is returned. It returns an error wrapping ssl.ErrParam if h is outside
// [−0.5, 0.5] and one wrapping ssl.ErrShape as [AdjustContrast].
//
// Reference: torchvision/transforms/functional_tensor.py adjust_hue,
// _rgb2hsv, _hsv2rgb (v0.14.1).
func AdjustHue(dst, img ssl.Tensor, h float64) (ssl.Tensor, error) {
	if err := check.Within("augment: AdjustHue", "h", h, -0.5, 0.5); err != nil {
		return dst, err
	}
	return pointwise13("augment: AdjustHue", dst, img, func(out, src Image) { hue(out, src, h) })
}

// RGBToGrayscale writes the gray image 0.2989·R + 0.587·G + 0.114·B of a
// 3-channel img into dst, which has 1 channel or 3 (the gray plane repeated),
// as torchvision's F.rgb_to_grayscale(img, num_output_channels). A
// 1-channel img is copied into each of dst's channels. Nothing is clamped. A
// nil dst is allocated with one channel; dst is returned. It returns an
// error wrapping ssl.ErrShape if img is not rank 3 with 1 or 3 channels, or
// dst is not [1 or 3, H, W], or dst overlaps img.
//
// Reference: torchvision/transforms/functional_tensor.py rgb_to_grayscale
// (v0.14.1).
func RGBToGrayscale(dst, img ssl.Tensor) (ssl.Tensor, error) {
	src, err := input("augment: RGBToGrayscale", img)
	if err != nil {
		return dst, err
	}
	if src.C != 1 && src.C != 3 {
		return dst, check.Errorf("augment: RGBToGrayscale", ssl.ErrShape, "img has %d channels, want 1 or 3", src.C)
	}
	oc := 1
	if dst != nil {
		if s := dst.Shape(); len(s) == 3 && s[0] == 3 {
			oc = 3
		}
	}
	dst, out, err := output("augment: RGBToGrayscale", dst, src, oc, src.H, src.W, false)
	if err != nil {
		return dst, err
	}
	grayscale(out, src)
	return dst, nil
}

// pointwise runs a same-shape kernel that may work in place; valid, if not
// nil, vets the viewed image first.
func pointwise(fn string, dst, img ssl.Tensor, valid func(Image) error, k func(out, src Image)) (ssl.Tensor, error) {
	src, err := input(fn, img)
	if err != nil {
		return dst, err
	}
	if valid != nil {
		if err := valid(src); err != nil {
			return dst, err
		}
	}
	dst, out, err := output(fn, dst, src, src.C, src.H, src.W, true)
	if err != nil {
		return dst, err
	}
	k(out, src)
	return dst, nil
}

// pointwise13 is pointwise for kernels defined on 1 or 3 channels only.
func pointwise13(fn string, dst, img ssl.Tensor, k func(out, src Image)) (ssl.Tensor, error) {
	return pointwise(fn, dst, img, func(src Image) error {
		if src.C != 1 && src.C != 3 {
			return check.Errorf(fn, ssl.ErrShape, "img has %d channels, want 1 or 3", src.C)
		}
		return nil
	}, k)
}

// clamp01 clamps v to [0, 1] (torch.clamp(v, 0, 1); NaN stays NaN).
func clamp01(v float32) float32 { return min(max(v, 0), 1) }

// brightness: out = clamp(f·src, 0, 1); dst may equal src.
func brightness(dst, src Image, f float32) {
	out := dst.Pix[:len(src.Pix)]
	for i, v := range src.Pix {
		out[i] = clamp01(f * v)
	}
}

// grayMean returns the mean of the gray image (3 channels) or of the image
// (1 channel), accumulated in float64.
func grayMean(src Image) float32 {
	n := src.H * src.W
	var sum float64
	if src.C == 3 {
		r, g, b := src.plane(0), src.plane(1), src.plane(2)
		for i := range n {
			sum += float64(grayR*r[i] + grayG*g[i] + grayB*b[i])
		}
	} else {
		for _, v := range src.Pix[:n] {
			sum += float64(v)
		}
	}
	return float32(sum / float64(n))
}

// contrast: out = clamp(f·src + (1−f)·mean, 0, 1); dst may equal src.
func contrast(dst, src Image, f float32) {
	m := (1 - f) * grayMean(src)
	out := dst.Pix[:len(src.Pix)]
	for i, v := range src.Pix {
		out[i] = clamp01(f*v + m)
	}
}

// saturation blends with the per-pixel gray value (3 channels) or copies.
func saturation(dst, src Image, f float32) {
	if src.C != 3 {
		copyImage(dst, src)
		return
	}
	r, g, b := src.plane(0), src.plane(1), src.plane(2)
	or, og, ob := dst.plane(0), dst.plane(1), dst.plane(2)
	for i := range r {
		l := (1 - f) * (grayR*r[i] + grayG*g[i] + grayB*b[i])
		or[i], og[i], ob[i] = clamp01(f*r[i]+l), clamp01(f*g[i]+l), clamp01(f*b[i]+l)
	}
}

// grayscale writes the gray plane into each channel of dst (1 or 3).
func grayscale(dst, src Image) {
	g := dst.plane(0)
	if src.C == 3 {
		r, gg, b := src.plane(0), src.plane(1), src.plane(2)
		for i := range g {
			g[i] = grayR*r[i] + grayG*gg[i] + grayB*b[i]
		}
	} else {
		copy(g, src.plane(0))
	}
	for c := 1; c < dst.C; c++ {
		copy(dst.plane(c), g)
	}
}

// hue shifts the hue of a 3-channel image (copies otherwise), following
// _rgb2hsv and _hsv2rgb of torchvision 0.14 step by step.
func hue(dst, src Image, shift float64) {
	if src.C != 3 {
		copyImage(dst, src)
		return
	}
	rp, gp, bp := src.plane(0), src.plane(1), src.plane(2)
	or, og, ob := dst.plane(0), dst.plane(1), dst.plane(2)
	for i := range rp {
		r, g, b := float64(rp[i]), float64(gp[i]), float64(bp[i])
		// _rgb2hsv
		maxc := math.Max(r, math.Max(g, b))
		minc := math.Min(r, math.Min(g, b))
		eq := maxc == minc
		cr := maxc - minc
		ones := cr
		div := maxc
		if eq {
			ones, div = 1, 1
		}
		s := cr / div
		rc, gc, bc := (maxc-r)/ones, (maxc-g)/ones, (maxc-b)/ones
		var h6 float64
		switch {
		case maxc == r:
			h6 = bc - gc
		case maxc == g:
			h6 = 2 + rc - bc
		default:
			h6 = 4 + gc - rc
		}
		h := math.Mod(h6/6+1, 1)
		// shift, floored modulo
		h = h + shift
		h -= math.Floor(h)
		// _hsv2rgb
		v := maxc
		fi := math.Floor(h * 6)
		f := h*6 - fi
		k := int(fi) % 6
		if k < 0 {
			k += 6
		}
		p := clamp64(v * (1 - s))
		q := clamp64(v * (1 - s*f))
		t := clamp64(v * (1 - s*(1-f)))
		var R, G, B float64
		switch k {
		case 0:
			R, G, B = v, t, p
		case 1:
			R, G, B = q, v, p
		case 2:
			R, G, B = p, v, t
		case 3:
			R, G, B = p, q, v
		case 4:
			R, G, B = t, p, v
		default:
			R, G, B = v, p, q
		}
		or[i], og[i], ob[i] = float32(R), float32(G), float32(B)
	}
}

func clamp64(v float64) float64 { return math.Min(math.Max(v, 0), 1) }

// ColorJitter is torchvision's ColorJitter(Brightness, Contrast, Saturation,
// Hue): it draws a random order of the four adjustments (a random
// permutation, as torch.randperm(4)), then one float32 uniform factor for
// each enabled one — brightness, contrast and saturation in
// [max(0, 1−x), 1+x], hue in [−Hue, Hue] — and applies the enabled ones in
// that order; each clamps as its function says, so the order matters.
// A zero strength disables its adjustment (torchvision's None).
//
// Reference: torchvision/transforms/transforms.py ColorJitter (v0.14.1);
// SimCLR's color distortion (Chen et al. 2020, App. A).
type ColorJitter struct {
	// Brightness, Contrast and Saturation are strengths ≥ 0.
	Brightness, Contrast, Saturation float64
	// Hue is a strength in [0, 0.5].
	Hue float64
}

// Shape implements [Transform]; images must have 1 or 3 channels.
func (t ColorJitter) Shape(c, h, w int) (int, int, int, error) {
	for _, p := range []struct {
		name string
		v    float64
	}{{"Brightness", t.Brightness}, {"Contrast", t.Contrast}, {"Saturation", t.Saturation}} {
		if err := check.NonNegative("augment: ColorJitter", p.name, p.v); err != nil {
			return 0, 0, 0, err
		}
	}
	if err := check.Within("augment: ColorJitter", "Hue", t.Hue, 0, 0.5); err != nil {
		return 0, 0, 0, err
	}
	if c != 1 && c != 3 {
		return 0, 0, 0, check.Errorf("augment: ColorJitter", ssl.ErrShape, "image has %d channels, want 1 or 3", c)
	}
	return c, h, w, nil
}

// jitterFactor draws U(max(0, 1−x), 1+x) in float32.
func jitterFactor(r *rand.Rand, x float64) float32 {
	lo, hi := float32(max(0, 1-x)), float32(1+x)
	return lo + (hi-lo)*r.Float32()
}

// Params draws the jitter's parameters as torchvision 0.14's
// ColorJitter.get_params does: first the order, a uniformly random
// permutation of (0 brightness, 1 contrast, 2 saturation, 3 hue), then a
// float32 uniform factor for each enabled adjustment, in the order
// brightness, contrast, saturation, hue. A disabled adjustment's factor is
// returned as its identity (1, or 0 for hue) and draws nothing.
func (t ColorJitter) Params(r *rand.Rand) (order [4]int, brightness, contrast, saturation, hue float64) {
	for i := range order { // inside-out Fisher–Yates: the distribution of torch.randperm
		j := r.IntN(i + 1)
		order[i] = order[j]
		order[j] = i
	}
	brightness, contrast, saturation = 1, 1, 1
	if t.Brightness != 0 {
		brightness = float64(jitterFactor(r, t.Brightness))
	}
	if t.Contrast != 0 {
		contrast = float64(jitterFactor(r, t.Contrast))
	}
	if t.Saturation != 0 {
		saturation = float64(jitterFactor(r, t.Saturation))
	}
	if t.Hue != 0 {
		hue = float64(float32(-t.Hue) + float32(2*t.Hue)*r.Float32())
	}
	return order, brightness, contrast, saturation, hue
}

// Apply implements [Transform]: the enabled adjustments of
// [ColorJitter.Params] in its order.
func (t ColorJitter) Apply(dst, src Image, r *rand.Rand) {
	order, fb, fc, fs, fh := t.Params(r)
	cur, wrote := src, false
	for _, fn := range order {
		switch {
		case fn == 0 && t.Brightness != 0:
			brightness(dst, cur, float32(fb))
		case fn == 1 && t.Contrast != 0:
			contrast(dst, cur, float32(fc))
		case fn == 2 && t.Saturation != 0:
			saturation(dst, cur, float32(fs))
		case fn == 3 && t.Hue != 0:
			hue(dst, cur, fh)
		default:
			continue
		}
		cur, wrote = dst, true // later steps work in place
	}
	if !wrote {
		copyImage(dst, src)
	}
}

// RandomGrayscale is torchvision's RandomGrayscale(P): with probability P (a
// float32 uniform draw below P) it replaces a 3-channel image by its gray
// image repeated over the 3 channels ([RGBToGrayscale]); 1-channel images
// are copied.
type RandomGrayscale struct {
	// P is the probability, in [0, 1] (torchvision's default is 0.1).
	P float64
}

// Shape implements [Transform]; images must have 1 or 3 channels.
func (t RandomGrayscale) Shape(c, h, w int) (int, int, int, error) {
	if err := check.Within("augment: RandomGrayscale", "P", t.P, 0, 1); err != nil {
		return 0, 0, 0, err
	}
	if c != 1 && c != 3 {
		return 0, 0, 0, check.Errorf("augment: RandomGrayscale", ssl.ErrShape, "image has %d channels, want 1 or 3", c)
	}
	return c, h, w, nil
}

// Apply implements [Transform].
func (t RandomGrayscale) Apply(dst, src Image, r *rand.Rand) {
	if r.Float32() < float32(t.P) {
		grayscale(dst, src)
		return
	}
	copyImage(dst, src)
}
