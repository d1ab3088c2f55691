package losses

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"ssl"
	"ssl/dist"
	"ssl/internal/testutil"
)

// onRanks runs f on every rank of an in-process job of size ranks and
// returns their errors joined.
func onRanks(size int, f func(r int, c dist.Comm) error) error {
	cs := dist.Local(size)
	errs := make([]error, size)
	var wg sync.WaitGroup
	for r, c := range cs {
		wg.Go(func() { errs[r] = f(r, c) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// rowsOf returns rows [r·b, (r+1)·b) of the matrix x (b·size × d) as a
// b×d view.
func rowsOf(x []float32, r, b, d int) ssl.Tensor {
	return ssl.FromSlice(x[r*b*d:(r+1)*b*d], b, d)
}

// times returns x·s in float64.
func times(x []float32, s int) []float64 {
	v := testutil.F64s(x)
	for i := range v {
		v[i] *= float64(s)
	}
	return v
}

// TestInfoNCEGathered checks InfoNCE with targets gathered over 2 and 4
// ranks against one process on the concatenated batch: the same loss on
// every rank and each rank's rows of Size times the global gradients, also
// when only some ranks ask for the target gradient.
func TestInfoNCEGathered(t *testing.T) {
	const b, d, tau = 3, 5, 0.3
	for _, size := range []int{2, 4} {
		for _, someTargets := range []bool{false, true} {
			t.Run(fmt.Sprintf("%d/someTargets=%v", size, someTargets), func(t *testing.T) {
				rng := testutil.Rand(uint64(size))
				pred := testutil.RandN(rng, 1, size*b, d)
				target := testutil.RandN(rng, 1, size*b, d)
				dp, dt := ssl.New(size*b, d), ssl.New(size*b, d)
				want, err := InfoNCE(dp, dt, pred, target, tau, nil)
				if err != nil {
					t.Fatal(err)
				}
				losses := make([]float64, size)
				gp, gt := make([]float32, size*b*d), make([]float32, size*b*d)
				ws := make([]*Workspace, size)
				for r := range ws {
					ws[r] = NewWorkspace()
				}
				for range 2 { // the second pass reuses the workspaces
					err = onRanks(size, func(r int, c dist.Comm) error {
						var dtr ssl.Tensor
						if !someTargets || r%2 == 1 {
							dtr = rowsOf(gt, r, b, d)
						}
						var err error
						losses[r], err = InfoNCE(rowsOf(gp, r, b, d), dtr,
							rowsOf(testutil.Data(pred), r, b, d), rowsOf(testutil.Data(target), r, b, d), tau,
							&InfoNCEOptions{Comm: c, Workspace: ws[r]})
						return err
					})
					if err != nil {
						t.Fatal(err)
					}
				}
				for r, l := range losses {
					if !testutil.Close(l, want, 0, 1e-12) {
						t.Errorf("rank %d: loss %v, want %v", r, l, want)
					}
				}
				testutil.AllClose(t, "dpred", testutil.F64s(gp), times(testutil.Data(dp), size), 1e-7, 1e-5)
				wantT := times(testutil.Data(dt), size)
				for r := range size {
					lo, hi := r*b*d, (r+1)*b*d
					if someTargets && r%2 == 0 {
						for i, v := range gt[lo:hi] {
							if v != 0 {
								t.Fatalf("rank %d: dtarget[%d] = %v written without a destination", r, i, v)
							}
						}
						continue
					}
					testutil.AllClose(t, fmt.Sprintf("dtarget rank %d", r), testutil.F64s(gt[lo:hi]), wantT[lo:hi], 1e-7, 1e-5)
				}
			})
		}
	}
}

// TestProtoNCEGathered checks ProtoNCE with labels gathered over 2 and 4
// ranks against one process on the concatenated batch.
func TestProtoNCEGathered(t *testing.T) {
	const b, d, n, r, tau = 3, 6, 7, 4, 0.2
	for _, size := range []int{2, 4} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			q, k, queue, cls, _ := protonceSetup(uint64(40+size), size*b, d, n, r, []int{9, 14}, 0.3)
			dq := ssl.New(size*b, d)
			want, err := ProtoNCE(dq, q, k, queue, cls, tau, nil)
			if err != nil {
				t.Fatal(err)
			}
			wantTerms := append([]float64(nil), want.PerClustering...)
			got := make([]ProtoNCEResult, size)
			g := make([]float32, size*b*d)
			err = onRanks(size, func(rank int, c dist.Comm) error {
				own := make([]ProtoNCEClustering, len(cls))
				for i, cl := range cls {
					cl.Labels = cl.Labels[rank*b : (rank+1)*b]
					own[i] = cl
				}
				var err error
				got[rank], err = ProtoNCE(rowsOf(g, rank, b, d), rowsOf(testutil.Data(q), rank, b, d),
					rowsOf(testutil.Data(k), rank, b, d), queue, own, tau, &ProtoNCEOptions{Comm: c})
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			for rank, res := range got {
				if !testutil.Close(res.Loss, want.Loss, 0, 1e-12) || !testutil.Close(res.Instance, want.Instance, 0, 1e-12) ||
					!testutil.Close(res.Prototype, want.Prototype, 0, 1e-12) {
					t.Errorf("rank %d: %+v, want %+v", rank, res, want)
				}
				testutil.AllClose(t, fmt.Sprintf("rank %d terms", rank), res.PerClustering, wantTerms, 0, 1e-12)
			}
			testutil.AllClose(t, "dq", testutil.F64s(g), times(testutil.Data(dq), size), 1e-7, 1e-5)
		})
	}
}

// TestGatheredErrors checks that a bad argument on one rank, or
// negatives that differ from rank 0's, is an error on every rank and
// writes nothing.
func TestGatheredErrors(t *testing.T) {
	const b, d = 2, 3
	t.Run("InfoNCE", func(t *testing.T) {
		dps := [][]float32{make([]float32, b*d), make([]float32, b*d)}
		err := onRanks(2, func(r int, c dist.Comm) error {
			tau := 0.5
			if r == 1 {
				tau = 0
			}
			z := testutil.RandN(testutil.Rand(1), 1, b, d)
			_, err := InfoNCE(ssl.FromSlice(dps[r], b, d), nil, z, testutil.Clone(z), tau, &InfoNCEOptions{Comm: c})
			if !errors.Is(err, ssl.ErrParam) {
				return fmt.Errorf("rank %d: err = %v, want ErrParam", r, err)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		for r, g := range dps {
			for _, v := range g {
				if v != 0 {
					t.Fatalf("rank %d: dpred written on error", r)
				}
			}
		}
	})
	for _, tc := range []struct {
		name string
		mod  func(r int, cl *ProtoNCEClustering)
		want error
		at   int    // the rank whose error must name
		msg  string // this
	}{
		{"label", func(r int, cl *ProtoNCEClustering) {
			if r == 1 {
				cl.Labels = []int{0, 99}
			}
		}, ssl.ErrParam, 0, "rank 1"},
		{"negatives", func(r int, cl *ProtoNCEClustering) {
			if r == 1 {
				cl.Negatives = []int{cl.Negatives[1], cl.Negatives[0]}
			}
		}, ssl.ErrParam, 1, "than on rank 0"},
	} {
		t.Run("ProtoNCE/"+tc.name, func(t *testing.T) {
			err := onRanks(2, func(r int, c dist.Comm) error {
				q, k, queue, cls, _ := protonceSetup(7, b, d, 4, 2, []int{6}, 0.3)
				tc.mod(r, &cls[0])
				dq := ssl.New(b, d)
				_, err := ProtoNCE(dq, q, k, queue, cls, 0.2, &ProtoNCEOptions{Comm: c})
				if !errors.Is(err, tc.want) {
					return fmt.Errorf("rank %d: err = %v, want %v", r, err, tc.want)
				}
				if r == tc.at && !strings.Contains(err.Error(), tc.msg) {
					return fmt.Errorf("rank %d: err = %v, want it to name %q", r, err, tc.msg)
				}
				for _, v := range testutil.Data(dq) {
					if v != 0 {
						return fmt.Errorf("rank %d: dq written on error", r)
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		})
	}
}
