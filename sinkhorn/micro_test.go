package sinkhorn

import "testing"

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
