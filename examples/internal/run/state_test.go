package run

import (
	"bytes"
	"errors"
	"slices"
	"testing"

	"ssl"
	"ssl/backbone"
)

// roundTrip saves s, writes and reads the file, and loads it into into.
func roundTrip(t *testing.T, s, into Checkpointer) error {
	t.Helper()
	c := backbone.NewCheckpoint()
	if err := s.Save(c, "state."); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	r, err := backbone.ReadCheckpoint(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return into.Load(r, "state.")
}

func TestQueueCheckpoint(t *testing.T) {
	q, err := NewQueue("queue", 5, 2)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 { // 6 rows into 5: full, the write position at 1
		if err := q.Push(ssl.FromSlice([]float32{float32(i), 1, float32(i), 2}[:2*(1+i%2)], 1+i%2, 2)); err != nil {
			t.Fatal(err)
		}
	}
	r, _ := NewQueue("queue", 5, 2)
	if err := roundTrip(t, q, r); err != nil {
		t.Fatal(err)
	}
	a, b := q.State(), r.State()
	_, ka, _ := ssl.View(a.Keys)
	_, kb, _ := ssl.View(b.Keys)
	if a.Head != b.Head || a.Len != b.Len || !slices.Equal(ka, kb) {
		t.Errorf("restored queue %+v, want %+v", b, a)
	}
	// The same pushes follow.
	k := ssl.FromSlice([]float32{7, 8}, 1, 2)
	q.Push(k)
	r.Push(k)
	_, ta, _ := ssl.View(q.Tensor())
	_, tb, _ := ssl.View(r.Tensor())
	if !slices.Equal(ta, tb) {
		t.Errorf("after a push: %v, want %v", tb, ta)
	}
	other, _ := NewQueue("queue", 4, 2)
	if err := roundTrip(t, q, other); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("loading a 5-row queue into a 4-row one: err = %v, want ErrShape", err)
	}
}

func TestLabelsCheckpoint(t *testing.T) {
	l := NewLabels("labels", 6, 3)
	l.Set([]int{2, 0, 2, 1, 0, 2})
	r := NewLabels("labels", 6, 3)
	if err := roundTrip(t, l, r); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.All(), l.All()) || r.Used() != 3 {
		t.Errorf("restored labels %v (%d used), want %v", r.All(), r.Used(), l.All())
	}
	if got := r.Gather(nil, []int{5, 1}); !slices.Equal(got, []int{2, 0}) {
		t.Errorf("Gather = %v, want [2 0]", got)
	}
	if err := roundTrip(t, l, NewLabels("labels", 6, 2)); !errors.Is(err, ssl.ErrFormat) {
		t.Errorf("label 2 of 2: err = %v, want ErrFormat", err)
	}
	if err := roundTrip(t, l, NewLabels("labels", 5, 3)); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("6 labels into 5: err = %v, want ErrShape", err)
	}
}

func TestNeighborsCheckpoint(t *testing.T) {
	feats := ssl.FromSlice([]float32{1, 0, 0.9, 0.1, 0, 1, 0.1, 0.9}, 4, 2)
	nb := NewNeighbors("neighbors", 4, 1)
	purity, err := nb.Mine(feats, []int{0, 0, 1, 1})
	if err != nil {
		t.Fatal(err)
	}
	if purity != 1 {
		t.Errorf("purity %g, want 1", purity)
	}
	r := NewNeighbors("neighbors", 4, 1)
	if err := roundTrip(t, nb, r); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.idx, nb.idx) || !slices.Equal(nb.idx, []int{0, 1, 1, 0, 2, 3, 3, 2}) {
		t.Errorf("restored lists %v, mined %v", r.idx, nb.idx)
	}
	if got := r.Draw(nil, []int{2, 3}, 1, 0, 0); got[0]/2 != 1 || got[1]/2 != 1 {
		t.Errorf("Draw = %v, want entries of the lists of 2 and 3", got)
	}
	if err := roundTrip(t, nb, NewNeighbors("neighbors", 4, 2)); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("k 1 into k 2: err = %v, want ErrShape", err)
	}
}
