package probe_test

import (
	"fmt"
	"log"

	"ssl"
	"ssl/probe"
)

// The end-of-training evaluation: bank features of the training set with
// their labels, queries from the test set.
func ExampleKNN() {
	bank := ssl.FromSlice([]float32{
		1, 0.1, 0.9, 0.2, 1, -0.1, // class 0 points along x
		0.1, 1, -0.1, 0.8, 0.2, 1, // class 1 along y
	}, 6, 2)
	bankLabels := []int{0, 0, 0, 1, 1, 1}
	queries := ssl.FromSlice([]float32{2, 0.3, -0.2, 3, 0.5, 0.6}, 3, 2)
	queryLabels := []int{0, 1, 1}

	pred, err := probe.KNN(nil, bank, bankLabels, queries, 2, &probe.KNNOptions{K: 3})
	if err != nil {
		log.Fatal(err)
	}
	top1, _ := probe.Accuracy(pred, queryLabels)
	fmt.Println("predictions:", pred)
	fmt.Printf("top-1: %.4f\n", top1)
	// Output:
	// predictions: [0 1 1]
	// top-1: 1.0000
}

func ExampleEvaluateClusters() {
	pred := []int{2, 2, 2, 0, 0, 1, 1, 1}   // cluster ids
	target := []int{0, 0, 0, 1, 1, 2, 2, 1} // classes
	s, err := probe.EvaluateClusters(pred, target, 3, 3, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("ACC %.4f  NMI %.4f  ARI %.4f\n", s.ACC, s.NMI, s.ARI)
	fmt.Println("cluster → class:", s.Match)
	// Output:
	// ACC 0.8750  NMI 0.7794  ARI 0.6190
	// cluster → class: [1 2 0]
}

func ExampleHungarian() {
	cost := []float64{
		4, 1, 3,
		2, 0, 5,
		3, 2, 2,
	}
	match, total, err := probe.Hungarian(nil, cost, 3, 3)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(match, total)
	// Output: [1 0 2] 5
}

func ExampleEvaluateLinear() {
	// Two features; the class is the sign of their sum.
	var train, test []float32
	var trainY, testY []int
	for i := range 40 {
		a, b := float32(i%7)-3, float32(i%5)-2.5
		y := 0
		if a+b > 0 {
			y = 1
		}
		if i < 30 {
			train, trainY = append(train, a, b), append(trainY, y)
		} else {
			test, testY = append(test, a, b), append(testY, y)
		}
	}
	r, err := probe.EvaluateLinear(ssl.FromSlice(train, 30, 2), trainY, ssl.FromSlice(test, 10, 2), testY, 2, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("train %.4f  test %.4f  converged: %v\n", r.TrainTop1, r.TestTop1, r.Converged)
	// Output: train 1.0000  test 1.0000  converged: true
}

func ExampleRLP() {
	// k-means ids of six images, two binary concepts per image, and a
	// reverse probe that maps concepts to clusters.
	ids := []int{0, 0, 1, 1, 2, 2}
	concepts := ssl.FromSlice([]float32{1, 0, 1, 0, 0, 1, 0, 1, 1, 1, 0, 0}, 6, 2)
	weight := ssl.FromSlice([]float32{2, -2, -2, 2, 1, 1}, 3, 2)
	bias := ssl.FromSlice([]float32{0, 0, -1}, 3)
	s, err := probe.RLP(concepts, ids, weight, bias, 3)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("predicted:", s.Predicted)
	fmt.Printf("H(y) %.4f  CE %.4f  MI ≥ %.4f  NMI %.4f\n", s.EntropyClusters, s.CrossEntropy, s.MILowerBound, s.NMI)
	// Output:
	// predicted: [0 0 1 1 2 0]
	// H(y) 1.0986  CE 0.4975  MI ≥ 0.6011  NMI 0.7397
}

func ExampleGrid() {
	// Four 2×2 gray images; a row per query: the query then its neighbours.
	images := ssl.FromSlice([]float32{
		0, 1, 1, 0,
		1, 0, 0, 1,
		0, 0, 1, 1,
		1, 1, 0, 0,
	}, 4, 2, 2)
	rows := [][]int{{0, 2, 3}, {1, -1, 3}} // -1: an empty cell
	img, err := probe.GridImage(images, rows, &probe.GridOptions{Scale: 4})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(img.Bounds().Dx(), img.Bounds().Dy())
	// Output: 32 22
}
