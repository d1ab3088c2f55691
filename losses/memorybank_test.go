package losses

import (
	"errors"
	"math"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

func TestMemoryBank(t *testing.T) {
	const n, d = 6, 3
	m, err := NewMemoryBank(n, d)
	if err != nil {
		t.Fatal(err)
	}
	init := ctrUnitRows(31, n, d)
	all := []int{0, 1, 2, 3, 4, 5}
	if err := m.Set(all, init); err != nil {
		t.Fatal(err)
	}
	testutil.AllClose32(t, "bank after Set", testutil.Data(m.Tensor()), testutil.F64(init), 0, 0)

	vals := ctrUnitRows(32, 2, d)
	before := testutil.Clone(vals)
	if err := m.Update([]int{4, 1}, vals, 0.5); err != nil {
		t.Fatal(err)
	}
	testutil.Unchanged(t, "values", vals, before)
	want := testutil.F64(init)
	v := testutil.F64(vals)
	for b, i := range []int{4, 1} {
		var s float64
		w := make([]float64, d)
		for c := range w {
			w[c] = 0.5*want[i*d+c] + 0.5*v[b*d+c]
			s += w[c] * w[c]
		}
		for c := range w {
			want[i*d+c] = w[c] / math.Sqrt(s)
		}
	}
	testutil.AllClose32(t, "bank after Update", testutil.Data(m.Tensor()), want, 1e-7, 1e-6)

	got, err := m.Gather(nil, []int{1, 4, 1})
	if err != nil {
		t.Fatal(err)
	}
	testutil.AllClose32(t, "Gather", testutil.Data(got), append(append(append([]float64(nil), want[3:6]...), want[12:15]...), want[3:6]...), 1e-7, 1e-6)

	// A repeated index applies its updates in order.
	m2, _ := NewMemoryBank(2, 1)
	_ = m2.Set([]int{0, 1}, ssl.FromSlice([]float32{1, 1}, 2, 1))
	if err := m2.Update([]int{0, 0}, ssl.FromSlice([]float32{-3, 5}, 2, 1), 0.5); err != nil {
		t.Fatal(err)
	}
	// 0.5·1 + 0.5·(−3) = −1 → −1; then 0.5·(−1) + 0.5·5 = 2 → 1.
	if got := testutil.Data(m2.Tensor())[0]; got != 1 {
		t.Errorf("repeated index: row = %v, want 1", got)
	}
}

func TestMemoryBankErrors(t *testing.T) {
	m, _ := NewMemoryBank(4, 2)
	_ = m.Set([]int{0, 1, 2, 3}, ssl.FromSlice([]float32{1, 0, 0, 1, 1, 0, 0, 1}, 4, 2))
	before := testutil.Clone(m.Tensor())
	nan := ssl.FromSlice([]float32{float32(math.NaN()), 0}, 1, 2)
	for _, tc := range []struct {
		name     string
		err      error
		sentinel error
	}{
		{"set_index", m.Set([]int{4}, ssl.New(1, 2)), ssl.ErrParam},
		{"set_shape", m.Set([]int{0}, ssl.New(1, 3)), ssl.ErrShape},
		{"set_nan", m.Set([]int{0}, nan), ssl.ErrNotFinite},
		{"update_momentum", m.Update([]int{0}, ssl.New(1, 2), 1.5), ssl.ErrParam},
		{"update_negative_index", m.Update([]int{-1}, ssl.New(1, 2), 0.5), ssl.ErrParam},
		{"update_zero_row", m.Update([]int{0, 1}, ssl.FromSlice([]float32{1, 1, 0, -1}, 2, 2), 0.5), ssl.ErrNotFinite},
		{"update_repeat_zero", m.Update([]int{2, 2}, ssl.FromSlice([]float32{1, 0, -1, 0}, 2, 2), 0.5), ssl.ErrNotFinite},
		{"update_nan", m.Update([]int{0}, nan, 0.5), ssl.ErrNotFinite},
		{"update_count", m.Update([]int{0, 1}, ssl.New(1, 2), 0.5), ssl.ErrShape},
		{"gather_index", func() error { _, err := m.Gather(nil, []int{9}); return err }(), ssl.ErrParam},
		{"gather_dst", func() error { _, err := m.Gather(ssl.New(2, 2), []int{0}); return err }(), ssl.ErrShape},
		{"values_alias_bank", m.Update([]int{0}, ssl.FromSlice(testutil.Data(m.Tensor())[:2], 1, 2), 0.5), ssl.ErrShape},
	} {
		if !errors.Is(tc.err, tc.sentinel) {
			t.Errorf("%s: error %v, want %v", tc.name, tc.err, tc.sentinel)
		}
	}
	testutil.Unchanged(t, "bank after failed calls", m.Tensor(), before)
	if _, err := NewMemoryBank(0, 2); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("NewMemoryBank(0, 2): %v", err)
	}
}

// memoryBankNaive applies the documented momentum update in order, in
// float64.
func memoryBankNaive(bank []float64, d int, indices []int, values []float64, m float64) {
	for b, i := range indices {
		w := make([]float64, d)
		var s float64
		for t := range w {
			w[t] = m*bank[i*d+t] + (1-m)*values[b*d+t]
			s += w[t] * w[t]
		}
		for t := range w {
			bank[i*d+t] = w[t] / math.Sqrt(s)
		}
	}
}

func FuzzMemoryBank(f *testing.F) {
	f.Add(uint8(4), uint8(3), []byte{0, 3, 3, 1}, float32(0.5), int64(1))
	f.Add(uint8(1), uint8(1), []byte{0, 0}, float32(0), int64(2))
	f.Add(uint8(3), uint8(2), []byte{7}, float32(1.5), int64(3))
	f.Fuzz(func(t *testing.T, n, d uint8, idx []byte, m float32, seed int64) {
		nn, dd := int(n%8)+1, int(d%4)+1
		bank, err := NewMemoryBank(nn, dd)
		if err != nil {
			t.Fatal(err)
		}
		all := make([]int, nn)
		for i := range all {
			all[i] = i
		}
		init := ctrUnitRows(uint64(seed), nn, dd)
		if err := bank.Set(all, init); err != nil {
			t.Fatal(err)
		}
		indices := make([]int, len(idx)%9)
		for i := range indices {
			indices[i] = int(idx[i]) % (nn + 1) // nn is out of range
		}
		values := ctrUnitRows(uint64(seed)+1, len(indices), dd)
		before := testutil.Clone(bank.Tensor())
		err = bank.Update(indices, values, float64(m))
		if err != nil {
			testutil.Unchanged(t, "bank after a failed Update", bank.Tensor(), before)
			return
		}
		want := testutil.F64(before)
		var vals []float64
		if len(indices) > 0 {
			vals = testutil.F64(values)
		}
		memoryBankNaive(want, dd, indices, vals, float64(m))
		testutil.AllClose32(t, "bank", testutil.Data(bank.Tensor()), want, 1e-6, 1e-5)
	})
}
