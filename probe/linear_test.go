package probe

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// logRegNaive is the probe's objective written out directly from the
// formula on already standardized features.
func logRegNaive(theta, x []float64, y []int, n, d, c int, lambda float64) float64 {
	w, b := theta[:c*d], theta[c*d:]
	f := 0.0
	for i := range n {
		z := make([]float64, c)
		for k := range c {
			z[k] = b[k]
			for j := range d {
				z[k] += w[k*d+j] * x[i*d+j]
			}
		}
		s := 0.0
		for k := range c {
			s += math.Exp(z[k])
		}
		f += math.Log(s) - z[y[i]]
	}
	f /= float64(n)
	for _, v := range w {
		f += lambda / 2 * v * v
	}
	return f
}

func TestLogRegObjective(t *testing.T) {
	// Logit gaps of 2000 must give a finite loss: log Σ exp z − z_y = 2000.
	big := &logRegObjective{x: []float64{1, 0}, y: []int{0}, n: 1, d: 2, c: 2}
	if f := big.Func([]float64{0, 0, 0, 0, 0, 2000}); f != 2000 {
		t.Errorf("objective with a logit gap of 2000 = %v, want 2000", f)
	}
	for _, tc := range []struct {
		name    string
		n, d, c int
		lambda  float64
	}{
		{"n1_d1_c1", 1, 1, 1, 0.1},
		{"n7_d3_c4", 7, 3, 4, 0.01},
		{"n1100_d5_c3_blocks", 1100, 5, 3, 1e-3}, // three row blocks
		{"n20_d4_c2_unregularised", 20, 4, 2, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := testutil.Rand(uint64(tc.n + tc.d))
			x := testutil.F64(testutil.RandN(r, 1, tc.n, tc.d))
			y := make([]int, tc.n)
			for i := range y {
				y[i] = r.IntN(tc.c)
			}
			theta := testutil.F64(testutil.RandN(r, 0.5, tc.c*(tc.d+1)))
			o := &logRegObjective{x: x, y: y, n: tc.n, d: tc.d, c: tc.c, lambda: tc.lambda}
			f := o.Func(theta)
			want := logRegNaive(theta, x, y, tc.n, tc.d, tc.c, tc.lambda)
			if !testutil.Close(f, want, 1e-13, 1e-12) {
				t.Errorf("objective = %.15g, want %.15g", f, want)
			}
			g := make([]float64, len(theta))
			o.Grad(g, theta)
			fn := func(th []float64) float64 { return logRegNaive(th, x, y, tc.n, tc.d, tc.c, tc.lambda) }
			testutil.GradCheck(t, "logReg", g, fn, slices.Clone(theta), 1e-6, 1e-8, 1e-6)
			// Grad at a new θ must not reuse the stored gradient.
			theta2 := slices.Clone(theta)
			theta2[0] += 0.3
			g2 := make([]float64, len(theta))
			o.Grad(g2, theta2)
			testutil.GradCheck(t, "logReg(θ2)", g2, fn, theta2, 1e-6, 1e-8, 1e-6)
		})
	}
}

// blobs returns n rows of d features: class c's rows are normal with std
// spread around a centre c·sep along feature c mod d, with a scale and
// offset per feature so that standardisation matters.
func blobs(seed uint64, n, d, c int, spread float64) ([]float32, []int) {
	r := testutil.Rand(seed)
	centres := make([]float64, c*d)
	for i := range centres {
		centres[i] = r.NormFloat64()
	}
	x := make([]float32, n*d)
	y := make([]int, n)
	for i := range n {
		k := r.IntN(c)
		y[i] = k
		for j := range d {
			x[i*d+j] = float32((centres[k*d+j]+spread*r.NormFloat64())*float64(j+1) + 10*float64(j))
		}
	}
	return x, y
}

func TestFitLinearProbe(t *testing.T) {
	n, d, c := 600, 6, 4
	xv, y := blobs(1, n, d, c, 0.7)
	x := ssl.FromSlice(xv, n, d)
	x0 := testutil.Clone(x)
	y0 := slices.Clone(y)
	// Defaults (Tol 0): L-BFGS runs to a stationary point of the float64
	// objective, well before its cap.
	p, err := FitLinearProbe(x, y, c, nil)
	if err != nil {
		t.Fatalf("FitLinearProbe: %v", err)
	}
	if !p.Converged || p.Residual > 1e-8 || p.Iterations < 1 || p.Iterations >= DefaultIterations {
		t.Errorf("fit: %d iterations, residual %g, converged %v", p.Iterations, p.Residual, p.Converged)
	}
	// A positive Tol stops as soon as the residual is at most Tol.
	loose, err := FitLinearProbe(x, y, c, &LinearProbeOptions{Tol: GradTol})
	if err != nil || !loose.Converged || loose.Residual > GradTol || loose.Iterations > p.Iterations {
		t.Errorf("fit(Tol %g): %d iterations, residual %g, converged %v, %v", GradTol, loose.Iterations, loose.Residual, loose.Converged, err)
	}
	// Tol 0 with a cap runs exactly the cap when L-BFGS is still moving.
	capped, err := FitLinearProbe(x, y, c, &LinearProbeOptions{Iterations: 3})
	if err != nil || capped.Iterations != 3 || capped.Converged {
		t.Errorf("fit(Iterations 3): %d iterations, converged %v, %v", capped.Iterations, capped.Converged, err)
	}
	// A tight tolerance.
	tight := &LinearProbeOptions{Tol: 1e-9}
	p, err = FitLinearProbe(x, y, c, tight)
	if err != nil {
		t.Fatalf("FitLinearProbe(tight): %v", err)
	}
	testutil.Unchanged(t, "x", x, x0)
	if !slices.Equal(y, y0) {
		t.Errorf("labels modified")
	}
	if !p.Converged || p.Residual > 1e-9 {
		t.Errorf("fit(tight): %d iterations, residual %g, converged %v", p.Iterations, p.Residual, p.Converged)
	}
	// Optimality: the gradient of the naive objective on the standardized
	// features vanishes at the returned parameters.
	xs := standardize(xv, n, d, p.Mean, p.Scale)
	theta := append(slices.Clone(p.W), p.B...)
	fn := func(th []float64) float64 { return logRegNaive(th, xs, y, n, d, c, DefaultL2) }
	num := testutil.NumGrad(fn, slices.Clone(theta), 1e-6)
	if m := testutil.MaxAbs(num); m > 1e-7 {
		t.Errorf("finite-difference gradient at the fit is %g, want ~0", m)
	}
	if got := fn(theta); !testutil.Close(p.Loss, got, 1e-12, 1e-10) {
		t.Errorf("Loss = %v, objective at W, B = %v", p.Loss, got)
	}
	// Standardisation statistics.
	for j := range d {
		var s, ss float64
		for i := range n {
			s += float64(xv[i*d+j])
		}
		mean := s / float64(n)
		for i := range n {
			ss += (float64(xv[i*d+j]) - mean) * (float64(xv[i*d+j]) - mean)
		}
		if !testutil.Close(p.Mean[j], mean, 1e-9, 1e-12) || !testutil.Close(p.Scale[j], math.Sqrt(ss/float64(n)), 1e-12, 1e-12) {
			t.Errorf("feature %d: mean %v scale %v, want %v %v", j, p.Mean[j], p.Scale[j], mean, math.Sqrt(ss/float64(n)))
		}
	}
	// Deterministic and independent of GOMAXPROCS.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	p1, err := FitLinearProbe(x, y, c, tight)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p1.W, p.W) || !slices.Equal(p1.B, p.B) || p1.Iterations != p.Iterations {
		t.Errorf("fit differs between GOMAXPROCS settings")
	}
}

func TestEvaluateLinear(t *testing.T) {
	d, c := 8, 5
	xv, y := blobs(2, 1500, d, c, 0.5)
	train, test := ssl.FromSlice(xv[:1000*d], 1000, d), ssl.FromSlice(xv[1000*d:], 500, d)
	res, err := EvaluateLinear(train, y[:1000], test, y[1000:], c, nil)
	if err != nil {
		t.Fatalf("EvaluateLinear: %v", err)
	}
	if res.TrainTop1 < 0.9 || res.TestTop1 < 0.85 || res.Iterations != res.Probe.Iterations || res.Residual != res.Probe.Residual || !res.Converged {
		t.Errorf("EvaluateLinear = %+v on well-separated blobs", res)
	}
	pred, _ := res.Probe.Predict(nil, test)
	acc, _ := Accuracy(pred, y[1000:])
	if acc != res.TestTop1 {
		t.Errorf("TestTop1 %v, Accuracy of Predict %v", res.TestTop1, acc)
	}
	// Constant features, one class and binary inputs without standardization.
	cst := ssl.FromSlice([]float32{1, 2, 1, 3, 1, 4, 1, 5}, 4, 2)
	p, err := FitLinearProbe(cst, []int{0, 0, 1, 1}, 2, nil)
	if err != nil || p.Scale[0] != 1 || p.Mean[0] != 1 {
		t.Errorf("constant feature: %v, scale %v", err, p)
	}
	p, err = FitLinearProbe(cst, []int{0, 0, 0, 0}, 1, &LinearProbeOptions{NoStandardize: true})
	if err != nil || p.Loss != 0 || p.Residual != 0 || !p.Converged || p.Iterations != 0 || p.Mean[1] != 0 || p.Scale[1] != 1 {
		t.Errorf("one class: %v, %+v", err, p)
	}
}

func TestLinearProbeErrors(t *testing.T) {
	x := testutil.RandN(testutil.Rand(1), 1, 5, 3)
	y := []int{0, 1, 0, 1, 0}
	nan := testutil.Clone(x)
	testutil.Data(nan)[4] = float32(math.NaN())
	for _, tc := range []struct {
		name string
		x    ssl.Tensor
		y    []int
		c    int
		opts *LinearProbeOptions
		want error
		msg  string
	}{
		{"labels_len", x, y[:4], 2, nil, ssl.ErrShape, "len(labels) is 4"},
		{"label_range", x, []int{0, 1, 2, 0, 0}, 2, nil, ssl.ErrParam, "labels[2]=2"},
		{"classes", x, y, 0, nil, ssl.ErrParam, "numClasses=0"},
		{"empty", ssl.New(0, 3), nil, 2, nil, ssl.ErrShape, "x is empty"},
		{"nil", nil, y, 2, nil, ssl.ErrShape, "x is nil"},
		{"nan", nan, y, 2, nil, ssl.ErrNotFinite, "x[1,1]"},
		{"l2", x, y, 2, &LinearProbeOptions{L2: -1}, ssl.ErrParam, "L2=-1"},
		{"l2_nan", x, y, 2, &LinearProbeOptions{L2: math.NaN()}, ssl.ErrParam, "L2=NaN"},
		{"l2_unreg", x, y, 2, &LinearProbeOptions{L2: 1, Unregularized: true}, ssl.ErrParam, "Unregularized"},
		{"iterations", x, y, 2, &LinearProbeOptions{Iterations: -2}, ssl.ErrParam, "Iterations=-2"},
		{"tol_nan", x, y, 2, &LinearProbeOptions{Tol: math.NaN()}, ssl.ErrParam, "Tol=NaN"},
		{"tol_neg", x, y, 2, &LinearProbeOptions{Tol: -1}, ssl.ErrParam, "Tol=-1"},
		{"tol_inf", x, y, 2, &LinearProbeOptions{Tol: math.Inf(1)}, ssl.ErrParam, "Tol=+Inf"},
		{"no_convergence", x, y, 2, &LinearProbeOptions{Iterations: 1, Tol: 1e-14}, ErrNotConverged, "Tol=1e-14 after 1 iterations"},
	} {
		p, err := FitLinearProbe(tc.x, tc.y, tc.c, tc.opts)
		if notConv := errors.Is(err, ssl.ErrNotConverged); notConv != (tc.name == "no_convergence") || notConv != (p != nil) {
			t.Errorf("FitLinearProbe(%s): ErrNotConverged %v with probe %v", tc.name, notConv, p != nil)
		}
		if tc.name == "no_convergence" && (errors.Is(err, ssl.ErrParam) || p.Converged || p.Iterations != 1 || p.Residual <= 1e-14 || len(p.W) != 2*3) {
			t.Errorf("FitLinearProbe(%s) = %+v, %v: want the complete probe, not ErrParam", tc.name, p, err)
		}
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "probe: FitLinearProbe: ") {
			t.Errorf("FitLinearProbe(%s) error = %v, want %v naming %q", tc.name, err, tc.want, tc.msg)
		}
	}
	if !errors.Is(ErrNotConverged, ssl.ErrNotConverged) || errors.Is(ErrNotConverged, ssl.ErrParam) {
		t.Errorf("ErrNotConverged = %v: want it to wrap ssl.ErrNotConverged only", ErrNotConverged)
	}
	// EvaluateLinear: a fit that misses its Tol reports its accuracies.
	ev, err := EvaluateLinear(x, y, x, y, 2, &LinearProbeOptions{Iterations: 1, Tol: 1e-14})
	if !errors.Is(err, ErrNotConverged) || ev.Probe == nil || ev.Converged || ev.Iterations != 1 || ev.TrainTop1 == 0 {
		t.Errorf("EvaluateLinear(Iterations 1, Tol 1e-14) = %+v, %v", ev, err)
	}
	p, err := FitLinearProbe(x, y, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	dst := []int{-7, -7}
	if _, err := p.Predict(dst, x); !errors.Is(err, ssl.ErrShape) || dst[0] != -7 {
		t.Errorf("Predict(short dst) error = %v", err)
	}
	if _, err := p.Predict(nil, testutil.RandN(testutil.Rand(2), 1, 5, 4)); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("Predict(wrong width) error = %v", err)
	}
	if _, err := EvaluateLinear(x, y, testutil.RandN(testutil.Rand(3), 1, 5, 4), y, 2, nil); !errors.Is(err, ssl.ErrShape) || !strings.Contains(err.Error(), "test has 4 features") {
		t.Errorf("EvaluateLinear(wrong test width) error = %v", err)
	}
	if _, err := EvaluateLinear(x, y, x, y, 2, &LinearProbeOptions{Iterations: -1}); !errors.Is(err, ssl.ErrParam) || !strings.HasPrefix(err.Error(), "probe: EvaluateLinear: ") {
		t.Errorf("EvaluateLinear(Iterations -1) error = %v", err)
	}
	if _, err := EvaluateLinear(x, y, x, y[:3], 2, nil); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("EvaluateLinear(short test labels) error = %v", err)
	}
	if _, err := EvaluateLinear(x, y, x, []int{0, 5, 0, 0, 0}, 2, nil); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("EvaluateLinear(test label out of range) error = %v", err)
	}
}

// BenchmarkLinearProbe fits the probe on Fashion-MNIST-sized features:
// 60,000 rows of 128 correlated features in 10 overlapping classes
// (correlatedBlobs), with the default options. The figures are seconds to
// converge and the L-BFGS iterations.
func BenchmarkLinearProbe(b *testing.B) {
	for _, sz := range []struct{ n, d, c int }{{6000, 128, 10}, {60000, 128, 10}} {
		b.Run(fmt.Sprintf("n%d_d%d_c%d", sz.n, sz.d, sz.c), func(b *testing.B) {
			xv, y := correlatedBlobs(3, sz.n, sz.d, sz.c, 6)
			x := ssl.FromSlice(xv, sz.n, sz.d)
			iters, acc := 0, 0.0
			b.ReportAllocs()
			for b.Loop() {
				p, err := FitLinearProbe(x, y, sz.c, nil)
				if err != nil {
					b.Fatal(err)
				}
				iters = p.Iterations
				acc = trainAccuracy(b, p, x, y)
			}
			b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/op")
			b.ReportMetric(float64(iters), "iterations")
			b.ReportMetric(acc, "train-top1")
		})
	}
}

// BenchmarkLogRegEval times one evaluation of the probe's objective and
// gradient at 60,000×128, 10 classes: 2·2·N·D·C flops.
func BenchmarkLogRegEval(b *testing.B) {
	n, d, c := 60000, 128, 10
	xv, y := blobs(3, n, d, c, 3)
	o := &logRegObjective{x: testutil.F64s(xv), y: y, n: n, d: d, c: c, lambda: 1e-4}
	theta := testutil.F64(testutil.RandN(testutil.Rand(1), 0.01, c*(d+1)))
	g := make([]float64, len(theta))
	for b.Loop() {
		theta[0] += 1e-9 // a new point each time
		o.Func(theta)
		o.Grad(g, theta)
	}
	b.ReportMetric(4*float64(n*d*c)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// correlatedBlobs is blobs mixed by a random dense matrix, I + G/√d with
// G standard normal, so that the features are correlated as learned
// features are and the problem is less well conditioned.
func correlatedBlobs(seed uint64, n, d, c int, spread float64) ([]float32, []int) {
	x, y := blobs(seed, n, d, c, spread)
	r := testutil.Rand(seed + 1)
	a := make([]float64, d*d)
	for i := range a {
		a[i] = r.NormFloat64() / math.Sqrt(float64(d))
	}
	for i := range d {
		a[i*d+i]++
	}
	row := make([]float64, d)
	for i := range n {
		xi := x[i*d : (i+1)*d]
		clear(row)
		for j, v := range xi {
			axpy64(float64(v), a[j*d:(j+1)*d], row)
		}
		for j, v := range row {
			xi[j] = float32(v)
		}
	}
	return x, y
}

func trainAccuracy(b *testing.B, p *LinearProbe, x ssl.Tensor, y []int) float64 {
	pred, err := p.Predict(nil, x)
	if err != nil {
		b.Fatal(err)
	}
	a, _ := Accuracy(pred, y)
	return a
}

// protocolFeatures returns n rows of L2-normalized d-dimensional features
// in c classes, the shape of the evaluation protocol's frozen features:
// class k's rows are its random center plus isotropic noise of the given
// spread, normalized.
func protocolFeatures(seed uint64, n, d, c int, spread float64) ([]float32, []int) {
	r := testutil.Rand(seed)
	centers := make([]float64, c*d)
	for i := range centers {
		centers[i] = r.NormFloat64()
	}
	x := make([]float32, n*d)
	y := make([]int, n)
	row := make([]float64, d)
	for i := range n {
		k := r.IntN(c)
		y[i] = k
		s := 0.0
		for j := range d {
			row[j] = centers[k*d+j] + spread*r.NormFloat64()
			s += row[j] * row[j]
		}
		for j := range d {
			x[i*d+j] = float32(row[j] / math.Sqrt(s))
		}
	}
	return x, y
}

// TestLinearProbeProtocolFeatures fits the probe with nil options on
// features shaped as the protocol's (L2-normalized, 128-d, 10 classes, a
// few thousand samples): it converges within its default budget, with no
// error, and EvaluateLinear reports so by value.
func TestLinearProbeProtocolFeatures(t *testing.T) {
	n, m, d, c := 3000, 1000, 128, 10
	for _, spread := range []float64{1, 4} { // separable, and overlapping
		xv, y := protocolFeatures(7, n+m, d, c, spread)
		train, test := ssl.FromSlice(xv[:n*d], n, d), ssl.FromSlice(xv[n*d:], m, d)
		r, err := EvaluateLinear(train, y[:n], test, y[n:], c, nil)
		if err != nil {
			t.Fatalf("spread %v: EvaluateLinear: %v", spread, err)
		}
		if !r.Converged || r.Iterations < 1 || r.Iterations >= DefaultIterations || r.Residual > 1e-7 {
			t.Errorf("spread %v: %d iterations, residual %g, converged %v", spread, r.Iterations, r.Residual, r.Converged)
		}
		if spread == 1 && (r.TrainTop1 != 1 || r.TestTop1 < 0.99) {
			t.Errorf("spread 1 (separable): top-1 train %v test %v", r.TrainTop1, r.TestTop1)
		}
		// scipy's gtol as Tol: fewer iterations, the same test accuracy to
		// within a sample or two.
		rt, err := EvaluateLinear(train, y[:n], test, y[n:], c, &LinearProbeOptions{Tol: GradTol})
		if err != nil || !rt.Converged || rt.Residual > GradTol || rt.Iterations > r.Iterations || math.Abs(rt.TestTop1-r.TestTop1) > 2.0/float64(m) {
			t.Errorf("spread %v, Tol %g: %+v, %v (Tol 0: %d iterations, test %v)", spread, GradTol, rt, err, r.Iterations, r.TestTop1)
		}
	}
}
