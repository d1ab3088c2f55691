package main

import (
	"math/rand/v2"

	"ssl"
	"ssl/backbone"
	"ssl/losses"
)

// bankState is a losses.MemoryBank that a checkpoint holds exactly: its
// N×D rows (MemoryBank.State) under its name, restored with
// MemoryBank.Restore, so that a resumed run reads the same bank as the
// uninterrupted one. It implements run.Checkpointer.
type bankState struct {
	*losses.MemoryBank
	name string
}

// newBank returns a bank of n random unit rows of dimension d (LA's and
// instance recognition's start), drawn from rng, saved under name.
func newBank(name string, n, d int, rng *rand.Rand) (*bankState, error) {
	m, err := losses.NewMemoryBank(n, d)
	if err != nil {
		return nil, err
	}
	rows := ssl.New(n, d)
	_, v, err := ssl.View(rows)
	if err != nil {
		return nil, err
	}
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	if _, err := ssl.NormalizeRows(rows, rows); err != nil {
		return nil, err
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	if err := m.Set(idx, rows); err != nil {
		return nil, err
	}
	return &bankState{MemoryBank: m, name: name}, nil
}

// Save stores the bank's rows in c.
func (b *bankState) Save(c *backbone.Checkpoint, prefix string) error {
	return c.SetFloat32(prefix+b.name, b.State().Rows)
}

// Load restores the bank's rows from c.
func (b *bankState) Load(c *backbone.Checkpoint, prefix string) error {
	rows := ssl.New(b.Len(), b.Dim())
	if err := c.Float32(rows, prefix+b.name); err != nil {
		return err
	}
	return b.Restore(losses.MemoryBankState{Rows: rows})
}
