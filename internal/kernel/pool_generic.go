//go:build !amd64 || purego

package kernel

// The portable binding of pool.go's MaxPool2x2; pool_amd64.go holds the
// accelerated ones.

func maxPool2x2(dst []float32, at []int32, x []float32, planes, h, w int) {
	maxPool2x2Go(dst, at, x, planes, h, w)
}
