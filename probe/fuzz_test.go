package probe

import (
	"math"
	"testing"

	"ssl/internal/testutil"
)

// FuzzClusterMetrics compares NMI and ARI with their naive oracles and
// ClusterACC's matching with brute force, on label vectors decoded from
// the fuzzer's bytes (two bytes per sample: the class and the cluster).
func FuzzClusterMetrics(f *testing.F) {
	f.Add([]byte{0, 0, 1, 1, 2, 2}, uint8(3), uint8(3))
	f.Add([]byte{0, 1, 0, 1, 0, 0, 1, 1}, uint8(2), uint8(2))
	f.Add([]byte{5, 1, 4, 1, 3, 2, 2, 0, 1, 0}, uint8(6), uint8(3))
	f.Add([]byte{0, 0}, uint8(1), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, nc, nk uint8) {
		c, k := 1+int(nc%6), 1+int(nk%6)
		n := min(len(data)/2, 40)
		if n == 0 {
			return
		}
		target, pred := make([]int, n), make([]int, n)
		for i := range n {
			target[i], pred[i] = int(data[2*i])%c, int(data[2*i+1])%k
		}
		s, err := EvaluateClusters(pred, target, k, c, nil)
		if err != nil {
			t.Fatal(err)
		}
		if want := nmiNaive(target, pred); !testutil.Close(s.NMI, want, 1e-12, 1e-9) {
			t.Errorf("NMI(%v, %v) = %v, want %v", target, pred, s.NMI, want)
		}
		if want := ariNaive(target, pred); !testutil.Close(s.ARI, want, 1e-12, 1e-9) {
			t.Errorf("ARI(%v, %v) = %v, want %v", target, pred, s.ARI, want)
		}
		// ACC is the best one-to-one matching of the k×c table.
		w, _ := Confusion(nil, pred, target, k, c)
		cost := make([]float64, len(w))
		for i, v := range w {
			cost[i] = -float64(v)
		}
		if want := -hungarianBrute(cost, k, c) / float64(n); math.Abs(s.ACC-want) > 1e-12 {
			t.Errorf("ACC(%v, %v) = %v, want %v", pred, target, s.ACC, want)
		}
		if s.NMI < 0 || s.NMI > 1+1e-12 || s.ARI > 1+1e-12 || s.ACC < 0 || s.ACC > 1 {
			t.Errorf("metrics out of range: %+v", s)
		}
	})
}
