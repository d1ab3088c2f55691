package probe

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/optimize"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// Defaults of the linear probe.
const (
	// DefaultL2 is the default weight of the L2 penalty (λ/2)·‖W‖² on the
	// mean cross-entropy. SimCLR's linear evaluation with L-BFGS (Chen et
	// al. 2020, App. B.5, after Kornblith et al. 2019) selects λ from 45
	// log-spaced values in [1e-6, 1e5] on a validation split; 1e-4 is a
	// value from the low end of that sweep that suits standardized features
	// of a few hundred dimensions and keeps the problem well conditioned.
	DefaultL2 = 1e-4
	// DefaultIterations is the default cap on the L-BFGS iterations. On
	// L2-normalized 128-d features of 10 well-separated classes L-BFGS
	// reaches a float64 stationary point in 40 to 200 iterations; on the
	// strongly correlated features of a trained network (6,000 × 128, 10
	// classes) it reaches max |∇f| ≤ 1e-5 in about 750 iterations and a
	// stationary point later than the cap, with its accuracies already
	// final to 4 digits.
	DefaultIterations = 1000
	// GradTol is scipy's L-BFGS-B default gtol, a Tol that stops the fit
	// once the largest gradient entry is at most 1e-5: in float64 it is
	// reached in about a third of the iterations that a fit to
	// stationarity (Tol 0) takes, with the same accuracies to 4 digits.
	GradTol = 1e-5
	// lbfgsStore is the number of correction pairs L-BFGS keeps. Nocedal
	// and Wright (2006, Sec. 7.2) suggest 3 to 20; learned features are
	// strongly correlated, and on a trained ConvNet's 128-d features 40
	// pairs reach a residual of 1e-5 in 30% fewer iterations than 10, for
	// a negligible 2·40·C·(D+1) floats.
	lbfgsStore = 40
	// probeRowBlock is the number of samples per parallel block of the
	// objective; the blocks' partial sums are added in block order.
	probeRowBlock = 512
)

// ErrNotConverged is wrapped by the error [FitLinearProbe],
// [EvaluateLinear] and [ReverseProbe] return, together with their complete
// result, when a fit ends with its residual above a positive Tol.
// errors.Is(ErrNotConverged, ssl.ErrNotConverged) holds.
var ErrNotConverged = fmt.Errorf("probe: %w", ssl.ErrNotConverged)

// LinearProbeOptions holds the optional settings of [FitLinearProbe],
// [EvaluateLinear] and [ReverseProbe]. A nil *LinearProbeOptions and zero
// fields mean the defaults.
type LinearProbeOptions struct {
	// L2 is λ ≥ 0, the weight of the penalty (λ/2)·‖W‖² (the bias is not
	// penalized). Zero means DefaultL2 (1e-4); set Unregularized for λ = 0.
	L2 float64
	// Unregularized sets λ = 0. Without a penalty the optimum need not
	// exist (separable classes), and the fit may run all its Iterations.
	Unregularized bool
	// Iterations caps the L-BFGS iterations, ≥ 0. Zero means
	// DefaultIterations (1000).
	Iterations int
	// Tol, when positive, stops the fit as soon as the residual, the
	// largest absolute entry of the objective's gradient max |∂f/∂θ|, is at
	// most Tol; a fit that ends above it (Iterations reached, or a line
	// search that can lower f no further) returns its probe with an error
	// wrapping [ErrNotConverged]. Zero runs L-BFGS with no tolerance test,
	// for Iterations iterations or until it reaches a stationary point in
	// float64 (its line search can lower f no further), and returns no
	// such error. GradTol (1e-5) is scipy's default. The residual is
	// computed in float64, so tolerances down to about 1e-10 are
	// reachable.
	Tol float64
	// NoStandardize skips the standardization of the features (use it for
	// binary or already normalized inputs, as reverse probing does).
	NoStandardize bool
}

// LinearProbe is a multinomial logistic-regression classifier on frozen
// features, fitted by [FitLinearProbe]. Its parameters are float64: the
// fit needs function values more precise than float32 for its line
// searches.
type LinearProbe struct {
	// Dim and Classes are the feature dimension D and the class count C.
	Dim, Classes int
	// Mean and Scale standardize a feature row: x̃_d = (x_d − Mean_d)/Scale_d
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
	// Residual the largest absolute entry of its gradient.
	Loss, Residual float64
	// Converged reports, with a positive Tol, whether Residual ≤ Tol; with
	// Tol 0, whether L-BFGS stopped at a stationary point before its
	// Iterations ran out.
	Converged bool
}

// FitLinearProbe trains the linear probe: multinomial logistic regression
// on the standardized features x (N×D) with labels in [0, numClasses),
//
//	x̃_id = (x_id − μ_d) / σ_d                       (μ, σ over the N rows)
//	z_i  = W·x̃_i + b                                 (W is C×D, b is C)
//	f(W, b) = 1/N · Σ_i (log Σ_c exp z_ic − z_i,y_i) + (λ/2)·‖W‖²_F
//
// minimized from W = 0, b = 0 by L-BFGS (gonum/optimize, More–Thuente line
// search, 40 correction pairs). The residual is max |∇f|; the options'
// Iterations and Tol stop the fit as the package's convention says (Tol 0,
// the default: until a float64 stationary point or 1000 iterations). The
// objective and its gradient are computed in float64 over fixed blocks of
// 512 rows whose partial sums are added in order, so the fit is
// deterministic and independent of GOMAXPROCS. f is strictly convex for
// λ > 0, so the minimizer is unique.
//
// It returns an error wrapping ssl.ErrShape if x is not a non-empty matrix
// or len(labels) ≠ N; ssl.ErrParam if numClasses < 1, a label is out of
// range or an option is invalid; ssl.ErrNotFinite if a feature is NaN or
// infinite or the objective becomes non-finite. If the residual ends above
// a positive Tol it returns the probe reached, complete and usable,
// together with an error wrapping [ErrNotConverged] that names the
// iterations and the residual.
//
// Reference: the linear evaluation protocol of Kornblith et al., Do Better
// ImageNet Models Transfer Better?, CVPR 2019, Sec. 3 (L2-regularized
// multinomial logistic regression, L-BFGS), used by SimCLR (Chen et al.
// 2020, App. B.5); Nocedal, Updating Quasi-Newton Matrices with Limited
// Storage, Math. Comp. 1980.
func FitLinearProbe(x ssl.Tensor, labels []int, numClasses int, opts *LinearProbeOptions) (*LinearProbe, error) {
	return fitLinearProbe("probe: FitLinearProbe", x, labels, numClasses, opts)
}

// fitLinearProbe is FitLinearProbe with errors named fn ("probe: Func").
func fitLinearProbe(fn string, x ssl.Tensor, labels []int, numClasses int, opts *LinearProbeOptions) (*LinearProbe, error) {
	o, err := linearOptions(fn, opts)
	if err != nil {
		return nil, err
	}
	n, d, xv, err := checkFeatures(fn, "x", x)
	if err != nil {
		return nil, err
	}
	if err := check.Count(fn, "numClasses", numClasses, 1); err != nil {
		return nil, err
	}
	if err := check.Labels(fn, "labels", labels, n, numClasses); err != nil {
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
		x: standardize(xv, n, d, p.Mean, p.Scale), y: labels, n: n, d: d, c: numClasses, lambda: o.L2,
	}
	dim := numClasses * (d + 1)
	theta := make([]float64, dim)
	g := make([]float64, dim)
	p.Loss = obj.Func(theta)
	obj.Grad(g, theta)
	stationary := maxAbs(g) == 0 // one class, or no signal: θ = 0 is optimal
	var minErr error
	if !stationary && o.Iterations > 0 {
		gradThreshold := math.NaN() // no gradient test
		if o.Tol > 0 {
			gradThreshold = o.Tol
		}
		settings := &optimize.Settings{
			GradientThreshold: gradThreshold,
			MajorIterations:   o.Iterations,
			Converger:         optimize.NeverTerminate{},
		}
		res, err := optimize.Minimize(optimize.Problem{Func: obj.Func, Grad: obj.Grad}, theta, settings, &optimize.LBFGS{Store: lbfgsStore})
		if res == nil {
			return nil, check.Errorf(fn, ssl.ErrNotFinite, "L-BFGS failed: %v", err)
		}
		theta, minErr = res.X, err
		p.Iterations, p.Evaluations = res.Stats.MajorIterations, res.Stats.FuncEvaluations
		p.Loss = res.F
		obj.Grad(g, theta)
		// L-BFGS ends before its cap only at its gradient threshold or when
		// a line search can lower f no further: a stationary point of the
		// float64 objective.
		stationary = res.Status == optimize.GradientThreshold || res.Status == optimize.Failure && p.Iterations < o.Iterations
	}
	p.W = append([]float64(nil), theta[:numClasses*d]...)
	p.B = append([]float64(nil), theta[numClasses*d:]...)
	p.Residual = maxAbs(g)
	if math.IsNaN(p.Loss) || math.IsInf(p.Loss, 0) || math.IsNaN(p.Residual) || math.IsInf(p.Residual, 0) {
		return nil, check.Errorf(fn, ssl.ErrNotFinite, "objective is %v, residual %v", p.Loss, p.Residual)
	}
	if o.Tol > 0 {
		p.Converged = p.Residual <= o.Tol
		if !p.Converged {
			reason := "iteration cap reached"
			if minErr != nil && p.Iterations < o.Iterations {
				reason = "no further decrease: " + minErr.Error()
			}
			return p, fmt.Errorf("%s: residual max|grad|=%.3g > Tol=%g after %d iterations (%s; raise Iterations or L2): %w",
				fn, p.Residual, o.Tol, p.Iterations, reason, ErrNotConverged)
		}
		return p, nil
	}
	p.Converged = stationary
	return p, nil
}

// maxAbs returns max |v_i| (0 for an empty slice).
func maxAbs(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, math.Abs(x))
	}
	return m
}

// linearOptions resolves the defaults and validates the options.
func linearOptions(fn string, opts *LinearProbeOptions) (LinearProbeOptions, error) {
	o := LinearProbeOptions{L2: DefaultL2, Iterations: DefaultIterations}
	if opts == nil {
		return o, nil
	}
	if err := check.NonNegative(fn, "L2", opts.L2); err != nil {
		return o, err
	}
	if opts.L2 != 0 {
		o.L2 = opts.L2
	}
	if opts.Unregularized {
		if opts.L2 != 0 {
			return o, check.Errorf(fn, ssl.ErrParam, "Unregularized with a nonzero L2 (L2=%v)", opts.L2)
		}
		o.L2 = 0
	}
	if err := check.Count(fn, "Iterations", opts.Iterations, 0); err != nil {
		return o, err
	}
	if opts.Iterations != 0 {
		o.Iterations = opts.Iterations
	}
	if err := check.NonNegative(fn, "Tol", opts.Tol); err != nil {
		return o, err
	}
	o.Tol = opts.Tol
	o.Unregularized = opts.Unregularized
	o.NoStandardize = opts.NoStandardize
	return o, nil
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

// standardize returns (x − mean)/scale as a new float64 matrix.
func standardize(x []float32, n, d int, mean, scale []float64) []float64 {
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
// the same θ that gonum's optimizers make next.
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
	const fn = "probe: LinearProbe.Predict"
	m, d, xv, err := checkFeatures(fn, "x", x)
	if err != nil {
		return nil, err
	}
	if d != p.Dim {
		return nil, check.Errorf(fn, ssl.ErrShape, "x has %d features, the probe %d", d, p.Dim)
	}
	if dst != nil && len(dst) != m {
		return nil, check.Errorf(fn, ssl.ErrShape, "len(dst) is %d, want %d (the rows of x)", len(dst), m)
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

// EvaluateLinearResult is the result of [EvaluateLinear].
type EvaluateLinearResult struct {
	// TrainTop1 and TestTop1 are the top-1 accuracies in [0, 1].
	TrainTop1, TestTop1 float64
	// Iterations is the number of L-BFGS iterations of the fit, Residual
	// its final max |∇f| and Converged whether it converged, as
	// [LinearProbe] defines them.
	Iterations int
	Residual   float64
	Converged  bool
	// Probe is the fitted classifier.
	Probe *LinearProbe
}

// EvaluateLinear runs the linear-probe protocol: it fits [FitLinearProbe]
// on (train, trainLabels) and reports the top-1 accuracy on the training
// and the test set, the iterations the fit took, its residual and whether
// it converged. It checks every argument before fitting and returns the
// errors of FitLinearProbe, and one wrapping ssl.ErrShape if test is not a
// matrix as wide as train or len(testLabels) is not its row count, or
// ssl.ErrParam for a test label outside [0, numClasses). When the fit
// misses a positive Tol, the complete result (the accuracies of the probe
// reached) comes back with the error wrapping [ErrNotConverged].
func EvaluateLinear(train ssl.Tensor, trainLabels []int, test ssl.Tensor, testLabels []int, numClasses int, opts *LinearProbeOptions) (EvaluateLinearResult, error) {
	const fn = "probe: EvaluateLinear"
	if _, err := linearOptions(fn, opts); err != nil {
		return EvaluateLinearResult{}, err
	}
	n, d, _, err := checkFeatures(fn, "train", train)
	if err != nil {
		return EvaluateLinearResult{}, err
	}
	m, dt, _, err := checkFeatures(fn, "test", test)
	if err != nil {
		return EvaluateLinearResult{}, err
	}
	if dt != d {
		return EvaluateLinearResult{}, check.Errorf(fn, ssl.ErrShape, "test has %d features, train has %d", dt, d)
	}
	if err := check.Count(fn, "numClasses", numClasses, 1); err != nil {
		return EvaluateLinearResult{}, err
	}
	if err := check.Labels(fn, "trainLabels", trainLabels, n, numClasses); err != nil {
		return EvaluateLinearResult{}, err
	}
	if err := check.Labels(fn, "testLabels", testLabels, m, numClasses); err != nil {
		return EvaluateLinearResult{}, err
	}
	p, fitErr := fitLinearProbe(fn, train, trainLabels, numClasses, opts)
	if p == nil {
		return EvaluateLinearResult{}, fitErr
	}
	trPred, err := p.Predict(nil, train)
	if err != nil {
		return EvaluateLinearResult{}, err
	}
	tePred, err := p.Predict(nil, test)
	if err != nil {
		return EvaluateLinearResult{}, err
	}
	r := EvaluateLinearResult{Iterations: p.Iterations, Residual: p.Residual, Converged: p.Converged, Probe: p}
	r.TrainTop1, _ = Accuracy(trPred, trainLabels)
	r.TestTop1, _ = Accuracy(tePred, testLabels)
	return r, fitErr
}
