//go:build !amd64 || purego

package kernel

// The portable bindings of im2col.go's taps; im2col_amd64.go holds the
// accelerated ones.

func im2colTap(dst, x []float32, nb, ld, h, w, ho, wo, du, dv int) {
	im2colTapGo(dst, x, nb, ld, h, w, ho, wo, du, dv)
}

func col2im(dx, col []float32, nb, ld, h, w, ho, wo, k, p, L int) {
	col2imGo(dx, col, nb, ld, h, w, ho, wo, k, p, L)
}
