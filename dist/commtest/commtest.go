// Package commtest is the conformance suite every [dist.Comm] passes: the
// same checks run on dist.Local's goroutines in go test and on MPI
// processes under mpirun.
package commtest

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"

	"ssl"
	"ssl/dist"
)

// Run runs the suite as one rank of c: every rank of c calls Run at the
// same time (from its goroutine or its process). Failures are reported with
// t.Errorf, prefixed by the rank; a failing check never skips a collective,
// so the ranks stay in step whatever fails. Run calls no t.Parallel, makes
// no t.Fatal and calls no collective outside the fixed sequence.
func Run(t testing.TB, c dist.Comm) {
	r := &runner{t: t, c: c, rank: c.Rank(), size: c.Size()}
	r.identity()
	r.allReduce()
	r.broadcast()
	r.allGather()
	r.barrier()
	r.arguments()
	r.mismatch()
	r.large()
}

type runner struct {
	t          testing.TB
	c          dist.Comm
	rank, size int
}

func (r *runner) errorf(format string, args ...any) {
	r.t.Helper()
	r.t.Errorf("rank %d of %d: %s", r.rank, r.size, fmt.Sprintf(format, args...))
}

func (r *runner) ok(what string, err error) bool {
	r.t.Helper()
	if err != nil {
		r.errorf("%s: %v", what, err)
		return false
	}
	return true
}

func (r *runner) identity() {
	if r.size < 1 || r.rank < 0 || r.rank >= r.size {
		r.errorf("Rank %d, Size %d", r.rank, r.size)
	}
	got := make([]int64, r.size)
	if r.ok("AllGather of the ranks", r.c.AllGather(got, []int64{int64(r.rank)})) {
		for i, v := range got {
			if v != int64(i) {
				r.errorf("AllGather of the ranks = %v, want 0…%d (every rank a distinct Rank)", got, r.size-1)
				break
			}
		}
	}
}

// value is rank q's j-th element in the reduction tests: small integers
// and halves, exact in float32 and in any summation order.
func value(q, j int) float64 { return float64((q*7+j*3)%11) - 5 + 0.5*float64(j%2) }

func (r *runner) allReduce() {
	for _, n := range []int{0, 1, 5, 1000} {
		for _, op := range []dist.Op{dist.Sum, dist.Max} {
			want := make([]float64, n)
			for j := range want {
				want[j] = value(0, j)
				for q := 1; q < r.size; q++ {
					if op == dist.Max {
						want[j] = max(want[j], value(q, j))
					} else {
						want[j] += value(q, j)
					}
				}
			}
			x64 := make([]float64, n)
			x32 := make([]float32, n)
			xi := make([]int64, n)
			for j := range n {
				x64[j] = value(r.rank, j)
				x32[j] = float32(x64[j])
				xi[j] = int64(2*x64[j]) + 1<<55 // beyond float64's integers
			}
			what := fmt.Sprintf("AllReduce %v of %d", op, n)
			if r.ok(what+" float64", r.c.AllReduce(x64, op)) && !slices.Equal(x64, want) {
				r.errorf("%s float64 = %v, want %v", what, head(x64), head(want))
			}
			if r.ok(what+" float32", r.c.AllReduceFloat32(x32, op)) {
				for j := range n {
					if float64(x32[j]) != want[j] {
						r.errorf("%s float32 [%d] = %v, want %v", what, j, x32[j], want[j])
						break
					}
				}
			}
			if r.ok(what+" int64", r.c.AllReduceInt64(xi, op)) {
				for j := range n {
					w := int64(2*want[j]) + 1<<55
					if op == dist.Sum {
						w = int64(2*want[j]) + int64(r.size)<<55
					}
					if xi[j] != w {
						r.errorf("%s int64 [%d] = %d, want %d", what, j, xi[j], w)
						break
					}
				}
			}
		}
	}
	// Special values: Max of -Inf and a NaN-free vector, Sum of ±Inf.
	x := []float64{math.Inf(-1), -1e300, float64(r.rank)}
	if r.ok("AllReduce Max of -Inf", r.c.AllReduce(x, dist.Max)) &&
		(!math.IsInf(x[0], -1) || x[1] != -1e300 || x[2] != float64(r.size-1)) {
		r.errorf("AllReduce Max of {-Inf, -1e300, rank} = %v", x)
	}
}

func head[T any](x []T) []T { return x[:min(len(x), 8)] }

func (r *runner) broadcast() {
	for root := range r.size {
		f32 := []float32{float32(r.rank), -1.5, float32(math.Inf(1))}
		f64 := []float64{float64(r.rank), math.Pi, -0.0}
		i64 := []int64{int64(r.rank), math.MinInt64, math.MaxInt64}
		b := []byte{byte(r.rank), 0xff, 0}
		for _, x := range []any{f32, f64, i64, b} {
			r.ok(fmt.Sprintf("Broadcast %T from %d", x, root), r.c.Broadcast(x, root))
		}
		if r.rank == root { // a returned call no longer needs the buffer
			g := []float32{-7, -7, -7}
			r.ok("Broadcast after the root's buffer was reused", r.c.Broadcast(g, root))
			copy(g, []float32{99, 99, 99})
		} else {
			g := make([]float32, 3)
			if r.ok("Broadcast after the root's buffer was reused", r.c.Broadcast(g, root)) && g[0] != -7 {
				r.errorf("Broadcast from %d read the root's buffer after the root returned: %v", root, g)
			}
		}
		if f32[0] != float32(root) || f32[1] != -1.5 || !math.IsInf(float64(f32[2]), 1) ||
			f64[0] != float64(root) || f64[1] != math.Pi || i64[0] != int64(root) || i64[1] != math.MinInt64 ||
			i64[2] != math.MaxInt64 || b[0] != byte(root) || b[1] != 0xff {
			r.errorf("Broadcast from %d: got %v %v %v %v", root, f32, f64, i64, b)
		}
	}
	if r.ok("Broadcast of nothing", r.c.Broadcast([]float32{}, 0)) {
		return
	}
}

func (r *runner) allGather() {
	const n = 3
	src32, src64, srci, srcb := make([]float32, n), make([]float64, n), make([]int64, n), make([]byte, n)
	for j := range n {
		src32[j], src64[j], srci[j], srcb[j] = float32(10*r.rank+j), float64(10*r.rank+j), int64(10*r.rank+j), byte(10*r.rank+j)
	}
	d32, d64, di, db := make([]float32, n*r.size), make([]float64, n*r.size), make([]int64, n*r.size), make([]byte, n*r.size)
	r.ok("AllGather float32", r.c.AllGather(d32, src32))
	r.ok("AllGather float64", r.c.AllGather(d64, src64))
	r.ok("AllGather int64", r.c.AllGather(di, srci))
	r.ok("AllGather byte", r.c.AllGather(db, srcb))
	clear(src32) // a returned call no longer needs src
	for q := range r.size {
		for j := range n {
			i, w := q*n+j, 10*q+j
			if d32[i] != float32(w) || d64[i] != float64(w) || di[i] != int64(w) || db[i] != byte(w) {
				r.errorf("AllGather [%d] = %v %v %v %v, want %d", i, d32[i], d64[i], di[i], db[i], w)
				return
			}
		}
	}
	r.ok("AllGather of nothing", r.c.AllGather([]float64{}, []float64{}))
}

func (r *runner) barrier() {
	for range 3 {
		r.ok("Barrier", r.c.Barrier())
	}
}

// arguments checks the errors every rank detects alone, before any
// communication (so the ranks stay in step).
func (r *runner) arguments() {
	x := []float64{1}
	want := func(what string, err, sentinel error) {
		r.t.Helper()
		if !errors.Is(err, sentinel) {
			r.errorf("%s: err = %v, want %v", what, err, sentinel)
		}
	}
	want("AllReduce with op 7", r.c.AllReduce(x, dist.Op(7)), ssl.ErrParam)
	want("AllReduceFloat32 with op -1", r.c.AllReduceFloat32([]float32{1}, dist.Op(-1)), ssl.ErrParam)
	want("Broadcast from root -1", r.c.Broadcast(x, -1), ssl.ErrParam)
	want("Broadcast from root Size", r.c.Broadcast(x, r.size), ssl.ErrParam)
	want("Broadcast of a []int", r.c.Broadcast([]int{1}, 0), ssl.ErrParam)
	want("AllGather into a short dst", r.c.AllGather(make([]float64, r.size*2-1), []float64{1, 2}), ssl.ErrShape)
	want("AllGather into a dst of another type", r.c.AllGather(make([]float32, r.size), []float64{1}), ssl.ErrShape)
	want("AllGather of a string", r.c.AllGather(make([]float64, r.size), "x"), ssl.ErrParam)
	if x[0] != 1 {
		r.errorf("a rejected call wrote its buffer: %v", x)
	}
}

// mismatch checks that calls that differ across ranks fail on every rank,
// leave the buffers alone, and leave the communicator usable.
func (r *runner) mismatch() {
	if r.size < 2 {
		return
	}
	x := make([]float64, 2+r.rank%2) // ranks 0 and 1 differ
	for j := range x {
		x[j] = 42
	}
	err := r.c.AllReduce(x, dist.Sum)
	if !errors.Is(err, ssl.ErrShape) {
		r.errorf("AllReduce of lengths that differ across ranks: err = %v, want ErrShape", err)
	}
	for _, v := range x {
		if v != 42 {
			r.errorf("AllReduce of mismatched lengths wrote its buffer: %v", x)
			break
		}
	}
	op := dist.Sum
	if r.rank == 1 {
		op = dist.Max
	}
	if err := r.c.AllReduceFloat32([]float32{1}, op); !errors.Is(err, ssl.ErrParam) {
		r.errorf("AllReduce with ops that differ across ranks: err = %v, want ErrParam", err)
	}
	if err := r.c.Broadcast([]int64{1}, r.rank%2); !errors.Is(err, ssl.ErrParam) {
		r.errorf("Broadcast with roots that differ across ranks: err = %v, want ErrParam", err)
	}
	g := make([]float32, r.size*(1+r.rank%2))
	if err := r.c.AllGather(g, make([]float32, 1+r.rank%2)); !errors.Is(err, ssl.ErrShape) {
		r.errorf("AllGather of lengths that differ across ranks: err = %v, want ErrShape", err)
	}
	y := []float64{1}
	if r.ok("AllReduce after a mismatch", r.c.AllReduce(y, dist.Sum)) && y[0] != float64(r.size) {
		r.errorf("AllReduce after a mismatch = %v, want %d", y[0], r.size)
	}
}

// large reduces a buffer of a few megabytes.
func (r *runner) large() {
	const n = 1 << 20
	x := make([]float32, n)
	for j := range x {
		x[j] = float32(r.rank + j%5)
	}
	if !r.ok("AllReduceFloat32 of 1M", r.c.AllReduceFloat32(x, dist.Sum)) {
		return
	}
	s := r.size * (r.size - 1) / 2
	for j, v := range x {
		if v != float32(s+r.size*(j%5)) {
			r.errorf("AllReduceFloat32 of 1M [%d] = %v, want %d", j, v, s+r.size*(j%5))
			return
		}
	}
}
