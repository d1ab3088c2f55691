package assign

import (
	"errors"
	"math"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// fuzzMatrix builds a rows×cols matrix from the fuzzer's bytes: each byte
// is a small value, with 255 a NaN and 254 an infinity, so bad inputs are
// reached as well as ties and zero rows.
func fuzzMatrix(data []byte, rows, cols int) ssl.Tensor {
	v := make([]float32, rows*cols)
	for i := range v {
		if len(data) == 0 {
			break
		}
		b := data[i%len(data)]
		switch b {
		case 255:
			v[i] = float32(math.NaN())
		case 254:
			v[i] = float32(math.Inf(1))
		default:
			v[i] = float32(int(b)-128) / 16
		}
	}
	return ssl.FromSlice(v, rows, cols)
}

// wrapsSentinel fails t unless err wraps one of the library's sentinels.
func wrapsSentinel(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ssl.ErrShape) && !errors.Is(err, ssl.ErrParam) && !errors.Is(err, ssl.ErrNotFinite) && !errors.Is(err, ErrNotConverged) {
		t.Fatalf("error %v wraps no sentinel", err)
	}
}

func FuzzKMeans(f *testing.F) {
	f.Add([]byte{1, 2, 3, 200, 7, 9}, uint8(6), uint8(2), uint8(2), uint8(3), uint8(0))
	f.Add([]byte{128, 128, 128}, uint8(4), uint8(3), uint8(3), uint8(1), uint8(1))
	f.Add([]byte{255, 1}, uint8(3), uint8(1), uint8(1), uint8(2), uint8(2))
	f.Fuzz(func(t *testing.T, data []byte, n, d, k, iters, mode uint8) {
		rows, cols := int(n%40), int(d%6)
		x := fuzzMatrix(data, rows, cols)
		opts := &KMeansOptions{Iterations: int(iters%5) - 1, Restarts: int(mode % 3), Spherical: mode&4 != 0}
		if mode&8 != 0 && int(k) <= rows {
			opts.Init = fuzzMatrix(data[min(len(data), 1):], int(k), cols)
			opts.Restarts = 0
		}
		res, err := KMeans(nil, nil, x, int(k%12)-1, testutil.Rand(uint64(mode)), opts)
		if err != nil {
			wrapsSentinel(t, err)
			return
		}
		for i, l := range res.Labels {
			if l < 0 || l >= int(k%12)-1 || !(res.Dist[i] >= 0) {
				t.Fatalf("point %d: label %d dist %v", i, l, res.Dist[i])
			}
		}
		if !finite(res.Inertia) {
			t.Fatalf("inertia %v", res.Inertia)
		}
	})
}

func FuzzMineNeighbors(f *testing.F) {
	f.Add([]byte{1, 2, 3, 200, 7, 9}, uint8(6), uint8(2), uint8(2), false)
	f.Add([]byte{128, 128}, uint8(5), uint8(3), uint8(4), true)
	f.Fuzz(func(t *testing.T, data []byte, n, d, k uint8, flags bool) {
		rows, cols := int(n%30), int(d%5)
		x := fuzzMatrix(data, rows, cols)
		idx, sims, err := MineNeighbors(nil, nil, x, int(k%8)-1, &MineNeighborsOptions{ExcludeSelf: flags, AllowZero: k&16 != 0})
		if err != nil {
			wrapsSentinel(t, err)
			return
		}
		for p, i := range idx {
			if i < 0 || i >= rows || math.IsNaN(float64(sims[p])) {
				t.Fatalf("entry %d: index %d sim %v", p, i, sims[p])
			}
		}
	})
}

func FuzzMIRA(f *testing.F) {
	f.Add([]byte{1, 2, 3, 200, 7, 9}, uint8(3), uint8(4), uint8(20), uint8(75), uint8(3))
	f.Add([]byte{0, 253}, uint8(1), uint8(5), uint8(1), uint8(99), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, b, k, tau, beta, iters uint8) {
		logits := fuzzMatrix(data, int(b%9), int(k%9))
		res, err := MIRA(nil, logits, float64(tau)/100, float64(beta)/100, &MIRAOptions{Iterations: int(iters % 6)})
		if err != nil {
			wrapsSentinel(t, err)
			return
		}
		tv := testutil.Data(res.Target)
		kk := int(k % 9)
		for i := range int(b % 9) {
			if s := sum64(tv[i*kk : (i+1)*kk]); math.Abs(s-1) > 1e-4 {
				t.Fatalf("row %d sums to %v", i, s)
			}
		}
	})
}

func FuzzPCAWhiten(f *testing.F) {
	f.Add([]byte{1, 2, 3, 200, 7, 9, 44, 13}, uint8(8), uint8(3), uint8(2))
	f.Add([]byte{128}, uint8(4), uint8(4), uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, n, d, p uint8) {
		x := fuzzMatrix(data, int(n%20), int(d%7))
		y, _, err := PCAWhiten(nil, x, int(p%8), nil)
		if err != nil {
			wrapsSentinel(t, err)
			return
		}
		for i, v := range testutil.Data(y) {
			if !finite(float64(v)) {
				t.Fatalf("y[%d] = %v", i, v)
			}
		}
	})
}

func FuzzUniformTranslate(f *testing.F) {
	f.Add([]byte{1, 2, 3, 200, 7, 9}, uint8(10), uint8(3), uint8(2))
	f.Add([]byte{128}, uint8(6), uint8(3), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, n, k, sweeps uint8) {
		z := fuzzMatrix(data, int(n%40), int(k%6))
		res, err := UniformTranslate(nil, nil, z, &UniformTranslateOptions{Iterations: int(sweeps%5) - 1})
		if err != nil {
			wrapsSentinel(t, err)
			return
		}
		total := 0
		for _, c := range res.Counts {
			total += c
		}
		if total != int(n%40) {
			t.Fatalf("counts sum to %d, want %d", total, n%40)
		}
	})
}

func FuzzPCLConcentration(f *testing.F) {
	f.Add([]byte{1, 2, 3, 200, 7, 9}, uint8(3), uint8(20))
	f.Fuzz(func(t *testing.T, data []byte, k, temp uint8) {
		dist := make([]float32, len(data))
		labels := make([]int, len(data))
		for i, b := range data {
			dist[i] = float32(b) / 10
			if b == 255 {
				dist[i] = float32(math.NaN())
			}
			labels[i] = int(b) % max(1, int(k%7))
		}
		got, err := PCLConcentration(nil, dist, labels, int(k%7), float64(temp)/100)
		if err != nil {
			wrapsSentinel(t, err)
			return
		}
		for j, v := range got {
			if !(v > 0) || !finite(float64(v)) {
				t.Fatalf("density[%d] = %v", j, v)
			}
		}
	})
}
