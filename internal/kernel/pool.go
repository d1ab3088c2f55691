package kernel

// 2×2 max pooling with stride 2 and its argmax. Bound in pool_amd64.go
// (AVX2 and AVX-512 assembly, pool_amd64.s and pool512_amd64.s) and
// pool_generic.go (the portable twin below); the five files change
// together.

import "math"

// MaxPool2x2 pools planes consecutive h×w planes of x (plane p at
// x[p·h·w]) with a 2×2 window and stride 2 into ho×wo planes of dst, ho =
// ⌊h/2⌋, wo = ⌊w/2⌋, and stores in at the index within its input plane
// of the element each output took:
//
//	dst[p·ho·wo + i·wo + j] = x[p·h·w + at[p·ho·wo + i·wo + j]]
//
// the first maximum of the window x[2i..2i+1][2j..2j+1] in row-major
// order: of each row's pair the right one replaces the left only if it is
// greater, then the lower row's winner the upper one's only if greater,
// comparing a+0 and b+0 by their order-preserving integer keys (so +0
// and −0 tie, and a NaN compares by its bits, above +Inf when its sign is
// clear). Every build gives the same values and indices.
func MaxPool2x2(dst []float32, at []int32, x []float32, planes, h, w int) {
	ho, wo := h/2, w/2
	if planes <= 0 || ho <= 0 || wo <= 0 {
		return
	}
	n := planes * ho * wo
	maxPool2x2(dst[:n], at[:n], x[:planes*h*w], planes, h, w)
}

// maxPool2x2Go is the portable MaxPool2x2; the selects are arithmetic on
// the keys (no branch: the order of the values is random).
func maxPool2x2Go(dst []float32, at []int32, x []float32, planes, h, w int) {
	ho, wo := h/2, w/2
	for p := range planes {
		src := x[p*h*w : (p+1)*h*w]
		out, idx := dst[p*ho*wo:(p+1)*ho*wo], at[p*ho*wo:(p+1)*ho*wo]
		for i := range ho {
			r0 := src[2*i*w : 2*i*w+w]
			r1 := src[(2*i+1)*w : (2*i+1)*w+w]
			o, a := out[i*wo:(i+1)*wo], idx[i*wo:(i+1)*wo]
			base := int32(2 * i * w)
			for j := range o {
				c := 2 * j
				k0 := c + gtStep(r0[c+1], r0[c])
				k1 := c + gtStep(r1[c+1], r1[c])
				m0, m1 := r0[k0], r1[k1]
				d := gtStep(m1, m0) // 1 if the lower row wins
				k := k0 + d*(w+k1-k0)
				o[j] = src[2*i*w+k]
				a[j] = base + int32(k)
			}
		}
	}
}

// gtStep returns 1 if a+0 > b+0 by their sortKeys and 0 otherwise, without
// a branch (adding +0 turns −0 into +0, so ±0 tie as they do under >).
func gtStep(a, b float32) int {
	ka, kb := sortKey(a+0), sortKey(b+0)
	return int(uint64(kb-ka) >> 63)
}

// sortKey maps a float32 to an int64 whose order is the numeric order of
// the finite floats (its bits read as an int32, the magnitude bits
// flipped when negative).
func sortKey(v float32) int64 {
	k := int64(int32(math.Float32bits(v)))
	return k ^ (k>>63)&0x7fffffff
}
