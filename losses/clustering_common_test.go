package losses

import (
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"ssl"
	"ssl/internal/kernel"
	"ssl/internal/testutil"
)

// Test helpers shared by the clustering objectives' tests; every name
// starts with clt.

// cltWantErr fails t unless err wraps sentinel and its message contains
// every want string.
func cltWantErr(t *testing.T, err, sentinel error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one wrapping %v", sentinel)
	}
	if !errors.Is(err, sentinel) {
		t.Errorf("error %q does not wrap %v", err, sentinel)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %q", err, w)
		}
	}
}

// cltAllNaN fails t unless every element of dst is still NaN (nothing was
// written).
func cltAllNaN(t *testing.T, name string, dst ssl.Tensor) {
	t.Helper()
	for i, v := range testutil.Data(dst) {
		if v == v {
			t.Fatalf("%s[%d] = %v was written by a failed call", name, i, v)
		}
	}
}

// cltFinite fails t if x holds NaN or ±Inf.
func cltFinite(t *testing.T, name string, x []float32) {
	t.Helper()
	if !kernel.AllFinite(x) {
		t.Fatalf("%s holds non-finite values", name)
	}
}

// cltGrad checks a float32 gradient against central differences of the
// float64 oracle f at x: rtol 1e-4 and an absolute floor of 1e-5 of the
// gradient's largest element (FORMAT.md's float32 rule).
func cltGrad(t *testing.T, name string, got []float32, f func([]float64) float64, x []float64, h float64) {
	t.Helper()
	num := testutil.NumGrad(f, x, h)
	atol := 1e-5*testutil.MaxAbs(num) + 1e-7
	testutil.AllClose(t, name, testutil.F64s(got), num, atol, 1e-4)
}

// cltRandLabels returns n labels in [0, k).
func cltRandLabels(r *rand.Rand, n, k int) []int {
	y := make([]int, n)
	for i := range y {
		y[i] = r.IntN(k)
	}
	return y
}

// cltLSE64 is log Σ exp(x) in float64 with the maximum subtracted.
func cltLSE64(x []float64) float64 {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v)
	}
	var s float64
	for _, v := range x {
		s += math.Exp(v - m)
	}
	return m + math.Log(s)
}

// cltSoftmax64 returns softmax(x) in float64.
func cltSoftmax64(x []float64) []float64 {
	l := cltLSE64(x)
	p := make([]float64, len(x))
	for i, v := range x {
		p[i] = math.Exp(v - l)
	}
	return p
}

// cltViewAllocs returns the allocations of viewing the tensors (the root
// package's views and gorgonia's accessors copy the shape).
func cltViewAllocs(ts ...ssl.Tensor) float64 {
	var n float64
	for _, t := range ts {
		n += testing.AllocsPerRun(5, func() { _, _, _ = ssl.View(t) })
	}
	return n
}

// cltParallelAllocs returns the allocations of one kernel.ParallelFor call
// over n items with the grain the clustering passes use for rows of k.
func cltParallelAllocs(n, k int) float64 {
	fn := func(lo, hi int) {}
	g := kernel.Grain(n, k, clustParGrain)
	return testing.AllocsPerRun(5, func() { kernel.ParallelFor(n, g, fn) })
}

// cltSoftmaxAllocs returns the allocations of one kernel.SoftmaxRows call.
func cltSoftmaxAllocs(n, k int) float64 {
	x := make([]float32, n*k)
	return testing.AllocsPerRun(5, func() { kernel.SoftmaxRows(x, x, n, k) })
}

func TestClustRowLSE(t *testing.T) {
	for _, tc := range []struct {
		name string
		x    []float32
	}{
		{"flat", []float32{0, 0, 0, 0}},
		{"confident", []float32{40, 0, -3, 1}},
		{"very_confident", []float32{1000, 0, -1000, 980}},
		{"one", []float32{3}},
		{"ties_at_max", []float32{5, 5, 1}},
	} {
		p := make([]float32, len(tc.x))
		kernel.SoftmaxRows(p, tc.x, 1, len(tc.x))
		got, at := clustRowLSE(p)
		x := testutil.F64s(tc.x)
		want := cltLSE64(x) - x[at]
		if !testutil.Close(got, want, 1e-12, 1e-6) {
			t.Errorf("clustRowLSE(%s) = %.12g, want %.12g", tc.name, got, want)
		}
	}
}

func TestClustTopK(t *testing.T) {
	rnd := testutil.Rand(5)
	for _, n := range []int{1, 2, 3, 10, 100, 1000} {
		for _, k := range []int{1, 2, n / 2, n - 1, n} {
			if k < 1 || k > n {
				continue
			}
			s := make([]float32, n)
			for i := range s {
				s[i] = float32(rnd.IntN(7)) // many ties
			}
			idx := make([]int, n)
			for i := range idx {
				idx[i] = i
			}
			clustTopK(idx, s, k)
			minIn := float32(math.Inf(1))
			for _, i := range idx[:k] {
				minIn = min(minIn, s[i])
			}
			for _, i := range idx[k:] {
				if s[i] > minIn {
					t.Fatalf("n=%d k=%d: s[%d]=%v left out, but %v kept", n, k, i, s[i], minIn)
				}
			}
			seen := make([]bool, n)
			for _, i := range idx {
				if seen[i] {
					t.Fatalf("n=%d k=%d: index %d twice", n, k, i)
				}
				seen[i] = true
			}
		}
	}
}
