package kernel

// One kernel tap of im2col, and col2im over all taps of a channel, for
// stride-1 convolutions. They are bound in im2col_amd64.go (AVX2 and AVX-512
// assembly with masked loads and stores, im2col_amd64.s and
// im2col512_amd64.s) and im2col_generic.go (the portable twins below); the
// five files change together.

// tapMaxWidth is the widest row the assembly takes: its column masks are
// built from one 64-bit word (ConvNet3's rows are 7 to 28 values wide,
// ResNet-18's on CIFAR at most 32), and tapMaxK the largest kernel of its
// col2im (the tables of taps live on the stack). Wider rows and larger
// kernels run the portable twins.
const (
	tapMaxWidth = 64
	tapMaxK     = 7
)

// Im2ColTap writes the row of an im2col patch matrix that holds the tap
// (du, dv) of a stride-1 convolution, for one input channel of nb images
// (the i-th of which starts at x[j·ld]): for j < nb, i < ho, t < wo, with
// r = i + du and s = t + dv,
//
//	dst[(j·ho + i)·wo + t] = x[j·ld + r·w + s]   if 0 ≤ r < h and 0 ≤ s < w
//	dst[(j·ho + i)·wo + t] = 0                   otherwise
//
// (for a convolution with padding p, du = u − p and dv = v − p). It is a
// copy: every build gives the same bits. ld ≥ h·w; dst holds nb·ho·wo
// values and x (nb−1)·ld + h·w.
func Im2ColTap(dst, x []float32, nb, ld, h, w, ho, wo, du, dv int) {
	if nb <= 0 || ho <= 0 || wo <= 0 {
		return
	}
	im2colTap(dst[:nb*ho*wo], x[:(nb-1)*ld+h*w], nb, ld, h, w, ho, wo, du, dv)
}

// Col2Im writes the input gradient of one input channel of nb images for
// a stride-1 convolution with a k×k kernel and padding p, from the
// channel's k·k rows of the patch matrix (row u·k+v, the adjoint of
// [Im2ColTap] with du = u − p, dv = v − p, starts at col[(u·k+v)·L]):
// for j < nb, r < h, s < w, with i = r − u + p and t = s − v + p,
//
//	dx[j·ld + r·w + s] = Σ_{u<k} Σ_{v<k} col[(u·k+v)·L + (j·ho + i)·wo + t]
//
// over the taps with 0 ≤ i < ho and 0 ≤ t < wo, added to +0 in the order
// of (u, v): the bits of clearing dx and scattering the rows back one
// tap after the other, in every build. Values between the images' planes
// are not touched. L ≥ nb·ho·wo; ld ≥ h·w.
func Col2Im(dx, col []float32, nb, ld, h, w, ho, wo, k, p, L int) {
	if nb <= 0 || h <= 0 || w <= 0 {
		return
	}
	dx = dx[:(nb-1)*ld+h*w]
	if ho <= 0 || wo <= 0 || k <= 0 {
		for j := range nb {
			clear(dx[j*ld:][:h*w])
		}
		return
	}
	col2im(dx, col[:(k*k-1)*L+nb*ho*wo], nb, ld, h, w, ho, wo, k, p, L)
}

// col2imGo is the portable Col2Im: the planes cleared, then one
// scattering pass per tap.
func col2imGo(dx, col []float32, nb, ld, h, w, ho, wo, k, p, L int) {
	for j := range nb {
		clear(dx[j*ld:][:h*w])
	}
	for u := range k {
		for v := range k {
			col2imTapGo(dx, col[(u*k+v)*L:], nb, ld, h, w, ho, wo, u-p, v-p)
		}
	}
}

// tapRange returns the range [lo, hi) of indices i < n for which
// 0 ≤ i + off < size (empty when none are).
func tapRange(off, size, n int) (int, int) {
	lo, hi := max(0, -off), min(n, size-off)
	if hi < lo {
		return 0, 0
	}
	return lo, hi
}

// im2colTapGo is the portable Im2ColTap.
func im2colTapGo(dst, x []float32, nb, ld, h, w, ho, wo, du, dv int) {
	ilo, ihi := tapRange(du, h, ho)
	tlo, thi := tapRange(dv, w, wo)
	for j := range nb {
		img := x[j*ld:][:h*w]
		out := dst[j*ho*wo:][:ho*wo]
		for i := range ho {
			d := out[i*wo : (i+1)*wo]
			if i < ilo || i >= ihi || tlo == thi {
				clear(d)
				continue
			}
			src := img[(i+du)*w:][:w]
			clear(d[:tlo])
			clear(d[thi:])
			// Rows are short (7 to 28 values): a loop beats memmove's call.
			dd, ss := d[tlo:thi], src[tlo+dv:thi+dv]
			ss = ss[:len(dd)]
			for t := range dd {
				dd[t] = ss[t]
			}
		}
	}
}

// col2imTapGo adds the row of tap (du, dv) back into dx: for the j, i,
// t, r = i + du and s = t + dv of Im2ColTap,
//
//	dx[j·ld + r·w + s] += src[(j·ho + i)·wo + t]   if 0 ≤ r < h and 0 ≤ s < w
func col2imTapGo(dx, src []float32, nb, ld, h, w, ho, wo, du, dv int) {
	ilo, ihi := tapRange(du, h, ho)
	tlo, thi := tapRange(dv, w, wo)
	if tlo == thi {
		return
	}
	for j := range nb {
		img := dx[j*ld:][:h*w]
		in := src[j*ho*wo:][:ho*wo]
		for i := ilo; i < ihi; i++ {
			ss := in[i*wo+tlo : i*wo+thi]
			dd := img[(i+du)*w+tlo+dv:][:len(ss)]
			for t, v := range ss {
				dd[t] += v
			}
		}
	}
}
