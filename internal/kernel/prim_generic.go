//go:build !amd64 || purego

package kernel

// The portable bindings; prim_amd64.go holds the accelerated ones.

func maxRow(x []float32) float32                        { return maxRowGo(x) }
func expSlice(dst, x []float32)                         { expSliceGo(dst, x) }
func expSumShift(x []float32, m float32) float64        { return expSumShiftGo(x, m) }
func expStoreShift(dst, x []float32, m float32) float64 { return expStoreShiftGo(dst, x, m) }
func maxCols(m, x []float32)                            { maxColsGo(m, x) }
func expAccCols(s []float64, x, m []float32)            { expAccColsGo(s, x, m) }
func scaleSlice(x []float32, a float32)                 { scaleSliceGo(x, a) }
func subConst(dst, x []float32, c float32)              { subConstGo(dst, x, c) }
