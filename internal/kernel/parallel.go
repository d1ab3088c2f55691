package kernel

import (
	"runtime"
	"sync"
)

// ParallelFor calls fn(lo, hi) for the blocks [0, grain), [grain, 2·grain),
// … of [0, n), the last one possibly shorter. The partition depends only on n
// and grain, never on GOMAXPROCS: as long as fn writes disjoint outputs for
// disjoint blocks, the result is the same for any number of threads. Blocks
// run concurrently on up to GOMAXPROCS goroutines; with one block, or
// GOMAXPROCS = 1, everything runs on the calling goroutine. It returns when
// every block has finished.
func ParallelFor(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	blocks := (n + grain - 1) / grain
	workers := min(runtime.GOMAXPROCS(0), blocks)
	if workers <= 1 {
		for lo := 0; lo < n; lo += grain {
			fn(lo, min(lo+grain, n))
		}
		return
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		next int
	)
	for range workers {
		wg.Go(func() {
			for {
				mu.Lock()
				b := next
				next++
				mu.Unlock()
				if b >= blocks {
					return
				}
				lo := b * grain
				fn(lo, min(lo+grain, n))
			}
		})
	}
	wg.Wait()
}

// Grain returns a block size for ParallelFor over n items that each cost
// about work units, so that one block costs at least minWork units. It
// depends only on its arguments.
func Grain(n, work, minWork int) int {
	if work < 1 {
		work = 1
	}
	g := (minWork + work - 1) / work
	return max(1, min(g, n))
}
