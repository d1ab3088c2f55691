package losses

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// queueBits returns the queue's stored rows and its next Push's effect as
// plain values, to compare two queues bit for bit.
func queueBits(t *testing.T, q *Queue) ([]float32, int, int) {
	t.Helper()
	s := q.State()
	return slices.Clone(testutil.Data(s.Keys)), s.Head, s.Len
}

func TestQueueStateRoundTrip(t *testing.T) {
	for _, pushes := range []int{0, 1, 2, 3, 7} { // empty, partly filled, exactly full, wrapped
		q, err := NewQueue(6, 3)
		if err != nil {
			t.Fatal(err)
		}
		rnd := testutil.Rand(uint64(pushes))
		for range pushes {
			if err := q.Push(testutil.RandN(rnd, 1, 2, 3)); err != nil {
				t.Fatal(err)
			}
		}
		s := q.State()
		if got := s.Keys.Shape(); got[0] != 6 || got[1] != 3 {
			t.Fatalf("State().Keys shape %v, want [6 3]", got)
		}
		if want := min(6, 2*pushes); s.Len != want || s.Head != (2*pushes)%6 {
			t.Fatalf("State() after %d pushes: Head %d Len %d, want %d %d", pushes, s.Head, s.Len, (2*pushes)%6, want)
		}
		// The state is a copy: pushing more does not change it.
		saved := slices.Clone(testutil.Data(s.Keys))
		r, err := NewQueue(6, 3)
		if err != nil {
			t.Fatal(err)
		}
		next := testutil.RandN(rnd, 1, 2, 3)
		if err := q.Push(next); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(testutil.Data(s.Keys), saved) {
			t.Fatal("Push changed a saved State")
		}
		// Restore the saved state, push the same batch: the same queue, bit
		// for bit.
		if err := r.Restore(s); err != nil {
			t.Fatalf("Restore after %d pushes: %v", pushes, err)
		}
		if err := r.Push(next); err != nil {
			t.Fatal(err)
		}
		k1, h1, l1 := queueBits(t, q)
		k2, h2, l2 := queueBits(t, r)
		if h1 != h2 || l1 != l2 || !slices.Equal(k1, k2) {
			t.Errorf("after %d pushes: restored queue differs (Head %d/%d, Len %d/%d)", pushes, h1, h2, l1, l2)
		}
		if !slices.Equal(queueRows(q), queueRows(r)) {
			t.Errorf("after %d pushes: Tensor() rows differ", pushes)
		}
	}
}

func TestQueueRestoreErrors(t *testing.T) {
	q, err := NewQueue(4, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Push(queueBatch(1, 3)); err != nil {
		t.Fatal(err)
	}
	before := q.State()
	nan := ssl.New(4, 2)
	testutil.Data(nan)[3] = float32(math.NaN())
	for _, tc := range []struct {
		name     string
		s        QueueState
		sentinel error
		want     string
	}{
		{"nil_keys", QueueState{Keys: nil, Head: 0, Len: 0}, ssl.ErrShape, "Keys is nil"},
		{"rows", QueueState{Keys: ssl.New(5, 2), Head: 0, Len: 0}, ssl.ErrShape, "Keys"},
		{"cols", QueueState{Keys: ssl.New(4, 3), Head: 0, Len: 0}, ssl.ErrShape, "Keys"},
		{"head_negative", QueueState{Keys: ssl.New(4, 2), Head: -1, Len: 4}, ssl.ErrParam, "Head=-1"},
		{"head_range", QueueState{Keys: ssl.New(4, 2), Head: 4, Len: 4}, ssl.ErrParam, "Head=4"},
		{"len_range", QueueState{Keys: ssl.New(4, 2), Head: 1, Len: 5}, ssl.ErrParam, "Len=5"},
		{"len_negative", QueueState{Keys: ssl.New(4, 2), Head: 0, Len: -1}, ssl.ErrParam, "Len=-1"},
		{"head_not_len", QueueState{Keys: ssl.New(4, 2), Head: 1, Len: 2}, ssl.ErrParam, "Head must equal Len"},
		{"nan_key", QueueState{Keys: nan, Head: 0, Len: 0}, ssl.ErrNotFinite, "Keys[1,1] is NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := q.Restore(tc.s)
			if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), "losses: Queue.Restore") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Restore: %v, want %v mentioning %q", err, tc.sentinel, tc.want)
			}
			k1, h1, l1 := slices.Clone(testutil.Data(before.Keys)), before.Head, before.Len
			k2, h2, l2 := queueBits(t, q)
			if h1 != h2 || l1 != l2 || !slices.Equal(k1, k2) {
				t.Fatal("a failed Restore changed the queue")
			}
		})
	}
}

func TestMemoryBankStateRoundTrip(t *testing.T) {
	bank, err := NewMemoryBank(5, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := bank.Set([]int{0, 1, 2, 3, 4}, ctrUnitRows(1, 5, 3)); err != nil {
		t.Fatal(err)
	}
	s := bank.State()
	saved := slices.Clone(testutil.Data(s.Rows))
	update := ctrUnitRows(2, 2, 3)
	if err := bank.Update([]int{1, 3}, update, 0.5); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(testutil.Data(s.Rows), saved) {
		t.Fatal("Update changed a saved State")
	}
	other, err := NewMemoryBank(5, 3)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Restore(s); err != nil {
		t.Fatal(err)
	}
	if err := other.Update([]int{1, 3}, update, 0.5); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(testutil.Data(other.Tensor()), testutil.Data(bank.Tensor())) {
		t.Error("restored bank differs after the same update")
	}

	nan := ssl.New(5, 3)
	testutil.Data(nan)[7] = float32(math.Inf(1))
	before := slices.Clone(testutil.Data(bank.Tensor()))
	for _, tc := range []struct {
		name     string
		s        MemoryBankState
		sentinel error
		want     string
	}{
		{"nil_rows", MemoryBankState{}, ssl.ErrShape, "Rows is nil"},
		{"shape", MemoryBankState{Rows: ssl.New(4, 3)}, ssl.ErrShape, "Rows"},
		{"inf", MemoryBankState{Rows: nan}, ssl.ErrNotFinite, "Rows[2,1] is +Inf"},
	} {
		err := bank.Restore(tc.s)
		if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), "losses: MemoryBank.Restore") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Restore: %v, want %v mentioning %q", tc.name, err, tc.sentinel, tc.want)
		}
		if !slices.Equal(testutil.Data(bank.Tensor()), before) {
			t.Fatalf("%s: a failed Restore changed the bank", tc.name)
		}
	}
}
