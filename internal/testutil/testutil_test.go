package testutil

import (
	"math"
	"testing"
)

func TestClose(t *testing.T) {
	for _, tc := range []struct {
		got, want, atol, rtol float64
		ok                    bool
	}{
		{1, 1, 0, 0, true},
		{1.00001, 1, 0, 1e-4, true},
		{1.001, 1, 0, 1e-4, false},
		{1e-7, 0, 1e-6, 0, true},
		{math.NaN(), math.NaN(), 1, 1, false},
		{math.Inf(1), math.Inf(1), 0, 0, true},
		{math.Inf(1), 1e300, 0, 1, false},
	} {
		if got := Close(tc.got, tc.want, tc.atol, tc.rtol); got != tc.ok {
			t.Errorf("Close(%v, %v, %v, %v) = %v, want %v", tc.got, tc.want, tc.atol, tc.rtol, got, tc.ok)
		}
	}
}

func TestWorst(t *testing.T) {
	if i := Worst([]float64{1, 2.5, 3.2}, []float64{1, 2, 3}, 0, 0.01); i != 1 {
		t.Errorf("Worst = %d, want 1", i)
	}
	if i := Worst([]float64{1, math.NaN()}, []float64{1, 2}, 10, 10); i != 1 {
		t.Errorf("Worst with NaN = %d, want 1", i)
	}
	if i := Worst([]float64{1, 2}, []float64{1, 2}, 0, 0); i != -1 {
		t.Errorf("Worst of equal = %d, want -1", i)
	}
}

// TestNumGrad checks central differences on functions with known gradients
// and that x is restored exactly.
func TestNumGrad(t *testing.T) {
	f := func(x []float64) float64 { return x[0]*x[0]*x[1] + math.Sin(x[2]) }
	x := []float64{1.5, -2, 0.3}
	g := NumGrad(f, x, 1e-6)
	want := []float64{2 * 1.5 * -2, 1.5 * 1.5, math.Cos(0.3)}
	if i := Worst(g, want, 1e-8, 1e-7); i >= 0 {
		t.Errorf("NumGrad[%d] = %v, want %v", i, g[i], want[i])
	}
	if x[0] != 1.5 || x[1] != -2 || x[2] != 0.3 {
		t.Errorf("NumGrad changed x to %v", x)
	}
}

type fakeTB struct {
	testing.TB
	failed bool
}

func (f *fakeTB) Helper()               {}
func (f *fakeTB) Errorf(string, ...any) { f.failed = true }

func TestGradCheckCatchesWrongGradient(t *testing.T) {
	f := func(x []float64) float64 { return x[0] * x[1] }
	x := []float64{2, 3}
	ok := &fakeTB{TB: t}
	if i := GradCheck(ok, "right", []float64{3, 2}, f, x, 1e-6, 1e-8, 1e-6); i >= 0 || ok.failed {
		t.Errorf("GradCheck rejected a right gradient at %d", i)
	}
	bad := &fakeTB{TB: t}
	if i := GradCheck(bad, "wrong", []float64{3, 2.01}, f, x, 1e-6, 1e-8, 1e-6); i != 1 || !bad.failed {
		t.Errorf("GradCheck(wrong) = %d, failed=%v; want element 1 reported", i, bad.failed)
	}
}

func TestRandSeeded(t *testing.T) {
	a, b := RandN(Rand(7), 1, 4, 3), RandN(Rand(7), 1, 4, 3)
	Unchanged(t, "RandN(seed 7)", a, b)
	for _, v := range Data(NaNs(2, 2)) {
		if v == v {
			t.Fatalf("NaNs holds %v", v)
		}
	}
	u := Data(RandU(Rand(1), -1, 1, 100))
	for _, v := range u {
		if v < -1 || v >= 1 {
			t.Fatalf("RandU(-1, 1) gave %v", v)
		}
	}
}
