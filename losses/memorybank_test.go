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
// float64, and bounds how far a float32 bank may lie from the rows it
// computes.
//
// The bank stores each updated row rounded to float32 (relative error
// u32 = 2⁻²⁴), and the next update of that row starts from the rounded
// value. Normalizing w = m·old + (1−m)·new is ill-conditioned when the two
// terms nearly cancel: a perturbation of w of norm r < ‖w‖ turns w/‖w‖ by
// at most asin(r/‖w‖), a chord of at most memoryBankChord(r/‖w‖) ≈ r/‖w‖.
// So if a stored row lies within tol of the reference row, the next update
// of it lies within
//
//	chord((|m|·tol + 8·u64·(|m|·‖old‖ + |1−m|·‖new‖)) / ‖w‖) + (1 + 2⁻²⁰)·u32 + 2·(d+3)·u64
//
// of the next reference row, where the u64 terms are the float64 rounding of
// forming and normalizing w on both sides. tol[i] is that bound for row i
// (0 for a row no update touches: Update leaves it bit for bit).
//
// unresolved reports whether some update's w was within its perturbation of
// zero: a float32 bank may then legitimately fail to normalize that row.
func memoryBankNaive(bank []float64, d int, indices []int, values []float64, m float64) (tol []float64, unresolved bool) {
	const u32, u64 = 0x1p-24, 0x1p-53
	tol = make([]float64, len(bank)/d)
	w := make([]float64, d)
	for b, i := range indices {
		var s, so, sn float64
		for t := range w {
			old, nv := bank[i*d+t], values[b*d+t]
			w[t] = m*old + (1-m)*nv
			s += w[t] * w[t]
			so += old * old
			sn += nv * nv
		}
		nw := math.Sqrt(s)
		in := math.Abs(m)*math.Sqrt(so) + math.Abs(1-m)*math.Sqrt(sn)
		r := math.Abs(m)*tol[i] + 8*u64*in
		if nw <= r {
			unresolved = true
		}
		tol[i] = memoryBankChord(r/nw) + (1+0x1p-20)*u32 + 2*float64(d+3)*u64
		for t := range w {
			if nw > 0 {
				bank[i*d+t] = w[t] / nw
			} else {
				bank[i*d+t] = 0 // any unit row lies within tol = 2 of it
			}
		}
	}
	return tol, unresolved
}

// memoryBankChord bounds ‖a/‖a‖ − b/‖b‖‖ over ‖b − a‖ ≤ x·‖a‖: the chord of
// the largest angle asin(x) for x < 1, and 2 (opposite directions) beyond.
// 2 − 2·√(1−x²) is written as 2x²/(1 + √(1−x²)) to keep small x accurate;
// a relative slack of 2⁻⁴⁰ covers its own float64 rounding.
func memoryBankChord(x float64) float64 {
	if !(x < 1) {
		return 2
	}
	return x * math.Sqrt(2/(1+math.Sqrt(1-x*x))) * (1 + 0x1p-40)
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
		valid := m >= 0 && m <= 1
		for i := range indices {
			indices[i] = int(idx[i]) % (nn + 1) // nn is out of range
			valid = valid && indices[i] < nn
		}
		values := ctrUnitRows(uint64(seed)+1, len(indices), dd)
		before := testutil.Clone(bank.Tensor())
		want := testutil.F64(before)
		var vals []float64
		if len(indices) > 0 {
			vals = testutil.F64(values)
		}
		var tol []float64
		var unresolved bool
		if valid {
			tol, unresolved = memoryBankNaive(want, dd, indices, vals, float64(m))
		}

		err = bank.Update(indices, values, float64(m))
		if err != nil {
			testutil.Unchanged(t, "bank after a failed Update", bank.Tensor(), before)
			// Valid arguments fail only on a row that cancels to zero
			// within rounding.
			if valid && (!errors.Is(err, ssl.ErrNotFinite) || !unresolved) {
				t.Fatalf("Update failed on valid arguments (no row cancels within rounding): %v", err)
			}
			return
		}
		if !valid {
			t.Fatalf("Update(indices %v, momentum %v) succeeded, want an error", indices, m)
		}
		got := testutil.F64(bank.Tensor())
		for i := range nn {
			g, w := got[i*dd:(i+1)*dd], want[i*dd:(i+1)*dd]
			var diff, norm float64
			for t := range g {
				diff += (g[t] - w[t]) * (g[t] - w[t])
				norm += g[t] * g[t]
			}
			if diff = math.Sqrt(diff); !(diff <= tol[i]) {
				t.Errorf("bank row %d = %v, want %v (‖err‖ %.3g > bound %.3g)", i, g, w, diff, tol[i])
			}
			if tol[i] > 0 && !(math.Abs(math.Sqrt(norm)-1) <= float64(dd+2)*0x1p-24) {
				t.Errorf("updated bank row %d = %v has norm %.9g, want 1", i, g, math.Sqrt(norm))
			}
		}
	})
}
