package sinkhorn

import (
	"fmt"
	"testing"

	"ssl/internal/testutil"
)

// TestRowOps compares the dispatched row primitives (AVX2 where available)
// with their portable twins at lengths around the 16-element step.
func TestRowOps(t *testing.T) {
	r := testutil.Rand(1)
	for _, n := range []int{0, 1, 15, 16, 17, 31, 32, 33, 100, 3000} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			a := testutil.Data(testutil.RandN(r, 1, n+1))[:n]
			v := testutil.F64(testutil.RandN(r, 1, n+1))[:n]
			p := testutil.F64(testutil.RandN(r, 1, n+1))[:n]
			if got, want := dot64(a, v), dot64Go(a, v); !testutil.Close(got, want, 1e-12, 1e-12) {
				t.Errorf("dot64 = %v, want %v", got, want)
			}
			q := append([]float64(nil), p...)
			axpy64(0.37, a, p)
			axpy64Go(0.37, a, q)
			testutil.AllClose(t, "axpy64", p, q, 1e-15, 1e-15)
		})
	}
}

// BenchmarkRowUpdate times one dot and one axpy over a 3000-element row.
func BenchmarkRowUpdate(b *testing.B) {
	const k = 3000
	row := make([]float32, k)
	v := make([]float64, k)
	p := make([]float64, k)
	for i := range row {
		row[i], v[i] = float32(i%7)/7, float64(i%5)
	}
	for b.Loop() {
		s := dot64(row, v)
		axpy64(1/s, row, p)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/k, "ns/elem")
}
