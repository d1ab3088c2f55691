package losses

import (
	"math"

	"gorgonia.org/tensor"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// MemoryBank holds one D-dimensional embedding per dataset sample (N rows):
// the memory bank of instance discrimination, Local Aggregation and PCL. It
// is a plain value the caller owns; it changes only through [MemoryBank.Set]
// and [MemoryBank.Update], never as a side effect of a loss. A MemoryBank
// is not safe for concurrent use.
type MemoryBank struct {
	data []float32
	n, d int
}

// NewMemoryBank returns a bank of n zero rows of dimension d. Fill it with
// [MemoryBank.Set] (LA and Wu et al. start from random unit vectors). It
// returns an error wrapping ssl.ErrParam if n or d is less than 1.
func NewMemoryBank(n, d int) (*MemoryBank, error) {
	const fn = "losses: NewMemoryBank"
	if err := check.Count(fn, "n", n, 1); err != nil {
		return nil, err
	}
	if err := check.Count(fn, "d", d, 1); err != nil {
		return nil, err
	}
	return &MemoryBank{data: make([]float32, n*d), n: n, d: d}, nil
}

// Len returns the number of rows N.
func (m *MemoryBank) Len() int { return m.n }

// Dim returns the dimension D of a row.
func (m *MemoryBank) Dim() int { return m.d }

// Tensor returns the N×D bank as a tensor that aliases its storage: pass it
// to the losses that read a bank. Do not write to it.
func (m *MemoryBank) Tensor() *tensor.Dense { return ssl.FromSlice(m.data, m.n, m.d) }

// Set copies the B×D rows into the bank: bank[indices[b]] = rows_b. With a
// repeated index the last row wins.
//
// It returns an error wrapping ssl.ErrShape if rows is not B×D with
// B = len(indices), ssl.ErrParam if an index is outside [0, N), and
// ssl.ErrNotFinite if a row holds NaN or Inf; the bank is unchanged then.
func (m *MemoryBank) Set(indices []int, rows ssl.Tensor) error {
	const fn = "losses: MemoryBank.Set"
	rv, err := m.check(fn, "rows", indices, rows)
	if err != nil {
		return err
	}
	if err := check.FiniteData(fn, "rows", rv, len(indices), m.d); err != nil {
		return err
	}
	d := m.d
	for b, i := range indices {
		copy(m.data[i*d:(i+1)*d], rv[b*d:(b+1)*d])
	}
	return nil
}

// Update moves the rows at indices towards values with momentum and
// renormalizes them, as instance discrimination's and Local Aggregation's
// memory banks do:
//
//	w = momentum·bank[indices[b]] + (1 − momentum)·values_b
//	bank[indices[b]] = w / ‖w‖
//
// momentum = 0 replaces the rows (then normalized). Pass normalized
// embeddings as values, as the references do. With a repeated index the
// updates apply in order, each to the row the previous one left.
//
// It returns an error wrapping ssl.ErrShape if values is not B×D with
// B = len(indices), ssl.ErrParam if an index is outside [0, N) or momentum
// is not in [0, 1], and ssl.ErrNotFinite if an updated row would be zero or
// not finite; the bank is unchanged then.
//
// Reference: Wu et al., Unsupervised Feature Learning via Non-Parametric
// Instance Discrimination, CVPR 2018, Sec. 3.1 (proximal update with
// momentum, then L2 normalization); Zhuang et al., Local Aggregation, ICCV
// 2019, Sec. 3.3.
func (m *MemoryBank) Update(indices []int, values ssl.Tensor, momentum float64) error {
	const fn = "losses: MemoryBank.Update"
	vv, err := m.check(fn, "values", indices, values)
	if err != nil {
		return err
	}
	if err := check.Within(fn, "momentum", momentum, 0, 1); err != nil {
		return err
	}
	// Two passes: check every updated row, then write. A repeated index is
	// checked against the rows as they will be when its turn comes, so the
	// check pass simulates the writes on a copy only when indices repeat.
	d, mo := m.d, momentum
	rowNorm := func(bank []float32, b, i int) float64 {
		var s float64
		for t := range d {
			w := mo*float64(bank[i*d+t]) + (1-mo)*float64(vv[b*d+t])
			s += w * w
		}
		return math.Sqrt(s)
	}
	write := func(bank []float32, b, i int, nw float64) {
		for t := range d {
			w := mo*float64(bank[i*d+t]) + (1-mo)*float64(vv[b*d+t])
			bank[i*d+t] = float32(w / nw)
		}
	}
	bank := m.data
	if memoryBankRepeats(indices) {
		bank = append([]float32(nil), m.data...)
	}
	for b, i := range indices {
		nw := rowNorm(bank, b, i)
		if !(nw > 0) || math.IsInf(nw, 0) {
			return check.Errorf(fn, ssl.ErrNotFinite, "updated row %d (index %d) has norm %v, cannot normalize", b, i, nw)
		}
		if &bank[0] != &m.data[0] {
			write(bank, b, i, nw)
		}
	}
	for b, i := range indices {
		write(m.data, b, i, rowNorm(m.data, b, i))
	}
	return nil
}

// Gather copies the rows at indices into dst (B×D, B = len(indices)) and
// returns it; a nil dst is allocated. It returns an error wrapping
// ssl.ErrShape if dst has the wrong shape and ssl.ErrParam if an index is
// outside [0, N); nothing is written then.
func (m *MemoryBank) Gather(dst ssl.Tensor, indices []int) (ssl.Tensor, error) {
	const fn = "losses: MemoryBank.Gather"
	if err := check.Labels(fn, "indices", indices, len(indices), m.n); err != nil {
		return nil, err
	}
	b, d := len(indices), m.d
	out, err := check.Dst(fn, "dst", dst, check.Shape2(b, d), m.data)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = make([]float32, b*d)
		dst = ssl.FromSlice(out, b, d)
	}
	for r, i := range indices {
		copy(out[r*d:(r+1)*d], m.data[i*d:(i+1)*d])
	}
	return dst, nil
}

// check views rows (B×D, B = len(indices), named name), checks that it
// does not overlap the bank and that every index is in [0, N).
func (m *MemoryBank) check(fn, name string, indices []int, rows ssl.Tensor) ([]float32, error) {
	rv, err := check.MatrixOf(fn, name, rows, len(indices), m.d)
	if err != nil {
		return nil, err
	}
	if kernel.Overlaps(rv, m.data) {
		return nil, check.Errorf(fn, ssl.ErrShape, "%s overlaps the bank", name)
	}
	return rv, check.Labels(fn, "indices", indices, len(indices), m.n)
}

// MemoryBankState is the complete state of a [MemoryBank] as a plain
// tensor a checkpoint can store.
type MemoryBankState struct {
	// Rows is the N×D bank.
	Rows ssl.Tensor
}

// State returns a copy of the bank's rows; the bank is unchanged and later
// updates do not alter the copy.
func (m *MemoryBank) State() MemoryBankState {
	rows := ssl.New(m.n, m.d)
	copy(rows.Data().([]float32), m.data)
	return MemoryBankState{Rows: rows}
}

// Restore replaces the bank's rows with s.Rows, as [MemoryBank.State]
// returned them (for this bank or another of the same size and
// dimension); s is copied. It returns an error wrapping ssl.ErrShape if
// s.Rows is not N×D for this bank, and ssl.ErrNotFinite if a value is NaN
// or infinite; the bank is unchanged then.
func (m *MemoryBank) Restore(s MemoryBankState) error {
	const fn = "losses: MemoryBank.Restore"
	rv, err := check.MatrixOf(fn, "Rows", s.Rows, m.n, m.d)
	if err != nil {
		return err
	}
	if err := check.FiniteData(fn, "Rows", rv, m.n, m.d); err != nil {
		return err
	}
	copy(m.data, rv)
	return nil
}

// memoryBankRepeats reports whether an index occurs twice.
func memoryBankRepeats(indices []int) bool {
	seen := make(map[int]struct{}, len(indices))
	for _, i := range indices {
		if _, ok := seen[i]; ok {
			return true
		}
		seen[i] = struct{}{}
	}
	return false
}
