package kernel

import (
	"fmt"
	"math"
	"testing"

	"ssl/internal/testutil"
)

// tapCase is one call of Im2ColTap: nb images of h×w, ld apart
// (NaN between them), an output of ho×wo, tap offsets du, dv.
type tapCase struct{ nb, ld, h, w, ho, wo, du, dv int }

// tapCases are the shapes the tap tests run: ConvNet3's 28², 14², 7² maps
// with 3×3 taps and padding 1, odd widths around the 8- and 16-column
// blocks (1, 7, 9, 15, 17, 33), the mask's limit (64) and one past it
// (65, the portable twin), offsets that leave no source row or column,
// and outputs narrower and wider than the input.
func tapCases() []tapCase {
	var cs []tapCase
	for _, hw := range [][2]int{{28, 28}, {14, 14}, {7, 7}, {1, 1}, {3, 7}, {5, 9}, {2, 15}, {4, 17}, {3, 33}, {2, 64}, {2, 65}} {
		h, w := hw[0], hw[1]
		for _, d := range [][2]int{{-1, -1}, {0, 0}, {1, 1}, {-1, 1}, {1, -1}, {-2, 0}, {0, -2}, {h, 0}, {0, w}, {-h, -w}} {
			for _, nb := range []int{1, 3} {
				cs = append(cs, tapCase{nb, h*w + 5*(nb-1), h, w, h, w, d[0], d[1]})
			}
		}
		cs = append(cs, tapCase{2, h * w, h, w, max(h-2, 1), max(w-2, 1), 1, 1}, tapCase{2, h*w + 1, h, w, h + 2, w + 2, -1, -1})
	}
	return cs
}

func (c tapCase) String() string {
	return fmt.Sprintf("nb=%d/h=%d/w=%d/ho=%d/wo=%d/du=%d/dv=%d", c.nb, c.h, c.w, c.ho, c.wo, c.du, c.dv)
}

// tapSource returns the value Im2ColTap takes for output (j, i, t), and
// whether the source exists.
func (c tapCase) source(j, i, t int) (int, bool) {
	r, s := i+c.du, t+c.dv
	if r < 0 || r >= c.h || s < 0 || s >= c.w {
		return 0, false
	}
	return j*c.ld + r*c.w + s, true
}

// checkTaps runs Im2ColTap of this build against its definition, to the
// bit, with 4 guard values after the output and NaN between the images
// (read: NaN in dst; written: changed bits).
func checkTaps(t *testing.T, prefix string) {
	t.Helper()
	const guard = 4
	for ci, c := range tapCases() {
		name := prefix + c.String()
		r := testutil.Rand(uint64(ci + 1))
		xlen := (c.nb-1)*c.ld + c.h*c.w
		x := make([]float32, xlen+guard)
		for i := range x {
			x[i] = float32(math.NaN())
		}
		for j := range c.nb {
			for k := range c.h * c.w {
				x[j*c.ld+k] = float32(r.NormFloat64())
			}
		}
		n := c.nb * c.ho * c.wo
		got := make([]float32, n+guard)
		want := make([]float32, n+guard)
		for i := range got {
			got[i], want[i] = -7.5, -7.5
		}
		for j := range c.nb {
			for i := range c.ho {
				for tt := range c.wo {
					k := (j*c.ho+i)*c.wo + tt
					want[k] = 0
					if at, ok := c.source(j, i, tt); ok {
						want[k] = x[at]
					}
				}
			}
		}
		Im2ColTap(got, x, c.nb, c.ld, c.h, c.w, c.ho, c.wo, c.du, c.dv)
		sameBits(t, name+": Im2ColTap", got, want)

	}
}

// col2imCases are Col2Im's shapes: ConvNet3's maps with 3×3 kernels and
// padding 1, kernels 1, 2 and 5, paddings 0 and 2, widths around the 8-
// and 16-column blocks, the mask's limit (64) and past it (65), 7×7
// kernels (the largest the assembly takes) and 8×8 (the portable twin).
func col2imCases() []struct{ nb, h, w, k, p int } {
	var cs []struct{ nb, h, w, k, p int }
	for _, hw := range [][2]int{{28, 28}, {14, 14}, {7, 7}, {1, 1}, {3, 7}, {5, 9}, {2, 15}, {4, 17}, {3, 33}, {2, 64}, {2, 65}} {
		for _, kp := range [][2]int{{3, 1}, {1, 0}, {2, 0}, {3, 0}, {5, 2}, {3, 2}, {7, 3}, {8, 4}} {
			if hw[0]+2*kp[1] < kp[0] || hw[1]+2*kp[1] < kp[0] {
				continue
			}
			for _, nb := range []int{1, 3} {
				cs = append(cs, struct{ nb, h, w, k, p int }{nb, hw[0], hw[1], kp[0], kp[1]})
			}
		}
	}
	return cs
}

// checkCol2Im runs Col2Im of this build against its definition (clear,
// then add the taps in order), to the bit, with NaN between the images'
// planes of dx and between the rows of col, and -7.5 in dx between the
// planes (written: changed bits).
func checkCol2Im(t *testing.T, prefix string) {
	t.Helper()
	for ci, c := range col2imCases() {
		ho, wo := c.h+2*c.p-c.k+1, c.w+2*c.p-c.k+1
		ld, L := c.h*c.w+3, c.nb*ho*wo+5
		name := fmt.Sprintf("%snb=%d/h=%d/w=%d/k=%d/p=%d", prefix, c.nb, c.h, c.w, c.k, c.p)
		r := testutil.Rand(uint64(ci + 100))
		col := make([]float32, (c.k*c.k-1)*L+c.nb*ho*wo)
		for i := range col {
			col[i] = float32(math.NaN())
			if i%L < c.nb*ho*wo {
				col[i] = float32(r.NormFloat64())
			}
		}
		dxLen := (c.nb-1)*ld + c.h*c.w
		got, want := make([]float32, dxLen+4), make([]float32, dxLen+4)
		for i := range got {
			got[i], want[i] = -7.5, -7.5
		}
		for j := range c.nb {
			clear(want[j*ld:][:c.h*c.w])
		}
		for u := range c.k {
			for v := range c.k {
				tc := tapCase{c.nb, ld, c.h, c.w, ho, wo, u - c.p, v - c.p}
				for j := range c.nb {
					for i := range ho {
						for tt := range wo {
							if at, ok := tc.source(j, i, tt); ok {
								want[at] += col[(u*c.k+v)*L+(j*ho+i)*wo+tt]
							}
						}
					}
				}
			}
		}
		Col2Im(got, col, c.nb, ld, c.h, c.w, ho, wo, c.k, c.p, L)
		sameBits(t, name+": Col2Im", got, want)
	}
}

func TestCol2Im(t *testing.T) { checkCol2Im(t, "") }

func TestIm2ColTap(t *testing.T) { checkTaps(t, "") }
