package assign

import (
	"errors"
	"math"
	"sort"
	"strings"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// pclNaive transcribes PCL's run_kmeans density block in float64.
func pclNaive(dist []float64, labels []int, k int, temp float64) []float64 {
	members := make([][]float64, k)
	for i, l := range labels {
		members[l] = append(members[l], math.Sqrt(dist[i]))
	}
	density := make([]float64, k)
	for j, m := range members {
		if len(m) > 1 {
			var s float64
			for _, v := range m {
				s += v
			}
			density[j] = s / float64(len(m)) / math.Log(float64(len(m))+10)
		}
	}
	dmax := 0.0
	for _, v := range density {
		dmax = math.Max(dmax, v)
	}
	for j, m := range members {
		if len(m) <= 1 {
			density[j] = dmax
		}
	}
	s := append([]float64(nil), density...)
	sort.Float64s(s)
	pct := func(q float64) float64 {
		h := float64(k-1) * q / 100
		lo := int(math.Floor(h))
		hi := min(lo+1, k-1)
		return s[lo] + (h-float64(lo))*(s[hi]-s[lo])
	}
	p10, p90 := pct(10), pct(90)
	var mean float64
	for j := range density {
		density[j] = math.Min(math.Max(density[j], p10), p90)
		mean += density[j] / float64(k)
	}
	for j := range density {
		density[j] = temp * density[j] / mean
	}
	return density
}

func TestPCLConcentration(t *testing.T) {
	// KINDS.md pcl_density n6_k3_t02_hand.
	got, err := PCLConcentration(nil, []float32{1, 4, 9, 4, 16, 2.25}, []int{0, 0, 0, 1, 1, 2}, 3, 0.2)
	if err != nil {
		t.Fatal(err)
	}
	testutil.AllClose32(t, "hand", got, []float64{0.158286, 0.220857, 0.220857}, 1e-6, 1e-5)

	for _, tc := range []struct{ n, k int }{{3, 2}, {50, 7}, {64, 16}, {20, 30}} {
		rng := testutil.Rand(uint64(tc.n + tc.k))
		dist, labels := make([]float32, tc.n), make([]int, tc.n)
		for i := range dist {
			dist[i] = float32(rng.Float64() * 3)
			labels[i] = rng.IntN(tc.k)
		}
		labels[0], labels[1] = 0, 0 // at least one cluster of two
		dst := testutil.Data(testutil.NaNs(tc.k))
		if _, err := PCLConcentration(dst, dist, labels, tc.k, 0.5); err != nil {
			t.Fatalf("n%d k%d: %v", tc.n, tc.k, err)
		}
		testutil.AllClose32(t, "density", dst, pclNaive(testutil.F64s(dist), labels, tc.k, 0.5), 1e-7, 1e-5)
	}
}

func TestPCLConcentrationErrors(t *testing.T) {
	dst := testutil.Data(testutil.NaNs(2))
	d, l := []float32{1, 2, 3}, []int{0, 0, 1}
	for _, tc := range []struct {
		name     string
		dst      []float32
		dist     []float32
		labels   []int
		k        int
		temp     float64
		sentinel error
		sub      string
	}{
		{"k0", nil, d, l, 0, 0.2, ssl.ErrParam, "k=0"},
		{"temp", dst, d, l, 2, 0, ssl.ErrParam, "temperature=0"},
		{"len", dst, d, l[:2], 2, 0.2, ssl.ErrShape, "labels 2"},
		{"dstLen", dst[:1], d, l, 2, 0.2, ssl.ErrShape, "dst"},
		{"label", dst, d, []int{0, 0, 2}, 2, 0.2, ssl.ErrParam, "labels[2]=2"},
		{"negDist", dst, []float32{1, -1, 3}, l, 2, 0.2, ssl.ErrNotFinite, "dist[1]"},
		{"nanDist", dst, []float32{1, float32(math.NaN()), 3}, l, 2, 0.2, ssl.ErrNotFinite, "dist[1]"},
		{"noPair", dst, d[:2], []int{0, 1}, 2, 0.2, ssl.ErrParam, "no cluster"},
		{"allZero", dst, []float32{0, 0, 0}, l, 2, 0.2, ssl.ErrNotFinite, "0/0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PCLConcentration(tc.dst, tc.dist, tc.labels, tc.k, tc.temp)
			if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.sub) {
				t.Fatalf("err = %v, want %v naming %q", err, tc.sentinel, tc.sub)
			}
			for i, v := range dst {
				if !math.IsNaN(float64(v)) {
					t.Fatalf("dst[%d] written on error", i)
				}
			}
		})
	}
}
