package kernel_test

import (
	"fmt"

	"ssl/internal/kernel"
)

// C = A·Bᵀ for a 2×3 A and a 2×3 B (so op(B) is 3×2).
func ExampleGemm() {
	a := []float32{1, 2, 3, 4, 5, 6}
	b := []float32{1, 0, 1, 0, 1, 0}
	c := make([]float32, 4)
	kernel.Gemm(false, true, 2, 2, 3, 1, a, 3, b, 3, 0, c, 2)
	fmt.Println(c)
	// Output: [4 2 10 5]
}

func ExampleLogSumExpRows() {
	x := []float32{0, 0, 1000, 1000, -1, 3}
	dst := make([]float32, 3)
	kernel.LogSumExpRows(dst, x, 3, 2)
	fmt.Printf("%.3f %.3f %.3f\n", dst[0], dst[1], dst[2])
	// Output: 0.693 1000.693 3.018
}

func ExampleSoftmaxRows() {
	x := []float32{1, 2, 3, 0, 0, 0}
	kernel.SoftmaxRows(x, x, 2, 3)
	fmt.Printf("%.4f\n", x)
	// Output: [0.0900 0.2447 0.6652 0.3333 0.3333 0.3333]
}

func ExampleParallelFor() {
	sums := make([]int, 3)
	kernel.ParallelFor(10, 4, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			sums[lo/4] += i
		}
	})
	fmt.Println(sums)
	// Output: [6 22 17]
}
