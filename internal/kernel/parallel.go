package kernel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// ParallelFor calls fn(lo, hi) for the blocks [0, grain), [grain, 2·grain),
// … of [0, n), the last one possibly shorter. The partition depends only on n
// and grain, never on GOMAXPROCS: as long as fn writes disjoint outputs for
// disjoint blocks, the result is the same for any number of threads. Blocks
// run concurrently on the calling goroutine and up to GOMAXPROCS − 1
// goroutines of one process-wide pool; with one block, or GOMAXPROCS = 1,
// everything runs on the calling goroutine. It returns when every block has
// finished.
//
// The pool's goroutines start on first use and stay parked between calls,
// so a call starts no goroutine and allocates nothing: a caller on a hot
// path passes an fn it built once (a method value kept in a struct) rather
// than a new closure. ParallelFor may be called from several goroutines at
// once and from inside fn; the caller always works through the blocks
// itself, so a busy pool only lowers the parallelism, never blocks.
func ParallelFor(n, grain int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	blocks := (n + grain - 1) / grain
	workers := min(runtime.GOMAXPROCS(0), blocks)
	if workers <= 1 {
		for lo := 0; lo < n; lo += grain {
			fn(lo, min(lo+grain, n))
		}
		return
	}
	p := thePool.get(workers - 1)
	j := jobs.Get().(*job)
	j.open(n, grain, blocks, fn)
	for range workers - 1 {
		select {
		case p <- j:
		default: // every pool goroutine is busy or already has a task
		}
	}
	j.drain()
	j.close()
	jobs.Put(j)
}

// Grain returns a block size for ParallelFor over n items that each cost
// about work units, so that one block costs at least minWork units. It
// depends only on its arguments.
func Grain(n, work, minWork int) int {
	if work < 1 {
		work = 1
	}
	g := (minWork + work - 1) / work
	return max(1, min(g, n))
}

// job is one ParallelFor call. Blocks are claimed through next; a pool
// goroutine joins the job only while it is open, and close waits for the
// goroutines that joined. A pool goroutine may receive a job after its
// call returned (the job then is closed, or reused by a later call, which
// it then helps): either way it does only blocks that are still unclaimed.
type job struct {
	mu     sync.Mutex
	done   sync.Cond
	closed bool
	active int

	fn            func(lo, hi int)
	n, grain, nbl int
	next          atomic.Int64
}

var jobs = sync.Pool{New: func() any {
	j := &job{closed: true}
	j.done.L = &j.mu
	return j
}}

func (j *job) open(n, grain, blocks int, fn func(lo, hi int)) {
	j.mu.Lock()
	j.fn, j.n, j.grain, j.nbl = fn, n, grain, blocks
	j.next.Store(0)
	j.closed = false
	j.mu.Unlock()
}

// join registers a pool goroutine as a helper and reports whether the job
// is still open.
func (j *job) join() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return false
	}
	j.active++
	return true
}

func (j *job) leave() {
	j.mu.Lock()
	if j.active--; j.active == 0 && j.closed {
		j.done.Signal()
	}
	j.mu.Unlock()
}

// close stops new helpers from joining and waits for those that joined.
func (j *job) close() {
	j.mu.Lock()
	j.closed = true
	for j.active > 0 {
		j.done.Wait()
	}
	j.fn = nil
	j.mu.Unlock()
}

func (j *job) drain() {
	for {
		b := int(j.next.Add(1) - 1)
		if b >= j.nbl {
			return
		}
		lo := b * j.grain
		j.fn(lo, min(lo+j.grain, j.n))
	}
}

// pool is the process-wide set of parked goroutines. Its channel is
// buffered, so ParallelFor never blocks handing out a job.
type pool struct {
	mu      sync.Mutex
	tasks   chan *job
	workers atomic.Int64
}

var thePool pool

// get returns the task channel, with at least w goroutines receiving from
// it (more start when GOMAXPROCS grows).
func (p *pool) get(w int) chan *job {
	if int(p.workers.Load()) >= w {
		return p.tasks
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tasks == nil {
		p.tasks = make(chan *job, max(w, 64))
	}
	for int(p.workers.Load()) < w {
		go p.loop(p.tasks)
		p.workers.Add(1)
	}
	return p.tasks
}

func (p *pool) loop(tasks chan *job) {
	for j := range tasks {
		if j.join() {
			j.drain()
			j.leave()
		}
	}
}
