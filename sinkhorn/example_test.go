package sinkhorn_test

import (
	"errors"
	"fmt"
	"sync"

	"ssl"
	"ssl/dist"
	"ssl/sinkhorn"
)

func ExampleBalance() {
	// Scores of 4 samples against 2 prototypes: the first three prefer
	// prototype 0, but the codes must use both prototypes equally.
	scores := ssl.FromSlice([]float32{
		0.9, 0.1,
		0.8, 0.3,
		0.7, 0.6,
		0.2, 0.9,
	}, 4, 2)
	codes := ssl.New(4, 2)
	res, err := sinkhorn.Balance(codes, scores, 0.05, nil) // SwAV: ε = 0.05, 3 iterations
	if err != nil {
		panic(err)
	}
	q := codes.Data().([]float32)
	for i := range 4 {
		fmt.Printf("%.4f %.4f\n", q[2*i], q[2*i+1])
	}
	fmt.Println("iterations:", res.Iterations)
	// Output:
	// 1.0000 0.0000
	// 0.9997 0.0003
	// 0.5455 0.4545
	// 0.0000 1.0000
	// iterations: 3
}

func ExampleBalance_tolerance() {
	// With a positive Tol, Balance iterates until the columns of the codes
	// sum to B/K within Tol; Iterations caps the count. A missed Tol still
	// returns the codes, with an error wrapping ErrNotConverged.
	scores := ssl.FromSlice([]float32{
		0.9, 0.1,
		0.8, 0.3,
		0.7, 0.6,
		0.2, 0.9,
	}, 4, 2)
	ws := sinkhorn.NewWorkspace(4, 2) // reused by every call below
	res, err := sinkhorn.Balance(nil, scores, 0.05, &sinkhorn.BalanceOptions{Tol: 1e-6, Workspace: ws})
	fmt.Println(err, res.Iterations, res.Residual <= 1e-6)
	res, err = sinkhorn.Balance(nil, scores, 0.05, &sinkhorn.BalanceOptions{Tol: 1e-6, Iterations: 2, Workspace: ws})
	fmt.Println(errors.Is(err, sinkhorn.ErrNotConverged), errors.Is(err, ssl.ErrNotConverged), res.Iterations, res.Plan != nil)
	// Output:
	// <nil> 314 true
	// true true 2 true
}

func ExampleSeLa() {
	// Softmax outputs of 6 samples over 3 labels; SeLa's λ = 25.
	probs := ssl.FromSlice([]float32{
		0.7, 0.2, 0.1,
		0.6, 0.3, 0.1,
		0.5, 0.4, 0.1,
		0.4, 0.5, 0.1,
		0.2, 0.2, 0.6,
		0.3, 0.3, 0.4,
	}, 6, 3)
	res, err := sinkhorn.SeLa(nil, nil, probs, 25, nil) // SeLa's rule: Tol 0.1, tested every 10 updates
	if err != nil {
		panic(err)
	}
	fmt.Println("labels:", res.Labels)
	fmt.Println("updates:", res.Iterations)
	// Output:
	// labels: [0 0 1 1 2 2]
	// updates: 21
}

func ExampleTransport() {
	// Move mass a = (½, ½) onto b = (¼, ¾) with cost |i − j|.
	a := ssl.FromSlice([]float32{0.5, 0.5}, 2)
	b := ssl.FromSlice([]float32{0.25, 0.75}, 2)
	cost := ssl.FromSlice([]float32{0, 1, 1, 0}, 2, 2)
	res, err := sinkhorn.Transport(nil, a, b, cost, 0.1, nil) // POT's defaults: Tol 1e-9, at most 1000 updates
	if err != nil {
		panic(err)
	}
	p := res.Plan.Data().([]float32)
	fmt.Printf("%.4f %.4f\n%.4f %.4f\n", p[0], p[1], p[2], p[3])
	// Output:
	// 0.2500 0.2500
	// 0.0000 0.5000
}

func ExampleBalance_sharded() {
	// Two workers each hold two of the four samples and compute the codes
	// of their rows; the prototype sums travel through the Reducer, here a
	// communicator of goroutines (dist.MPI's would span processes).
	scores := []float32{0.9, 0.1, 0.8, 0.3, 0.7, 0.6, 0.2, 0.9}
	codes := make([]float32, 8)
	comms := dist.Local(2)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Go(func() {
			mine := ssl.FromSlice(scores[4*w:4*w+4], 2, 2)
			out := ssl.FromSlice(codes[4*w:4*w+4], 2, 2)
			if _, err := sinkhorn.Balance(out, mine, 0.05, &sinkhorn.BalanceOptions{Reducer: comms[w]}); err != nil {
				panic(err)
			}
		})
	}
	wg.Wait()
	for i := range 4 {
		fmt.Printf("%.4f %.4f\n", codes[2*i], codes[2*i+1])
	}
	// Output:
	// 1.0000 0.0000
	// 0.9997 0.0003
	// 0.5455 0.4545
	// 0.0000 1.0000
}
