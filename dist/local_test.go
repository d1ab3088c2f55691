package dist_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"ssl"
	"ssl/dist"
	"ssl/dist/commtest"
)

// ranks runs fn on every communicator of cs, each on its goroutine.
func ranks(cs []dist.Comm, fn func(c dist.Comm)) {
	var wg sync.WaitGroup
	for _, c := range cs {
		wg.Go(func() { fn(c) })
	}
	wg.Wait()
}

func TestLocal(t *testing.T) {
	for _, n := range []int{1, 2, 3, 4} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			cs := dist.Local(n)
			ranks(cs, func(c dist.Comm) {
				commtest.Run(t, c)
				if err := c.Close(); err != nil {
					t.Error(err)
				}
			})
		})
	}
	if dist.Local(0) != nil {
		t.Error("Local(0) != nil")
	}
}

func TestLocalAbort(t *testing.T) {
	var buf bytes.Buffer
	defer dist.SetStderr(&buf)()
	cs := dist.Local(3)
	errs := make([]error, 3)
	ranks(cs, func(c dist.Comm) {
		if c.Rank() == 1 {
			c.Abort(errors.New("out of data"))
			return
		}
		errs[c.Rank()] = c.Barrier() // must not hang
	})
	for _, r := range []int{0, 2} {
		if !errors.Is(errs[r], dist.ErrComm) || !strings.Contains(errs[r].Error(), "rank 1 of 3 aborted: out of data") {
			t.Errorf("rank %d: err = %v, want rank 1's abort", r, errs[r])
		}
	}
	if got := buf.String(); got != "dist: rank 1 of 3: out of data\n" {
		t.Errorf("Abort wrote %q", got)
	}
	if err := cs[0].AllReduce([]float64{1}, dist.Sum); !errors.Is(err, dist.ErrComm) {
		t.Errorf("a call after an abort: err = %v", err)
	}
}

func TestLocalClose(t *testing.T) {
	cs := dist.Local(2)
	var err0 error
	ranks(cs, func(c dist.Comm) {
		if c.Rank() == 1 {
			c.Close()
			return
		}
		err0 = c.AllReduce([]float64{1}, dist.Sum)
	})
	if !errors.Is(err0, dist.ErrComm) || !strings.Contains(err0.Error(), "rank 1 of 2 has closed") {
		t.Errorf("AllReduce with a closed rank: err = %v", err0)
	}
	if err := cs[1].Close(); !errors.Is(err, dist.ErrComm) {
		t.Errorf("second Close: err = %v", err)
	}
}

// TestLocalOrder checks that sums are taken in rank order: the same bits
// as a loop over the ranks.
func TestLocalOrder(t *testing.T) {
	vals := []float64{1e16, 1, -1e16, 1}
	cs := dist.Local(len(vals))
	got := make([]float64, len(vals))
	ranks(cs, func(c dist.Comm) {
		x := []float64{vals[c.Rank()]}
		if err := c.AllReduce(x, dist.Sum); err != nil {
			t.Error(err)
		}
		got[c.Rank()] = x[0]
	})
	want := ((vals[0] + vals[1]) + vals[2]) + vals[3]
	for r, v := range got {
		if v != want {
			t.Errorf("rank %d: sum = %v, want %v (rank order)", r, v, want)
		}
	}
	_ = ssl.ErrShape
}

func TestAgree(t *testing.T) {
	cs := dist.Local(4)
	errs := make([]error, 4)
	ranks(cs, func(c dist.Comm) {
		var err error
		switch c.Rank() {
		case 1:
			err = fmt.Errorf("bad k: %w", ssl.ErrParam)
		case 3:
			err = fmt.Errorf("bad x: %w", ssl.ErrShape)
		}
		errs[c.Rank()] = dist.Agree(c, err)
	})
	for r, want := range []string{"rank 1 of 4 rejected", "bad k", "rank 1 of 4 rejected", "bad x"} {
		if errs[r] == nil || !strings.Contains(errs[r].Error(), want) {
			t.Errorf("rank %d: Agree = %v, want %q", r, errs[r], want)
		}
	}
	if !errors.Is(errs[0], ssl.ErrParam) || !errors.Is(errs[2], ssl.ErrParam) {
		t.Errorf("Agree does not carry rank 1's sentinel: %v", errs[0])
	}
	ranks(cs, func(c dist.Comm) {
		if err := dist.Agree(c, nil); err != nil {
			t.Errorf("rank %d: Agree with no error = %v", c.Rank(), err)
		}
	})
}
