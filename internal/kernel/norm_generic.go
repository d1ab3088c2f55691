//go:build !amd64 || purego

package kernel

// The portable bindings of norm.go's row loops; norm_amd64.go holds the
// accelerated ones.

func sumSq(x []float32) float64                           { return sumSqGo(x) }
func dot(x, y []float32) float64                          { return dotGo(x, y) }
func scaleTo(dst, x []float32, a float64)                 { scaleToGo(dst, x, a) }
func sumSqRows(s []float64, x []float32, rows, cols int)  { sumSqRowsGo(s, x, rows, cols) }
func dotRows(s []float64, x, y []float32, rows, cols int) { dotRowsGo(s, x, y, rows, cols) }
func scaleRows(dst, x []float32, a []float64, rows, cols int) {
	scaleRowsGo(dst, x, a, rows, cols)
}
func projectOutRows(dst, dy, y []float32, c, a []float64, rows, cols int) {
	projectOutRowsGo(dst, dy, y, c, a, rows, cols)
}
