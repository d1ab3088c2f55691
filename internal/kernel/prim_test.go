package kernel

import (
	"fmt"
	"math"
	"testing"

	"ssl/internal/testutil"
)

// TestPrimitives cross-checks the bound primitives (assembly on amd64 with
// AVX2) against their portable twins for every length up to 40, so every
// tail is covered, with NaN and ±Inf sprinkled in.
func TestPrimitives(t *testing.T) {
	r := testutil.Rand(40)
	for n := range 41 {
		for trial := range 4 {
			name := fmt.Sprintf("n=%d/trial=%d", n, trial)
			x := make([]float32, n)
			for i := range x {
				x[i] = float32(5 * r.NormFloat64())
				if trial > 0 && r.IntN(8) == 0 {
					x[i] = []float32{nan32, inf32, -inf32}[trial-1]
				}
			}
			if n > 0 {
				if got, want := maxRow(x), maxRowGo(x); math.Float32bits(got) != math.Float32bits(want) {
					t.Errorf("%s: maxRow = %v, want %v", name, got, want)
				}
			}
			m := float32(r.NormFloat64())
			gotS, wantS := expSumShift(x, m), expSumShiftGo(x, m)
			if !(gotS == wantS || testutil.Close(gotS, wantS, 0, 1e-6) || (math.IsNaN(gotS) && math.IsNaN(wantS))) {
				t.Errorf("%s: expSumShift = %v, want %v", name, gotS, wantS)
			}
			dst, want := make([]float32, n), make([]float32, n)
			gotS, wantS = expStoreShift(dst, x, m), expStoreShiftGo(want, x, m)
			if !(gotS == wantS || testutil.Close(gotS, wantS, 0, 1e-6) || (math.IsNaN(gotS) && math.IsNaN(wantS))) {
				t.Errorf("%s: expStoreShift = %v, want %v", name, gotS, wantS)
			}
			for i := range x {
				if why := expCheck(x[i]-m, dst[i]); why != "" {
					t.Errorf("%s: expStoreShift dst[%d] = %v for e^(%v): %s", name, i, dst[i], x[i]-m, why)
				}
			}
			sc, scg := append([]float32(nil), x...), append([]float32(nil), x...)
			scaleSlice(sc, 0.37)
			scaleSliceGo(scg, 0.37)
			sameBits(t, name+": scaleSlice", sc, scg)
			subConst(sc, x, 1.5)
			subConstGo(scg, x, 1.5)
			sameBits(t, name+": subConst", sc, scg)
			mc := make([]float32, n)
			mg := make([]float32, n)
			for i := range mc {
				mc[i] = float32(r.NormFloat64())
				mg[i] = mc[i]
			}
			maxCols(mc, x)
			maxColsGo(mg, x)
			sameBits(t, name+": maxCols", mc, mg)
			s, sg := make([]float64, n), make([]float64, n)
			for i := range s {
				s[i] = r.Float64()
				sg[i] = s[i]
			}
			expAccCols(s, x, mg)
			expAccColsGo(sg, x, mg)
			for i := range s {
				if !(s[i] == sg[i] || testutil.Close(s[i], sg[i], 0, 1e-6) || (math.IsNaN(s[i]) && math.IsNaN(sg[i]))) {
					t.Errorf("%s: expAccCols[%d] = %v, want %v", name, i, s[i], sg[i])
				}
			}
		}
	}
}

// TestExpAccuracy reports the worst relative error of Exp over normal
// results on a dense sample of [-87.3, 88.7], the figure README.md quotes.
func TestExpAccuracy(t *testing.T) {
	const n = 1 << 20
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(expMinNormal + (expMax-expMinNormal)*float64(i)/n)
	}
	y := make([]float32, n)
	Exp(y, x)
	worst, at := 0.0, float32(0)
	for i, v := range x {
		want := math.Exp(float64(v))
		if e := math.Abs(float64(y[i])-want) / want; e > worst {
			worst, at = e, v
		}
	}
	t.Logf("Exp: worst relative error %.3g (%.2f ulp of 2^-23) at x = %v", worst, worst/0x1p-23, at)
	if worst > expRelTol {
		t.Errorf("Exp: relative error %.3g at x = %v, want ≤ %g", worst, at, expRelTol)
	}
}
