package kernel

import (
	"fmt"
	"math"
	"testing"

	"ssl/internal/testutil"
)

// poolSizes are the plane sizes the pooling tests run: ConvNet3's 28×28
// and 14×14, odd heights and widths (the last row or column is unused),
// output rows around the 8- and 16-value blocks (wo 1, 7, 8, 9, 15, 16,
// 17, 33), the widest the assembly takes (wo 64) and past it (wo 65).
var poolSizes = [][2]int{{28, 28}, {14, 14}, {2, 2}, {3, 3}, {5, 14}, {4, 15}, {6, 16}, {3, 17}, {2, 18},
	{4, 30}, {3, 31}, {2, 32}, {5, 34}, {3, 66}, {2, 128}, {3, 129}, {2, 130}}

// poolNaive is the definition of MaxPool2x2's choice: the window's four
// values in row-major order, a later one replacing the best only if its
// key (pool.go's sortKey of v+0) is greater.
func poolNaive(x []float32, h, w, i, j int) int {
	best := 2*i*w + 2*j
	for _, k := range []int{2*i*w + 2*j + 1, (2*i+1)*w + 2*j, (2*i+1)*w + 2*j + 1} {
		if sortKey(x[k]+0) > sortKey(x[best]+0) {
			best = k
		}
	}
	return best
}

// poolInput returns planes of h×w values: N(0, 1) with ties, ±0, ±Inf
// and NaNs of either sign sprinkled in when special is set.
func poolInput(seed uint64, planes, h, w int, special bool) []float32 {
	r := testutil.Rand(seed)
	x := make([]float32, planes*h*w)
	vals := []float32{0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), -float32(math.NaN())}
	for i := range x {
		x[i] = float32(r.NormFloat64())
		if special && r.IntN(4) == 0 {
			x[i] = vals[r.IntN(len(vals))]
		}
	}
	return x
}

// checkMaxPool runs MaxPool2x2 of this build against poolNaive: every
// index, and every value bit for bit, with guards after dst and at.
func checkMaxPool(t *testing.T, prefix string) {
	t.Helper()
	for si, sz := range poolSizes {
		for _, planes := range []int{1, 3} {
			for _, special := range []bool{false, true} {
				h, w := sz[0], sz[1]
				ho, wo := h/2, w/2
				name := fmt.Sprintf("%splanes=%d/h=%d/w=%d/special=%v", prefix, planes, h, w, special)
				x := poolInput(uint64(si*10+planes), planes, h, w, special)
				n := planes * ho * wo
				dst, at := make([]float32, n+2), make([]int32, n+2)
				for i := range dst {
					dst[i], at[i] = -7.5, -7
				}
				MaxPool2x2(dst, at, x, planes, h, w)
				if dst[n] != -7.5 || dst[n+1] != -7.5 || at[n] != -7 || at[n+1] != -7 {
					t.Fatalf("%s: wrote past the output", name)
				}
				for p := range planes {
					for i := range ho {
						for j := range wo {
							o := p*ho*wo + i*wo + j
							k := poolNaive(x[p*h*w:], h, w, i, j)
							if int(at[o]) != k || math.Float32bits(dst[o]) != math.Float32bits(x[p*h*w+k]) {
								t.Fatalf("%s: plane %d (%d, %d): got %v at %d, want %v at %d", name, p, i, j, dst[o], at[o], x[p*h*w+k], k)
							}
						}
					}
				}
			}
		}
	}
}

func TestMaxPool2x2(t *testing.T) { checkMaxPool(t, "") }
