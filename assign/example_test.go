package assign_test

import (
	"fmt"
	"math"
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

func ExampleMIRA() {
	// KINDS.md's hand case: logits/(τ(1−β)) = [[ln 3, 0], [0, 0]], τ = β = 0.5.
	l3 := float32(math.Log(3) * 0.25)
	logits := ssl.FromSlice([]float32{l3, 0, 0, 0}, 2, 2)
	// A Workspace kept across calls reuses its scratch memory.
	ws := new(assign.Workspace)
	res, err := assign.MIRA(nil, logits, 0.5, 0.5, &assign.MIRAOptions{Iterations: 1, Workspace: ws})
	if err != nil {
		panic(err)
	}
	t := res.Target.Data().([]float32)
	fmt.Printf("%.4f %.4f\n%.4f %.4f\n", t[0], t[1], t[2], t[3])
	// Output:
	// 0.6973 0.3027
	// 0.4343 0.5657
}

func ExampleMineNeighbors() {
	// Directions at 0°, 10°, 25°, 45° and 70°: each row's two nearest
	// neighbours after itself.
	var f []float32
	for _, deg := range []float64{0, 10, 25, 45, 70} {
		r := deg * math.Pi / 180
		f = append(f, float32(math.Cos(r)), float32(math.Sin(r)))
	}
	idx, _, err := assign.MineNeighbors(nil, nil, ssl.FromSlice(f, 5, 2), 2, nil)
	if err != nil {
		panic(err)
	}
	for i := range 5 {
		fmt.Println(idx[i*3 : i*3+3])
	}
	// Output:
	// [0 1 2]
	// [1 0 2]
	// [2 1 3]
	// [3 2 4]
	// [4 3 2]
}

func ExamplePCAWhiten() {
	// The eight points (±2, ±1, ±0.5): whitened to (sign x₁, sign x₂)/√2 up
	// to column sign.
	var x []float32
	for _, a := range []float32{2, -2} {
		for _, b := range []float32{1, -1} {
			for _, c := range []float32{0.5, -0.5} {
				x = append(x, a, b, c)
			}
		}
	}
	y, p, err := assign.PCAWhiten(nil, ssl.FromSlice(x, 8, 3), 2, nil)
	if err != nil {
		panic(err)
	}
	yv := y.Data().([]float32)
	fmt.Printf("eigenvalues %.1f %.1f\n", p.Eigenvalues[0], p.Eigenvalues[1])
	fmt.Printf("|y_0| = (%.4f, %.4f)\n", math.Abs(float64(yv[0])), math.Abs(float64(yv[1])))
	// Output:
	// eigenvalues 32.0 8.0
	// |y_0| = (0.7071, 0.7071)
}

func ExamplePCLConcentration() {
	// Squared distances of six points to their centroids, in three clusters.
	density, err := assign.PCLConcentration(nil, []float32{1, 4, 9, 4, 16, 2.25}, []int{0, 0, 0, 1, 1, 2}, 3, 0.2)
	if err != nil {
		panic(err)
	}
	fmt.Printf("%.4f\n", density)
	// Output:
	// [0.1583 0.2209 0.2209]
}

func ExampleUniformTranslate() {
	// Four samples all prefer cluster 0; one translation of the outputs
	// spreads them two and two.
	z := ssl.FromSlice([]float32{3, 0, 2.5, 0, 2, 1, 1.5, 1}, 4, 2)
	res, err := assign.UniformTranslate(nil, nil, z, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Labels, res.Counts)
	// Output:
	// [0 0 1 1] [2 2]
}

func ExampleUniformLabelSample() {
	// 8 samples in cluster 0, 2 in cluster 1: an epoch of 10 indices draws
	// each cluster about equally often.
	labels := []int{0, 0, 0, 0, 0, 0, 0, 0, 1, 1}
	idx, err := assign.UniformLabelSample(nil, labels, 2, 10, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		panic(err)
	}
	n1 := 0
	for _, i := range idx {
		n1 += labels[i]
	}
	fmt.Println(len(idx), n1 >= 4)
	// Output:
	// 10 true
}

func ExampleNearest() {
	// Assign new points to fixed centroids.
	centroids := ssl.FromSlice([]float32{0, 0, 10, 10}, 2, 2)
	x := ssl.FromSlice([]float32{1, 1, 9, 8, -1, 0}, 3, 2)
	res, err := assign.Nearest(nil, nil, x, centroids)
	if err != nil {
		panic(err)
	}
	fmt.Println(res.Labels, res.Dist, res.Inertia)
	// Output:
	// [0 1 0] [2 5 1] 8
}

func ExampleKMeans_tol() {
	// With Tol > 0 Lloyd's iterations stop once at most that fraction of
	// the points changes label; Iterations is then only a cap.
	x := ssl.FromSlice([]float32{0, 0, 1, 0, 0, 1, 4, 4, 5, 4, 4, 5}, 6, 2)
	res, err := assign.KMeans(nil, nil, x, 2, rand.New(rand.NewPCG(1, 1)), &assign.KMeansOptions{Iterations: 100, Tol: 1e-9})
	if err != nil {
		panic(err) // errors.Is(err, assign.ErrNotConverged) if 100 were not enough
	}
	fmt.Println("stopped before the cap:", res.Iterations < 100, "residual:", res.Residual)
	// Output:
	// stopped before the cap: true residual: 0
}

func ExampleSearch() {
	// Cosine neighbours of two queries in a database of four rows; rows 0
	// and 1 point the same way, and the tie lists the lower index first.
	db := ssl.FromSlice([]float32{1, 0, 3, 0, 0, 2, 1, 1}, 4, 2)
	q := ssl.FromSlice([]float32{5, 0, 0, 1}, 2, 2)
	idx, sims, err := assign.Search(nil, nil, q, db, 2, &assign.SearchOptions{Normalize: true})
	if err != nil {
		panic(err)
	}
	fmt.Println(idx)
	fmt.Printf("%.4f\n", sims)
	// Output:
	// [0 1 2 3]
	// [1.0000 1.0000 1.0000 0.7071]
}

func ExampleHierarchicalKMeans() {
	// Two far-apart groups, each made of two tight pairs: two super-classes
	// of two sub-clusters each give four clusters, labelled super·2 + sub.
	x := ssl.FromSlice([]float32{
		0, 0, 0, 0.1, 1, 0, 1, 0.1, // group A: pairs near (0,0) and (1,0)
		50, 50, 50, 50.1, 51, 50, 51, 50.1, // group B
	}, 8, 2)
	res, err := assign.HierarchicalKMeans(x, 2, 2, rand.New(rand.NewPCG(3, 3)), nil)
	if err != nil {
		panic(err)
	}
	pairs := res.Labels[0] == res.Labels[1] && res.Labels[2] == res.Labels[3] &&
		res.Labels[4] == res.Labels[5] && res.Labels[6] == res.Labels[7]
	supers := res.Labels[0]/2 == res.Labels[2]/2 && res.Labels[4]/2 == res.Labels[6]/2 && res.Labels[0]/2 != res.Labels[4]/2
	fmt.Println("pairs together:", pairs, "groups split by super-class:", supers, "empty:", res.Empty)
	// Output:
	// pairs together: true groups split by super-class: true empty: 0
}

func ExampleLocalAggregationNeighbors() {
	// A memory bank of four unit vectors, two k-means runs over it, and a
	// batch holding sample 0: its two background neighbours are itself and
	// sample 1, and sample 1 shares its cluster in the second run.
	bank := ssl.FromSlice([]float32{1, 0, 0.8, 0.6, 0, 1, -1, 0}, 4, 2)
	labels := [][]int{{0, 1, 1, 2}, {0, 0, 1, 1}}
	v := ssl.FromSlice([]float32{1, 0}, 1, 2)
	la, err := assign.LocalAggregationNeighbors(v, []int{0}, bank, labels, 2)
	if err != nil {
		panic(err)
	}
	fmt.Println(la.Background, la.Close)
	// Output:
	// [0 1] [true true]
}
