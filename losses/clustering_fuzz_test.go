package losses

import (
	"errors"
	"math"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// Fuzz targets of the clustering objectives. Each decodes small shapes and
// values (occasionally NaN, ±Inf or ±1e3) from the fuzz input and checks
// the contract: no panic; an error wraps one of the ssl sentinels; without
// an error the loss and every gradient are finite and, on moderate inputs,
// agree with the float64 oracle.

// cltFuzzValues decodes n values from data: two bytes each, mostly in
// [−4, 4], with rare specials. It reports whether every value is finite
// and |v| ≤ 4.
func cltFuzzValues(data []byte, n int) ([]float32, bool) {
	x := make([]float32, n)
	moderate := true
	for i := range x {
		var a, b byte
		if len(data) > 0 {
			a, data = data[0], data[1:]
		}
		if len(data) > 0 {
			b, data = data[0], data[1:]
		}
		switch a {
		case 255:
			x[i] = float32(math.NaN())
		case 254:
			x[i] = float32(math.Inf(1))
		case 253:
			x[i] = float32(math.Inf(-1))
		case 252:
			x[i] = 1e3
		case 251:
			x[i] = -1e3
		default:
			x[i] = float32((float64(a)*256+float64(b))/65536*8 - 4)
		}
		moderate = moderate && a < 251
	}
	return x, moderate
}

// cltFuzzErr fails t unless err wraps one of the ssl sentinels.
func cltFuzzErr(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ssl.ErrShape) && !errors.Is(err, ssl.ErrParam) && !errors.Is(err, ssl.ErrNotFinite) {
		t.Fatalf("error %v wraps no ssl sentinel", err)
	}
}

func cltFuzzFinite(t *testing.T, loss float64, grads ...ssl.Tensor) {
	t.Helper()
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		t.Fatalf("loss %v with a nil error", loss)
	}
	for _, g := range grads {
		cltFinite(t, "gradient", testutil.Data(g))
	}
}

func FuzzSwAV(f *testing.F) {
	f.Add(uint8(2), uint8(3), uint8(4), uint8(0), uint8(10), []byte{1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add(uint8(3), uint8(2), uint8(5), uint8(2), uint8(1), []byte{255, 0, 1})
	f.Add(uint8(4), uint8(1), uint8(3), uint8(1), uint8(100), []byte{252, 0, 251, 0})
	f.Fuzz(func(t *testing.T, n, b, k, a, tauCode uint8, data []byte) {
		crops, bs, ks := int(n%5)+1, int(b%6)+1, int(k%7)+1
		assign := []int{int(a) % (crops + 1)}
		if a&8 != 0 {
			assign = append(assign, (assign[0]+1)%(crops+1))
		}
		tau := float32(tauCode) / 100 // 0 (invalid) … 2.55
		x, moderate := cltFuzzValues(data, crops*bs*ks)
		for i := range x {
			x[i] /= 4 // cosine-like scores
		}
		scores := ssl.FromSlice(x, crops*bs, ks)
		g := testutil.NaNs(crops*bs, ks)
		codes := testutil.NaNs(len(assign), bs, ks)
		loss, err := SwAV(codes, g, scores, crops, assign, float64(tau), nil)
		if err != nil {
			cltFuzzErr(t, err)
			return
		}
		cltFuzzFinite(t, loss, g, codes)
		if moderate && tau >= 0.05 {
			want := swavNaive(testutil.F64(scores), testutil.F64(codes), crops, bs, ks, assign, float64(tau))
			if !testutil.Close(loss, want, 1e-5, 1e-4) {
				t.Fatalf("SwAV = %v, oracle %v", loss, want)
			}
		}
	})
}

func FuzzPseudoLabelCE(f *testing.F) {
	f.Add(uint8(3), uint8(4), []byte{1, 2, 3}, []byte{0, 1, 2})
	f.Add(uint8(1), uint8(1), []byte{254, 0}, []byte{0})
	f.Fuzz(func(t *testing.T, b, k uint8, data, lab []byte) {
		bs, ks := int(b%8), int(k%8)+1
		x, moderate := cltFuzzValues(data, bs*ks)
		labels := make([]int, bs)
		for i := range labels {
			if i < len(lab) {
				labels[i] = int(lab[i]%10) - 1 // sometimes out of range
			}
		}
		logits := ssl.FromSlice(x, bs, ks)
		var g ssl.Tensor
		if bs > 0 {
			g = testutil.NaNs(bs, ks)
		}
		loss, err := PseudoLabelCE(g, logits, labels, nil)
		if err != nil {
			cltFuzzErr(t, err)
			return
		}
		cltFuzzFinite(t, loss, g)
		if moderate {
			if want := pseudoLabelCENaive(testutil.F64(logits), labels, bs, ks); !testutil.Close(loss, want, 1e-6, 1e-5) {
				t.Fatalf("PseudoLabelCE = %v, oracle %v", loss, want)
			}
		}
	})
}

func FuzzIIC(f *testing.F) {
	f.Add(uint8(4), uint8(3), uint8(10), []byte{1, 2, 3, 4, 5})
	f.Add(uint8(2), uint8(5), uint8(0), []byte{252, 0, 251, 0, 255})
	f.Fuzz(func(t *testing.T, b, k, lam uint8, data []byte) {
		bs, ks := int(b%8)+1, int(k%6)+1
		x, moderate := cltFuzzValues(data, 2*bs*ks)
		l1, l2 := ssl.FromSlice(x[:bs*ks], bs, ks), ssl.FromSlice(x[bs*ks:], bs, ks)
		g1, g2 := testutil.NaNs(bs, ks), testutil.NaNs(bs, ks)
		lambda := float32(lam)/50 - 0.5
		loss, err := IIC(g1, g2, l1, l2, float64(lambda), nil)
		if err != nil {
			cltFuzzErr(t, err)
			return
		}
		cltFuzzFinite(t, loss, g1, g2)
		if moderate {
			if want := iicNaive(testutil.F64(l1), testutil.F64(l2), bs, ks, float64(lambda)); !testutil.Close(loss, want, 1e-7, 1e-5) {
				t.Fatalf("IIC = %v, oracle %v", loss, want)
			}
		}
	})
}

func FuzzSCAN(f *testing.F) {
	f.Add(uint8(4), uint8(3), uint8(10), []byte{1, 2, 3, 4, 5})
	f.Add(uint8(1), uint8(2), uint8(0), []byte{252, 0, 251, 0})
	f.Fuzz(func(t *testing.T, b, k, w uint8, data []byte) {
		bs, ks := int(b%8)+1, int(k%6)+1
		x, moderate := cltFuzzValues(data, 2*bs*ks)
		an, nb := ssl.FromSlice(x[:bs*ks], bs, ks), ssl.FromSlice(x[bs*ks:], bs, ks)
		ga, gn := testutil.NaNs(bs, ks), testutil.NaNs(bs, ks)
		res, err := SCAN(ga, gn, an, nb, float64(float32(w)/20), nil)
		loss := res.Loss
		if err != nil {
			cltFuzzErr(t, err)
			return
		}
		cltFuzzFinite(t, loss, ga, gn)
		if moderate {
			want, _, _ := scanNaive(testutil.F64(an), testutil.F64(nb), bs, ks, float64(float32(w)/20))
			if !testutil.Close(loss, want, 1e-7, 1e-5) {
				t.Fatalf("SCAN = %v, oracle %v", loss, want)
			}
		}
		// SCANSelfLabel on the same logits.
		th := float64(w) / 256
		gs := testutil.NaNs(bs, ks)
		r2, err := SCANSelfLabel(gs, an, nb, th, &SCANSelfLabelOptions{Balance: w&1 == 1})
		if err != nil {
			cltFuzzErr(t, err)
			return
		}
		cltFuzzFinite(t, r2.Loss, gs)
		if r2.Confident == 0 && r2.Loss != 0 {
			t.Fatalf("SCANSelfLabel with no confident row: loss %v, want 0", r2.Loss)
		}
	})
}

func FuzzCARL(f *testing.F) {
	f.Add(uint8(2), uint8(3), uint8(4), uint8(0), []byte{1, 2, 3, 4, 5})
	f.Add(uint8(3), uint8(1), uint8(6), uint8(2), []byte{252, 0, 251, 0})
	f.Fuzz(func(t *testing.T, v, b, k, ps uint8, data []byte) {
		views, bs, ks := int(v%4)+1, int(b%4)+1, int(k%6)+1
		x, moderate := cltFuzzValues(data, (views+2)*bs*ks)
		st := ssl.FromSlice(x[:views*bs*ks], views*bs, ks)
		te := ssl.FromSlice(x[views*bs*ks:], 2*bs, ks)
		opts := &CARLOptions{PartitionSize: int(ps % 4)}
		if opts.PartitionSize > 0 {
			opts.Partition = make([]int, ks/opts.PartitionSize*opts.PartitionSize)
			for i := range opts.Partition {
				opts.Partition[i] = (i * 5) % ks // a permutation when gcd(5, ks) = 1
			}
		}
		g := testutil.NaNs(views*bs, ks)
		res, err := CARL(g, st, te, views, opts)
		loss := res.Loss
		if err != nil {
			cltFuzzErr(t, err)
			return
		}
		cltFuzzFinite(t, loss, g)
		if moderate && opts.Partition == nil {
			part := make([]int, ks)
			for i := range part {
				part[i] = i
			}
			want, _, _ := carlNaive(testutil.F64(st), testutil.F64(te), views, bs, ks, part, ks)
			if !testutil.Close(loss, want, 1e-7, 1e-5) {
				t.Fatalf("CARL = %v, oracle %v", loss, want)
			}
		}
	})
}

func FuzzLocalAgg(f *testing.F) {
	f.Add(uint8(2), uint8(6), uint8(3), uint8(3), uint8(7), []byte{1, 2, 3, 4, 5, 6})
	f.Add(uint8(1), uint8(4), uint8(2), uint8(4), uint8(0), []byte{0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b, n, d, k, tc uint8, data []byte) {
		bs, ns, ds := int(b%4)+1, int(n%10)+1, int(d%4)+1
		x, _ := cltFuzzValues(data, bs*ds)
		o := ssl.FromSlice(x, bs, ds)
		bank := localAggBank(uint64(ns*10+ds), ns, ds)
		indices := make([]int, bs)
		for i := range indices {
			indices[i] = (i * 3) % ns
		}
		labels := [][]int{cltRandLabels(testutil.Rand(uint64(ns)), ns, 3)}
		g := testutil.NaNs(bs, ds)
		loss, err := LocalAgg(g, o, bank, indices, labels, int(k%12), float64(float32(tc)/50), nil)
		if err != nil {
			cltFuzzErr(t, err)
			return
		}
		cltFuzzFinite(t, loss, g)
	})
}

func FuzzTrackLabels(f *testing.F) {
	f.Add(uint8(3), []byte{0, 1, 2, 1}, []byte{1, 1, 2, 2})
	f.Fuzz(func(t *testing.T, k uint8, lab, tr []byte) {
		n := min(len(lab), len(tr))
		labels, tracks := make([]int, n), make([]int, n)
		for i := range n {
			labels[i] = int(lab[i] % 8)
			tracks[i] = int(tr[i]%6) - 1
		}
		got, err := TrackLabels(nil, labels, tracks, int(k%8))
		if err != nil {
			cltFuzzErr(t, err)
			return
		}
		want := trackLabelsNaive(labels, tracks, int(k%8))
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("TrackLabels(%v, %v) = %v, want %v", labels, tracks, got, want)
			}
		}
	})
}
