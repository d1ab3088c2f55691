package augment

import (
	"math"
	"math/rand/v2"

	"ssl"
	"ssl/internal/check"
)

// GaussianKernel returns torchvision's 1-D Gaussian kernel of odd size k ≥ 1
// and standard deviation sigma > 0:
//
//	x_i = −(k−1)/2 + i,  pdf_i = exp(−½·(x_i/σ)²),  k_i = pdf_i / Σ_j pdf_j.
//
// It returns an error wrapping ssl.ErrParam for an even or non-positive k or
// a sigma that is not positive and finite.
//
// Reference: torchvision/transforms/functional_tensor.py
// _get_gaussian_kernel1d (v0.14.1).
func GaussianKernel(k int, sigma float64) ([]float64, error) {
	if err := checkBlur("augment: GaussianKernel", k, k, sigma, sigma); err != nil {
		return nil, err
	}
	return gaussian1D(k, sigma), nil
}

// GaussianKernel2D returns the ky×kx kernel kernel2d[a,b] = k1y[a]·k1x[b]
// that torchvision's F.gaussian_blur(img, [kx, ky], [sx, sy]) correlates
// with, k1x and k1y being [GaussianKernel](kx, sx) and (ky, sy), row-major.
// Errors as [GaussianKernel].
//
// Reference: torchvision/transforms/functional_tensor.py
// _get_gaussian_kernel2d (v0.14.1).
func GaussianKernel2D(kx, ky int, sx, sy float64) ([]float64, error) {
	if err := checkBlur("augment: GaussianKernel2D", kx, ky, sx, sy); err != nil {
		return nil, err
	}
	gx, gy := gaussian1D(kx, sx), gaussian1D(ky, sy)
	out := make([]float64, ky*kx)
	for a, vy := range gy {
		for b, vx := range gx {
			out[a*kx+b] = vy * vx
		}
	}
	return out, nil
}

func checkBlur(fn string, kx, ky int, sx, sy float64) error {
	if kx < 1 || ky < 1 || kx%2 == 0 || ky%2 == 0 {
		return check.Errorf(fn, ssl.ErrParam, "kernel size must be odd and positive (kx=%d, ky=%d)", kx, ky)
	}
	if err := check.Positive(fn, "sx", sx); err != nil {
		return err
	}
	return check.Positive(fn, "sy", sy)
}

func gaussian1D(k int, sigma float64) []float64 {
	out := make([]float64, k)
	half := float64(k-1) / 2
	var sum float64
	for i := range out {
		x := (-half + float64(i)) / sigma
		out[i] = math.Exp(-0.5 * x * x)
		sum += out[i]
	}
	for i := range out {
		out[i] /= sum
	}
	return out
}

// GaussianBlur writes img [C, H, W] blurred by a Gaussian kernel of size
// kx×ky (odd) and standard deviations (sx, sy) into dst, as torchvision's
// F.gaussian_blur(img, [kx, ky], [sx, sy]): the image is padded by kx/2
// columns and ky/2 rows in "reflect" mode (mirror without repeating the
// edge: −1 → 1, H → H−2) and each channel correlated with
// [GaussianKernel2D]:
//
//	out[c,y,x] = Σ_{a,b} kernel2d[a,b]·pad[c, y+a, x+b].
//
// The kernel is separable, so it runs as a vertical then a horizontal pass
// (float32 weights, float32 sums). A nil dst is allocated; dst is returned.
// It returns an error wrapping ssl.ErrParam for an invalid kernel or sigma
// (see [GaussianKernel]) or a padding not smaller than the image (torch's
// reflect padding needs kx/2 < W and ky/2 < H), and one wrapping
// ssl.ErrShape if img is not rank 3, dst's shape differs or dst overlaps img.
//
// Reference: torchvision/transforms/functional_tensor.py gaussian_blur
// (v0.14.1).
func GaussianBlur(dst, img ssl.Tensor, kx, ky int, sx, sy float64) (ssl.Tensor, error) {
	src, err := input("augment: GaussianBlur", img)
	if err != nil {
		return dst, err
	}
	if err := checkBlur("augment: GaussianBlur", kx, ky, sx, sy); err != nil {
		return dst, err
	}
	if kx/2 >= src.W || ky/2 >= src.H {
		return dst, check.Errorf("augment: GaussianBlur", ssl.ErrParam, "reflect padding (%d, %d) must be smaller than the image %d×%d (kx=%d, ky=%d)", kx/2, ky/2, src.H, src.W, kx, ky)
	}
	dst, out, err := output("augment: GaussianBlur", dst, src, src.C, src.H, src.W, false)
	if err != nil {
		return dst, err
	}
	blur(out, src, weights32(gaussian1D(kx, sx)), weights32(gaussian1D(ky, sy)))
	return dst, nil
}

func weights32(w []float64) []float32 {
	out := make([]float32, len(w))
	for i, v := range w {
		out[i] = float32(v)
	}
	return out
}

// reflect maps an index of the padded axis back into [0, n).
func reflect(i, n int) int {
	if i < 0 {
		return -i
	}
	if i >= n {
		return 2*(n-1) - i
	}
	return i
}

// blur is GaussianBlur's kernel: a vertical pass src → dst, then a
// horizontal pass over each row of dst through a padded row buffer.
func blur(dst, src Image, wx, wy []float32) {
	H, W := src.H, src.W
	px, py := len(wx)/2, len(wy)/2
	var rowBuf [512]float32 // on the stack for rows up to 512 − 2·pad wide
	row := rowBuf[:]
	if W+2*px > len(row) {
		row = make([]float32, W+2*px)
	}
	row = row[:W+2*px]
	for c := 0; c < src.C; c++ {
		in, out := src.plane(c), dst.plane(c)
		for y := 0; y < H; y++ {
			o := out[y*W : (y+1)*W]
			clear(o)
			for a, w := range wy {
				r := in[reflect(y+a-py, H)*W:][:W]
				for x, v := range r {
					o[x] += w * v
				}
			}
			for x := 0; x < W+2*px; x++ {
				row[x] = o[reflect(x-px, W)]
			}
			for x := range o {
				var s float32
				for b, w := range wx {
					s += w * row[x+b]
				}
				o[x] = s
			}
		}
	}
}

// RandomGaussianBlur is torchvision's GaussianBlur(KernelSize, Sigma)
// transform: it draws σ as a float32 uniform in [Sigma[0], Sigma[1]] and
// blurs with a KernelSize×KernelSize kernel of that σ on both axes
// ([GaussianBlur]). It always blurs; wrap it in [RandomApply] for SimCLR's
// and BYOL's "blur with probability p".
//
// Reference: torchvision/transforms/transforms.py GaussianBlur (v0.14.1).
type RandomGaussianBlur struct {
	// KernelSize is odd and positive; the padding KernelSize/2 must be
	// smaller than the image.
	KernelSize int
	// Sigma is the range of σ, 0 < Sigma[0] ≤ Sigma[1]. Zero means
	// torchvision's default (0.1, 2).
	Sigma [2]float64
}

func (t RandomGaussianBlur) sigma() [2]float64 {
	if t.Sigma == [2]float64{} {
		return [2]float64{0.1, 2}
	}
	return t.Sigma
}

// Shape implements [Transform].
func (t RandomGaussianBlur) Shape(c, h, w int) (int, int, int, error) {
	s := t.sigma()
	if err := checkBlur("augment: RandomGaussianBlur", t.KernelSize, t.KernelSize, s[0], s[1]); err != nil {
		return 0, 0, 0, err
	}
	if s[0] > s[1] {
		return 0, 0, 0, check.Errorf("augment: RandomGaussianBlur", ssl.ErrParam, "sigma range reversed (Sigma=%v)", s)
	}
	if t.KernelSize/2 >= h || t.KernelSize/2 >= w {
		return 0, 0, 0, check.Errorf("augment: RandomGaussianBlur", ssl.ErrParam, "reflect padding %d must be smaller than the image %d×%d (KernelSize=%d)", t.KernelSize/2, h, w, t.KernelSize)
	}
	return c, h, w, nil
}

// Apply implements [Transform].
func (t RandomGaussianBlur) Apply(dst, src Image, r *rand.Rand) {
	s := t.sigma()
	lo, hi := float32(s[0]), float32(s[1])
	sigma := float64(lo + (hi-lo)*r.Float32())
	var wb [64]float32 // on the stack for kernels up to 64 taps
	w := wb[:]
	if t.KernelSize > len(w) {
		w = make([]float32, t.KernelSize)
	}
	w = w[:t.KernelSize]
	half := float64(t.KernelSize-1) / 2
	var sum float64
	for i := range w {
		x := (-half + float64(i)) / sigma
		e := math.Exp(-0.5 * x * x)
		w[i] = float32(e)
		sum += e
	}
	for i := range w {
		w[i] = float32(float64(w[i]) / sum)
	}
	blur(dst, src, w, w)
}
