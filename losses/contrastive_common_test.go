package losses

import (
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// Float64 building blocks of the naive oracles of the contrastive
// objectives. They share nothing with the package's code.

// ctrNormalize64 returns the rows of the r×c matrix x divided by
// max(‖x_i‖, 1e-12).
func ctrNormalize64(x []float64, r, c int) []float64 {
	y := make([]float64, len(x))
	for i := 0; i < r; i++ {
		var s float64
		for j := 0; j < c; j++ {
			s += x[i*c+j] * x[i*c+j]
		}
		n := math.Max(math.Sqrt(s), 1e-12)
		for j := 0; j < c; j++ {
			y[i*c+j] = x[i*c+j] / n
		}
	}
	return y
}

// ctrDot64 returns Σ_k a[i·d+k]·b[j·d+k].
func ctrDot64(a []float64, i int, b []float64, j, d int) float64 {
	var s float64
	for k := 0; k < d; k++ {
		s += a[i*d+k] * b[j*d+k]
	}
	return s
}

// ctrLSE64 returns log Σ exp(v) through the maximum.
func ctrLSE64(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	if math.IsInf(m, -1) {
		return m
	}
	var s float64
	for _, x := range v {
		s += math.Exp(x - m)
	}
	return m + math.Log(s)
}

// ctrCheckGrad compares a float32 analytic gradient with central
// differences of the float64 oracle f at x. The tolerance is the float32
// rule of the reference vectors: rtol 1e-4 plus 1e-5 of the largest
// element (plus slack for extreme temperatures through extra).
func ctrCheckGrad(t *testing.T, name string, got []float32, f func([]float64) float64, x []float64, h, extra float64) {
	t.Helper()
	num := testutil.NumGrad(f, x, h)
	atol := (1e-5+extra)*testutil.MaxAbs(num) + 1e-7
	testutil.AllClose(t, name, testutil.F64s(got), num, atol, 1e-4+extra)
}

// ctrWantErr fails t unless err wraps sentinel and its message contains
// every part of want.
func ctrWantErr(t *testing.T, err, sentinel error, want ...string) {
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

// ctrAllNaN fails t unless every element of the destination is still NaN
// (a failed call must not write).
func ctrAllNaN(t *testing.T, name string, dst ssl.Tensor) {
	t.Helper()
	_, d, err := ssl.View(dst)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	for i, v := range d {
		if v == v {
			t.Errorf("%s[%d] = %v was written by a failed call", name, i, v)
			return
		}
	}
}

// ctrDup copies row src of the r×c tensor t over row dst.
func ctrDup(t ssl.Tensor, c, dst, src int) {
	d := testutil.Data(t)
	copy(d[dst*c:(dst+1)*c], d[src*c:(src+1)*c])
}

// ctrSetProcs sets GOMAXPROCS and returns the previous value.
func ctrSetProcs(n int) int { return runtime.GOMAXPROCS(n) }

// ctrEmpty reports whether a shape has no elements (gorgonia's Data panics
// on those, so the test helpers route around it).
func ctrEmpty(shape ...int) bool {
	for _, d := range shape {
		if d == 0 {
			return true
		}
	}
	return false
}

// ctrRandN is testutil.RandN that also accepts empty shapes.
func ctrRandN(r *rand.Rand, std float64, shape ...int) ssl.Tensor {
	if ctrEmpty(shape...) {
		return ssl.New(shape...)
	}
	return testutil.RandN(r, std, shape...)
}

// ctrNaNs is testutil.NaNs that also accepts empty shapes.
func ctrNaNs(shape ...int) ssl.Tensor {
	if ctrEmpty(shape...) {
		return ssl.New(shape...)
	}
	return testutil.NaNs(shape...)
}

// ctrSkipAllocsUnderRace skips an allocation test under the race detector.
func ctrSkipAllocsUnderRace(t *testing.T) {
	t.Helper()
	if ctrRace {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
}

func TestWorkspaceCopy(t *testing.T) {
	// A copied workspace must work on its own memory.
	rnd := testutil.Rand(51)
	z1, z2 := testutil.RandN(rnd, 1, 5, 4), testutil.RandN(rnd, 1, 5, 4)
	ws := NewWorkspace()
	want, err := NTXent(nil, nil, z1, z2, 0.3, &NTXentOptions{Workspace: ws})
	if err != nil {
		t.Fatal(err)
	}
	cp := *ws
	got, err := NTXent(nil, nil, z1, z2, 0.3, &NTXentOptions{Workspace: &cp})
	if err != nil || got != want {
		t.Errorf("NTXent with a copied workspace = %v, %v, want %v", got, err, want)
	}
}

// ctrOwnAllocs returns the heap allocations per call of f that the
// package's own (non-test) code makes, excluding what the kernels, the root
// package, gorgonia and the runtime allocate on its behalf. It samples
// every allocation with the memory profiler and attributes each to the
// innermost frame outside the runtime.
func ctrOwnAllocs(t *testing.T, runs int, f func()) float64 {
	t.Helper()
	old := runtime.MemProfileRate
	runtime.MemProfileRate = 1
	defer func() { runtime.MemProfileRate = old }()
	for range 3 {
		f() // grow the workspace; let the profiler's sampling settle
	}
	runtime.GC()
	runtime.GC()
	before := ctrLossesAllocs(t)
	for range runs {
		f()
	}
	runtime.GC()
	runtime.GC()
	return float64(ctrLossesAllocs(t)-before) / float64(runs)
}

// ctrLossesAllocs returns the number of objects allocated so far whose
// innermost non-runtime frame is in package losses' non-test code.
func ctrLossesAllocs(t *testing.T) int64 {
	t.Helper()
	n, _ := runtime.MemProfile(nil, true)
	recs := make([]runtime.MemProfileRecord, n+256)
	n, ok := runtime.MemProfile(recs, true)
	if !ok {
		t.Fatal("memory profile did not fit")
	}
	var total int64
	for _, r := range recs[:n] {
		frames := runtime.CallersFrames(r.Stack())
		for {
			fr, more := frames.Next()
			if strings.HasPrefix(fr.Function, "runtime.") || strings.HasPrefix(fr.Function, "internal/") {
				if !more {
					break
				}
				continue
			}
			if strings.HasPrefix(fr.Function, "ssl/losses.") && !strings.HasSuffix(fr.File, "_test.go") {
				total += r.AllocObjects
			}
			break
		}
	}
	return total
}
