package main

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"ssl"
	"ssl/backbone"
	"ssl/examples/internal/run"
)

// gather and scatter move one head's columns and nothing else.
func TestGatherScatter(t *testing.T) {
	const b, n = 3, 4
	m := &multiHead{n: n}
	all, one := ssl.New(b, n*clusters), ssl.New(b, clusters)
	for i := range dense(all) {
		dense(all)[i] = float32(i)
	}
	m.gather(one, all, 2)
	for i := range b {
		for k := range clusters {
			if got, want := dense(one)[i*clusters+k], float32(i*n*clusters+2*clusters+k); got != want {
				t.Fatalf("gather: [%d,%d] = %v, want %v", i, k, got, want)
			}
		}
	}
	back := ssl.New(b, n*clusters)
	m.scatter(back, one, 2)
	for i, v := range dense(back) {
		want := float32(0)
		if c := i % (n * clusters); c >= 2*clusters && c < 3*clusters {
			want = float32(i)
		}
		if v != want {
			t.Fatalf("scatter: element %d = %v, want %v", i, v, want)
		}
	}
}

// The kept head is the one whose clusters agree with the mined neighbors:
// head 1 reads the feature that the neighbor lists group by, head 0 a
// feature unrelated to them, so head 1's SCAN loss is lower.
func TestLowestLossHeadKept(t *testing.T) {
	const n, in, nb = 200, 128, 5
	r := rand.New(rand.NewPCG(1, 2))
	feats := ssl.New(n, in)
	f := dense(feats)
	group := func(i int) int { return i % clusters }
	for i := range n {
		f[i*in+group(i)] = 1                  // feature g: the image's group
		f[i*in+clusters+r.IntN(clusters)] = 1 // noise features
	}
	heads, err := backbone.NewLinear("heads", in, 2*clusters, true, r)
	if err != nil {
		t.Fatal(err)
	}
	w, bias := heads.Weight.Data(), heads.Bias.Data()
	clear(w)
	clear(bias)
	for k := range clusters {
		w[k*in+clusters+k] = 8   // head 0: scores the noise features
		w[(clusters+k)*in+k] = 8 // head 1: scores the groups
	}
	// Neighbor lists: each image and nb others of its group.
	lists := run.NewNeighbors("nb", n, nb)
	feat2 := ssl.New(n, clusters)
	for i := range n {
		dense(feat2)[i*clusters+group(i)] = 1
	}
	if _, err := lists.Mine(feat2, make([]int, n)); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		for _, j := range lists.Of(i) {
			if group(j) != group(i) {
				t.Fatalf("image %d's list holds %d of another group", i, j)
			}
		}
	}
	m := &multiHead{all: heads, n: 2}
	l, err := m.losses(feats, lists)
	if err != nil {
		t.Fatal(err)
	}
	if argmin(l) != 1 {
		t.Errorf("losses %v: kept head %d, want 1 (the head that follows the neighbors)", l, argmin(l))
	}
	one, err := m.head(1)
	if err != nil {
		t.Fatal(err)
	}
	scores := ssl.New(n, clusters)
	if err := one.Forward(backbone.NewWorkspace(), scores, feats, false); err != nil {
		t.Fatal(err)
	}
	pred, _ := ssl.ArgmaxRows(nil, scores)
	for i, p := range pred {
		if p != group(i) {
			t.Fatalf("extracted head 1 predicts %d for image %d of group %d", p, i, group(i))
		}
	}
	conf, err := m.confident(feats, 1, 0.99)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(conf, []int{20, 20, 20, 20, 20, 20, 20, 20, 20, 20}) {
		t.Errorf("confident images per cluster of head 1: %v, want 20 each", conf)
	}
}

// agreement: a head along the blobs keeps every neighborhood together
// (κ near 1), a head reading a noise coordinate does not (κ near 0), and
// a head that merges everything into one cluster gains nothing (κ 0).
func TestAgreement(t *testing.T) {
	const n, d = 200, 16
	rng := rand.New(rand.NewPCG(3, 4))
	feats := ssl.New(n, d)
	f := dense(feats)
	labels := make([]int, n)
	for i := range n {
		labels[i] = i % 2
		for j := range d {
			f[i*d+j] = float32(0.05 * rng.NormFloat64())
		}
		f[i*d+labels[i]] += 1
	}
	nb := run.NewNeighbors("nb", n, 5)
	if _, err := nb.Mine(feats, labels); err != nil {
		t.Fatal(err)
	}
	heads, err := backbone.NewLinear("heads", d, 3*clusters, true, rng)
	if err != nil {
		t.Fatal(err)
	}
	w, bias := heads.Weight.Data(), heads.Bias.Data()
	clear(w)
	clear(bias)
	w[0*d+0], w[1*d+1] = 1, 1 // head 0: cluster 0 along e₀, 1 along e₁
	w[(clusters+0)*d+5] = 1   // head 1: the sign of noise coordinate 5
	w[(clusters+1)*d+5] = -1
	bias[2*clusters+3] = 1 // head 2: every image in cluster 3
	m := &multiHead{all: heads, n: 3}
	kappa, err := m.agreement(feats, nb)
	if err != nil {
		t.Fatal(err)
	}
	if kappa[0] < 0.95 || math.Abs(kappa[1]) > 0.3 || kappa[2] != 0 {
		t.Errorf("κ = %.3f, want > 0.95 along the blobs, near 0 on noise, 0 for one cluster", kappa)
	}
	if got := argmax(kappa); got != 0 {
		t.Errorf("the highest κ is head %d's, want head 0's", got)
	}
}
