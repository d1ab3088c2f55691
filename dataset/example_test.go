package dataset_test

import (
	"fmt"

	"ssl/dataset"
)

// The embedded Fashion-MNIST subset, class-balanced, as float32 batches.
func ExampleEmbeddedFashionMNIST() {
	train, err := dataset.EmbeddedFashionMNIST(dataset.Train)
	if err != nil {
		panic(err)
	}
	test, err := dataset.EmbeddedFashionMNIST(dataset.Test)
	if err != nil {
		panic(err)
	}
	fmt.Println(train.N, test.N, train.C, train.H, train.W)
	fmt.Println(train.ClassCounts())
	fmt.Println(train.ClassNames[train.Labels[0]])
	x, err := train.Batch(nil, []int{0, 1, 2})
	if err != nil {
		panic(err)
	}
	fmt.Println(x.Shape())
	// Output:
	// 6000 1000 1 28 28
	// [600 600 600 600 600 600 600 600 600 600]
	// Ankle boot
	// (3, 1, 28, 28)
}

// LoadFashionMNIST picks a caller-given folder, else the full set Debian's
// dataset-fashion-mnist installs, else the embedded subset.
func ExampleLoadFashionMNIST() {
	set, err := dataset.LoadFashionMNIST("", dataset.Test)
	if err != nil {
		panic(err)
	}
	fmt.Println(set.N == 10000 || set.N == 1000, set.Classes)
	// Output:
	// true 10
}
