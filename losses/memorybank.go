package losses

import (
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"ssl"
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
	if n < 1 || d < 1 {
		return nil, fmt.Errorf("losses: NewMemoryBank: size and dimension must be ≥ 1 (n=%d, d=%d): %w", n, d, ssl.ErrParam)
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
	rv, err := m.check("MemoryBank.Set", indices, rows)
	if err != nil {
		return err
	}
	if !kernel.AllFinite(rv) {
		return fmt.Errorf("losses: MemoryBank.Set: rows hold NaN or Inf: %w", ssl.ErrNotFinite)
	}
	d := m.d
	for b, i := range indices {
		copy(m.data[i*d:(i+1)*d], rv[b*d:(b+1)*d])
	}
	return nil
}

// Update moves the rows at indices towards values with momentum and
// renormalises them, as instance discrimination's and Local Aggregation's
// memory banks do:
//
//	w = momentum·bank[indices[b]] + (1 − momentum)·values_b
//	bank[indices[b]] = w / ‖w‖
//
// momentum = 0 replaces the rows (then normalised). Pass normalised
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
// momentum, then L2 normalisation); Zhuang et al., Local Aggregation, ICCV
// 2019, Sec. 3.3.
func (m *MemoryBank) Update(indices []int, values ssl.Tensor, momentum float32) error {
	const fn = "MemoryBank.Update"
	vv, err := m.check(fn, indices, values)
	if err != nil {
		return err
	}
	if !(momentum >= 0 && momentum <= 1) {
		return fmt.Errorf("losses: %s: momentum must be in [0, 1] (momentum=%v): %w", fn, momentum, ssl.ErrParam)
	}
	// Two passes: check every updated row, then write. A repeated index is
	// checked against the rows as they will be when its turn comes, so the
	// check pass simulates the writes on a copy only when indices repeat.
	d, mo := m.d, float64(momentum)
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
			return fmt.Errorf("losses: %s: updated row %d (index %d) has norm %v, cannot normalise: %w", fn, b, i, nw, ssl.ErrNotFinite)
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
	const fn = "MemoryBank.Gather"
	if err := m.checkIndices(fn, indices); err != nil {
		return nil, err
	}
	b, d := len(indices), m.d
	var out []float32
	if dst == nil {
		out = make([]float32, b*d)
		dst = ssl.FromSlice(out, b, d)
	} else {
		var err error
		if out, err = ssl.MatrixOf(dst, b, d); err != nil {
			return nil, fmt.Errorf("losses: %s: dst: %w", fn, err)
		}
		if kernel.Overlaps(out, m.data) {
			return nil, fmt.Errorf("losses: %s: dst overlaps the bank: %w", fn, ssl.ErrShape)
		}
	}
	for r, i := range indices {
		copy(out[r*d:(r+1)*d], m.data[i*d:(i+1)*d])
	}
	return dst, nil
}

func (m *MemoryBank) check(fn string, indices []int, rows ssl.Tensor) ([]float32, error) {
	rv, err := ssl.MatrixOf(rows, len(indices), m.d)
	if err != nil {
		return nil, fmt.Errorf("losses: %s: values for %d indices: %w", fn, len(indices), err)
	}
	if kernel.Overlaps(rv, m.data) {
		return nil, fmt.Errorf("losses: %s: values overlap the bank: %w", fn, ssl.ErrShape)
	}
	return rv, m.checkIndices(fn, indices)
}

func (m *MemoryBank) checkIndices(fn string, indices []int) error {
	for b, i := range indices {
		if i < 0 || i >= m.n {
			return fmt.Errorf("losses: %s: indices[%d] = %d is outside [0, %d): %w", fn, b, i, m.n, ssl.ErrParam)
		}
	}
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
