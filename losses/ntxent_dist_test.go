package losses

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"ssl"
	"ssl/dist"
	"ssl/internal/testutil"
)

// TestNTXentGathered checks NT-Xent with negatives gathered over 2 and 4
// ranks against one process on the concatenated batch: the same loss on
// every rank, and each rank's rows of Size times the global gradients.
func TestNTXentGathered(t *testing.T) {
	const b, d, tau = 3, 5, 0.5
	for _, size := range []int{2, 4} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			rng := testutil.Rand(uint64(size))
			z1 := testutil.RandN(rng, 1, size*b, d)
			z2 := testutil.RandN(rng, 1, size*b, d)
			dz1, dz2 := ssl.New(size*b, d), ssl.New(size*b, d)
			want, err := NTXent(dz1, dz2, z1, z2, tau, nil)
			if err != nil {
				t.Fatal(err)
			}
			cs := dist.Local(size)
			losses := make([]float64, size)
			g1, g2 := make([]float32, size*b*d), make([]float32, size*b*d)
			errs := make([]error, size)
			var wg sync.WaitGroup
			for r, c := range cs {
				wg.Go(func() {
					lo, hi := r*b*d, (r+1)*b*d
					losses[r], errs[r] = NTXent(ssl.FromSlice(g1[lo:hi], b, d), ssl.FromSlice(g2[lo:hi], b, d),
						ssl.FromSlice(testutil.Data(z1)[lo:hi], b, d), ssl.FromSlice(testutil.Data(z2)[lo:hi], b, d), tau,
						&NTXentOptions{Comm: c})
				})
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
			for r, l := range losses {
				if l != want {
					t.Errorf("rank %d: loss %v, want %v", r, l, want)
				}
			}
			scaled := func(x ssl.Tensor) []float64 {
				v := testutil.F64(x)
				for i := range v {
					v[i] *= float64(size)
				}
				return v
			}
			testutil.AllClose(t, "dz1", testutil.F64s(g1), scaled(dz1), 1e-7, 1e-6)
			testutil.AllClose(t, "dz2", testutil.F64s(g2), scaled(dz2), 1e-7, 1e-6)
		})
	}
}

// TestNTXentGatheredBadArgument checks that one rank's bad argument is an
// error on every rank.
func TestNTXentGatheredBadArgument(t *testing.T) {
	cs := dist.Local(2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for r, c := range cs {
		wg.Go(func() {
			tau := 0.5
			if r == 1 {
				tau = -1
			}
			z := testutil.RandN(testutil.Rand(1), 1, 2, 3)
			_, errs[r] = NTXent(nil, nil, z, testutil.Clone(z), tau, &NTXentOptions{Comm: c})
		})
	}
	wg.Wait()
	for r, err := range errs {
		if !errors.Is(err, ssl.ErrParam) {
			t.Errorf("rank %d: err = %v, want ErrParam", r, err)
		}
	}
}
