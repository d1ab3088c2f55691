package assign_test

import (
	"fmt"
	"math/rand/v2"

	"ssl"
	"ssl/assign"
)

func ExampleKMeans() {
	// Six points in two groups; k-means++ picks the initial centroids.
	x := ssl.FromSlice([]float32{0, 0, 1, 0, 0, 1, 4, 4, 5, 4, 4, 5}, 6, 2)
	res, err := assign.KMeans(nil, nil, x, 2, rand.New(rand.NewPCG(1, 1)), &assign.KMeansOptions{Restarts: 3})
	if err != nil {
		panic(err)
	}
	same := res.Labels[0] == res.Labels[1] && res.Labels[1] == res.Labels[2]
	split := res.Labels[0] != res.Labels[3] && res.Labels[3] == res.Labels[4] && res.Labels[4] == res.Labels[5]
	fmt.Println("groups recovered:", same && split)
	fmt.Printf("inertia: %.4f\n", res.Inertia)
	// Output:
	// groups recovered: true
	// inertia: 2.6667
}
