//go:build amd64 && !purego

package kernel

// The AVX2 (im2col_amd64.s) and AVX-512 (im2col512_amd64.s) bindings of
// im2col.go's taps, with the portable twins where the CPU has neither or
// a row is wider than tapMaxWidth. The assembly walks the output rows of
// every image and moves each in blocks of 8 or 16 columns with masked
// loads and stores: the mask of the source columns that exist (bit t of
// valid for 0 ≤ t + dv < w) and of the row (bit t of all for t < wo), so
// the padding comes from the masked-off lanes and nothing outside a row is
// read or written. Rows of at most 8 values run the AVX2 code on AVX-512
// machines too: a 16-lane block would be half empty (7×7 maps: 0.19 vs
// 0.23 cpu-ns per element for im2col, 0.13 vs 0.16 for col2im). The two
// sets give the same bits. im2col.go, im2col_generic.go and the two
// assembly files change with this one.

//go:noescape
func im2colTapAVX2(dst, x *float32, nb, ld, w, ho, wo, ilo, ihi, off int, valid, all uint64, n int)

//go:noescape
func col2imAVX2(dx, col *float32, offs *int, masks *uint16, nb, ld, h, w, ho, wo, k, p, nchunks int, end uintptr)

//go:noescape
func im2colTapAVX512(dst, x *float32, nb, ld, w, ho, wo, ilo, ihi, off int, valid, all uint64)

//go:noescape
func col2imAVX512(dx, col *float32, offs *int, masks *uint16, nb, ld, h, w, ho, wo, k, p, nchunks int)

// tapMasks returns the column masks of a row of wo ≤ 64 outputs whose
// source columns t+dv exist for t in [tlo, thi).
func tapMasks(wo, tlo, thi int) (valid, all uint64) {
	all = ^uint64(0) >> (64 - wo)
	if thi > tlo {
		valid = (^uint64(0) >> (64 - (thi - tlo))) << tlo
	}
	return valid, all
}

func im2colTap(dst, x []float32, nb, ld, h, w, ho, wo, du, dv int) {
	if !haveAVX2FMA || wo > tapMaxWidth {
		im2colTapGo(dst, x, nb, ld, h, w, ho, wo, du, dv)
		return
	}
	ilo, ihi := tapRange(du, h, ho)
	tlo, thi := tapRange(dv, w, wo)
	valid, all := tapMasks(wo, tlo, thi)
	if haveAVX512 && wo > 8 {
		im2colTapAVX512(&dst[0], &x[0], nb, ld, w, ho, wo, ilo, ihi, du*w+dv, valid, all)
		return
	}
	im2colTapAVX2(&dst[0], &x[0], nb, ld, w, ho, wo, ilo, ihi, du*w+dv, valid, all, nb*ho*wo)
}

// col2im gathers each block of 8 or 16 values of a row of dx from the
// k·k taps in registers and stores it once (scattering the taps one after
// the other, as the portable twin does, reads back what the previous tap
// just stored, row by row). offs[u·k+v] is the byte offset of tap (u, v)'s
// value for output (r, s) from col + (j·ho·wo + r·wo + s)·4; masks holds,
// for each block c of the row, the lanes whose source exists for v = 0 …
// k−1 and then the lanes inside the row (s < w), (k+1) words per block.
func col2im(dx, col []float32, nb, ld, h, w, ho, wo, k, p, L int) {
	if !haveAVX2FMA || w > tapMaxWidth || k > tapMaxK {
		col2imGo(dx, col, nb, ld, h, w, ho, wo, k, p, L)
		return
	}
	avx512 := haveAVX512 && w > 8
	cw := 8
	if avx512 {
		cw = 16
	}
	var offs [tapMaxK * tapMaxK]int
	for u := range k {
		for v := range k {
			offs[u*k+v] = ((u*k+v)*L + (p-u)*wo + (p - v)) * 4
		}
	}
	// One word more than the blocks need: the AVX2 code reads 4 bytes at
	// the last one.
	var masks [tapMaxWidth/8*(tapMaxK+1) + 1]uint16
	row := ^uint64(0) >> (64 - w)
	nchunks := (w + cw - 1) / cw
	for v := range k {
		var m uint64 // s with 0 ≤ s − v + p < wo, s < w
		if lo, hi := max(0, v-p), min(w, v-p+wo); hi > lo {
			m = (^uint64(0) >> (64 - (hi - lo))) << lo
		}
		for c := range nchunks {
			masks[c*(k+1)+v] = uint16(m >> (c * cw) & (1<<cw - 1))
		}
	}
	for c := range nchunks {
		masks[c*(k+1)+k] = uint16(row >> (c * cw) & (1<<cw - 1))
	}
	if avx512 {
		col2imAVX512(&dx[0], &col[0], &offs[0], &masks[0], nb, ld, h, w, ho, wo, k, p, nchunks)
		return
	}
	col2imAVX2(&dx[0], &col[0], &offs[0], &masks[0], nb, ld, h, w, ho, wo, k, p, nchunks, 0)
}
