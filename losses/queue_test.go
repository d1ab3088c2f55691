package losses

import (
	"errors"
	"math"
	"slices"
	"sort"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// queueRows returns the stored rows' first elements, sorted.
func queueRows(q *Queue) []float32 {
	_, d, err := ssl.View(q.Tensor())
	if q.Len() == 0 {
		return nil
	}
	if err != nil {
		panic(err)
	}
	var firsts []float32
	for r := 0; r < q.Len(); r++ {
		firsts = append(firsts, d[r*q.Dim()])
	}
	sort.Slice(firsts, func(i, j int) bool { return firsts[i] < firsts[j] })
	return firsts
}

// queueBatch returns b rows of dimension 2 whose first elements count up from
// start.
func queueBatch(start, b int) ssl.Tensor {
	x := make([]float32, 2*b)
	for r := range b {
		x[2*r], x[2*r+1] = float32(start+r), -1
	}
	return ssl.FromSlice(x, b, 2)
}

func TestQueue(t *testing.T) {
	q, err := NewQueue(5, 2)
	if err != nil {
		t.Fatal(err)
	}
	if q.Len() != 0 || q.Cap() != 5 || q.Dim() != 2 {
		t.Fatalf("new queue: Len %d Cap %d Dim %d", q.Len(), q.Cap(), q.Dim())
	}
	// Pushes of 2: the oldest rows are overwritten once 5 are stored.
	want := [][]float32{{0, 1}, {0, 1, 2, 3}, {1, 2, 3, 4, 5}, {3, 4, 5, 6, 7}}
	for step, w := range want {
		batch := queueBatch(2*step, 2)
		before := testutil.Clone(batch)
		if err := q.Push(batch); err != nil {
			t.Fatal(err)
		}
		testutil.Unchanged(t, "keys", batch, before)
		if got := queueRows(q); !slices.Equal(got, w) {
			t.Errorf("after push %d: rows %v, want %v", step, got, w)
		}
	}
	// A batch larger than the queue keeps its last N rows.
	if err := q.Push(queueBatch(100, 7)); err != nil {
		t.Fatal(err)
	}
	if got, w := queueRows(q), []float32{102, 103, 104, 105, 106}; !slices.Equal(got, w) {
		t.Errorf("after a push of 7: rows %v, want %v", got, w)
	}
	// Errors leave the queue unchanged.
	nan := queueBatch(0, 1)
	testutil.Data(nan)[1] = float32(math.NaN())
	for _, bad := range []struct {
		keys     ssl.Tensor
		sentinel error
	}{{ssl.New(2, 3), ssl.ErrShape}, {ssl.New(4), ssl.ErrShape}, {nan, ssl.ErrNotFinite}} {
		if err := q.Push(bad.keys); !errors.Is(err, bad.sentinel) {
			t.Errorf("Push(%v): error %v, want %v", bad.keys.Shape(), err, bad.sentinel)
		}
	}
	if got, w := queueRows(q), []float32{102, 103, 104, 105, 106}; !slices.Equal(got, w) {
		t.Errorf("after failed pushes: rows %v, want %v", got, w)
	}
	q.Reset()
	if q.Len() != 0 {
		t.Errorf("Len after Reset = %d", q.Len())
	}
	for _, nd := range [][2]int{{0, 3}, {3, 0}, {-1, 2}} {
		if _, err := NewQueue(nd[0], nd[1]); !errors.Is(err, ssl.ErrParam) {
			t.Errorf("NewQueue(%d, %d): error %v, want ErrParam", nd[0], nd[1], err)
		}
	}
}

func TestQueueWithInfoNCEQueue(t *testing.T) {
	// A loss reads the queue and never changes it; only Push does.
	rnd := testutil.Rand(21)
	q, k := testutil.RandN(rnd, 1, 4, 8), testutil.RandN(rnd, 1, 4, 8)
	queue, _ := NewQueue(16, 8)
	if err := queue.Push(ctrUnitRows(22, 10, 8)); err != nil {
		t.Fatal(err)
	}
	before := testutil.Clone(queue.Tensor())
	l1, err := InfoNCEQueue(nil, q, k, queue.Tensor(), 0.2, nil)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Unchanged(t, "queue", queue.Tensor(), before)
	want := infonceQueueNaive(testutil.F64(q), testutil.F64(k), testutil.F64(queue.Tensor()), 4, 8, 10, 0.2)
	if !testutil.Close(l1, want, 1e-6, 1e-5) {
		t.Errorf("InfoNCEQueue over a Queue = %v, want %v", l1, want)
	}
}

func FuzzQueue(f *testing.F) {
	f.Add(uint8(5), uint8(2), []byte{2, 2, 3, 9})
	f.Add(uint8(1), uint8(1), []byte{0, 1, 4})
	f.Fuzz(func(t *testing.T, n, d uint8, pushes []byte) {
		nn, dd := int(n%9)+1, int(d%4)+1
		q, err := NewQueue(nn, dd)
		if err != nil {
			t.Fatal(err)
		}
		// A reference: the list of every row pushed; the queue holds the
		// last min(N, total) of them.
		var all []float32
		next := 0
		for _, p := range pushes {
			b := int(p % 12)
			x := make([]float32, b*dd)
			for r := range b {
				x[r*dd] = float32(next)
				all = append(all, float32(next))
				next++
			}
			if b == 0 {
				if err := q.Push(ssl.New(0, dd)); err != nil {
					t.Fatal(err)
				}
				continue
			}
			if err := q.Push(ssl.FromSlice(x, b, dd)); err != nil {
				t.Fatal(err)
			}
		}
		want := all[max(0, len(all)-nn):]
		if got := queueRows(q); !slices.Equal(got, want) {
			t.Fatalf("queue rows %v, want %v", got, want)
		}
	})
}
