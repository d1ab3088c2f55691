package dist

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

	"ssl"
)

// ErrComm is wrapped by every error that comes from the communication
// itself rather than from the arguments: a rank that aborted or closed its
// communicator, a closed communicator, an MPI call that failed, an MPI
// library that could not be loaded.
var ErrComm = errors.New("dist: communication failed")

// Op is the elementwise combination of an all-reduce.
type Op int

const (
	// Sum adds the ranks' vectors.
	Sum Op = iota
	// Max takes the elementwise maximum.
	Max
)

func (op Op) String() string {
	switch op {
	case Sum:
		return "Sum"
	case Max:
		return "Max"
	}
	return "Op(" + strconv.Itoa(int(op)) + ")"
}

// Comm is a communicator: Size ranks, numbered 0 to Size-1, that make the
// same sequence of collective calls. Every collective is called by every
// rank, in the same order, with the same lengths, op and root; a call whose
// length, type, op or root differs across the ranks returns an error to
// every rank (wrapping ssl.ErrShape for lengths, ssl.ErrParam for the rest)
// and leaves the buffers as they were, never a partial result.
//
// Results are the same on every rank: reductions combine the ranks'
// vectors in a fixed order (rank order for [Local]; the MPI library's
// fixed, size-dependent order for [MPI]).
//
// A Comm is used by one goroutine at a time (the rank's); it satisfies
// sinkhorn.Reducer through AllReduce.
type Comm interface {
	// Rank is this rank's number, 0 ≤ Rank < Size.
	Rank() int
	// Size is the number of ranks.
	Size() int

	// AllReduce replaces x on every rank by the elementwise combination of
	// every rank's x.
	AllReduce(x []float64, op Op) error
	// AllReduceFloat32 is AllReduce on float32.
	AllReduceFloat32(x []float32, op Op) error
	// AllReduceInt64 is AllReduce on int64.
	AllReduceInt64(x []int64, op Op) error

	// Broadcast copies root's x into x on every other rank. x is a
	// []float32, []float64, []int64 or []byte.
	Broadcast(x any, root int) error
	// AllGather writes every rank's src, in rank order, into dst on every
	// rank: dst holds Size()·len(src) elements of src's type ([]float32,
	// []float64, []int64 or []byte) and must not overlap src.
	AllGather(dst, src any) error
	// Barrier returns once every rank has called it.
	Barrier() error

	// Abort ends the job after a failure on this rank: it writes
	// "dist: rank R of N: err" to standard error; for MPI it then calls
	// MPI_Abort, which ends every rank's process and does not return. For
	// [Local] it makes every other rank's pending and later collectives
	// return an error naming this rank and err, and returns.
	Abort(err error)
	// Close leaves the communicator (MPI_Finalize for [MPI]). Every rank
	// calls it once, after its last collective; later calls on this rank
	// return an error wrapping ErrComm.
	Close() error
}

// Launched reports whether this process was started by an MPI launcher
// (mpirun, mpiexec): Open MPI sets OMPI_COMM_WORLD_SIZE, MPICH's Hydra and
// other PMI launchers set PMI_SIZE.
func Launched() bool {
	return os.Getenv("OMPI_COMM_WORLD_SIZE") != "" || os.Getenv("PMI_SIZE") != ""
}

// abortMessage is the line Abort writes.
func abortMessage(rank, size int, err error) string {
	return fmt.Sprintf("dist: rank %d of %d: %v\n", rank, size, err)
}

// Element types of a buffer.
const (
	tFloat32 = iota + 1
	tFloat64
	tInt64
	tByte
)

var typeNames = [...]string{"", "float32", "float64", "int64", "byte"}

// bufInfo returns the element type and length of a buffer given as any.
func bufInfo(fn, name string, x any) (typ, n int, err error) {
	switch v := x.(type) {
	case []float32:
		return tFloat32, len(v), nil
	case []float64:
		return tFloat64, len(v), nil
	case []int64:
		return tInt64, len(v), nil
	case []byte:
		return tByte, len(v), nil
	}
	return 0, 0, fmt.Errorf("dist: %s: %s must be a []float32, []float64, []int64 or []byte (got %T): %w", fn, name, x, ssl.ErrParam)
}

func checkOp(fn string, op Op) error {
	if op != Sum && op != Max {
		return fmt.Errorf("dist: %s: op must be Sum or Max (op=%v): %w", fn, op, ssl.ErrParam)
	}
	return nil
}

func checkRoot(fn string, root, size int) error {
	if root < 0 || root >= size {
		return fmt.Errorf("dist: %s: root must be in [0, %d) (root=%d): %w", fn, size, root, ssl.ErrParam)
	}
	return nil
}

// Collective kinds, for the agreement check.
const (
	kAllReduce = iota + 1
	kBroadcast
	kAllGather
	kBarrier
)

var kindNames = [...]string{"", "AllReduce", "Broadcast", "AllGather", "Barrier"}

// call describes one rank's side of a collective; the ranks must agree on
// every field.
type call struct {
	kind, typ, n, root int
	op                 Op
}

// mismatch returns the error for two ranks whose calls differ, or nil.
func mismatch(ra int, a call, rb int, b call) error {
	if a == b {
		return nil
	}
	sentinel := ssl.ErrParam
	if a.kind == b.kind && a.typ == b.typ && a.op == b.op && a.root == b.root {
		sentinel = ssl.ErrShape
	}
	return fmt.Errorf("dist: %s: rank %d calls %s, rank %d calls %s: %w",
		kindNames[b.kind], ra, a, rb, b, sentinel)
}

func (c call) String() string {
	s := fmt.Sprintf("%s of %d %s", kindNames[c.kind], c.n, typeNames[c.typ])
	if c.kind == kAllReduce {
		s += " with " + c.op.String()
	}
	if c.kind == kBroadcast {
		s += " from root " + strconv.Itoa(c.root)
	}
	return s
}

// stderr is where Abort writes; tests replace it.
var stderr io.Writer = os.Stderr

func shapeErr(err error) error { return fmt.Errorf("%w: %w", err, ssl.ErrShape) }
func paramErr(err error) error { return fmt.Errorf("%w: %w", err, ssl.ErrParam) }
