package run

import (
	"io"
	"testing"

	"ssl/dist"
)

// TestDistFlag checks -dist outside mpirun: one rank, the batch whole,
// and the batch order of a single process.
func TestDistFlag(t *testing.T) {
	if dist.Launched() {
		t.Skip("launched by mpirun")
	}
	c, err := Parse("x", Defaults{}, []string{"-dist", "mpi", "-batch", "6"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Comm() == nil || c.Comm().Size() != 1 || c.Batch != 6 || c.ranks() != 1 {
		t.Errorf("-dist mpi outside mpirun: comm %v, batch %d", c.Comm(), c.Batch)
	}
	tr := &Trainer{cfg: c}
	if got := tr.batchStart(3); got != 18 {
		t.Errorf("batchStart(3) = %d, want 18", got)
	}
	if _, err := Parse("x", Defaults{}, []string{"-dist", "nccl"}, io.Discard); err == nil {
		t.Error("-dist nccl accepted")
	}
}
