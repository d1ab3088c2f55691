//go:build cgo && linux

package dist

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>

// Open MPI's libmpi must be loaded RTLD_GLOBAL: it dlopens its plugins,
// which resolve their symbols against it.
static void* ssl_dlopen(const char* name) { return dlopen(name, RTLD_NOW | RTLD_GLOBAL); }
static const char* ssl_dlerror(void) { return dlerror(); }

// The handle-free calls.
static int w_init_thread(void* f, int req, int* prov) { return ((int(*)(int*, char***, int, int*))f)(0, 0, req, prov); }
static int w_finalize(void* f) { return ((int(*)(void))f)(); }
static int w_version(void* f, char* s, int* n) { return ((int(*)(char*, int*))f)(s, n); }
static int w_errstr(void* f, int code, char* s, int* n) { return ((int(*)(int, char*, int*))f)(code, s, n); }

// Open MPI: handles are pointers (addresses of the library's globals).
static int p_rank(void* f, uintptr_t comm, int* r) { return ((int(*)(void*, int*))f)((void*)comm, r); }
static int p_allreduce(void* f, const void* s, void* r, int n, uintptr_t dt, uintptr_t op, uintptr_t comm) {
	return ((int(*)(const void*, void*, int, void*, void*, void*))f)(s, r, n, (void*)dt, (void*)op, (void*)comm);
}
static int p_bcast(void* f, void* b, int n, uintptr_t dt, int root, uintptr_t comm) {
	return ((int(*)(void*, int, void*, int, void*))f)(b, n, (void*)dt, root, (void*)comm);
}
static int p_allgather(void* f, const void* s, int n, uintptr_t dt, void* r, uintptr_t comm) {
	return ((int(*)(const void*, int, void*, void*, int, void*, void*))f)(s, n, (void*)dt, r, n, (void*)dt, (void*)comm);
}
static int p_barrier(void* f, uintptr_t comm) { return ((int(*)(void*))f)((void*)comm); }
static int p_abort(void* f, uintptr_t comm, int code) { return ((int(*)(void*, int))f)((void*)comm, code); }

// MPICH and its ABI family: handles are ints.
static int i_rank(void* f, uintptr_t comm, int* r) { return ((int(*)(int, int*))f)((int)comm, r); }
static int i_allreduce(void* f, const void* s, void* r, int n, uintptr_t dt, uintptr_t op, uintptr_t comm) {
	return ((int(*)(const void*, void*, int, int, int, int))f)(s, r, n, (int)dt, (int)op, (int)comm);
}
static int i_bcast(void* f, void* b, int n, uintptr_t dt, int root, uintptr_t comm) {
	return ((int(*)(void*, int, int, int, int))f)(b, n, (int)dt, root, (int)comm);
}
static int i_allgather(void* f, const void* s, int n, uintptr_t dt, void* r, uintptr_t comm) {
	return ((int(*)(const void*, int, int, void*, int, int, int))f)(s, n, (int)dt, r, n, (int)dt, (int)comm);
}
static int i_barrier(void* f, uintptr_t comm) { return ((int(*)(int))f)((int)comm); }
static int i_abort(void* f, uintptr_t comm, int code) { return ((int(*)(int, int))f)((int)comm, code); }

static int x_rank(int ompi, void* f, uintptr_t comm, int* r) { return ompi ? p_rank(f, comm, r) : i_rank(f, comm, r); }
static int x_allreduce(int ompi, void* f, uintptr_t s, void* r, int n, uintptr_t dt, uintptr_t op, uintptr_t comm) {
	return ompi ? p_allreduce(f, (const void*)s, r, n, dt, op, comm) : i_allreduce(f, (const void*)s, r, n, dt, op, comm);
}
static int x_bcast(int ompi, void* f, void* b, int n, uintptr_t dt, int root, uintptr_t comm) {
	return ompi ? p_bcast(f, b, n, dt, root, comm) : i_bcast(f, b, n, dt, root, comm);
}
static int x_allgather(int ompi, void* f, const void* s, int n, uintptr_t dt, void* r, uintptr_t comm) {
	return ompi ? p_allgather(f, s, n, dt, r, comm) : i_allgather(f, s, n, dt, r, comm);
}
static int x_barrier(int ompi, void* f, uintptr_t comm) { return ompi ? p_barrier(f, comm) : i_barrier(f, comm); }
static int x_abort(int ompi, void* f, uintptr_t comm, int code) { return ompi ? p_abort(f, comm, code) : i_abort(f, comm, code); }
*/
import "C"

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"
	"unsafe"
)

const threadFunneled = 1 // MPI_THREAD_FUNNELED in both ABIs

var mpiFuncs = []string{
	"MPI_Init_thread", "MPI_Finalize", "MPI_Comm_rank", "MPI_Comm_size", "MPI_Allreduce",
	"MPI_Bcast", "MPI_Allgather", "MPI_Barrier", "MPI_Abort", "MPI_Get_library_version", "MPI_Error_string",
}

// Open MPI's predefined handles, as exported globals.
var ompiGlobals = []string{
	"ompi_mpi_comm_world", "ompi_mpi_float", "ompi_mpi_double", "ompi_mpi_int64_t", "ompi_mpi_byte",
	"ompi_mpi_op_sum", "ompi_mpi_op_max",
}

// MPICH's predefined handles (mpi.h of MPICH 3.x and 4.x, and of the
// libraries that share its ABI: Intel MPI, MVAPICH, Cray MPICH).
const (
	mpichCommWorld = 0x44000000
	mpichFloat     = 0x4c00040a
	mpichDouble    = 0x4c00080b
	mpichInt64     = 0x4c00083a
	mpichByte      = 0x4c00010d
	mpichSum       = 0x58000003
	mpichMax       = 0x58000001
)

type mpiLib struct {
	name  string
	ompi  C.int // 1 for Open MPI's pointer handles, 0 for MPICH's ints
	fn    map[string]unsafe.Pointer
	world C.uintptr_t
	types [5]C.uintptr_t // by element type code
	ops   [2]C.uintptr_t // by Op
	// MPI_IN_PLACE: (void*)1 in Open MPI, (void*)-1 in MPICH.
	inPlace C.uintptr_t
	elem    [5]int // element sizes
}

// loadMPI opens the first library of names that resolves every function.
func loadMPI(names []string) (*mpiLib, error) {
	var tried []string
	for _, name := range names {
		cname := C.CString(name)
		h := C.ssl_dlopen(cname)
		C.free(unsafe.Pointer(cname))
		if h == nil {
			tried = append(tried, C.GoString(C.ssl_dlerror()))
			continue
		}
		sym := func(s string) unsafe.Pointer {
			cs := C.CString(s)
			defer C.free(unsafe.Pointer(cs))
			return C.dlsym(h, cs)
		}
		l := &mpiLib{name: name, fn: map[string]unsafe.Pointer{}, elem: [5]int{0, 4, 8, 8, 1}}
		for _, f := range mpiFuncs {
			if l.fn[f] = sym(f); l.fn[f] == nil {
				return nil, fmt.Errorf("dist: MPI: %s lacks %s: %w", name, f, ErrComm)
			}
		}
		if sym("ompi_mpi_comm_world") != nil {
			l.ompi = 1
			var g [7]C.uintptr_t
			for i, s := range ompiGlobals {
				p := sym(s)
				if p == nil {
					return nil, fmt.Errorf("dist: MPI: %s (Open MPI) lacks %s: %w", name, s, ErrComm)
				}
				g[i] = C.uintptr_t(uintptr(p))
			}
			l.world = g[0]
			l.types = [5]C.uintptr_t{0, g[1], g[2], g[3], g[4]}
			l.ops = [2]C.uintptr_t{g[5], g[6]}
			l.inPlace = 1
		} else {
			l.world = mpichCommWorld
			l.types = [5]C.uintptr_t{0, mpichFloat, mpichDouble, mpichInt64, mpichByte}
			l.ops = [2]C.uintptr_t{mpichSum, mpichMax}
			l.inPlace = C.uintptr_t(^uintptr(0))
		}
		return l, nil
	}
	return nil, fmt.Errorf("dist: MPI: no MPI library could be loaded (%s): %w", strings.Join(tried, "; "), ErrComm)
}

type mpiComm struct {
	lib        *mpiLib
	rank, size int
	version    string
	work       chan func()
	mu         sync.Mutex
	closed     bool
}

// openMPI loads and initialises MPI on a goroutine locked to its thread.
func openMPI(libs []string) (Comm, error) {
	// Open MPI's handlers for SIGSEGV, SIGBUS, SIGFPE and SIGABRT are not
	// installed on the alternate signal stack, which breaks Go's own; leave
	// those signals to Go unless the user chose otherwise.
	if _, set := os.LookupEnv("OMPI_MCA_opal_signal"); !set {
		os.Setenv("OMPI_MCA_opal_signal", "")
	}
	lib, err := loadMPI(libs)
	if err != nil {
		return nil, err
	}
	c := &mpiComm{lib: lib, work: make(chan func())}
	errc := make(chan error, 1)
	go c.serve(errc)
	if err := <-errc; err != nil {
		return nil, err
	}
	return c, nil
}

// serve is the MPI thread: it initialises MPI, then runs every call.
func (c *mpiComm) serve(errc chan<- error) {
	runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
	l := c.lib
	var provided C.int
	if r := C.w_init_thread(l.fn["MPI_Init_thread"], threadFunneled, &provided); r != 0 {
		errc <- mpiError("MPI_Init_thread", -1, l.errorString(int(r)), int(r))
		return
	}
	var rank, size C.int
	C.x_rank(l.ompi, l.fn["MPI_Comm_rank"], l.world, &rank)
	C.x_rank(l.ompi, l.fn["MPI_Comm_size"], l.world, &size)
	c.rank, c.size = int(rank), int(size)
	buf := make([]byte, 8192)
	var n C.int
	C.w_version(l.fn["MPI_Get_library_version"], (*C.char)(unsafe.Pointer(&buf[0])), &n)
	c.version = strings.TrimRight(string(buf[:max(0, min(int(n), len(buf)))]), "\x00\n ")
	if provided < threadFunneled {
		C.w_finalize(l.fn["MPI_Finalize"])
		errc <- fmt.Errorf("dist: MPI: %s provides thread level %d, below MPI_THREAD_FUNNELED: %w", l.name, provided, ErrComm)
		return
	}
	errc <- nil
	for f := range c.work {
		f()
	}
}

func (l *mpiLib) errorString(code int) string {
	buf := make([]byte, 1024)
	var n C.int
	if C.w_errstr(l.fn["MPI_Error_string"], C.int(code), (*C.char)(unsafe.Pointer(&buf[0])), &n) != 0 {
		return ""
	}
	return string(buf[:max(0, min(int(n), len(buf)))])
}

// do runs f on the MPI thread and returns its MPI return code.
func (c *mpiComm) do(f func() C.int) int {
	done := make(chan C.int, 1)
	c.work <- func() { done <- f() }
	return int(<-done)
}

func (c *mpiComm) Rank() int { return c.rank }
func (c *mpiComm) Size() int { return c.size }

// Version is the MPI library's MPI_Get_library_version string.
func (c *mpiComm) Version() string { return c.version }

func (c *mpiComm) live(fn string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fmt.Errorf("dist: %s: rank %d: the communicator is closed: %w", fn, c.rank, ErrComm)
	}
	return nil
}

// agree checks, with one all-reduce of the calls and their negations
// under Max, that every rank makes the same call: the same collective, type,
// length, op and root.
func (c *mpiComm) agree(fn string, cl call) error {
	if err := c.live(fn); err != nil {
		return err
	}
	f := [5]int64{int64(cl.kind), int64(cl.typ), int64(cl.n), int64(cl.root), int64(cl.op)}
	var v [10]int64
	for i, x := range f {
		v[2*i], v[2*i+1] = x, -x
	}
	l := c.lib
	if r := c.do(func() C.int {
		return C.x_allreduce(l.ompi, l.fn["MPI_Allreduce"], l.inPlace, unsafe.Pointer(&v[0]), 10, l.types[tInt64], l.ops[Max], l.world)
	}); r != 0 {
		return mpiError(fn, c.rank, l.errorString(r), r)
	}
	for i := range f {
		if hi, lo := v[2*i], -v[2*i+1]; hi != lo {
			what := [...]string{"collective", "element type", "length", "root", "op"}[i]
			err := fmt.Errorf("dist: %s: rank %d calls %s, but the ranks' %ss range from %d to %d",
				kindNames[cl.kind], c.rank, cl, what, lo, hi)
			if i == 2 {
				return shapeErr(err)
			}
			return paramErr(err)
		}
	}
	return nil
}

// chunk is the most elements one MPI call moves (counts are C ints).
const chunk = 1 << 30

func (c *mpiComm) allReduce(fn string, p unsafe.Pointer, n, typ int, op Op) error {
	if err := checkOp(fn, op); err != nil {
		return err
	}
	if err := c.agree(fn, call{kind: kAllReduce, typ: typ, n: n, op: op}); err != nil {
		return err
	}
	l := c.lib
	per := reduceChunk / l.elem[typ]
	for off := 0; off < n; off += per {
		m := min(per, n-off)
		q := unsafe.Add(p, off*l.elem[typ])
		if r := c.do(func() C.int {
			return C.x_allreduce(l.ompi, l.fn["MPI_Allreduce"], l.inPlace, q, C.int(m), l.types[typ], l.ops[op], l.world)
		}); r != 0 {
			return mpiError(fn, c.rank, l.errorString(r), r)
		}
	}
	return nil
}

func (c *mpiComm) AllReduce(x []float64, op Op) error {
	return c.allReduce("AllReduce", unsafe.Pointer(unsafe.SliceData(x)), len(x), tFloat64, op)
}

func (c *mpiComm) AllReduceFloat32(x []float32, op Op) error {
	return c.allReduce("AllReduceFloat32", unsafe.Pointer(unsafe.SliceData(x)), len(x), tFloat32, op)
}

func (c *mpiComm) AllReduceInt64(x []int64, op Op) error {
	return c.allReduce("AllReduceInt64", unsafe.Pointer(unsafe.SliceData(x)), len(x), tInt64, op)
}

// data returns the address of a buffer's first element.
func data(x any) unsafe.Pointer {
	switch v := x.(type) {
	case []float32:
		return unsafe.Pointer(unsafe.SliceData(v))
	case []float64:
		return unsafe.Pointer(unsafe.SliceData(v))
	case []int64:
		return unsafe.Pointer(unsafe.SliceData(v))
	case []byte:
		return unsafe.Pointer(unsafe.SliceData(v))
	}
	return nil
}

func (c *mpiComm) Broadcast(x any, root int) error {
	typ, n, err := bufInfo("Broadcast", "x", x)
	if err != nil {
		return err
	}
	if err := checkRoot("Broadcast", root, c.size); err != nil {
		return err
	}
	if err := c.agree("Broadcast", call{kind: kBroadcast, typ: typ, n: n, root: root}); err != nil {
		return err
	}
	l, p := c.lib, data(x)
	for off := 0; off < n; off += chunk {
		m := min(chunk, n-off)
		q := unsafe.Add(p, off*l.elem[typ])
		if r := c.do(func() C.int {
			return C.x_bcast(l.ompi, l.fn["MPI_Bcast"], q, C.int(m), l.types[typ], C.int(root), l.world)
		}); r != 0 {
			return mpiError("Broadcast", c.rank, l.errorString(r), r)
		}
	}
	return nil
}

func (c *mpiComm) AllGather(dst, src any) error {
	typ, n, err := bufInfo("AllGather", "src", src)
	if err != nil {
		return err
	}
	if err := checkGatherDst(dst, typ, n, c.size); err != nil {
		return err
	}
	if n > chunk {
		return paramErr(fmt.Errorf("dist: AllGather: src holds %d elements, more than %d", n, chunk))
	}
	if err := c.agree("AllGather", call{kind: kAllGather, typ: typ, n: n}); err != nil {
		return err
	}
	if n == 0 {
		return nil
	}
	l, s, d := c.lib, data(src), data(dst)
	if r := c.do(func() C.int {
		return C.x_allgather(l.ompi, l.fn["MPI_Allgather"], s, C.int(n), l.types[typ], d, l.world)
	}); r != 0 {
		return mpiError("AllGather", c.rank, l.errorString(r), r)
	}
	return nil
}

func (c *mpiComm) Barrier() error {
	if err := c.live("Barrier"); err != nil {
		return err
	}
	l := c.lib
	if r := c.do(func() C.int { return C.x_barrier(l.ompi, l.fn["MPI_Barrier"], l.world) }); r != 0 {
		return mpiError("Barrier", c.rank, l.errorString(r), r)
	}
	return nil
}

// Abort writes the message and calls MPI_Abort, which ends every rank.
func (c *mpiComm) Abort(err error) {
	fmt.Fprint(stderr, abortMessage(c.rank, c.size, err))
	l := c.lib
	abort := func() C.int { return C.x_abort(l.ompi, l.fn["MPI_Abort"], l.world, 1) }
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if !closed {
		select {
		case c.work <- func() { abort() }:
		case <-time.After(time.Second):
			// The MPI thread is stuck in a call: abort from here, which
			// every MPI library honours even outside its thread level.
			abort()
		}
	}
	time.Sleep(10 * time.Second) // MPI_Abort returns before the launcher kills us
	os.Exit(1)
}

func (c *mpiComm) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return fmt.Errorf("dist: Close: rank %d: the communicator is already closed: %w", c.rank, ErrComm)
	}
	c.closed = true
	c.mu.Unlock()
	l := c.lib
	r := c.do(func() C.int { return C.w_finalize(l.fn["MPI_Finalize"]) })
	close(c.work)
	closedWorld()
	if r != 0 {
		return mpiError("Close", c.rank, l.errorString(r), r)
	}
	return nil
}
