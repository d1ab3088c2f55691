package kernel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
)

// TestParallelForBlocks checks that every block of the fixed partition runs
// exactly once, for several GOMAXPROCS, grains and sizes.
func TestParallelForBlocks(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, procs := range []int{1, 2, 3, 8} {
		runtime.GOMAXPROCS(procs)
		for _, n := range []int{0, 1, 7, 64, 1000} {
			for _, grain := range []int{0, 1, 3, 64, 2000} {
				hits := make([]atomic.Int32, n)
				var bad atomic.Int32
				g := max(grain, 1)
				ParallelFor(n, grain, func(lo, hi int) {
					if lo%g != 0 || hi != min(lo+g, n) {
						bad.Add(1)
					}
					for i := lo; i < hi; i++ {
						hits[i].Add(1)
					}
				})
				if bad.Load() != 0 {
					t.Errorf("procs %d n %d grain %d: a block is not [b·grain, min((b+1)·grain, n))", procs, n, grain)
				}
				for i := range hits {
					if h := hits[i].Load(); h != 1 {
						t.Fatalf("procs %d n %d grain %d: item %d ran %d times", procs, n, grain, i, h)
					}
				}
			}
		}
	}
}

// TestParallelForNestedAndConcurrent runs ParallelFor from inside fn and
// from several goroutines at once: it must neither deadlock nor lose a
// block.
func TestParallelForNestedAndConcurrent(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(4)
	var wg sync.WaitGroup
	var total atomic.Int64
	for range 8 {
		wg.Go(func() {
			for range 20 {
				ParallelFor(16, 1, func(lo, hi int) {
					ParallelFor(32, 4, func(lo, hi int) { total.Add(int64(hi - lo)) })
				})
			}
		})
	}
	wg.Wait()
	if want := int64(8 * 20 * 16 * 32); total.Load() != want {
		t.Fatalf("nested calls covered %d items, want %d", total.Load(), want)
	}
}

// TestParallelForAllocs checks that a call with a prebuilt fn allocates
// nothing once the pool is running.
func TestParallelForAllocs(t *testing.T) {
	if raceEnabled {
		// The count would pass only because AllocsPerRun rounds ¼ down.
		t.Skip("jobs come from a sync.Pool, which drops a quarter of them under the race detector")
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	runtime.GOMAXPROCS(4)
	out := make([]float32, 4096)
	fn := func(lo, hi int) {
		for i := lo; i < hi; i++ {
			out[i]++
		}
	}
	ParallelFor(len(out), 256, fn)
	if n := testing.AllocsPerRun(100, func() { ParallelFor(len(out), 256, fn) }); n != 0 {
		t.Errorf("ParallelFor allocates %v times per call, want 0", n)
	}
}

// BenchmarkParallelFor measures the fixed cost of a call that hands out
// GOMAXPROCS tiny blocks.
func BenchmarkParallelFor(b *testing.B) {
	w := runtime.GOMAXPROCS(0)
	var sink atomic.Int64
	fn := func(lo, hi int) { sink.Add(int64(hi - lo)) }
	b.ReportAllocs()
	for b.Loop() {
		ParallelFor(w, 1, fn)
	}
}
