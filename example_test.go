package ssl_test

import (
	"fmt"
	"math"

	"ssl"
)

// round returns v rounded to three decimals, for stable output.
func round(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = math.Round(float64(x)*1000) / 1000
	}
	return out
}

// Rows and Row are views: the batch's second half is processed without a
// copy, and its writes land in the batch.
func ExampleRows() {
	batch := ssl.FromSlice([]float32{3, 4, 1, 0, 0, 2, 6, 8}, 4, 2)
	half, _ := ssl.Rows(batch, 2, 4)
	if _, err := ssl.NormalizeRows(half, half); err != nil {
		fmt.Println(err)
	}
	row, _ := ssl.Row(batch, 3)
	fmt.Println(half.Shape(), round(row))
	all, _ := ssl.Reshape(batch, -1)
	fmt.Println(round(all.Float32s()))
	// Output:
	// (2, 2) [0.6 0.8]
	// [3 4 1 0 0 1 0.6 0.8]
}

func ExampleMatMul() {
	a := ssl.FromSlice([]float32{1, 2, 3, 4, 5, 6}, 2, 3)
	// a·aᵀ, the 2×2 Gram matrix of a's rows.
	g, err := ssl.MatMul(nil, a, a, false, true)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, d, _ := ssl.View(g)
	fmt.Println(g.Shape(), round(d))
	// Output: (2, 2) [14 32 32 77]
}

func ExampleSoftmaxRows() {
	logits := ssl.FromSlice([]float32{1, 2, 3, 3, 2, 1}, 2, 3)
	p, err := ssl.SoftmaxRows(nil, logits, 0.5)
	if err != nil {
		fmt.Println(err)
		return
	}
	_, d, _ := ssl.View(p)
	fmt.Println(round(d))
	pred, _ := ssl.ArgmaxRows(nil, p)
	fmt.Println(pred)
	// Output:
	// [0.016 0.117 0.867 0.867 0.117 0.016]
	// [2 0]
}
