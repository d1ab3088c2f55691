package augment_test

import (
	"fmt"

	"ssl"
	"ssl/augment"
	"ssl/dataset"
)

// SwAV's multi-crop of a batch of the embedded Fashion-MNIST subset: two
// 28×28 global crops and four 16×16 local crops per image, each flipped,
// jittered and normalized, the same for a given (seed, epoch, image index)
// however the batch is made.
func ExampleMultiCrop() {
	set, err := dataset.EmbeddedFashionMNIST(dataset.Train)
	if err != nil {
		panic(err)
	}
	ids := []int{0, 1, 2, 3, 4, 5, 6, 7}
	batch, err := set.Batch(nil, ids)
	if err != nil {
		panic(err)
	}
	views, err := augment.NewMultiCrop(
		[]int{28, 16}, []int{2, 4}, // sizes and counts: 2×28 + 4×16
		[]float64{0.25, 0.08}, []float64{1, 0.25}, // scale ranges
		augment.RandomHorizontalFlip{P: 0.5},
		augment.RandomApply{T: augment.ColorJitter{Brightness: 0.4, Contrast: 0.4}, P: 0.8},
		augment.Normalization{Mean: []float64{0.2860}, Std: []float64{0.3530}},
	)
	if err != nil {
		panic(err)
	}
	out, err := views.Apply(nil, batch, ids, 42, 0)
	if err != nil {
		panic(err)
	}
	for v, t := range out {
		fmt.Println("view", v, t.Shape())
	}
	// Output:
	// view 0 (8, 1, 28, 28)
	// view 1 (8, 1, 28, 28)
	// view 2 (8, 1, 16, 16)
	// view 3 (8, 1, 16, 16)
	// view 4 (8, 1, 16, 16)
	// view 5 (8, 1, 16, 16)
}

// One image through torchvision's functional operations.
func ExampleResizedCrop() {
	img := ssl.FromSlice([]float32{
		0, 1, 2, 3,
		4, 5, 6, 7,
		8, 9, 10, 11,
		12, 13, 14, 15,
	}, 1, 4, 4)
	// The central 2×2 box upsampled to 4×4, bilinear, align_corners=False.
	dst := ssl.New(1, 4, 4)
	if _, err := augment.ResizedCrop(dst, img, 1, 1, 2, 2); err != nil {
		panic(err)
	}
	d := dst.Data().([]float32)
	for y := 0; y < 4; y++ {
		fmt.Printf("%.2f\n", d[y*4:(y+1)*4])
	}
	// Output:
	// [5.00 5.25 5.75 6.00]
	// [6.00 6.25 6.75 7.00]
	// [8.00 8.25 8.75 9.00]
	// [9.00 9.25 9.75 10.00]
}

// A composed pipeline applied to one image with its own random source.
func ExampleCompose() {
	pipeline := augment.Compose{
		augment.RandomResizedCrop{Size: 16, Scale: [2]float64{0.25, 1}},
		augment.RandomHorizontalFlip{P: 0.5},
		augment.RandomApply{T: augment.ColorJitter{Brightness: 0.4, Contrast: 0.4}, P: 0.8},
	}
	c, h, w, err := pipeline.Shape(1, 28, 28)
	if err != nil {
		panic(err)
	}
	src := augment.Image{C: 1, H: 28, W: 28, Pix: make([]float32, 28*28)}
	for i := range src.Pix {
		src.Pix[i] = float32(i%28) / 27 // a horizontal ramp
	}
	dst := augment.Image{C: c, H: h, W: w, Pix: make([]float32, c*h*w)}
	pipeline.Apply(dst, src, augment.Stream(7, 0, 0, 0))
	fmt.Println(c, h, w)
	// Output:
	// 1 16 16
}

// RotNet/S4L rotation batches: four rotations per image with labels 0–3.
func ExampleRotations() {
	src := ssl.FromSlice([]float32{1, 2, 3, 4}, 1, 1, 2, 2)
	dst, labels, err := augment.Rotations(nil, nil, src)
	if err != nil {
		panic(err)
	}
	d := dst.Data().([]float32)
	for k := 0; k < 4; k++ {
		fmt.Println(labels[k], d[4*k:4*k+4])
	}
	// Output:
	// 0 [1 2 3 4]
	// 1 [2 4 1 3]
	// 2 [4 3 2 1]
	// 3 [3 1 4 2]
}
