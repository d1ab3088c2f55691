package probe

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/optimize"

	"ssl"
	"ssl/internal/kernel"
)

// Defaults of the linear probe.
const (
	// DefaultL2 is the default weight of the L2 penalty (λ/2)·‖W‖² on the
	// mean cross-entropy. SimCLR's linear evaluation with L-BFGS (Chen et
	// al. 2020, App. B.5, after Kornblith et al. 2019) selects λ from 45
	// log-spaced values in [1e-6, 1e5] on a validation split; 1e-4 is a
	// value from the low end of that sweep that suits standardised features
	// of a few hundred dimensions and keeps the problem well conditioned.
	DefaultL2 = 1e-4
	// DefaultMaxIter is the default iteration cap of L-BFGS; problems of
	// 60,000×128 with 10 classes converge in a few hundred.
	DefaultMaxIter = 1000
	// DefaultGradTol is the default convergence threshold on the largest
	// absolute entry of the objective's gradient: scipy's L-BFGS-B default
	// gtol (scikit-learn's LogisticRegression passes its tol, 1e-4).
	DefaultGradTol = 1e-5
	// DefaultFuncTol is the default threshold on the relative decrease of
	// the objective in one iteration, (f_k − f_k+1)/max(|f_k|, 1): scipy's
	// L-BFGS-B default ftol, factr·eps = 1e7·2.2e-16.
	DefaultFuncTol = 2.220446049250313e-09
	// lbfgsStore is the number of correction pairs L-BFGS keeps (Nocedal
	// and Wright 2006, Sec. 7.2: "between 3 and 20").
	lbfgsStore = 10
	// probeRowBlock is the number of samples per parallel block of the
	// objective; the blocks' partial sums are added in block order.
	probeRowBlock = 512
)

// ErrNotConverged is wrapped, together with ssl.ErrParam, by the error
// [FitLinearProbe] returns with a usable but unconverged probe, so callers
// can tell it from a rejected input and keep the result.
var ErrNotConverged = errors.New("probe: not converged")

// LinearProbeOptions holds the optional settings of [FitLinearProbe].
// A nil *LinearProbeOptions and zero fields mean the defaults.
type LinearProbeOptions struct {
	// L2 is λ ≥ 0, the weight of the penalty (λ/2)·‖W‖² (the bias is not
	// penalised). Zero means DefaultL2 (1e-4); set Unregularised for λ = 0.
	L2 float64
	// Unregularised sets λ = 0. Without a penalty the optimum need not
	// exist (separable classes), and the fit may hit MaxIter.
	Unregularised bool
	// MaxIter caps the L-BFGS iterations, ≥ 1. Zero means DefaultMaxIter.
	MaxIter int
	// GradTol is the convergence threshold on max |∂f/∂θ|, > 0. Zero means
	// DefaultGradTol (1e-5).
	GradTol float64
	// FuncTol is the convergence threshold on the relative decrease of the
	// objective in one iteration, > 0. Zero means DefaultFuncTol (2.2e-9).
	FuncTol float64
	// NoStandardize skips the standardisation of the features (use it for
	// binary or already normalised inputs, as reverse probing does).
	NoStandardize bool
}

// LinearProbe is a multinomial logistic-regression classifier on frozen
// features, fitted by [FitLinearProbe]. Its parameters are float64: the
// fit needs function values more precise than float32 for its line
// searches.
type LinearProbe struct {
	// Dim and Classes are the feature dimension D and the class count C.
	Dim, Classes int
	// Mean and Scale standardise a feature row: x̃_d = (x_d − Mean_d)/Scale_d
	// (the training set's mean and population standard deviation; a
	// constant feature gets Scale 1, as scikit-learn's StandardScaler
	// does). With NoStandardize they are 0 and 1.
	Mean, Scale []float64
	// W (C×D, row-major) and B (C) give the logits z = W·x̃ + B.
	W, B []float64
	// Iterations and Evaluations are the L-BFGS iterations run and the
	// objective evaluations they took.
	Iterations, Evaluations int
	// Loss is the final objective (mean cross-entropy plus penalty) and
	// GradNorm the largest absolute entry of its gradient.
	Loss, GradNorm float64
	// Converged says which test stopped the fit: "gradient" (GradNorm ≤
	// GradTol) or "function" (relative decrease ≤ FuncTol).
	Converged string
}

// FitLinearProbe trains the linear probe: multinomial logistic regression
// on the standardised features x (N×D) with labels in [0, numClasses),
//
//	x̃_id = (x_id − μ_d) / σ_d                       (μ, σ over the N rows)
//	z_i  = W·x̃_i + b                                 (W is C×D, b is C)
//	f(W, b) = 1/N · Σ_i (log Σ_c exp z_ic − z_i,y_i) + (λ/2)·‖W‖²_F
//
// minimised from W = 0, b = 0 by L-BFGS (gonum/optimize, More–Thuente line
// search, 10 correction pairs) until max |∇f| ≤ GradTol (1e-5) or an
// iteration decreases f by at most FuncTol·max(|f|, 1) (2.2e-9): scipy's
// L-BFGS-B stopping rules, which scikit-learn's solver uses. The
// objective and its gradient are computed in float64 over fixed blocks of
// 512 rows whose partial sums are added in order, so the fit is
// deterministic and independent of GOMAXPROCS. f is strictly convex for
// λ > 0, so the minimiser is unique.
//
// It returns an error wrapping ssl.ErrShape if x is not a non-empty matrix
// or len(labels) ≠ N; ssl.ErrParam if numClasses < 1, a label is out of
// range or an option is invalid; ssl.ErrNotFinite if a feature is NaN or
// infinite or the objective becomes non-finite. If L-BFGS stops before
// either test is met (MaxIter reached, or a line search that can make no
// more progress) it returns the probe reached so far together with an
// error wrapping [ErrNotConverged] and ssl.ErrParam that names the
// iterations and the gradient.
//
// Reference: the linear evaluation protocol of Kornblith et al., Do Better
// ImageNet Models Transfer Better?, CVPR 2019, Sec. 3 (L2-regularised
// multinomial logistic regression, L-BFGS), used by SimCLR (Chen et al.
// 2020, App. B.5); Nocedal, Updating Quasi-Newton Matrices with Limited
// Storage, Math. Comp. 1980.
func FitLinearProbe(x ssl.Tensor, labels []int, numClasses int, opts *LinearProbeOptions) (*LinearProbe, error) {
	o, err := linearOptions("FitLinearProbe", opts)
	if err != nil {
		return nil, err
	}
	n, d, xv, err := checkFeatures("FitLinearProbe", "x", x)
	if err != nil {
		return nil, err
	}
	if numClasses < 1 {
		return nil, fmt.Errorf("probe: FitLinearProbe: numClasses must be at least 1 (numClasses=%d): %w", numClasses, ssl.ErrParam)
	}
	if len(labels) != n {
		return nil, fmt.Errorf("probe: FitLinearProbe: labels has %d entries, x has %d rows: %w", len(labels), n, ssl.ErrShape)
	}
	if err := checkLabels("FitLinearProbe", "labels", labels, numClasses); err != nil {
		return nil, err
	}
	p := &LinearProbe{Dim: d, Classes: numClasses, Mean: make([]float64, d), Scale: make([]float64, d)}
	for j := range p.Scale {
		p.Scale[j] = 1
	}
	if !o.NoStandardize {
		standardStats(p.Mean, p.Scale, xv, n, d)
	}
	obj := &logRegObjective{
		x: standardise(xv, n, d, p.Mean, p.Scale), y: labels, n: n, d: d, c: numClasses, lambda: o.L2,
	}
	dim := numClasses * (d + 1)
	problem := optimize.Problem{Func: obj.Func, Grad: obj.Grad}
	settings := &optimize.Settings{
		GradientThreshold: o.GradTol,
		MajorIterations:   o.MaxIter,
		Converger:         &relativeDecrease{tol: o.FuncTol},
	}
	res, minErr := optimize.Minimize(problem, make([]float64, dim), settings, &optimize.LBFGS{Store: lbfgsStore})
	if res == nil {
		return nil, fmt.Errorf("probe: FitLinearProbe: %v: %w", minErr, ssl.ErrParam)
	}
	theta := res.X
	p.W = append([]float64(nil), theta[:numClasses*d]...)
	p.B = append([]float64(nil), theta[numClasses*d:]...)
	p.Iterations, p.Evaluations = res.Stats.MajorIterations, res.Stats.FuncEvaluations
	p.Loss = res.F
	g := make([]float64, dim)
	obj.Grad(g, theta)
	for _, v := range g {
		p.GradNorm = math.Max(p.GradNorm, math.Abs(v))
	}
	if math.IsNaN(p.Loss) || math.IsInf(p.Loss, 0) {
		return nil, fmt.Errorf("probe: FitLinearProbe: objective is %v: %w", p.Loss, ssl.ErrNotFinite)
	}
	switch {
	case res.Status == optimize.GradientThreshold || p.GradNorm <= o.GradTol:
		p.Converged = "gradient"
	case res.Status == optimize.FunctionConvergence:
		p.Converged = "function"
	default:
		reason := res.Status.String()
		if minErr != nil && !errors.Is(minErr, res.Status.Err()) {
			reason = minErr.Error()
		}
		return p, fmt.Errorf("probe: FitLinearProbe: did not converge (%s after %d iterations, max|grad|=%.3g > GradTol=%g; raise MaxIter or L2): %w: %w",
			reason, p.Iterations, p.GradNorm, o.GradTol, ErrNotConverged, ssl.ErrParam)
	}
	return p, nil
}

// relativeDecrease is scipy L-BFGS-B's ftol test as a gonum Converger: it
// reports FunctionConvergence when an iteration lowers f by at most
// tol·max(|f_prev|, |f|, 1).
type relativeDecrease struct {
	tol, prev float64
	started   bool
}

func (r *relativeDecrease) Init(dim int) { r.started = false }

func (r *relativeDecrease) Converged(loc *optimize.Location) optimize.Status {
	f := loc.F
	if r.started && r.prev-f <= r.tol*math.Max(math.Max(math.Abs(r.prev), math.Abs(f)), 1) {
		return optimize.FunctionConvergence
	}
	r.prev, r.started = f, true
	return optimize.NotTerminated
}

// linearOptions resolves the defaults and validates the options.
func linearOptions(fn string, opts *LinearProbeOptions) (LinearProbeOptions, error) {
	o := LinearProbeOptions{L2: DefaultL2, MaxIter: DefaultMaxIter, GradTol: DefaultGradTol, FuncTol: DefaultFuncTol}
	if opts == nil {
		return o, nil
	}
	if opts.L2 < 0 || math.IsNaN(opts.L2) || math.IsInf(opts.L2, 0) {
		return o, fmt.Errorf("probe: %s: L2 must be finite and non-negative (L2=%v): %w", fn, opts.L2, ssl.ErrParam)
	}
	if opts.L2 != 0 {
		o.L2 = opts.L2
	}
	if opts.Unregularised {
		if opts.L2 != 0 {
			return o, fmt.Errorf("probe: %s: Unregularised with L2=%v: %w", fn, opts.L2, ssl.ErrParam)
		}
		o.L2 = 0
	}
	if opts.MaxIter < 0 {
		return o, fmt.Errorf("probe: %s: MaxIter must be positive (MaxIter=%d): %w", fn, opts.MaxIter, ssl.ErrParam)
	}
	if opts.MaxIter != 0 {
		o.MaxIter = opts.MaxIter
	}
	if opts.GradTol < 0 || math.IsNaN(opts.GradTol) || math.IsInf(opts.GradTol, 0) {
		return o, fmt.Errorf("probe: %s: GradTol must be positive and finite (GradTol=%v): %w", fn, opts.GradTol, ssl.ErrParam)
	}
	if opts.GradTol != 0 {
		o.GradTol = opts.GradTol
	}
	if opts.FuncTol < 0 || math.IsNaN(opts.FuncTol) || math.IsInf(opts.FuncTol, 0) {
		return o, fmt.Errorf("probe: %s: FuncTol must be positive and finite (FuncTol=%v): %w", fn, opts.FuncTol, ssl.ErrParam)
	}
	if opts.FuncTol != 0 {
		o.FuncTol = opts.FuncTol
	}
	o.NoStandardize = opts.NoStandardize
	return o, nil
}

// checkFeatures views a non-empty, finite feature matrix.
func checkFeatures(fn, name string, x ssl.Tensor) (n, d int, xv []float32, err error) {
	n, d, xv, err = ssl.Matrix(x)
	if err != nil {
		return 0, 0, nil, fmt.Errorf("probe: %s: %s: %w", fn, name, err)
	}
	if n == 0 || d == 0 {
		return 0, 0, nil, fmt.Errorf("probe: %s: %s is empty (shape (%d, %d)): %w", fn, name, n, d, ssl.ErrShape)
	}
	if i := firstNonFinite(xv); i >= 0 {
		return 0, 0, nil, fmt.Errorf("probe: %s: %s[%d][%d] is %v: %w", fn, name, i/d, i%d, xv[i], ssl.ErrNotFinite)
	}
	return n, d, xv, nil
}

// standardStats computes the per-feature mean and population standard
// deviation of x (n×d) in float64 (two passes). A feature whose deviation
// is zero, or below 1e-12 of its magnitude (rounding noise), gets scale 1.
func standardStats(mean, scale []float64, x []float32, n, d int) {
	for i := range n {
		for j, v := range x[i*d : (i+1)*d] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	clear(scale)
	for i := range n {
		for j, v := range x[i*d : (i+1)*d] {
			t := float64(v) - mean[j]
			scale[j] += t * t
		}
	}
	for j := range scale {
		s := math.Sqrt(scale[j] / float64(n))
		if s <= 1e-12*math.Max(1, math.Abs(mean[j])) {
			s = 1
		}
		scale[j] = s
	}
}

// standardise returns (x − mean)/scale as a new float64 matrix.
func standardise(x []float32, n, d int, mean, scale []float64) []float64 {
	out := make([]float64, n*d)
	for i := range n {
		o := out[i*d : (i+1)*d]
		for j, v := range x[i*d : (i+1)*d] {
			o[j] = (float64(v) - mean[j]) / scale[j]
		}
	}
	return out
}

// logRegObjective is the probe's objective f(θ), θ = (W row-major, b). Func
// computes f and ∇f together and keeps the gradient for the Grad call at
// the same θ that gonum's optimisers make next.
type logRegObjective struct {
	x             []float64 // n×d standardised features
	y             []int
	n, d, c       int
	lambda        float64
	lastX, lastG  []float64
	partF         []float64 // per block
	partG         []float64 // per block, c·(d+1) each
	evaluatedOnce bool
}

func (o *logRegObjective) Func(theta []float64) float64 {
	f := o.eval(theta)
	return f
}

func (o *logRegObjective) Grad(grad, theta []float64) {
	if !o.evaluatedOnce || !equal(theta, o.lastX) {
		o.eval(theta)
	}
	copy(grad, o.lastG)
}

func equal(a, b []float64) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// eval computes f(θ) and ∇f(θ) (stored in lastG):
//
//	∂f/∂W_c = 1/N Σ_i (p_ic − [y_i = c])·x̃_i + λ·W_c,  ∂f/∂b_c = 1/N Σ_i (p_ic − [y_i = c])
func (o *logRegObjective) eval(theta []float64) float64 {
	n, d, c := o.n, o.d, o.c
	np := c * (d + 1)
	blocks := (n + probeRowBlock - 1) / probeRowBlock
	if o.partF == nil {
		o.partF = make([]float64, blocks)
		o.partG = make([]float64, blocks*np)
		o.lastX = make([]float64, np)
		o.lastG = make([]float64, np)
	}
	w, b := theta[:c*d], theta[c*d:]
	kernel.ParallelFor(n, probeRowBlock, func(lo, hi int) {
		blk := lo / probeRowBlock
		g := o.partG[blk*np : (blk+1)*np]
		clear(g)
		gw, gb := g[:c*d], g[c*d:]
		z := make([]float64, c)
		loss := 0.0
		for i := lo; i < hi; i++ {
			xi := o.x[i*d : (i+1)*d]
			m := math.Inf(-1)
			for k := range c {
				z[k] = b[k] + dot64(w[k*d:(k+1)*d], xi)
				m = math.Max(m, z[k])
			}
			yi := o.y[i]
			zy := z[yi]
			s := 0.0
			for k := range c {
				z[k] = math.Exp(z[k] - m)
				s += z[k]
			}
			// log Σ_k exp z_k − z_y with the maximum m factored out; no
			// term underflows into a log of zero.
			loss += m + math.Log(s) - zy
			inv := 1 / s
			for k := range c {
				r := z[k] * inv
				if k == yi {
					r--
				}
				gb[k] += r
				axpy64(r, xi, gw[k*d:(k+1)*d])
			}
		}
		o.partF[blk] = loss
	})
	f := 0.0
	g := o.lastG
	clear(g)
	for blk := range blocks {
		f += o.partF[blk]
		pg := o.partG[blk*np : (blk+1)*np]
		for j, v := range pg {
			g[j] += v
		}
	}
	invN := 1 / float64(n)
	f *= invN
	for j := range g {
		g[j] *= invN
	}
	if o.lambda > 0 {
		f += 0.5 * o.lambda * dot64(w, w)
		for j, v := range w {
			g[j] += o.lambda * v
		}
	}
	copy(o.lastX, theta)
	o.evaluatedOnce = true
	return f
}

// dot64 returns Σ a[i]·b[i] (gonum's floats.Dot: SSE2 assembly on amd64,
// twice the speed of a scalar loop; the summation order is fixed).
func dot64(a, b []float64) float64 { return floats.Dot(a, b[:len(a)]) }

// axpy64 computes y[i] += alpha·x[i] (gonum's floats.AddScaled).
func axpy64(alpha float64, x, y []float64) { floats.AddScaled(y[:len(x)], alpha, x) }

// Predict writes into dst the class of each row of x (M×D): the argmax of
// the logits W·x̃ + B (ties: the lower class). A nil dst is allocated. It
// returns an error wrapping ssl.ErrShape if x is not a non-empty M×D matrix
// or dst is non-nil with length ≠ M, and ssl.ErrNotFinite for a NaN or
// infinite feature.
func (p *LinearProbe) Predict(dst []int, x ssl.Tensor) ([]int, error) {
	m, d, xv, err := checkFeatures("LinearProbe.Predict", "x", x)
	if err != nil {
		return nil, err
	}
	if d != p.Dim {
		return nil, fmt.Errorf("probe: LinearProbe.Predict: x has %d features, the probe %d: %w", d, p.Dim, ssl.ErrShape)
	}
	if dst != nil && len(dst) != m {
		return nil, fmt.Errorf("probe: LinearProbe.Predict: dst has %d entries, x has %d rows: %w", len(dst), m, ssl.ErrShape)
	}
	if dst == nil {
		dst = make([]int, m)
	}
	kernel.ParallelFor(m, probeRowBlock, func(lo, hi int) {
		xi := make([]float64, d)
		for i := lo; i < hi; i++ {
			for j, v := range xv[i*d : (i+1)*d] {
				xi[j] = (float64(v) - p.Mean[j]) / p.Scale[j]
			}
			best, bz := 0, math.Inf(-1)
			for k := range p.Classes {
				if z := p.B[k] + dot64(p.W[k*d:(k+1)*d], xi); z > bz {
					best, bz = k, z
				}
			}
			dst[i] = best
		}
	})
	return dst, nil
}

// LinearEval is the result of [EvaluateLinear].
type LinearEval struct {
	// TrainTop1 and TestTop1 are the top-1 accuracies in [0, 1].
	TrainTop1, TestTop1 float64
	// Iterations is the number of L-BFGS iterations of the fit.
	Iterations int
	// Probe is the fitted classifier.
	Probe *LinearProbe
}

// EvaluateLinear runs the linear-probe protocol: it fits [FitLinearProbe]
// on (train, trainLabels) and reports the top-1 accuracy on the training
// and the test set and the iterations the fit took. It returns the errors
// of FitLinearProbe (including the non-convergence error, with the
// accuracies of the probe reached) and of [LinearProbe.Predict], and one
// wrapping ssl.ErrShape or ssl.ErrParam for bad test labels.
func EvaluateLinear(train ssl.Tensor, trainLabels []int, test ssl.Tensor, testLabels []int, numClasses int, opts *LinearProbeOptions) (LinearEval, error) {
	m, dt, _, err := checkFeatures("EvaluateLinear", "test", test)
	if err != nil {
		return LinearEval{}, err
	}
	if len(testLabels) != m {
		return LinearEval{}, fmt.Errorf("probe: EvaluateLinear: testLabels has %d entries, test has %d rows: %w", len(testLabels), m, ssl.ErrShape)
	}
	if numClasses >= 1 {
		if err := checkLabels("EvaluateLinear", "testLabels", testLabels, numClasses); err != nil {
			return LinearEval{}, err
		}
	}
	if _, d, _, err := ssl.Matrix(train); err == nil && d != dt {
		return LinearEval{}, fmt.Errorf("probe: EvaluateLinear: test has %d features, train has %d: %w", dt, d, ssl.ErrShape)
	}
	p, fitErr := FitLinearProbe(train, trainLabels, numClasses, opts)
	if p == nil {
		return LinearEval{}, fitErr
	}
	trPred, err := p.Predict(nil, train)
	if err != nil {
		return LinearEval{}, err
	}
	tePred, err := p.Predict(nil, test)
	if err != nil {
		return LinearEval{}, err
	}
	r := LinearEval{Iterations: p.Iterations, Probe: p}
	r.TrainTop1, _ = Accuracy(trPred, trainLabels)
	r.TestTop1, _ = Accuracy(tePred, testLabels)
	return r, fitErr
}
