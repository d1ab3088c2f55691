package kernel

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"testing"

	"ssl/internal/testutil"
)

func TestDotSumNorm(t *testing.T) {
	r := testutil.Rand(30)
	for _, n := range []int{0, 1, 3, 4, 5, 17, 1000} {
		x := testutil.Data(testutil.RandN(r, 1, n+1))[:n]
		y := testutil.Data(testutil.RandN(r, 1, n+2)) // longer than x: allowed
		var dot, sum, sq float64
		for i := range x {
			dot += float64(x[i]) * float64(y[i])
			sum += float64(x[i])
			sq += float64(x[i]) * float64(x[i])
		}
		if got := Dot(x, y); !testutil.Close(got, dot, 1e-12, 1e-12) {
			t.Errorf("Dot(n=%d) = %v, want %v", n, got, dot)
		}
		if got := Sum(x); !testutil.Close(got, sum, 1e-12, 1e-12) {
			t.Errorf("Sum(n=%d) = %v, want %v", n, got, sum)
		}
		if got := Norm(x); !testutil.Close(got, math.Sqrt(sq), 1e-12, 1e-12) {
			t.Errorf("Norm(n=%d) = %v, want %v", n, got, math.Sqrt(sq))
		}
	}
	// float64 accumulation keeps what a float32 sum loses.
	x := make([]float32, 1<<20)
	for i := range x {
		x[i] = 1
	}
	x[0] = 1 << 25
	if got := Sum(x); got != 1<<25+1<<20-1 {
		t.Errorf("Sum(2^25, 1, 1, …) = %v, want %v", got, 1<<25+1<<20-1)
	}
}

func TestAxpyScale(t *testing.T) {
	x := []float32{1, 2, 3, 4, 5}
	y := []float32{10, 20, 30, 40, 50, 60}
	Axpy(2, x, y)
	if want := []float32{12, 24, 36, 48, 60, 60}; !slices.Equal(y, want) {
		t.Errorf("Axpy = %v, want %v", y, want)
	}
	Scale(-0.5, x)
	if want := []float32{-0.5, -1, -1.5, -2, -2.5}; !slices.Equal(x, want) {
		t.Errorf("Scale = %v, want %v", x, want)
	}
	// Past the 8-lane blocks: the bits of the loop it equals.
	r := testutil.Rand(24)
	for _, n := range []int{1, 7, 17, 33, 513} {
		x := testutil.Data(testutil.RandN(r, 1, n))
		want := make([]float32, n)
		for i, v := range x {
			want[i] = v * 0.37
		}
		Scale(0.37, x)
		sameBits(t, fmt.Sprintf("Scale n=%d", n), x, want)
	}
}

func TestMax(t *testing.T) {
	for _, tc := range []struct {
		x    []float32
		want float32
		at   int
	}{
		{[]float32{3}, 3, 0},
		{[]float32{1, 5, 5, 2}, 5, 1}, // ties: first index
		{[]float32{nan32, 1, 2}, 2, 2},
		{[]float32{1, nan32, 0}, 1, 0},
		{[]float32{-inf32, -inf32}, -inf32, 0},
		{[]float32{-1, inf32, nan32}, inf32, 1},
	} {
		got, at := Max(tc.x)
		if got != tc.want || at != tc.at {
			t.Errorf("Max(%v) = %v, %d; want %v, %d", tc.x, got, at, tc.want, tc.at)
		}
	}
	if got, _ := Max([]float32{nan32, nan32}); got == got {
		t.Errorf("Max(NaN, NaN) = %v, want NaN", got)
	}
}

func TestAllFinite(t *testing.T) {
	for _, tc := range []struct {
		x    []float32
		want bool
	}{
		{nil, true},
		{[]float32{1, -2, math.MaxFloat32}, true},
		{[]float32{1, nan32}, false},
		{[]float32{inf32, 1}, false},
		{[]float32{1, -inf32}, false},
	} {
		if got := AllFinite(tc.x); got != tc.want {
			t.Errorf("AllFinite(%v) = %v, want %v", tc.x, got, tc.want)
		}
	}
}

func TestOverlaps(t *testing.T) {
	buf := make([]float32, 10)
	for _, tc := range []struct {
		a, b []float32
		want bool
	}{
		{buf[:5], buf[5:], false},
		{buf[:6], buf[5:], true},
		{buf[2:3], buf[:10], true},
		{buf[:0], buf, false},
		{buf, make([]float32, 10), false},
	} {
		if got := Overlaps(tc.a, tc.b); got != tc.want {
			t.Errorf("Overlaps(len %d, len %d) = %v, want %v", len(tc.a), len(tc.b), got, tc.want)
		}
	}
}

func TestParallelForPartition(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, tc := range []struct{ n, grain int }{{0, 4}, {1, 4}, {10, 3}, {12, 3}, {100, 1}, {5, 0}, {7, 100}} {
		var want [][2]int
		g := max(tc.grain, 1)
		for lo := 0; lo < tc.n; lo += g {
			want = append(want, [2]int{lo, min(lo+g, tc.n)})
		}
		for _, procs := range []int{1, 2, 4} {
			runtime.GOMAXPROCS(procs)
			var (
				mu  sync.Mutex
				got [][2]int
			)
			ParallelFor(tc.n, tc.grain, func(lo, hi int) {
				mu.Lock()
				got = append(got, [2]int{lo, hi})
				mu.Unlock()
			})
			slices.SortFunc(got, func(a, b [2]int) int { return a[0] - b[0] })
			if !slices.Equal(got, want) {
				t.Errorf("ParallelFor(n=%d, grain=%d) with GOMAXPROCS=%d: blocks %v, want %v", tc.n, tc.grain, procs, got, want)
			}
		}
	}
}

func TestGrain(t *testing.T) {
	for _, tc := range []struct{ n, work, minWork, want int }{
		{100, 10, 1000, 100},
		{1000, 10, 1000, 100},
		{1000, 0, 1000, 1000},
		{1000, 5000, 1000, 1},
		{0, 1, 1, 1},
	} {
		if got := Grain(tc.n, tc.work, tc.minWork); got != tc.want {
			t.Errorf("Grain(%d, %d, %d) = %d, want %d", tc.n, tc.work, tc.minWork, got, tc.want)
		}
	}
}
