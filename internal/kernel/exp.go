package kernel

import "math"

// Constants of the float32 exponential. The range reduction is Cody and
// Waite's: x = n·ln2 + r with |r| ≤ ln2/2, ln2 split in a high part with few
// significant bits (so n·ln2Hi is exact) and a low part.
const (
	expLog2e = 1.44269504088896341
	expLn2Hi = 0.693359375    // 0x3f318000: ln 2 rounded to 12 bits
	expLn2Lo = -2.12194440e-4 // ln 2 − expLn2Hi
	// expMax is the largest x whose exp is finite in float32 (log(MaxFloat32)).
	expMax = 88.72283905206835
	// expMinNormal is log of the smallest normal float32 (2^-126); below it
	// the result is subnormal and the slow path computes it.
	expMinNormal = -87.33654475055310898657
)

// Exp32 returns e^x in float32 with a relative error of a few ulp over the
// whole float32 range: +Inf above log(MaxFloat32), 0 far below, subnormal
// results in between computed exactly by the float64 path, and NaN for NaN.
func Exp32(x float32) float32 {
	if !(x >= expMinNormal && x <= expMax) {
		// NaN, overflow, underflow and subnormal results: rare, exact.
		return float32(math.Exp(float64(x)))
	}
	n := float32(math.Floor(float64(x*expLog2e + 0.5)))
	r := x - n*expLn2Hi
	r -= n * expLn2Lo
	// exp(r) on |r| ≤ 0.3467: degree-7 Taylor polynomial, truncation error
	// below r^8/8! ≈ 5e-9, under half an ulp of float32.
	p := float32(1.0 / 5040)
	p = p*r + 1.0/720
	p = p*r + 1.0/120
	p = p*r + 1.0/24
	p = p*r + 1.0/6
	p = p*r + 0.5
	p = p*r + 1
	p = p*r + 1
	// Scale by 2^n. n ≥ -126 here, but n = 128 can occur just below expMax
	// (p < 1 then), so scale in two steps.
	ni := int32(n)
	if ni > 127 {
		return p * 2 * math.Float32frombits(uint32(ni-1+127)<<23)
	}
	return p * math.Float32frombits(uint32(ni+127)<<23)
}

// expGrain is the block of the parallel Exp: 64Ki elements, tens of
// microseconds of work, so the goroutine hand-off is noise.
const expGrain = 1 << 16

// Exp computes dst[i] = e^x[i] for every i, with Exp32's accuracy and
// special values. len(dst) must be ≥ len(x); dst may be x itself. Above
// expGrain elements it runs on fixed blocks in parallel; below it allocates
// nothing.
func Exp(dst, x []float32) {
	dst = dst[:len(x)]
	if len(x) <= expGrain {
		expSlice(dst, x)
		return
	}
	ParallelFor(len(x), expGrain, func(lo, hi int) {
		expSlice(dst[lo:hi], x[lo:hi])
	})
}
