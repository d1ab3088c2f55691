//go:build amd64 && !purego

package kernel

import (
	"fmt"
	"math"
	"testing"

	"ssl/internal/testutil"
)

// expTestInput is n floats over [-110, 95] (past both clamps) with the
// special values spread through it: ±0, ±Inf, NaN, a subnormal, and the
// overflow and underflow boundaries.
func expTestInput(n int, seed uint64) []float32 {
	r := testutil.Rand(seed)
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(r.Float64()*205 - 110)
	}
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)), nan32, 1e-40, 88.72283, 88.72284, -87.33655, -103.972, -104, 89}
	for i, v := range special {
		x[(i*7919)%n] = v
	}
	return x
}

// TestExpAVX512SameBits checks that the AVX-512 exponential kernels give
// exactly the bits of the AVX2 ones: element by element, and the float64
// sums in the same order, for every length class (32-, 16- and 8-blocks).
func TestExpAVX512SameBits(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512 on this CPU")
	}
	for _, n := range []int{8, 16, 24, 32, 40, 48, 56, 64, 72, 296, 4096, 4104} {
		x := expTestInput(n, uint64(n))
		got, want := make([]float32, n), make([]float32, n)
		expAVX512(&got[0], &x[0], n)
		expAVX2(&want[0], &x[0], n)
		sameBits(t, fmt.Sprintf("exp n=%d", n), got, want)
		// Sums of finite rows (a NaN or +Inf makes both NaN or +Inf).
		xf := make([]float32, n)
		for i, v := range x {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 1) {
				v = 1
			}
			xf[i] = v
		}
		for _, m := range []float32{0, 3.5, 95, -20, float32(math.Inf(-1))} {
			s512, s2 := expSumShiftAVX512(&xf[0], n, m), expSumShiftAVX2(&xf[0], n, m)
			if math.Float64bits(s512) != math.Float64bits(s2) {
				t.Errorf("expSumShift n=%d m=%g: AVX-512 %v, AVX2 %v", n, m, s512, s2)
			}
			clear(got)
			clear(want)
			s512 = expStoreShiftAVX512(&got[0], &xf[0], n, m)
			s2 = expStoreShiftAVX2(&want[0], &xf[0], n, m)
			if math.Float64bits(s512) != math.Float64bits(s2) {
				t.Errorf("expStoreShift n=%d m=%g: AVX-512 %v, AVX2 %v", n, m, s512, s2)
			}
			sameBits(t, fmt.Sprintf("expStoreShift n=%d m=%g", n, m), got, want)
		}
		// Column accumulation: s[j] += e^(x[j]−m[j]) in float64.
		mc := expTestInput(n, uint64(n)+1)
		s512, s2 := make([]float64, n), make([]float64, n)
		for j := range s512 {
			s512[j] = float64(j) * 0.25
			s2[j] = s512[j]
		}
		expAccColsAVX512(&s512[0], &xf[0], &mc[0], n)
		expAccColsAVX2(&s2[0], &xf[0], &mc[0], n)
		for j := range s512 {
			if math.Float64bits(s512[j]) != math.Float64bits(s2[j]) {
				t.Fatalf("expAccCols n=%d j=%d: AVX-512 %v, AVX2 %v", n, j, s512[j], s2[j])
			}
		}
	}
}

// TestAVX2PathsOnAVX512 reruns the tests of the public kernels with the
// AVX-512 kernels switched off, so a machine that has AVX-512 also tests the
// AVX2 paths that machines without it run.
func TestAVX2PathsOnAVX512(t *testing.T) {
	if !haveAVX512 {
		t.Skip("no AVX-512 on this CPU: the other tests run the AVX2 paths")
	}
	haveAVX512 = false
	defer func() { haveAVX512 = true }()
	for _, tc := range []struct {
		name string
		f    func(*testing.T)
	}{
		{"ExpRange", TestExpRange}, {"ExpSpecial", TestExpSpecial}, {"ExpLengths", TestExpLengths},
		{"ExpAccuracy", TestExpAccuracy}, {"LogSumExpRows", TestLogSumExpRows},
		{"LogSumExpCols", TestLogSumExpCols}, {"LogSumExpSpecial", TestLogSumExpSpecial},
		{"SoftmaxRows", TestSoftmaxRows}, {"LogSoftmaxRows", TestLogSoftmaxRows},
		{"Gemm", TestGemm}, {"GemmGOMAXPROCS", TestGemmGOMAXPROCS},
		{"DotNorm", TestDotNorm}, {"L2NormalizeRows", TestL2NormalizeRows},
		{"L2NormalizeRowsBackward", TestL2NormalizeRowsBackward},
		{"L2NormalizeRowsBlocks", TestL2NormalizeRowsBlocks},
		{"BN", TestBN}, {"BNAffineNaN", TestBNAffineNaN},
	} {
		t.Run(tc.name, tc.f)
	}
}
