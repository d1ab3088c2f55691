//go:build amd64 && !purego

package kernel

import (
	"fmt"
	"math"
	"testing"
)

// guardBits fills what lies outside a kernel's destination: a NaN with a
// payload no kernel writes, so any store past a row's end, between image
// planes or after the last value shows as a changed bit.
const guardBits = 0x7fa5a5a5

// guarded returns a buffer of n values and g guard values after them, the
// values and the guard all guardBits.
func guarded(n, g int) []float32 {
	b := make([]float32, n+g)
	for i := range b {
		b[i] = math.Float32frombits(guardBits)
	}
	return b
}

// FuzzStridedKernels runs Im2ColTap (every tap), Col2Im and MaxPool2x2 of
// a random geometry on each path this CPU has and asks for the portable
// twin's bits everywhere, including the guard values after the
// destination and between the image planes (ld > h·w): the AVX2 code
// stores whole 8-lane blocks past a row's end and must never reach
// beyond the destination or into the gap between planes.
func FuzzStridedKernels(f *testing.F) {
	f.Add(uint8(1), uint8(28), uint8(28), uint8(3), uint8(1), uint8(0), uint64(1))
	f.Add(uint8(2), uint8(14), uint8(14), uint8(3), uint8(1), uint8(5), uint64(2))
	f.Add(uint8(3), uint8(7), uint8(7), uint8(3), uint8(1), uint8(1), uint64(3))
	f.Add(uint8(1), uint8(3), uint8(9), uint8(5), uint8(2), uint8(3), uint64(4))
	f.Add(uint8(4), uint8(17), uint8(33), uint8(1), uint8(0), uint8(7), uint64(5))
	f.Add(uint8(2), uint8(5), uint8(70), uint8(7), uint8(3), uint8(2), uint64(6))
	paths := normPaths()
	f.Fuzz(func(t *testing.T, nb8, h8, w8, k8, p8, pad8 uint8, seed uint64) {
		nb, h, w := 1+int(nb8%4), 1+int(h8%40), 1+int(w8%72)
		k := 1 + int(k8%7)
		p := int(p8) % k
		pad := int(pad8 % 17)
		ld := h*w + pad
		ho, wo := h+2*p-k+1, w+2*p-k+1
		if ho <= 0 || wo <= 0 {
			return
		}
		nx := (nb-1)*ld + h*w
		x := poolInput(seed, 1, 1, nx, true)
		for j := 1; j < nb; j++ { // the gaps between planes hold guards
			for i := range pad {
				x[j*ld-pad+i] = math.Float32frombits(guardBits)
			}
		}
		const g = 33 // guard values after each destination

		// Im2ColTap, each tap of a k×k kernel with padding p, into one
		// patch matrix of row length L (guards between the rows).
		n := nb * ho * wo
		L := n + 5
		im2col := func() []float32 {
			col := guarded(k*k*L, g)
			for u := range k {
				for v := range k {
					Im2ColTap(col[(u*k+v)*L:], x, nb, ld, h, w, ho, wo, u-p, v-p)
				}
			}
			return col
		}
		var want []float32
		withPath(false, false, func() { want = im2col() })
		for _, pp := range paths {
			var got []float32
			withPath(pp.avx2, pp.avx512, func() { got = im2col() })
			sameBits(t, fmt.Sprintf("%s: Im2ColTap nb=%d h=%d w=%d k=%d p=%d ld=%d", pp.name, nb, h, w, k, p, ld), got, want)
		}

		// Col2Im of a random patch matrix into planes with guards between
		// them and after the last.
		col := poolInput(seed+1, 1, 1, k*k*L, false)
		col2im := func() []float32 {
			dx := guarded(nx, g)
			Col2Im(dx, col, nb, ld, h, w, ho, wo, k, p, L)
			return dx
		}
		withPath(false, false, func() { want = col2im() })
		for _, pp := range paths {
			var got []float32
			withPath(pp.avx2, pp.avx512, func() { got = col2im() })
			sameBits(t, fmt.Sprintf("%s: Col2Im nb=%d h=%d w=%d k=%d p=%d ld=%d", pp.name, nb, h, w, k, p, ld), got, want)
		}

		// MaxPool2x2 of nb planes of h×w, values and indices, guards after
		// both.
		if h < 2 || w < 2 {
			return
		}
		xp := poolInput(seed+2, nb, h, w, true)
		np := nb * (h / 2) * (w / 2)
		pool := func() ([]float32, []int32) {
			dst := guarded(np, g)
			at := make([]int32, np+g)
			for i := range at {
				at[i] = -7
			}
			MaxPool2x2(dst, at, xp, nb, h, w)
			return dst, at
		}
		var wantAt []int32
		withPath(false, false, func() { want, wantAt = pool() })
		for _, pp := range paths {
			var got []float32
			var gotAt []int32
			withPath(pp.avx2, pp.avx512, func() { got, gotAt = pool() })
			sameBits(t, fmt.Sprintf("%s: MaxPool2x2 planes=%d h=%d w=%d", pp.name, nb, h, w), got, want)
			for i := range gotAt {
				if gotAt[i] != wantAt[i] {
					t.Fatalf("%s: MaxPool2x2 planes=%d h=%d w=%d: index %d is %d, want %d",
						pp.name, nb, h, w, i, gotAt[i], wantAt[i])
				}
			}
		}
	})
}
