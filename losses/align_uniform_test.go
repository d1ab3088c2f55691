package losses

import (
	"math"
	"testing"

	"ssl"
	"ssl/internal/kernel"
	"ssl/internal/testutil"
)

// alignNaive and uniformNaive are Wang and Isola's losses transcribed
// literally in float64.
func alignNaive(x, y []float64, b, d int, alpha float64) float64 {
	var s float64
	for i := 0; i < b; i++ {
		var r float64
		for t := 0; t < d; t++ {
			r += (x[i*d+t] - y[i*d+t]) * (x[i*d+t] - y[i*d+t])
		}
		s += math.Pow(math.Sqrt(r), alpha)
	}
	return s / float64(b)
}

func uniformNaive(x []float64, b, d int, t float64) float64 {
	var pots []float64
	for i := 0; i < b; i++ {
		for j := i + 1; j < b; j++ {
			var r float64
			for k := 0; k < d; k++ {
				r += (x[i*d+k] - x[j*d+k]) * (x[i*d+k] - x[j*d+k])
			}
			pots = append(pots, -t*r)
		}
	}
	return ctrLSE64(pots) - math.Log(float64(len(pots)))
}

func alignUniformNaive(x, y []float64, b, d int, alpha, t, wa, wu float64) float64 {
	return wa*alignNaive(x, y, b, d, alpha) + wu*(uniformNaive(x, b, d, t)+uniformNaive(y, b, d, t))/2
}

func TestAlignUniform(t *testing.T) {
	for i, tc := range []struct {
		name          string
		b, d          int
		alpha, tt     float64
		wa, wu        float64
		dupAndEqual   bool // x_0 = y_0 and x_2 = x_1
		unit          bool
		scaleY, extra float64
	}{
		{"b2_d4_a2_t2", 2, 4, 2, 2, 1, 1, false, true, 0, 0},
		{"b8_d16_a2_t2", 8, 16, 2, 2, 1, 1, false, true, 0, 0},
		{"b16_d8_a1_t3_dup", 16, 8, 1, 3, 1, 0.5, true, true, 0, 0},
		{"b6_d8_a3_t10", 6, 8, 3, 10, 0.7, 2, false, true, 0, 0},
		{"b5_d3_a1.5_t1_raw", 5, 3, 1.5, 1, 1, 1, false, false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seed := uint64(800 + i)
			var x, y ssl.Tensor
			if tc.unit {
				x, y = ctrUnitRows(seed, tc.b, tc.d), ctrUnitRows(seed+1, tc.b, tc.d)
			} else {
				rnd := testutil.Rand(seed)
				x, y = testutil.RandN(rnd, 1, tc.b, tc.d), testutil.RandN(rnd, 1, tc.b, tc.d)
			}
			if tc.dupAndEqual {
				copy(testutil.Data(y)[:tc.d], testutil.Data(x)[:tc.d])
				ctrDup(x, tc.d, 2, 1)
			}
			cx, cy := testutil.Clone(x), testutil.Clone(y)
			xs, ys := testutil.F64(x), testutil.F64(y)
			a, tt, wa, wu := float64(tc.alpha), float64(tc.tt), float64(tc.wa), float64(tc.wu)

			dx, dy := testutil.NaNs(tc.b, tc.d), testutil.NaNs(tc.b, tc.d)
			res, err := AlignUniform(dx, dy, x, y, tc.alpha, tc.tt, tc.wa, tc.wu, nil)
			got, terms := res.Loss, []float64{res.Align, res.UniformX, res.UniformY}
			if err != nil {
				t.Fatalf("AlignUniform(seed %d): %v", seed, err)
			}
			testutil.Unchanged(t, "x", x, cx)
			testutil.Unchanged(t, "y", y, cy)
			if want := alignUniformNaive(xs, ys, tc.b, tc.d, a, tt, wa, wu); !testutil.Close(got, want, 1e-6, 1e-5) {
				t.Errorf("AlignUniform(seed %d) = %.9g, want %.9g", seed, got, want)
			}
			testutil.AllClose(t, "terms", terms, []float64{alignNaive(xs, ys, tc.b, tc.d, a), uniformNaive(xs, tc.b, tc.d, tt), uniformNaive(ys, tc.b, tc.d, tt)}, 1e-6, 1e-5)
			ctrCheckGrad(t, "dx", testutil.Data(dx), func(v []float64) float64 { return alignUniformNaive(v, ys, tc.b, tc.d, a, tt, wa, wu) }, xs, 1e-6, 0)
			ctrCheckGrad(t, "dy", testutil.Data(dy), func(v []float64) float64 { return alignUniformNaive(xs, v, tc.b, tc.d, a, tt, wa, wu) }, ys, 1e-6, 0)

			// The single terms.
			ax, ay := testutil.NaNs(tc.b, tc.d), testutil.NaNs(tc.b, tc.d)
			al, err := Align(ax, ay, x, y, tc.alpha)
			if err != nil || !testutil.Close(al, terms[0], 1e-12, 1e-12) {
				t.Errorf("Align = %v, %v, want %v", al, err, terms[0])
			}
			if tc.dupAndEqual {
				// x_0 = y_0: the reference's gradient of that row is 0.
				for k := 0; k < tc.d; k++ {
					if testutil.Data(ax)[k] != 0 || testutil.Data(ay)[k] != 0 {
						t.Fatalf("Align gradient of an aligned row is not 0: %v", testutil.Data(ax)[:tc.d])
					}
				}
			} else {
				ctrCheckGrad(t, "align dx", testutil.Data(ax), func(v []float64) float64 { return alignNaive(v, ys, tc.b, tc.d, a) }, xs, 1e-6, 0)
			}
			ctrCheckGrad(t, "align dy", testutil.Data(ay)[tc.d:], func(v []float64) float64 {
				return alignNaive(xs[tc.d:], v, tc.b-1, tc.d, a) * float64(tc.b-1) / float64(tc.b)
			}, ys[tc.d:], 1e-6, 0)
			du := testutil.NaNs(tc.b, tc.d)
			ux, err := Uniform(du, x, tc.tt, nil)
			if err != nil || !testutil.Close(ux, terms[1], 1e-12, 1e-12) {
				t.Errorf("Uniform(x) = %v, %v, want %v", ux, err, terms[1])
			}
			ctrCheckGrad(t, "uniform dx", testutil.Data(du), func(v []float64) float64 { return uniformNaive(v, tc.b, tc.d, tt) }, xs, 1e-6, 0)
		})
	}
}

func TestAlignUniformErrors(t *testing.T) {
	x, y := ctrUnitRows(15, 4, 3), ctrUnitRows(16, 4, 3)
	nan := testutil.Clone(y)
	testutil.Data(nan)[0] = float32(math.NaN())
	one := ctrUnitRows(17, 1, 3)
	for _, tc := range []struct {
		name     string
		call     func(dx ssl.Tensor) error
		sentinel error
		want     string
	}{
		{"align_shape", func(dx ssl.Tensor) error { _, err := Align(dx, nil, x, ssl.New(4, 2), 2); return err }, ssl.ErrShape, "losses: Align: y"},
		{"align_alpha", func(dx ssl.Tensor) error { _, err := Align(dx, nil, x, y, 0); return err }, ssl.ErrParam, "alpha=0"},
		{"align_nan", func(dx ssl.Tensor) error { _, err := Align(dx, nil, x, nan, 2); return err }, ssl.ErrNotFinite, "x or y"},
		{"align_grad_overflow", func(dx ssl.Tensor) error {
			_, err := Align(dx, nil, ssl.FromSlice([]float32{1, 0, 0, 1, -1, 0, 0, -1, 1, 1, -1, -1}, 4, 3), ssl.FromSlice([]float32{-1, 0, 0, -1, 1, 0, 0, 1, -1, -1, 1, 1}, 4, 3), 150)
			return err
		}, ssl.ErrNotFinite, "overflows float32"},
		{"align_empty", func(ssl.Tensor) error { _, err := Align(nil, nil, ssl.New(0, 3), ssl.New(0, 3), 2); return err }, ssl.ErrShape, "batch size"},
		{"uniform_one_row", func(ssl.Tensor) error { _, err := Uniform(nil, one, 2, nil); return err }, ssl.ErrShape, "want ≥ 2"},
		{"uniform_t", func(dx ssl.Tensor) error { _, err := Uniform(dx, x, -2, nil); return err }, ssl.ErrParam, "t=-2"},
		{"uniform_nan", func(dx ssl.Tensor) error { _, err := Uniform(dx, nan, 2, nil); return err }, ssl.ErrNotFinite, "losses: Uniform"},
		{"uniform_dx_is_x", func(ssl.Tensor) error { _, err := Uniform(x, x, 2, nil); return err }, ssl.ErrShape, "dx overlaps"},
		{"au_one_row", func(ssl.Tensor) error {
			_, err := AlignUniform(nil, nil, one, one, 2, 2, 1, 1, nil)
			return err
		}, ssl.ErrShape, "want ≥ 2"},
		{"au_weight", func(dx ssl.Tensor) error {
			_, err := AlignUniform(dx, nil, x, y, 2, 2, math.NaN(), 1, nil)
			return err
		}, ssl.ErrParam, "alignW"},
		{"au_unif_weight_float32", func(dx ssl.Tensor) error {
			_, err := AlignUniform(dx, nil, x, y, 2, 2, 1, 1e300, nil)
			return err
		}, ssl.ErrParam, "unifW"},
		{"au_nan", func(dx ssl.Tensor) error {
			_, err := AlignUniform(dx, nil, x, nan, 2, 2, 1, 1, nil)
			return err
		}, ssl.ErrNotFinite, "x or y"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dx := testutil.NaNs(4, 3)
			ctrWantErr(t, tc.call(dx), tc.sentinel, tc.want)
			ctrAllNaN(t, "dx", dx)
		})
	}
}

func TestAlignUniformAllocs(t *testing.T) {
	ctrSkipAllocsUnderRace(t)
	x, y := ctrUnitRows(18, 6, 8), ctrUnitRows(19, 6, 8)
	dx, dy := ssl.New(6, 8), ssl.New(6, 8)
	opts := &AlignUniformOptions{Workspace: NewWorkspace()}
	call := func() {
		if _, err := AlignUniform(dx, dy, x, y, 2, 2, 1, 1, opts); err != nil {
			t.Fatal(err)
		}
	}
	got := testing.AllocsPerRun(10, call)
	if own := ctrOwnAllocs(t, 10, call); own != 0 {
		t.Errorf("AlignUniform allocates %v per call of its own with workspace and destinations (%v in all)", own, got)
	}
	// The rest belongs to the kernels (product packing, parallel loops) and
	// to the tensor views.
	t.Logf("%v allocations per call in all", got)
}

func FuzzAlignUniform(f *testing.F) {
	f.Add(uint8(2), uint8(3), float32(2), float32(2), int64(1), uint8(0))
	f.Add(uint8(1), uint8(2), float32(1), float32(3), int64(2), uint8(1))
	f.Add(uint8(4), uint8(1), float32(0), float32(-1), int64(3), uint8(2))
	f.Add(uint8('|'), uint8('a'), float32(150), float32(476), int64(36), uint8(251)) // gradient beyond float32
	f.Fuzz(func(t *testing.T, b, d uint8, alpha, tt float32, seed int64, poison uint8) {
		bb, dd := int(b%6), int(d%4)+1
		x, y := ctrUnitRows(uint64(seed), bb, dd), ctrUnitRows(uint64(seed)+1, bb, dd)
		if poison%3 == 1 && bb > 0 {
			testutil.Data(x)[0] = float32(math.Inf(1))
		}
		dx := ctrNaNs(bb, dd)
		res, err := AlignUniform(dx, nil, x, y, float64(alpha), float64(tt), 1, 1, nil)
		got := res.Loss
		if err != nil {
			ctrAllNaN(t, "dx", dx)
			return
		}
		if math.IsNaN(got) || !kernel.AllFinite(testutil.Data(dx)) {
			t.Fatalf("AlignUniform = %v with a non-finite result and nil error", got)
		}
		want := alignUniformNaive(testutil.F64(x), testutil.F64(y), bb, dd, float64(alpha), float64(tt), 1, 1)
		if !testutil.Close(got, want, 1e-3*math.Max(1, math.Abs(want)), 1e-3) {
			t.Fatalf("AlignUniform = %v, naive %v", got, want)
		}
	})
}
