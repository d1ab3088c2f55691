package dist_test

import (
	"errors"
	"fmt"
	"os"
	"testing"

	"ssl/dist"
	"ssl/dist/commtest"
)

// Under mpirun every rank runs this binary's tests in the same order, so
// the collective tests below (and the benchmarks) call no t.Parallel.
// Build once and launch the binary:
//
//	go test -c -o dist.test ./dist
//	mpirun --oversubscribe -np 4 ./dist.test -test.run MPI
func TestMain(m *testing.M) {
	code := m.Run()
	if dist.Launched() {
		if c, err := dist.MPI(); err == nil {
			if err := c.Close(); err != nil {
				fmt.Fprintln(os.Stderr, err)
				code = 1
			}
		}
	}
	os.Exit(code)
}

// world returns MPI's communicator, failing the test (and aborting the
// job, so that no rank hangs) if it cannot be opened.
func world(t *testing.T) dist.Comm {
	t.Helper()
	c, err := dist.MPI()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestMPI runs the conformance suite on MPI's communicator: every process
// of the job under mpirun, one rank without a launcher.
func TestMPI(t *testing.T) {
	c := world(t)
	if !dist.Launched() && (c.Rank() != 0 || c.Size() != 1) {
		t.Fatalf("MPI outside mpirun: rank %d of %d, want rank 0 of 1", c.Rank(), c.Size())
	}
	if v, ok := c.(interface{ Version() string }); ok && c.Rank() == 0 {
		t.Logf("%d ranks on %s", c.Size(), v.Version())
	}
	commtest.Run(t, c)
	if c2, err := dist.MPI(); err != nil || c2 != c {
		t.Errorf("a second MPI() = %v, %v; want the same communicator", c2, err)
	}
}

// TestMPIAbort runs only when SSL_DIST_ABORT names a rank: that rank
// aborts with a message and the job must end (with a non-zero status)
// rather than hang in the other ranks' Barrier.
func TestMPIAbort(t *testing.T) {
	who := os.Getenv("SSL_DIST_ABORT")
	if who == "" || !dist.Launched() {
		t.Skip("set SSL_DIST_ABORT=<rank> under mpirun")
	}
	c := world(t)
	if fmt.Sprint(c.Rank()) == who {
		c.Abort(errors.New("deliberate failure"))
	}
	c.Barrier()
	t.Errorf("rank %d: Barrier returned after rank %s aborted", c.Rank(), who)
}

// TestMPIAllReducePieces checks an all-reduce that MPI makes in several
// pieces (more than ReduceChunk bytes, not a multiple of it): every
// element is the sum over the ranks.
func TestMPIAllReducePieces(t *testing.T) {
	c := world(t)
	n := 2*dist.ReduceChunk/4 + 3
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(c.Rank()*7 + i%5)
	}
	if err := c.AllReduceFloat32(x, dist.Sum); err != nil {
		t.Fatal(err)
	}
	size := c.Size()
	for i, v := range x {
		if want := float32(7*size*(size-1)/2 + size*(i%5)); v != want {
			t.Fatalf("x[%d] = %v after the all-reduce, want %v", i, v, want)
		}
	}
}
