package kernel

import (
	"fmt"
	"math"
	"testing"

	"ssl/internal/testutil"
)

// bnSpans are the span lengths the batch-normalisation tests run: odd
// sizes around the 8- and 16-value blocks of the assembly, ConvNet3's
// 7·7, 14·14 and 28·28 and a long span.
var bnSpans = []int{1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 49, 63, 65, 196, 513, 784}

// bnInput is one channel: rows spans of span values, ld = span + pad
// apart, NaN between them (a kernel that reads there returns NaN), with
// x, dy drawn from N(0.3, 1) and N(0, 1), and the values that meet the
// edges of the fused ReLU: x = −0 (with b = −0 for every third seed, a
// pre-activation of −0, which max turns into +0), and x = −b/a (a = 1
// then, for another third) where the pre-activation is exactly +0.
type bnInput struct {
	rows, span, ld int
	x, dy          []float32
	mu, a, b, k    float32
	c0, c1         float32
}

func newBNInput(seed uint64, rows, span, pad int) *bnInput {
	ld := span + pad
	r := testutil.Rand(seed)
	in := &bnInput{rows: rows, span: span, ld: ld,
		x: randPadded(r, rows, span, ld), dy: randPadded(r, rows, span, ld)}
	for i := range in.x {
		in.x[i] += 0.3 // NaN stays NaN
	}
	in.mu, in.a, in.b = 0.25, float32(0.5+r.Float64()), float32(r.NormFloat64())
	in.k, in.c0, in.c1 = float32(0.5+r.Float64()), float32(0.1*r.NormFloat64()), float32(0.1*r.NormFloat64())
	switch seed % 3 {
	case 0:
		in.a, in.b = 1, -in.x[0]
	case 1:
		in.b = float32(math.Copysign(0, -1))
	}
	if rows*span > 2 {
		in.x[ld*(rows-1)+span-1] = float32(math.Copysign(0, -1))
	}
	return in
}

// poisoned returns a copy of the input's layout filled with a sentinel,
// so writes between the spans show.
func (in *bnInput) poisoned() []float32 {
	d := make([]float32, len(in.x))
	for i := range d {
		d[i] = -7.5
	}
	return d
}

// bnSumBound is 2·γ(m−1)·Σ|term|: how far two float64 sums of the same m
// exact terms in different orders can be apart (see sumOrderBound).
func bnSumBound(terms []float64) float64 {
	var s float64
	for _, v := range terms {
		s += math.Abs(v)
	}
	k := float64(max(len(terms)-1, 0)) * 0x1p-53
	return 2 * k / (1 - k) * s
}

// bnTerms returns the terms of BNStats (d, d²) and of BNGradSums (g',
// g'·t), as the documentation defines them.
func (in *bnInput) terms(relu bool) (d, d2, g, gt []float64) {
	k := in.x[0]
	for i := range in.rows {
		for j := range in.span {
			v, dy := in.x[i*in.ld+j], in.dy[i*in.ld+j]
			dd := float64(v - k)
			d, d2 = append(d, dd), append(d2, dd*dd)
			gg := dy
			if relu && !(int32(math.Float32bits(float32(v*in.a)+in.b)) > 0) {
				gg = 0
			}
			g, gt = append(g, float64(gg)), append(gt, float64(gg)*float64(v-in.mu))
		}
	}
	return
}

func sum64(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s
}

// wantAffine and wantGrad are the element-wise definitions of BNAffine
// and BNGrad, with the sentinel between the spans.
func (in *bnInput) wantAffine(relu bool) []float32 {
	w := in.poisoned()
	for i := range in.rows {
		for j := range in.span {
			y := float32(in.x[i*in.ld+j]*in.a) + in.b
			if relu {
				y = max(y, 0)
			}
			w[i*in.ld+j] = y
		}
	}
	return w
}

func (in *bnInput) wantGrad(relu, train bool) []float32 {
	w := in.poisoned()
	for i := range in.rows {
		for j := range in.span {
			v, g := in.x[i*in.ld+j], in.dy[i*in.ld+j]
			if relu && !(int32(math.Float32bits(float32(v*in.a)+in.b)) > 0) {
				g = 0
			}
			if train {
				w[i*in.ld+j] = in.k * (g - in.c0 - float32((v-in.mu)*in.c1))
			} else {
				w[i*in.ld+j] = g * in.k
			}
		}
	}
	return w
}

// TestBN checks the four batch-normalisation kernels of this build (the
// accelerated ones where the CPU has them, the portable ones otherwise)
// against their definitions: the sums within the order bound of the
// exact terms' float64 sum, the element-wise outputs to the bit, nothing
// read or written between the spans.
func TestBN(t *testing.T) {
	for _, span := range bnSpans {
		for _, rows := range []int{1, 3, 7} {
			for _, pad := range []int{0, 3, 16} {
				name := fmt.Sprintf("rows=%d/span=%d/pad=%d", rows, span, pad)
				checkBN(t, name, newBNInput(uint64(span*100+rows*10+pad), rows, span, pad))
			}
		}
	}
}

func checkBN(t *testing.T, name string, in *bnInput) {
	t.Helper()
	d, d2, _, _ := in.terms(false)
	s, q := BNStats(in.x, in.rows, in.span, in.ld, in.x[0])
	if e := math.Abs(s - sum64(d)); !(e <= bnSumBound(d)) {
		t.Errorf("%s: BNStats s = %v, want %v ± %g", name, s, sum64(d), bnSumBound(d))
	}
	if e := math.Abs(q - sum64(d2)); !(e <= bnSumBound(d2)) {
		t.Errorf("%s: BNStats q = %v, want %v ± %g", name, q, sum64(d2), bnSumBound(d2))
	}
	for _, relu := range []bool{false, true} {
		rname := fmt.Sprintf("%s/relu=%v", name, relu)
		_, _, g, gt := in.terms(relu)
		sg, sgx := BNGradSums(in.x, in.dy, in.rows, in.span, in.ld, in.mu, in.a, in.b, relu)
		if e := math.Abs(sg - sum64(g)); !(e <= bnSumBound(g)) {
			t.Errorf("%s: BNGradSums sg = %v, want %v ± %g", rname, sg, sum64(g), bnSumBound(g))
		}
		if e := math.Abs(sgx - sum64(gt)); !(e <= bnSumBound(gt)) {
			t.Errorf("%s: BNGradSums sgx = %v, want %v ± %g", rname, sgx, sum64(gt), bnSumBound(gt))
		}
		got := in.poisoned()
		BNAffine(got, in.x, in.rows, in.span, in.ld, in.a, in.b, relu)
		sameBits(t, rname+": BNAffine", got, in.wantAffine(relu))
		inPlace := append([]float32(nil), in.x...)
		BNAffine(inPlace, inPlace, in.rows, in.span, in.ld, in.a, in.b, relu)
		for i := range in.rows {
			lo, hi := i*in.ld, i*in.ld+in.span
			sameBits(t, rname+": BNAffine in place", inPlace[lo:hi], in.wantAffine(relu)[lo:hi])
		}
		for _, train := range []bool{false, true} {
			got := in.poisoned()
			BNGrad(got, in.x, in.dy, in.rows, in.span, in.ld, in.mu, in.a, in.b, in.k, in.c0, in.c1, relu, train)
			sameBits(t, fmt.Sprintf("%s/train=%v: BNGrad", rname, train), got, in.wantGrad(relu, train))
		}
	}
}

// TestBNEmpty checks that no rows or an empty span return zero sums and
// write nothing.
func TestBNEmpty(t *testing.T) {
	for _, sh := range [][2]int{{0, 5}, {3, 0}} {
		if s, q := BNStats(nil, sh[0], sh[1], 5, 1); s != 0 || q != 0 {
			t.Errorf("BNStats(rows=%d, span=%d) = %v, %v, want 0, 0", sh[0], sh[1], s, q)
		}
		if s, q := BNGradSums(nil, nil, sh[0], sh[1], 5, 0, 1, 0, true); s != 0 || q != 0 {
			t.Errorf("BNGradSums(rows=%d, span=%d) = %v, %v, want 0, 0", sh[0], sh[1], s, q)
		}
		BNAffine(nil, nil, sh[0], sh[1], 5, 1, 0, true)
		BNGrad(nil, nil, nil, sh[0], sh[1], 5, 0, 1, 0, 1, 0, 0, true, true)
	}
}

// TestBNAffineNaN checks that the fused ReLU passes NaN on, as Go's max
// does (a NaN parameter must reach the caller's finiteness check, not
// become 0), in the blocks and in the masked tail.
func TestBNAffineNaN(t *testing.T) {
	nan := float32(math.NaN())
	for _, span := range []int{1, 7, 9, 17, 33} {
		x := make([]float32, span)
		for i := range x {
			x[i] = float32(i) - 3
		}
		x[span-1] = nan
		x[span/2] = nan
		dst := make([]float32, span)
		BNAffine(dst, x, 1, span, span, 1.5, 0.5, true)
		for i, v := range dst {
			want := max(float32(x[i]*1.5)+0.5, 0)
			if math.Float32bits(v) != math.Float32bits(want) && !(v != v && want != want) {
				t.Errorf("span=%d: BNAffine(relu)[%d] = %v, want %v", span, i, v, want)
			}
		}
		// A NaN scale makes every output NaN.
		BNAffine(dst, x, 1, span, span, nan, 0.5, true)
		for i, v := range dst {
			if v == v {
				t.Errorf("span=%d: BNAffine(a=NaN, relu)[%d] = %v, want NaN", span, i, v)
			}
		}
	}
}
