package losses

import (
	"errors"
	"math"
	"strings"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// TestWorkspaceShared runs contrastive and clustering objectives in turn on
// one zero-value Workspace: each gives the bits it gives with a fresh one.
func TestWorkspaceShared(t *testing.T) {
	var ws Workspace
	rnd := testutil.Rand(3)
	z1, z2 := testutil.RandN(rnd, 1, 8, 5), testutil.RandN(rnd, 1, 8, 5)
	scores := testutil.RandU(rnd, -1, 1, 3*8, 6)
	logits := testutil.RandN(rnd, 2, 8, 6)
	for round := range 2 {
		a, err := NTXent(nil, nil, z1, z2, 0.2, &NTXentOptions{Workspace: &ws})
		if err != nil {
			t.Fatal(err)
		}
		b, err := SwAV(nil, nil, scores, 3, []int{0, 1}, 0.1, &SwAVOptions{Workspace: &ws})
		if err != nil {
			t.Fatal(err)
		}
		c, err := SCAN(nil, nil, logits, z1Logits(logits), 2, &SCANOptions{Workspace: &ws})
		if err != nil {
			t.Fatal(err)
		}
		a0, _ := NTXent(nil, nil, z1, z2, 0.2, nil)
		b0, _ := SwAV(nil, nil, scores, 3, []int{0, 1}, 0.1, nil)
		c0, _ := SCAN(nil, nil, logits, z1Logits(logits), 2, nil)
		if a != a0 || b != b0 || c != c0 {
			t.Errorf("round %d: shared workspace %v %v %+v, fresh %v %v %+v", round, a, b, c, a0, b0, c0)
		}
	}
	if NewWorkspace() == nil {
		t.Fatal("NewWorkspace returned nil")
	}
}

// z1Logits returns the rows of x in reverse order, a neighbor for each row.
func z1Logits(x ssl.Tensor) ssl.Tensor {
	sh := x.Shape()
	d := testutil.Data(x)
	out := make([]float32, len(d))
	for r := range sh[0] {
		copy(out[r*sh[1]:(r+1)*sh[1]], d[(sh[0]-1-r)*sh[1]:(sh[0]-r)*sh[1]])
	}
	return ssl.FromSlice(out, sh[0], sh[1])
}

// TestFloat32Range checks that a float64 hyperparameter that a kernel
// needs in float32 is rejected when it does not survive the conversion.
func TestFloat32Range(t *testing.T) {
	rnd := testutil.Rand(4)
	z1, z2 := testutil.RandN(rnd, 1, 4, 3), testutil.RandN(rnd, 1, 4, 3)
	for _, tau := range []float64{1e-50, 1e39, math.MaxFloat64} {
		_, err := NTXent(nil, nil, z1, z2, tau, nil)
		if !errors.Is(err, ssl.ErrParam) || !strings.Contains(err.Error(), "losses: NTXent: tau is outside the float32 range") {
			t.Errorf("NTXent(tau=%v): %v, want an ErrParam naming the float32 range", tau, err)
		}
	}
	if _, err := NTXent(nil, nil, z1, z2, 1e-30, nil); err != nil {
		t.Errorf("NTXent(tau=1e-30), representable in float32: %v", err)
	}
}
