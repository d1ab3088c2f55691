package dist_test

import (
	"flag"
	"fmt"
	"strings"
	"sync"
	"testing"

	"ssl/dist"
)

var benchSizes = []int{1 << 10, 1 << 14, 1 << 18, 1 << 22, 1 << 24}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dM", n>>20)
	}
	return fmt.Sprintf("%dK", n>>10)
}

// gbps reports the bytes of one rank's buffer per second as GB/s.
func gbps(b *testing.B, bytes int) {
	b.ReportMetric(float64(bytes)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

// BenchmarkAllReduce sums n float32 across the ranks: across MPI's
// processes under mpirun (which needs a fixed count, -test.benchtime=Nx, so
// that every rank runs the same iterations), else across dist.Local(2)'s
// goroutines. GB/s counts one rank's buffer, as in a data-parallel step.
func BenchmarkAllReduce(b *testing.B) {
	if dist.Launched() {
		if bt := flag.Lookup("test.benchtime"); bt == nil || !strings.HasSuffix(bt.Value.String(), "x") {
			b.Skip("under mpirun, run with -test.benchtime=<N>x so that every rank runs the same iterations")
		}
	}
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			if dist.Launched() {
				c, err := dist.MPI()
				if err != nil {
					b.Fatal(err)
				}
				x := make([]float32, n)
				c.AllReduceFloat32(x, dist.Sum) // warm up
				c.Barrier()
				b.ResetTimer()
				for range b.N {
					if err := c.AllReduceFloat32(x, dist.Sum); err != nil {
						b.Fatal(err)
					}
				}
				gbps(b, 4*n)
				return
			}
			cs := dist.Local(2)
			xs := [][]float32{make([]float32, n), make([]float32, n)}
			ranks(cs, func(c dist.Comm) { c.AllReduceFloat32(xs[c.Rank()], dist.Sum) }) // warm up
			b.ResetTimer()
			var wg sync.WaitGroup
			for r, c := range cs {
				wg.Go(func() {
					for range b.N {
						if err := c.AllReduceFloat32(xs[r], dist.Sum); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			gbps(b, 4*n)
		})
	}
}

// BenchmarkCopy is the reference: a plain copy of n float32.
func BenchmarkCopy(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(sizeName(n), func(b *testing.B) {
			src, dst := make([]float32, n), make([]float32, n)
			copy(dst, src) // fault the pages in before the clock starts
			b.ResetTimer()
			for range b.N {
				copy(dst, src)
			}
			gbps(b, 4*n)
		})
	}
}
