package probe

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// rlpNaive transcribes the scores from the formulas with softmax
// probabilities (no max shift) and map-based counts.
func rlpNaive(y []int, k int, cpt, w, b []float64, n, c int) (pred []int, h, ce, acc float64) {
	cnt := map[int]float64{}
	for i := range n {
		z := make([]float64, k)
		best := 0
		for kk := range k {
			z[kk] = b[kk]
			for j := range c {
				z[kk] += w[kk*c+j] * cpt[i*c+j]
			}
			if z[kk] > z[best] {
				best = kk
			}
		}
		s := 0.0
		for _, v := range z {
			s += math.Exp(v)
		}
		ce -= math.Log(math.Exp(z[y[i]]) / s)
		pred = append(pred, best)
		if best == y[i] {
			acc++
		}
		cnt[y[i]]++
	}
	for _, v := range cnt {
		h -= v / float64(n) * math.Log(v/float64(n))
	}
	return pred, h, ce / float64(n), acc / float64(n)
}

// conceptData draws binary concepts and cluster ids that mostly follow
// them: y = (index of the first set concept among the first k) or a random
// cluster with probability noise.
func conceptData(seed uint64, n, k, c int, noise float64) ([]int, []float32) {
	r := testutil.Rand(seed)
	cpt := make([]float32, n*c)
	y := make([]int, n)
	for i := range n {
		for j := range c {
			if r.Float64() < 0.3 {
				cpt[i*c+j] = 1
			}
		}
		y[i] = k - 1
		for j := range min(k, c) {
			if cpt[i*c+j] == 1 {
				y[i] = j
				break
			}
		}
		if r.Float64() < noise {
			y[i] = r.IntN(k)
		}
	}
	return y, cpt
}

func TestRLP(t *testing.T) {
	n, k, c := 300, 5, 8
	y, cpt := conceptData(4, n, k, c, 0.2)
	r := testutil.Rand(5)
	weight, bias := testutil.RandN(r, 1, k, c), testutil.RandN(r, 1, k)
	concepts := ssl.FromSlice(cpt, n, c)
	w0, c0 := testutil.Clone(weight), testutil.Clone(concepts)
	s, err := RLP(concepts, y, weight, bias, k)
	if err != nil {
		t.Fatal(err)
	}
	testutil.Unchanged(t, "weight", weight, w0)
	testutil.Unchanged(t, "concepts", concepts, c0)
	pred, h, ce, acc := rlpNaive(y, k, testutil.F64s(cpt), testutil.F64(weight), testutil.F64(bias), n, c)
	for i := range pred {
		if s.Predicted[i] != pred[i] {
			t.Fatalf("Predicted[%d] = %d, want %d", i, s.Predicted[i], pred[i])
		}
	}
	nmi, _ := NMI(y, pred)
	for _, v := range []struct {
		name      string
		got, want float64
	}{{"H", s.EntropyClusters, h}, {"CE", s.CrossEntropy, ce}, {"MI", s.MILowerBound, h - ce}, {"acc", s.Accuracy, acc}, {"NMI", s.NMI, nmi}} {
		if !testutil.Close(v.got, v.want, 1e-12, 1e-10) {
			t.Errorf("RLP %s = %v, want %v", v.name, v.got, v.want)
		}
	}
}

// TestReverseProbe fits the reverse probe: the concepts determine 80% of
// the clusters, so the probe is far better than chance and its MI bound is
// positive and below H(y).
func TestReverseProbe(t *testing.T) {
	n, k, c := 800, 5, 8
	y, cpt := conceptData(6, n, k, c, 0.2)
	s, err := ReverseProbe(ssl.FromSlice(cpt, n, c), y, k, &LinearProbeOptions{L2: 1e-3})
	if err != nil {
		t.Fatal(err)
	}
	p := s.Probe
	if !p.Converged || p.Iterations < 1 {
		t.Errorf("ReverseProbe's fit: %d iterations, residual %g, converged %v", p.Iterations, p.Residual, p.Converged)
	}
	if p.Mean[0] != 0 || p.Scale[0] != 1 {
		t.Errorf("ReverseProbe standardized the concepts: mean %v scale %v", p.Mean, p.Scale)
	}
	if s.Accuracy < 0.7 || s.MILowerBound <= 0 || s.MILowerBound >= s.EntropyClusters || s.NMI < 0.4 {
		t.Errorf("ReverseProbe scores %+v", s)
	}
	// The scores are those of RLP with the fitted probe (float32 weights).
	w32, b32 := ssl.FromSlice(testutil.F32s(p.W), k, c), ssl.FromSlice(testutil.F32s(p.B), k)
	s2, err := RLP(ssl.FromSlice(cpt, n, c), y, w32, b32, k)
	if err != nil {
		t.Fatal(err)
	}
	if !testutil.Close(s2.CrossEntropy, s.CrossEntropy, 1e-6, 1e-5) || s2.NMI != s.NMI || !slices.Equal(s2.Predicted, s.Predicted) {
		t.Errorf("RLP with the fitted probe %+v, ReverseProbe %+v", s2, s)
	}
}

func TestRLPErrors(t *testing.T) {
	concepts := ssl.FromSlice([]float32{1, 0, 0, 1, 1, 1}, 3, 2)
	w, b := ssl.New(2, 2), ssl.New(2)
	bad := ssl.FromSlice([]float32{0, float32(math.Inf(1)), 0, 0}, 2, 2)
	for _, tc := range []struct {
		name        string
		ids         []int
		k           int
		concepts, w ssl.Tensor
		b           ssl.Tensor
		want        error
		msg         string
	}{
		{"ids_len", []int{0, 1}, 2, concepts, w, b, ssl.ErrShape, "len(clusterIDs) is 2, want 3"},
		{"ids_range", []int{0, 1, 2}, 2, concepts, w, b, ssl.ErrParam, "clusterIDs[2]=2"},
		{"k", []int{0, 0, 0}, 0, concepts, w, b, ssl.ErrParam, "numClusters=0"},
		{"weight_shape", []int{0, 1, 1}, 2, concepts, ssl.New(2, 3), b, ssl.ErrShape, "weight"},
		{"bias_shape", []int{0, 1, 1}, 2, concepts, w, ssl.New(3), ssl.ErrShape, "bias"},
		{"weight_inf", []int{0, 1, 1}, 2, concepts, bad, b, ssl.ErrNotFinite, "weight[0,1]"},
		{"empty", nil, 2, ssl.New(0, 2), w, b, ssl.ErrShape, "concepts is empty"},
	} {
		_, err := RLP(tc.concepts, tc.ids, tc.w, tc.b, tc.k)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "probe: RLP: ") {
			t.Errorf("RLP(%s) error = %v, want %v naming %q", tc.name, err, tc.want, tc.msg)
		}
	}
	if _, err := ReverseProbe(concepts, []int{0, 3, 1}, 2, nil); !errors.Is(err, ssl.ErrParam) || !strings.HasPrefix(err.Error(), "probe: ReverseProbe: ") {
		t.Errorf("ReverseProbe(id out of range) error = %v", err)
	}
	if _, err := ReverseProbe(concepts, []int{0, 1, 1}, 2, &LinearProbeOptions{Tol: -1}); !errors.Is(err, ssl.ErrParam) || !strings.Contains(err.Error(), "Tol=-1") {
		t.Errorf("ReverseProbe(Tol -1) error = %v", err)
	}
	// A fit that misses its Tol: the complete result and ErrNotConverged.
	r, err := ReverseProbe(concepts, []int{0, 1, 1}, 2, &LinearProbeOptions{Iterations: 1, Tol: 1e-12})
	if !errors.Is(err, ErrNotConverged) || !errors.Is(err, ssl.ErrNotConverged) || errors.Is(err, ssl.ErrParam) || r.Probe == nil || r.Probe.Converged || len(r.Predicted) != 3 {
		t.Errorf("ReverseProbe(Iterations 1, Tol 1e-12) = %+v, %v; want the result with ErrNotConverged", r, err)
	}
}
