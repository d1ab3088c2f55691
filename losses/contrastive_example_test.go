package losses_test

import (
	"fmt"

	"ssl"
	"ssl/losses"
)

func ExampleNTXent() {
	// Two views of three samples, D = 2; the loss normalises the rows.
	z1 := ssl.FromSlice([]float32{1, 0, 0, 1, -1, 0.2}, 3, 2)
	z2 := ssl.FromSlice([]float32{0.9, 0.1, 0.1, 1, -1, 0}, 3, 2)
	dz1, dz2 := ssl.New(3, 2), ssl.New(3, 2)
	loss, err := losses.NTXent(dz1, dz2, z1, z2, 0.5, nil)
	if err != nil {
		panic(err)
	}
	g := dz1.Data().([]float32)
	fmt.Printf("loss %.4f\ndz1[0] = (%.4f, %.4f)\n", loss, g[0], g[1])
	// Output:
	// loss 0.3755
	// dz1[0] = (0.0000, 0.1181)
}

func ExampleInfoNCEQueue() {
	// MoCo: the queue holds normalised keys of earlier batches; the loss
	// reads it, and the new keys are pushed only after the step.
	queue, _ := losses.NewQueue(4, 2)
	_ = queue.Push(ssl.FromSlice([]float32{0, 1, -1, 0, 0.6, -0.8}, 3, 2))
	q := ssl.FromSlice([]float32{2, 0.2, -0.3, 1}, 2, 2)
	k := ssl.FromSlice([]float32{1, 0, 0, 1}, 2, 2)
	dq := ssl.New(2, 2)
	loss, err := losses.InfoNCEQueue(dq, q, k, queue.Tensor(), 0.2, nil)
	if err != nil {
		panic(err)
	}
	_ = queue.Push(k) // normalised keys in real use
	fmt.Printf("loss %.4f, queue holds %d keys\n", loss, queue.Len())
	// Output:
	// loss 0.4044, queue holds 4 keys
}

func ExampleInfoNCE() {
	pred := ssl.FromSlice([]float32{1, 0.1, 0, 1, -1, -1}, 3, 2)
	target := ssl.FromSlice([]float32{1, 0, 0.2, 1, -1, -0.8}, 3, 2)
	loss, err := losses.InfoNCE(nil, nil, pred, target, 0.1, nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("loss %.4f\n", loss)
	// Output:
	// loss 0.0003
}

func ExampleBYOL() {
	// One direction of BYOL's symmetric loss: online prediction p against
	// the target network's projection z (a constant).
	p := ssl.FromSlice([]float32{1, 1, 0, 2}, 2, 2)
	z := ssl.FromSlice([]float32{1, 0, 0, 3}, 2, 2)
	dp := ssl.New(2, 2)
	loss, err := losses.BYOL(dp, p, z)
	if err != nil {
		panic(err)
	}
	fmt.Printf("loss %.4f\ndp = %.4f\n", loss, dp.Data())
	// Output:
	// loss 0.2929
	// dp = [-0.3536 0.3536 0.0000 0.0000]
}

func ExampleProtoNCE() {
	q := ssl.FromSlice([]float32{1, 0.2, -0.1, 1}, 2, 2)
	k := ssl.FromSlice([]float32{1, 0, 0, 1}, 2, 2)
	queue := ssl.FromSlice([]float32{-1, 0, 0, -1}, 2, 2)
	// One clustering of three unit prototypes with their concentrations.
	cl := losses.ProtoNCEClustering{
		Centroids: ssl.FromSlice([]float32{1, 0, 0, 1, -0.6, -0.8}, 3, 2),
		Density:   ssl.FromSlice([]float32{0.1, 0.2, 0.1}, 3),
		Labels:    []int{0, 1},
		Negatives: []int{2},
	}
	res, err := losses.ProtoNCE(nil, q, k, queue, []losses.ProtoNCEClustering{cl}, 0.2, nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("loss %.4f = instance %.4f + prototypes %.4f\n", res.Loss, res.Instance, res.Prototype)
	// Output:
	// loss 0.0084 = instance 0.0071 + prototypes 0.0014
}

func ExampleCACR() {
	// Two views (M = 2) of three samples, unit rows.
	views := ssl.FromSlice([]float32{
		1, 0, 0, 1, -1, 0,
		0.8, 0.6, 0.6, 0.8, -0.8, -0.6,
	}, 2, 3, 2)
	res, err := losses.CACR(nil, views, 1, 1, 1, 2, nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("loss %.4f = attraction %.4f + repulsion %.4f\n", res.Loss, res.Attraction, res.Repulsion)
	// Output:
	// loss -1.2513 = attraction 0.4000 + repulsion -1.6513
}

func ExampleBregman() {
	// Outputs of K = 3 sub-networks for two views of two samples.
	a := ssl.FromSlice([]float32{2, 0, 1, 0, 3, 1}, 2, 3)
	b := ssl.FromSlice([]float32{1.5, 0, 1, 0, 2, 2.5}, 2, 3)
	counts := make([]int, 3)
	loss, err := losses.Bregman(counts, nil, nil, a, b, 0.5, nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("loss %.4f, rows per argmax %v\n", loss, counts)
	// Output:
	// loss 0.6480, rows per argmax [2 1 1]
}

func ExampleAlignUniform() {
	x := ssl.FromSlice([]float32{1, 0, 0, 1, -1, 0}, 3, 2)
	y := ssl.FromSlice([]float32{0.8, 0.6, 0, 1, -0.6, -0.8}, 3, 2)
	res, err := losses.AlignUniform(nil, nil, x, y, 2, 2, 1, 1, nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("loss %.4f: align %.4f, uniform(x) %.4f, uniform(y) %.4f\n", res.Loss, res.Align, res.UniformX, res.UniformY)
	// Output:
	// loss -3.1447: align 0.4000, uniform(x) -4.3963, uniform(y) -2.6930
}

func ExampleXMoCo() {
	q := ssl.FromSlice([]float32{1, 0.1, 0, 1, -1, 0.3}, 3, 2)
	k := ssl.FromSlice([]float32{1, 0, 0.1, 1, -1, 0}, 3, 2)
	res, err := losses.XMoCo(nil, q, k, 1, 0.5, nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("loss %.4f: cross %.4f, uniformity %.4f\n", res.Loss, res.Cross, res.Uniform)
	// Output:
	// loss -1.7657: cross 0.0130, uniformity -3.5575
}

func ExampleMemoryBank() {
	bank, _ := losses.NewMemoryBank(3, 2)
	_ = bank.Set([]int{0, 1, 2}, ssl.FromSlice([]float32{1, 0, 0, 1, -1, 0}, 3, 2))
	// Move row 1 halfway towards a new embedding and renormalize.
	_ = bank.Update([]int{1}, ssl.FromSlice([]float32{1, 0}, 1, 2), 0.5)
	fmt.Printf("%.4f\n", bank.Tensor().Data())
	// Output:
	// [1.0000 0.0000 0.7071 0.7071 -1.0000 0.0000]
}
