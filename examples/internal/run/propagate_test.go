package run

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"ssl"
	"ssl/backbone"
	"ssl/probe"
)

func TestReliable(t *testing.T) {
	pseudo := []int{0, 0, 0, 1, 1}
	nbrs := []int{ // two neighbors each; agreement 1, ½, 1, ½, 1
		1, 2,
		0, 3,
		0, 1,
		4, 2,
		3, 3,
	}
	for _, c := range []struct {
		ratio float64
		want  []int
	}{{0.9, []int{0, 2, 4}}, {1, []int{0, 2, 4}}, {0.5, []int{0, 1, 2, 3, 4}}, {0.4, []int{0, 1, 2, 3, 4}}} {
		got, err := Reliable(pseudo, nbrs, 2, c.ratio)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("Reliable(ratio %g) = %v, %v, want %v", c.ratio, got, err, c.want)
		}
	}
	for name, c := range map[string]struct {
		nbrs  []int
		k     int
		ratio float64
	}{
		"ratio 0":          {nbrs, 2, 0},
		"ratio above 1":    {nbrs, 2, 1.5},
		"NaN ratio":        {nbrs, 2, math.NaN()},
		"k 0":              {nil, 0, 0.9},
		"short lists":      {nbrs[:8], 2, 0.9},
		"neighbor too big": {append(slices.Clone(nbrs[:9]), 5), 2, 0.9},
		"negative":         {append([]int{-1}, nbrs[1:]...), 2, 0.9},
	} {
		if _, err := Reliable(pseudo, c.nbrs, c.k, c.ratio); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

// Two clusters along e₀ and e₁ and a head that reads a noise coordinate
// five times too strongly, so it mislabels the points far out along it:
// their neighbors disagree with them, the vote of the reliable ones
// labels them right.
func TestPropagated(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const d = 8
	blobs := func(n int) (ssl.Tensor, []int) {
		x, labels := ssl.New(n, d), make([]int, n)
		_, v, _ := ssl.View(x)
		for i := range n {
			labels[i] = i % 2
			for j := range d {
				v[i*d+j] = float32(0.1 * rng.NormFloat64())
			}
			v[i*d+labels[i]]++
		}
		return x, labels
	}
	train, _ := blobs(2000)
	test, testLabels := blobs(1000)
	lin, err := backbone.NewLinear("head", d, 2, false, rng)
	if err != nil {
		t.Fatal(err)
	}
	_, w, _ := ssl.View(lin.Weight.Value)
	clear(w)
	w[0], w[2], w[d+1] = 1, 5, 1 // score₀ = x₀ + 5x₂, score₁ = x₁
	head := &Head{Layer: lin, K: 2, Reliable: 0.9}

	hp, err := headPredictions(head, test)
	if err != nil {
		t.Fatal(err)
	}
	nbrs, err := reliableNeighborLists(train)
	if err != nil {
		t.Fatal(err)
	}
	pp, kept, err := propagated(head, train, test, nbrs)
	if err != nil {
		t.Fatal(err)
	}
	headACC, _ := probe.ClusterACC(hp, testLabels, 2, 2, nil)
	propACC, _ := probe.ClusterACC(pp, testLabels, 2, 2, nil)
	if headACC.ACC > 0.99 || propACC.ACC < 0.995 || kept < 1800 || kept == 2000 {
		t.Errorf("head ACC %.4f, propagated ACC %.4f from %d of 2000 reliable: want the head below 0.99, the propagation above 0.995 and a few hundred at most left out",
			headACC.ACC, propACC.ACC, kept)
	}

	// The refitted head: the probe's own predictions through one linear
	// layer, and the clusters right where the head's were not.
	lin, n, err := refit(head, train, nbrs)
	if err != nil || lin == nil || n != kept {
		t.Fatalf("refit: %v images, layer %v, err %v; want the %d reliable ones", n, lin != nil, err, kept)
	}
	rp, err := headPredictions(&Head{Layer: lin, K: 2}, test)
	if err != nil {
		t.Fatal(err)
	}
	bank, labels, err := reliableBank(head, train, nbrs)
	if err != nil {
		t.Fatal(err)
	}
	lp, err := probe.FitLinearProbe(bank, labels, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	want, err := lp.Predict(nil, test)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rp, want) {
		t.Error("the refitted layer's argmax differs from the probe's predictions")
	}
	if refitACC, _ := probe.ClusterACC(rp, testLabels, 2, 2, nil); refitACC.ACC < 0.995 {
		t.Errorf("refitted head ACC %.4f, want above 0.995 (the head's %.4f)", refitACC.ACC, headACC.ACC)
	}

	// Refit rounds: one round is refit itself; with up to ten, the labels
	// settle after the second (the first refit labels the blobs right
	// already) and the head stays right.
	one, n1, r1, err := refitRounds(head, train, nbrs, 1)
	if err != nil || r1 != 1 || n1 != kept {
		t.Fatalf("refitRounds(1): %d images, %d rounds, err %v; want %d images, 1 round", n1, r1, err, kept)
	}
	if p1, _ := headPredictions(&Head{Layer: one, K: 2}, test); !slices.Equal(p1, rp) {
		t.Error("refitRounds(1) differs from refit")
	}
	many, _, rn, err := refitRounds(head, train, nbrs, 10)
	if err != nil || rn < 2 || rn >= 10 {
		t.Fatalf("refitRounds(10): %d rounds, err %v; want the labels settled after 2 to 9", rn, err)
	}
	pm, _ := headPredictions(&Head{Layer: many, K: 2}, test)
	if acc, _ := probe.ClusterACC(pm, testLabels, 2, 2, nil); acc.ACC < 0.995 {
		t.Errorf("after %d refit rounds: head ACC %.4f, want above 0.995", rn, acc.ACC)
	}

	// A head that reads only the sign of a coordinate too small to move
	// the cosine: its labels are coin flips to the neighborhoods.
	_, tv, _ := ssl.View(train)
	for i := 2; i < len(tv); i += d {
		tv[i] *= 1e-4
	}
	clear(w)
	w[2] = 1e6
	if nbrs, err = reliableNeighborLists(train); err != nil {
		t.Fatal(err)
	}
	if pp, kept, err = propagated(head, train, test, nbrs); err != nil || pp != nil || kept >= probe.DefaultK {
		t.Errorf("a head labelling by noise: %d reliable, clusters %v, err %v; want too few to vote", kept, pp != nil, err)
	}
	if lin, _, err := refit(head, train, nbrs); err != nil || lin != nil {
		t.Errorf("refit of a head labelling by noise: layer %v, err %v; want none", lin != nil, err)
	}
	if lin, _, rounds, err := refitRounds(head, train, nbrs, 10); err != nil || lin != nil || rounds != 0 {
		t.Errorf("refit rounds of a head labelling by noise: layer %v, %d rounds, err %v; want none", lin != nil, rounds, err)
	}
}
