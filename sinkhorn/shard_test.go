package sinkhorn

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"testing"

	"ssl"
	"ssl/dist"
	"ssl/internal/testutil"
)

// split returns the row ranges of s shards of n rows (sizes differ by ≤ 1).
func split(n, s int) [][2]int {
	out := make([][2]int, s)
	for i := range s {
		out[i] = [2]int{i * n / s, (i + 1) * n / s}
	}
	return out
}

func rows(t ssl.Tensor, lo, hi int) ssl.Tensor {
	shape, d, _ := ssl.View(t)
	k := shape[1]
	return ssl.FromSlice(d[lo*k:hi*k], hi-lo, k)
}

// runShards runs fn(shard, reducer) on s goroutines and returns the first
// error.
func runShards(s int, fn func(i int, r Reducer) error) error {
	cs := dist.Local(s)
	errs := make([]error, s)
	var wg sync.WaitGroup
	for i := range s {
		wg.Go(func() { errs[i] = fn(i, cs[i]) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func TestSharded(t *testing.T) {
	const n, k = 61, 9
	scores := testutil.RandU(testutil.Rand(7), -1, 1, n, k)
	wide := testutil.RandU(testutil.Rand(8), -6, 6, n, k) // scores/ε up to 120: log domain
	probs := softmaxProbs(9, 2, n, k)
	a, b := *marginals(10, n), *marginals(11, k)
	cost := testutil.RandU(testutil.Rand(12), 0, 1, n, k)
	for _, shards := range []int{1, 2, 3, 4, 7} {
		t.Run(fmt.Sprintf("shards%d", shards), func(t *testing.T) {
			for _, in := range []struct {
				name string
				s    ssl.Tensor
				opts BalanceOptions
			}{{"balance", scores, BalanceOptions{}}, {"balance_log", wide, BalanceOptions{}}, {"balance_tol", scores, BalanceOptions{Tol: 1e-6}}} {
				want := ssl.New(n, k)
				wres, err := Balance(want, in.s, 0.05, &in.opts)
				if err != nil {
					t.Fatal(err)
				}
				got := testutil.NaNs(n, k)
				ranges := split(n, shards)
				err = runShards(shards, func(i int, r Reducer) error {
					o := in.opts
					lo, hi := ranges[i][0], ranges[i][1]
					o.Reducer, o.Workspace = r, NewWorkspace(hi-lo, k)
					res, err := Balance(rows(got, lo, hi), rows(in.s, lo, hi), 0.05, &o)
					if err == nil && (res.Iterations != wres.Iterations || res.LogDomain != wres.LogDomain) {
						err = fmt.Errorf("shard %d: %d iterations (log %v), want %d (log %v)", i, res.Iterations, res.LogDomain, wres.Iterations, wres.LogDomain)
					}
					return err
				})
				if err != nil {
					t.Fatalf("%s: %v", in.name, err)
				}
				testutil.AllClose(t, in.name, testutil.F64(got), testutil.F64(want), 0, 1e-6)
			}

			// SeLa.
			wantQ := ssl.New(n, k)
			wres, err := SeLa(nil, wantQ, probs, 25, nil)
			if err != nil {
				t.Fatal(err)
			}
			gotQ := testutil.NaNs(n, k)
			labels := make([]int, n)
			ranges := split(n, shards)
			err = runShards(shards, func(i int, r Reducer) error {
				lo, hi := ranges[i][0], ranges[i][1]
				res, err := SeLa(labels[lo:hi], rows(gotQ, lo, hi), rows(probs, lo, hi), 25, &SeLaOptions{Reducer: r, Tol: 0.1})
				if err == nil && res.Iterations != wres.Iterations {
					err = fmt.Errorf("SeLa shard %d: %d updates, want %d", i, res.Iterations, wres.Iterations)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			testutil.AllClose(t, "SeLa", testutil.F64(gotQ), testutil.F64(wantQ), 0, 1e-6)
			for j := range labels {
				if labels[j] != wres.Labels[j] {
					t.Fatalf("SeLa shards: labels[%d] = %d, want %d", j, labels[j], wres.Labels[j])
				}
			}

			// Transport.
			wantP := ssl.New(n, k)
			if _, err := Transport(wantP, a, b, cost, 0.05, nil); err != nil {
				t.Fatal(err)
			}
			gotP := testutil.NaNs(n, k)
			av := testutil.Data(a)
			err = runShards(shards, func(i int, r Reducer) error {
				lo, hi := ranges[i][0], ranges[i][1]
				_, err := Transport(rows(gotP, lo, hi), ssl.FromSlice(av[lo:hi], hi-lo), b, rows(cost, lo, hi), 0.05, &TransportOptions{Reducer: r, Tol: 1e-9})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			testutil.AllClose(t, "Transport", testutil.F64(gotP), testutil.F64(wantP), 0, 1e-6)
		})
	}
}

// failing is a Reducer that fails on its n-th call.
type failing struct{ n, calls int }

var errLink = errors.New("link down")

func (f *failing) AllReduce(x []float64, op ReduceOp) error {
	f.calls++
	if f.calls >= f.n {
		return errLink
	}
	return nil
}

func TestReducerError(t *testing.T) {
	const n, k = 12, 5
	scores := testutil.RandU(testutil.Rand(1), -1, 1, n, k)
	probs := softmaxProbs(2, 1, n, k)
	for call := 1; call <= 6; call++ {
		dst := testutil.NaNs(n, k)
		_, err := Balance(dst, scores, 0.05, &BalanceOptions{Reducer: &failing{n: call}})
		if !errors.Is(err, errLink) || !contains(err.Error(), "Reducer") {
			t.Errorf("Balance with a Reducer failing at call %d: err = %v", call, err)
		}
		testutil.Unchanged(t, "dst", dst, testutil.NaNs(n, k))
		plan := testutil.NaNs(n, k)
		labels := []int{-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1}
		_, err = SeLa(labels, plan, probs, 25, &SeLaOptions{Reducer: &failing{n: call}, Tol: 0.1})
		if !errors.Is(err, errLink) {
			t.Errorf("SeLa with a Reducer failing at call %d: err = %v", call, err)
		}
		testutil.Unchanged(t, "plan", plan, testutil.NaNs(n, k))
		for _, l := range labels {
			if l != -1 {
				t.Fatalf("SeLa wrote labels before failing at call %d", call)
			}
		}
	}
}

func TestLocalReducersMismatch(t *testing.T) {
	rs := LocalReducers(2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() { errs[i] = rs[i].AllReduce(make([]float64, 2+i), Sum) })
	}
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, ssl.ErrShape) {
			t.Errorf("worker %d: err = %v, want ErrShape", i, err)
		}
	}
}

// TestGOMAXPROCS checks that results are the same bits for 1, 2 and 5
// threads.
func TestGOMAXPROCS(t *testing.T) {
	const n, k = 700, 40 // several row blocks
	scores := testutil.RandU(testutil.Rand(3), -1, 1, n, k)
	wide := testutil.RandU(testutil.Rand(4), -8, 8, n, k)
	probs := softmaxProbs(5, 2, n, k)
	a, b := *marginals(6, n), *marginals(7, k)
	run := func() [][]float32 {
		var out [][]float32
		for _, s := range []ssl.Tensor{scores, wide} {
			q := ssl.New(n, k)
			if _, err := Balance(q, s, 0.05, &BalanceOptions{Workspace: NewWorkspace(n, k)}); err != nil {
				t.Fatal(err)
			}
			out = append(out, testutil.Data(q))
		}
		q := ssl.New(n, k)
		if _, err := SeLa(nil, q, probs, 25, nil); err != nil {
			t.Fatal(err)
		}
		p := ssl.New(n, k)
		if _, err := Transport(p, a, b, scores, 0.1, &TransportOptions{Tol: 1e-7}); err != nil {
			t.Fatal(err)
		}
		return append(out, testutil.Data(q), testutil.Data(p))
	}
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	one := run()
	for _, procs := range []int{2, 5} {
		runtime.GOMAXPROCS(procs)
		more := run()
		for c := range one {
			for i := range one[c] {
				if math.Float32bits(one[c][i]) != math.Float32bits(more[c][i]) {
					t.Fatalf("result %d differs at %d: %v (1 thread) vs %v (%d threads)", c, i, one[c][i], more[c][i], procs)
				}
			}
		}
	}
}
