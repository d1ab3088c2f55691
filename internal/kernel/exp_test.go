package kernel

import (
	"fmt"
	"math"
	"testing"
)

// expRelTol is the accuracy goal for the float32 exponential: a
// relative error of at most 2e-7 (about 1.7 ulp at the bottom of a binade)
// wherever the result is a normal float32.
const expRelTol = 2e-7

// expCheck returns "" if got is an acceptable float32 e^x, else a reason.
// Normal results must be within expRelTol of math.Exp; subnormal results
// within one subnormal ulp (2^-149); results that round above MaxFloat32 must
// be +Inf; NaN gives NaN.
func expCheck(x, got float32) string {
	if x != x {
		if got == got {
			return "want NaN"
		}
		return ""
	}
	want := math.Exp(float64(x))
	g := float64(got)
	switch {
	case math.IsInf(float64(float32(want)), 1):
		if !math.IsInf(g, 1) {
			return "want +Inf"
		}
	case want >= 0x1p-126:
		if math.Abs(g-want) > expRelTol*want {
			if math.IsInf(g, 1) && want > math.MaxFloat32 {
				return "" // rounding to +Inf within a half ulp of MaxFloat32
			}
			return fmt.Sprintf("rel err %.3g", math.Abs(g-want)/want)
		}
	default:
		if !(math.Abs(g-want) <= 0x1p-149) {
			return fmt.Sprintf("abs err %.3g on a subnormal result", math.Abs(g-want))
		}
	}
	return ""
}

// expInputs returns float32 inputs covering the whole float32 range: every
// stride-th bit pattern, plus every float32 in small windows around the
// boundaries (0, overflow, the smallest normal and the smallest subnormal
// result, the underflow to 0).
func expInputs(stride uint32, window int) []float32 {
	var xs []float32
	for b := uint64(0); b < 1<<32; b += uint64(stride) {
		xs = append(xs, math.Float32frombits(uint32(b)))
	}
	for _, c := range []float32{0, float32(expMax), float32(expMinNormal), -103.27893, -103.972084, -104, 88.0, -87.0, 1, -1, 0.34657359, -0.34657359} {
		b := math.Float32bits(c)
		for d := -window; d <= window; d++ {
			xs = append(xs, math.Float32frombits(uint32(int64(b)+int64(d))))
		}
	}
	inf := float32(math.Inf(1))
	nan := float32(math.NaN())
	return append(xs, inf, -inf, nan, -nan, math.MaxFloat32, -math.MaxFloat32, math.SmallestNonzeroFloat32, -math.SmallestNonzeroFloat32)
}

func expStride() uint32 {
	if testing.Short() {
		return 4099
	}
	return 509
}

func TestExp32Range(t *testing.T) {
	xs := expInputs(expStride(), 1<<12)
	fails := 0
	for _, x := range xs {
		if why := expCheck(x, Exp32(x)); why != "" {
			t.Errorf("Exp32(%v [bits %#x]) = %v, want %v: %s", x, math.Float32bits(x), Exp32(x), math.Exp(float64(x)), why)
			if fails++; fails > 10 {
				t.Fatal("too many failures")
			}
		}
	}
}

// TestExpRange checks the slice Exp (the vectorised path where there is one)
// over the same inputs, in place and out of place.
func TestExpRange(t *testing.T) {
	xs := expInputs(expStride(), 1<<12)
	dst := make([]float32, len(xs))
	Exp(dst, xs)
	fails := 0
	for i, x := range xs {
		if why := expCheck(x, dst[i]); why != "" {
			t.Errorf("Exp(%v [bits %#x]) = %v, want %v: %s", x, math.Float32bits(x), dst[i], math.Exp(float64(x)), why)
			if fails++; fails > 10 {
				t.Fatal("too many failures")
			}
		}
	}
	Exp(xs, xs)
	sameBits(t, "Exp in place", xs, dst)
}

// TestExpSpecial lists the special values as math/all_test.go does.
func TestExpSpecial(t *testing.T) {
	inf := float32(math.Inf(1))
	for _, tc := range []struct{ x, want float32 }{
		{0, 1},
		{float32(math.Copysign(0, -1)), 1},
		{inf, inf},
		{-inf, 0},
		{89, inf},
		{math.MaxFloat32, inf},
		{-math.MaxFloat32, 0},
		{-104, 0},
		{-200, 0},
		{1, math.E},
	} {
		got := Exp32(tc.x)
		vec := make([]float32, 9)
		Exp(vec, []float32{tc.x, tc.x, tc.x, tc.x, tc.x, tc.x, tc.x, tc.x, tc.x})
		for _, g := range append(vec, got) {
			if g != tc.want {
				t.Errorf("Exp32/Exp(%v) = %v, want %v", tc.x, g, tc.want)
				break
			}
		}
	}
	nan := float32(math.NaN())
	got := make([]float32, 9)
	Exp(got, []float32{0, nan, 0, 0, 0, 0, 0, 0, nan})
	if Exp32(nan) == Exp32(nan) || got[1] == got[1] || got[8] == got[8] || got[0] != 1 {
		t.Errorf("Exp of NaN: Exp32 = %v, Exp = %v; want NaN and ones elsewhere", Exp32(nan), got)
	}
	// Subnormal results: e^-100 ≈ 3.72e-44 = 26.5·2^-149.
	if g, w := Exp32(-100), math.Exp(-100); math.Abs(float64(g)-w) > 0x1p-149 || g == 0 {
		t.Errorf("Exp32(-100) = %g, want %g", g, w)
	}
}

// TestExpLengths checks every length up to 70 (all tails of the vector
// loop) and that Exp writes nothing past len(x).
func TestExpLengths(t *testing.T) {
	for n := range 71 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(i)*0.37 - 11
		}
		dst := make([]float32, n+3)
		for i := range dst {
			dst[i] = -7
		}
		Exp(dst, x)
		for i := range x {
			if why := expCheck(x[i], dst[i]); why != "" {
				t.Fatalf("n=%d: Exp(%v) = %v: %s", n, x[i], dst[i], why)
			}
		}
		for i := n; i < n+3; i++ {
			if dst[i] != -7 {
				t.Fatalf("n=%d: Exp wrote dst[%d]", n, i)
			}
		}
	}
}
