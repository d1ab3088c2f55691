//go:build amd64 && !purego

package kernel

// The AVX2 (pool_amd64.s) and AVX-512 (pool512_amd64.s) bindings of
// pool.go's MaxPool2x2, with the portable twin where the CPU has neither or
// an output row is wider than tapMaxWidth. The assembly does a block of 8
// or 16 outputs of a row at a time: the even and odd columns of the two
// input rows are separated (VSHUFPS/VPERMPD, VPERMI2PS), the keys of
// gtStep computed and compared as int32 (VPCMPGTD), and values and
// indices selected by the masks; masks[c], masks[4+c], masks[8+c] (AVX-512)
// or masks[c], masks[8+c], masks[16+c] (AVX2) hold, for block c, the
// outputs and the two halves of the inputs it covers. pool.go,
// pool_generic.go and the two assembly files change with this one.

//go:noescape
func maxPool2x2AVX2(dst *float32, at *int32, x *float32, masks *uint16, planes, h, w, ho, wo, nchunks, n int)

//go:noescape
func maxPool2x2AVX512(dst *float32, at *int32, x *float32, masks *uint16, planes, h, w, ho, wo, nchunks int)

func maxPool2x2(dst []float32, at []int32, x []float32, planes, h, w int) {
	ho, wo := h/2, w/2
	if !haveAVX2FMA || wo > tapMaxWidth {
		maxPool2x2Go(dst, at, x, planes, h, w)
		return
	}
	// Rows of at most 8 outputs run the AVX2 code (a 16-lane block would
	// be half empty).
	avx512 := haveAVX512 && wo > 8
	cw, stride := 8, 8 // outputs per block, words per kind of mask
	if avx512 {
		cw, stride = 16, 4
	}
	// One word more than needed: the AVX2 code reads 4 bytes at a time.
	var masks [3*8 + 1]uint16
	nchunks := (wo + cw - 1) / cw
	for c := range nchunks {
		r := min(wo-c*cw, cw) // outputs in the block
		masks[c] = uint16(1<<r - 1)
		masks[stride+c] = uint16(1<<min(2*r, cw) - 1)
		masks[2*stride+c] = uint16(1<<max(2*r-cw, 0) - 1)
	}
	if avx512 {
		maxPool2x2AVX512(&dst[0], &at[0], &x[0], &masks[0], planes, h, w, ho, wo, nchunks)
		return
	}
	maxPool2x2AVX2(&dst[0], &at[0], &x[0], &masks[0], planes, h, w, ho, wo, nchunks, planes*ho*wo)
}
