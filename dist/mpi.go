package dist

import (
	"fmt"
	"os"
	"strings"
	"sync"
)

// MPI returns the communicator of every process of an MPI job
// (MPI_COMM_WORLD), on an MPI library loaded at run time.
//
// Launched by mpirun or mpiexec (see [Launched]), it loads the library —
// the file named by $SSL_MPI_LIBRARY if set, else Open MPI's libmpi.so.40
// under Open MPI's launcher and MPICH's libmpich.so.12 under a PMI launcher,
// then the other — and initialises it with MPI_Init_thread asking for
// MPI_THREAD_FUNNELED: one goroutine, locked to its OS thread, makes every
// MPI call. Both handle ABIs are supported: Open MPI's (handles are
// addresses of exported globals; tested with 4.1) and MPICH's and its
// derivatives' (integer handles; tested with 4.0). Without cgo on Linux it returns an error wrapping ErrComm.
//
// Not launched by an MPI launcher, it returns a one-rank communicator that
// needs no MPI library, so a program built with -dist mpi also runs alone.
//
// Every call after the first returns the same communicator until it is
// closed; after Close (MPI_Finalize) the MPI library cannot be initialised
// again in this process and MPI returns an error.
func MPI() (Comm, error) {
	worldMu.Lock()
	defer worldMu.Unlock()
	if world != nil {
		return world, nil
	}
	if worldClosed {
		return nil, fmt.Errorf("dist: MPI: the MPI communicator was closed; MPI cannot be initialised again: %w", ErrComm)
	}
	if !Launched() {
		world = &singleComm{Comm: Local(1)[0]}
		return world, nil
	}
	c, err := openMPI(mpiLibraries())
	if err != nil {
		return nil, err
	}
	world = c
	return world, nil
}

var (
	worldMu     sync.Mutex
	world       Comm
	worldClosed bool
)

// closedWorld forgets the process's communicator after Close.
func closedWorld() {
	worldMu.Lock()
	world, worldClosed = nil, true
	worldMu.Unlock()
}

// singleComm is MPI's communicator outside mpirun: one rank.
type singleComm struct{ Comm }

func (c *singleComm) Close() error {
	err := c.Comm.Close()
	closedWorld()
	return err
}

// Abort ends the process: a one-rank job has no one else to tell.
func (c *singleComm) Abort(err error) {
	fmt.Fprint(stderr, abortMessage(0, 1, err))
	os.Exit(1)
}

// mpiLibraries lists the candidate sonames, the launcher's own first.
func mpiLibraries() []string {
	if lib := os.Getenv("SSL_MPI_LIBRARY"); lib != "" {
		return []string{lib}
	}
	openmpi := []string{"libmpi.so.40", "libmpi.so"}
	mpich := []string{"libmpich.so.12", "libmpi.so.12", "libmpich.so"}
	if os.Getenv("OMPI_COMM_WORLD_SIZE") == "" && os.Getenv("PMI_SIZE") != "" {
		return append(mpich, openmpi...)
	}
	return append(openmpi, mpich...)
}

// mpiError formats an MPI error code with the library's message.
func mpiError(fn string, rank int, msg string, code int) error {
	msg = strings.TrimSpace(msg)
	if msg == "" {
		msg = "error"
	}
	return fmt.Errorf("dist: %s: rank %d: %s (MPI error %d): %w", fn, rank, msg, code, ErrComm)
}

// reduceChunk is the most bytes one MPI_Allreduce reduces. Open MPI's
// reductions allocate a temporary buffer of the message's size on every
// call; glibc serves an allocation above its mmap threshold (at most 32 MiB)
// with fresh pages each time, and faulting them in made a 64 MiB all-reduce
// 13 times slower than four of 16 MiB (170 ms against 13 ms on 2 ranks, the
// same with every Open MPI algorithm and with TCP). Pieces of 16 MiB stay
// under the threshold, whose buffers glibc then reuses.
const reduceChunk = 16 << 20
