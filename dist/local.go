package dist

import (
	"fmt"
	"sync"

	"ssl"
)

// Local returns n communicators whose ranks are goroutines of this process:
// rank i uses the i-th one, each from its own goroutine. Reductions combine
// the ranks' vectors in rank order, so results do not depend on scheduling
// and equal a single process's sum in that order. For n < 1 it returns nil.
func Local(n int) []Comm {
	if n < 1 {
		return nil
	}
	g := &localGroup{n: n, calls: make([]call, n), bufs: make([]any, n), closed: make([]bool, n)}
	g.cond = sync.NewCond(&g.mu)
	cs := make([]Comm, n)
	for i := range cs {
		cs[i] = &localComm{g: g, rank: i}
	}
	return cs
}

type localGroup struct {
	mu       sync.Mutex
	cond     *sync.Cond
	n        int
	calls    []call
	bufs     []any // each rank's input
	closed   []bool
	arrived  int
	readers  int // ranks still to copy the result out
	gen      uint64
	out      any // the round's result, copied out by every rank
	gathered []any
	err      error
	abort    error // set for good by Abort or Close
}

type localComm struct {
	g    *localGroup
	rank int
}

func (c *localComm) Rank() int { return c.rank }
func (c *localComm) Size() int { return c.g.n }

func (c *localComm) AllReduce(x []float64, op Op) error {
	if err := checkOp("AllReduce", op); err != nil {
		return err
	}
	return c.round(call{kind: kAllReduce, typ: tFloat64, n: len(x), op: op}, x, x)
}

func (c *localComm) AllReduceFloat32(x []float32, op Op) error {
	if err := checkOp("AllReduceFloat32", op); err != nil {
		return err
	}
	return c.round(call{kind: kAllReduce, typ: tFloat32, n: len(x), op: op}, x, x)
}

func (c *localComm) AllReduceInt64(x []int64, op Op) error {
	if err := checkOp("AllReduceInt64", op); err != nil {
		return err
	}
	return c.round(call{kind: kAllReduce, typ: tInt64, n: len(x), op: op}, x, x)
}

func (c *localComm) Broadcast(x any, root int) error {
	typ, n, err := bufInfo("Broadcast", "x", x)
	if err != nil {
		return err
	}
	if err := checkRoot("Broadcast", root, c.g.n); err != nil {
		return err
	}
	return c.round(call{kind: kBroadcast, typ: typ, n: n, root: root}, x, x)
}

func (c *localComm) AllGather(dst, src any) error {
	typ, n, err := bufInfo("AllGather", "src", src)
	if err != nil {
		return err
	}
	if err := checkGatherDst(dst, typ, n, c.g.n); err != nil {
		return err
	}
	return c.round(call{kind: kAllGather, typ: typ, n: n}, src, dst)
}

func (c *localComm) Barrier() error { return c.round(call{kind: kBarrier}, nil, nil) }

func (c *localComm) Abort(err error) {
	fmt.Fprint(stderr, abortMessage(c.rank, c.g.n, err))
	g := c.g
	g.mu.Lock()
	if g.abort == nil {
		g.abort = fmt.Errorf("dist: rank %d of %d aborted: %v: %w", c.rank, g.n, err, ErrComm)
	}
	g.cond.Broadcast()
	g.mu.Unlock()
}

func (c *localComm) Close() error {
	g := c.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed[c.rank] {
		return fmt.Errorf("dist: Close: rank %d is already closed: %w", c.rank, ErrComm)
	}
	g.closed[c.rank] = true
	g.cond.Broadcast()
	return nil
}

// checkGatherDst checks AllGather's destination against src.
func checkGatherDst(dst any, typ, n, size int) error {
	dtyp, dn, err := bufInfo("AllGather", "dst", dst)
	if err != nil {
		return err
	}
	if dtyp != typ || dn != n*size {
		return fmt.Errorf("dist: AllGather: dst must be a []%s of %d·%d elements (got %d %s): %w",
			typeNames[typ], size, n, dn, typeNames[dtyp], ssl.ErrShape)
	}
	return nil
}

// stopped returns the error that ends a wait: an aborted group or a closed
// rank.
func (g *localGroup) stopped() error {
	if g.abort != nil {
		return g.abort
	}
	for r, closed := range g.closed {
		if closed {
			return fmt.Errorf("dist: rank %d of %d has closed its communicator: %w", r, g.n, ErrComm)
		}
	}
	return nil
}

// round is one collective: every rank deposits its call and input; the last
// to arrive checks that the calls agree and computes the result, which every
// rank then copies into out.
func (c *localComm) round(cl call, in, out any) error {
	g := c.g
	g.mu.Lock()
	defer g.mu.Unlock()
	for g.readers > 0 && g.abort == nil { // the previous round is still being read
		g.cond.Wait()
	}
	if err := g.stopped(); err != nil {
		return err
	}
	g.calls[c.rank], g.bufs[c.rank] = cl, in
	g.arrived++
	gen := g.gen
	if g.arrived == g.n {
		g.combine()
		g.arrived, g.readers = 0, g.n
		g.gen++
		g.cond.Broadcast()
	} else {
		for g.gen == gen {
			if err := g.stopped(); err != nil {
				g.arrived--
				g.bufs[c.rank] = nil
				return err
			}
			g.cond.Wait()
		}
	}
	err := g.err
	if err == nil && out != nil {
		copyOut(out, g.out, cl, c.rank)
	}
	g.bufs[c.rank] = nil
	// Return only when every rank has copied its result out: results may
	// point into other ranks' inputs, which their owners may overwrite as
	// soon as they return.
	if g.readers--; g.readers == 0 {
		g.cond.Broadcast()
	}
	for g.readers > 0 && g.abort == nil {
		g.cond.Wait()
	}
	return err
}

func (g *localGroup) combine() {
	g.err = nil
	for r := 1; r < g.n; r++ {
		if err := mismatch(0, g.calls[0], r, g.calls[r]); err != nil {
			g.err = err
			return
		}
	}
	cl := g.calls[0]
	switch cl.kind {
	case kAllReduce:
		switch cl.typ {
		case tFloat32:
			g.out = reduceInto(g.out, g.bufs, cl.op, []float32(nil))
		case tFloat64:
			g.out = reduceInto(g.out, g.bufs, cl.op, []float64(nil))
		case tInt64:
			g.out = reduceInto(g.out, g.bufs, cl.op, []int64(nil))
		}
	case kBroadcast:
		g.out = g.bufs[cl.root]
	case kAllGather:
		g.gathered = append(g.gathered[:0], g.bufs...) // every rank copies the inputs straight out
		g.out = g.gathered
	}
}

// reduceInto combines bufs (all of type []T) elementwise in rank order into
// a reused slice.
func reduceInto[T float32 | float64 | int64](prev any, bufs []any, op Op, _ []T) any {
	out, _ := prev.([]T)
	out = append(out[:0], bufs[0].([]T)...)
	for _, b := range bufs[1:] {
		for j, v := range b.([]T) {
			if op == Max {
				out[j] = max(out[j], v)
			} else {
				out[j] += v
			}
		}
	}
	return out
}

// copyOut copies a round's result into this rank's destination. Every
// rank is still inside the round, so the inputs it reads are unchanged.
func copyOut(dst, result any, cl call, rank int) {
	if cl.kind == kAllGather {
		bufs := result.([]any)
		for r, b := range bufs {
			copySlice(dst, r*cl.n, b)
		}
		return
	}
	if cl.kind == kBroadcast && cl.root == rank {
		return
	}
	copySlice(dst, 0, result)
}

func copySlice(dst any, off int, src any) {
	switch d := dst.(type) {
	case []float32:
		copy(d[off:], src.([]float32))
	case []float64:
		copy(d[off:], src.([]float64))
	case []int64:
		copy(d[off:], src.([]int64))
	case []byte:
		copy(d[off:], src.([]byte))
	}
}
