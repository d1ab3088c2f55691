package sinkhorn

import (
	"fmt"
	"math"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// SeLa's constants (yukimasano/self-label@3891e376 sinkhornknopp.py
// optimize_L_sk: `while err > 1e-1`, `if (_counter % 10) == 0`) and the cap
// this package adds to its otherwise unbounded loop.
const (
	selaTol        = 0.1
	selaCheckEvery = 10
	selaIterations = 10000
)

// SeLaOptions are the optional settings of [SeLa]. A nil *SeLaOptions
// means SeLa's own schedule: Tol 0.1, tested every 10 updates, at most
// 10000 updates. An options struct follows the library's stopping rule:
// Tol 0 runs exactly Iterations updates, so pass Tol: 0.1 to keep SeLa's
// test.
type SeLaOptions struct {
	// Iterations caps the updates; ≥ 0, and 0 means 10000.
	Iterations int
	// Tol, when > 0, is SeLa's stopping threshold on Σ_j |c_j/c'_j − 1| (a
	// sum over all N samples, see [SeLa]): stop after the first tested
	// update whose error is ≤ Tol. ≥ 0; 0 runs exactly Iterations updates
	// with no test (the error is still computed on the tested updates and
	// reported as the Residual).
	Tol float64
	// CheckEvery is the cadence of the test (on updates 0, CheckEvery,
	// 2·CheckEvery, …); ≥ 0, and 0 means SeLa's 10.
	CheckEvery int
	// Domain selects the exp- or log-domain iteration; [Auto] detects.
	Domain Domain
	// InPlace lets SeLa transform the caller's probs buffer into its
	// kernel instead of allocating its one N×K float32 copy: probs is
	// overwritten (it holds neither the input nor the plan afterwards,
	// unless plan is probs itself). With InPlace, plan may be probs. With
	// [Auto] and InPlace, a fall-back to the log domain starts from the
	// float32 kernel, in which entries below 2^-126 of their row's mass
	// after update 0 are already zero; pass [Log] to avoid that.
	InPlace bool
	// Reducer, when not nil, makes the call one worker of a sharded solve
	// over the rows it holds (≥ 1); N is the total over workers. Every
	// worker must call SeLa with the same λ, K and options.
	Reducer Reducer
	// LogR (length K) and LogC (length N, this worker's rows), when not
	// nil, receive the scaling vectors; otherwise they are allocated.
	LogR, LogC []float64
	// Workspace, when not nil, holds the scratch and the N×K kernel copy,
	// so that repeated calls allocate nothing; nil allocates per call.
	Workspace *Workspace
}

// selaCfg is SeLaOptions with the defaults filled in.
type selaCfg struct {
	iters, checkEvery int
	tol               float64
}

// SeLaResult is what [SeLa] returns.
type SeLaResult struct {
	// Result holds the updates run (Iterations, SeLa's n_iter), SeLa's
	// error at the last check (Residual), the marginal error of the plan Q
	// (rows sum exactly to 1/N, prototypes to about 1/K), the domain used,
	// and the plan tensor when one was asked.
	Result
	// Labels[j] = argmax_k Q_jk, the first maximum on ties.
	Labels []int
	// LogR and LogC are the scaling vectors in log form:
	// Q_jk = exp(LogC_j + λ·log P_jk + LogR_k), in SeLa's own gauge (c
	// starts at 1/N), so exp(LogR) and exp(LogC) are SeLa's r and c where
	// they are representable.
	LogR, LogC []float64
}

// SeLa computes SeLa's pseudo-labels for a whole dataset: given the model's
// probabilities P (N samples × K labels), it finds the balanced transport
// plan Q = diag(c)·P^λ·diag(r) (elementwise power) whose rows sum to 1/N
// and columns to 1/K, by SeLa's fast vector-scaling iteration:
//
//	c = 1/N; repeat:
//	    r_k = (1/K) / Σ_j P_jk^λ·c_j
//	    c'_j = (1/N) / Σ_k P_jk^λ·r_k
//	    on updates 0, 10, 20, …: err = Σ_j |c_j/c'_j − 1|
//	    c = c'
//	until err ≤ Tol (0.1)
//	labels_j = argmax_k Q_jk
//
// Only r and c change while iterating; P^λ is formed once and never
// rewritten, and each update streams it once (the r update of one step and
// the c update of the next share the pass). The loop is exactly SeLa's,
// including its stopping rule (err is a sum over the N samples, tested
// every 10 updates, so Iterations is 10·m + 1 with nil options).
//
// Memory: one float32 N×K copy (the kernel), held in the Workspace, or none
// with InPlace, which transforms probs itself. plan (N×K), when not nil,
// receives Q; it may be probs only with InPlace. labels, when not nil,
// must have length N; otherwise it is allocated. probs is not modified
// without InPlace.
//
// Numerics: with λ = 25, P^λ reaches 1e-160, far below float32. Update 0
// is therefore computed in float64 from P (P_jk/max_l P_jl raised to λ by
// repeated squaring for integer λ), and the float32 kernel is the plan
// after update 0 scaled by N, A_jk = y_jk·ṽ_k/s_j (rows sum to 1; the
// scalings are absorbed into r and c exactly), on which the iteration
// continues with float64 scaling vectors. Entries of A below 2^-126 are
// flushed; the exp domain is kept only while that cannot move any sum by
// more than float32 rounding (see the package documentation), and
// otherwise [Auto] switches to the log domain. The set-up reads P twice in
// float64 and writes the kernel once.
//
// It returns an error wrapping ssl.ErrShape for an empty or mismatched
// tensor or slice, or a plan overlapping probs without InPlace;
// ssl.ErrParam for λ ≤ 0 or non-finite, invalid options, a negative
// probability, or a sample or label whose probabilities are all zero;
// ssl.ErrNotFinite for NaN or ±Inf probabilities, or with [Exp] for a
// problem the exp domain cannot represent. Nothing is written then (with
// InPlace, probs may already be transformed when the iteration fails).
// With a positive Tol not met within Iterations updates it returns the
// complete result of the last update together with an error wrapping
// [ErrNotConverged].
//
// Reference: Asano, Rupprecht, Vedaldi, Self-labelling via simultaneous
// clustering and representation learning, ICLR 2020, §3 (eq. 5–6) and
// §3.1 "fast version"; yukimasano/self-label@3891e376 sinkhornknopp.py
// optimize_L_sk.
func SeLa(labels []int, plan, probs ssl.Tensor, lambda float64, opts *SeLaOptions) (SeLaResult, error) {
	const fn = "sinkhorn: SeLa"
	n, k, p, err := check.NonEmptyMatrix(fn, "probs", probs)
	if err != nil {
		return SeLaResult{}, err
	}
	if err := check.Positive(fn, "lambda", lambda); err != nil {
		return SeLaResult{}, err
	}
	cfg := selaCfg{iters: selaIterations, checkEvery: selaCheckEvery, tol: selaTol}
	var o SeLaOptions
	if opts != nil {
		o = *opts
		if err := check.Count(fn, "Iterations", o.Iterations, 0); err != nil {
			return SeLaResult{}, err
		}
		if err := check.NonNegative(fn, "Tol", o.Tol); err != nil {
			return SeLaResult{}, err
		}
		if err := check.Count(fn, "CheckEvery", o.CheckEvery, 0); err != nil {
			return SeLaResult{}, err
		}
		if err := checkDomain(fn, o.Domain); err != nil {
			return SeLaResult{}, err
		}
		cfg.tol = o.Tol
		if o.Iterations > 0 {
			cfg.iters = o.Iterations
		}
		if o.CheckEvery > 0 {
			cfg.checkEvery = o.CheckEvery
		}
	}
	switch {
	case o.LogR != nil && len(o.LogR) != k:
		return SeLaResult{}, check.Errorf(fn, ssl.ErrShape, "LogR has length %d, want K=%d", len(o.LogR), k)
	case o.LogC != nil && len(o.LogC) != n:
		return SeLaResult{}, check.Errorf(fn, ssl.ErrShape, "LogC has length %d, want N=%d", len(o.LogC), n)
	case labels != nil && len(labels) != n:
		return SeLaResult{}, check.Errorf(fn, ssl.ErrShape, "labels has length %d, want N=%d", len(labels), n)
	}
	var q []float32
	if !check.IsNil(plan) {
		if q, err = check.Dst(fn, "plan", plan, check.Shape2(n, k)); err != nil {
			return SeLaResult{}, err
		}
		if kernel.Overlaps(q, p) && !(o.InPlace && &q[0] == &p[0]) {
			return SeLaResult{}, check.Errorf(fn, ssl.ErrShape, "plan overlaps probs (allowed only as probs itself with InPlace)")
		}
	}
	ws := o.Workspace
	if ws == nil {
		ws = new(Workspace)
	}
	e := ws.prepare(n, k)
	e.red, e.src, e.param, e.nTotal = o.Reducer, p, lambda, n
	e.intPow = 0
	if lambda == math.Trunc(lambda) && lambda <= 64 {
		e.intPow = int(lambda)
	}

	// Row maxima, checks, and column maxima of the row-normalized P.
	e.parallel(selaRowMaxBlock)
	bad := -1
	for b := range e.nb {
		if e.blk[4*b] >= 0 {
			bad = int(e.blk[4*b])
			break
		}
	}
	copy(e.cmax[:k], e.part3[:k])
	for b := 1; b < e.nb; b++ {
		for j, x := range e.part3[b*k : (b+1)*k] {
			e.cmax[j] = max(e.cmax[j], x)
		}
	}
	mMax := math.Inf(-1) // max_j λ·log max_k P_jk
	for i := range n {
		mMax = max(mMax, lambda*math.Log(e.rmax[i]))
	}
	if e.red != nil {
		x := e.redK[:k+2]
		for j := range k {
			x[j] = float64(e.cmax[j])
		}
		x[k], x[k+1] = mMax, 0
		if bad >= 0 {
			x[k+1] = 1
		}
		if err := e.reduce(x, Max); err != nil {
			return SeLaResult{}, fmt.Errorf(fn+": %w", err)
		}
		for j := range k {
			e.cmax[j] = float32(x[j])
		}
		mMax = x[k]
		if bad < 0 && x[k+1] != 0 {
			return SeLaResult{}, check.Errorf(fn, ssl.ErrParam, "probs of another worker are invalid")
		}
		c := e.red8[:1]
		c[0] = float64(n)
		if err := e.reduce(c, Sum); err != nil {
			return SeLaResult{}, fmt.Errorf(fn+": %w", err)
		}
		e.nTotal = int(c[0])
	}
	if bad >= 0 {
		i, j := bad/k, bad%k
		if v := p[bad]; v-v != 0 {
			return SeLaResult{}, check.Errorf(fn, ssl.ErrNotFinite, "probs[%d, %d] is %v", i, j, v)
		} else if v < 0 {
			return SeLaResult{}, check.Errorf(fn, ssl.ErrParam, "probs[%d, %d] is negative (%v)", i, j, v)
		}
		return SeLaResult{}, check.Errorf(fn, ssl.ErrParam, "probs row %d is all zero", i)
	}
	for j := range k {
		if !(e.cmax[j] > 0) {
			return SeLaResult{}, check.Errorf(fn, ssl.ErrParam, "probs column %d is zero on every row", j)
		}
	}
	e.rowC, e.colC = 1/float64(e.nTotal), 1/float64(k)
	e.param2 = mMax
	if o.InPlace {
		e.a = p
	} else {
		e.a = ws.kernelBuf(n, k)
	}

	e.sizeRowBufs()
	res := SeLaResult{Labels: labels, LogR: o.LogR, LogC: o.LogC}
	conv := true
	mode := selaLogReplay
	if o.Domain != Log {
		// Update 0 in float64, then the exp-domain kernel in its gauge.
		ok, err := selaFirstUpdate(e)
		if err != nil {
			return SeLaResult{}, fmt.Errorf(fn+": %w", err)
		}
		mode = selaLogContinue
		if ok {
			res.Iterations, res.Residual, conv, ok, err = selaLoop(e, cfg, 1, e.param3)
			if err != nil {
				return SeLaResult{}, fmt.Errorf(fn+": %w", err)
			}
			if ok {
				mode = selaExp
			}
		} else if !e.firstDone {
			mode = selaLogReplay
		}
		if mode != selaExp && o.Domain == Exp {
			return SeLaResult{}, check.Errorf(fn, ssl.ErrNotFinite, "the exp-domain kernel cannot represent the problem at update %d (lambda=%v)", res.Iterations, lambda)
		}
	}
	e.logMode = mode
	if mode != selaExp {
		e.logDomain, res.LogDomain = true, true
		e.sizeRowBufs()
		e.fromKernel = o.InPlace
		e.parallel(selaLogKernelBlock)
		clear(e.g[:k])
		if err := e.colLogSums(); err != nil {
			return SeLaResult{}, fmt.Errorf(fn+": %w", err)
		}
		start, startErr := 0, 1e6 // SeLa's initial err
		if mode == selaLogContinue {
			start, startErr = 1, e.param3
		}
		res.Iterations, res.Residual, conv, _, err = selaLoop(e, cfg, start, startErr)
		if err != nil {
			return SeLaResult{}, fmt.Errorf(fn+": %w", err)
		}
	}
	// Labels, plan and scaling vectors.
	if res.Labels == nil {
		res.Labels = make([]int, n)
	}
	if res.LogR == nil {
		res.LogR = make([]float64, k)
	}
	if res.LogC == nil {
		res.LogC = make([]float64, n)
	}
	e.labels, e.out = res.Labels, q
	e.parallel(selaFinalBlock)
	me, _ := e.colError()
	res.MarginalError = me
	// Q_jk = exp(f_j + L_jk + g_k) with L_jk = λ·log P_jk − m_j (replay) or
	// λ·log P_jk − m_j + log ṽ_k − log s_j (the kernel after update 0); SeLa's
	// gauge adds M to the rows and −M to the columns.
	for j := range k {
		g := e.g[j]
		if !e.logDomain {
			g = math.Log(e.v[j])
		}
		if e.logMode != selaLogReplay {
			g += math.Log(e.vt[j])
		}
		res.LogR[j] = g - mMax
	}
	for i := range n {
		f := e.f[i]
		if !e.logDomain {
			f = math.Log(e.u[i])
		}
		if e.logMode != selaLogReplay {
			f -= math.Log(e.rowS[i])
		}
		res.LogC[i] = f - lambda*math.Log(e.rmax[i]) + mMax
	}
	if plan != nil {
		res.Plan = plan
	}
	if !finite(me) {
		return res, check.Errorf(fn, ssl.ErrNotFinite, "plan is not finite (lambda=%v)", lambda)
	}
	if !conv {
		return res, check.Errorf(fn, ErrNotConverged, "error %.4g > Tol %.4g after %d updates (Iterations=%d)", res.Residual, cfg.tol, res.Iterations, cfg.iters)
	}
	return res, nil
}

// Ways SeLa's solve runs: the exp domain on the kernel after update 0,
// the log domain continuing from update 0 (after the exp domain failed),
// or the log domain replaying SeLa from c = 1/N.
const (
	selaLogReplay = iota
	selaLogContinue
	selaExp
)

// selaFirstUpdate runs SeLa's update 0 in float64 and builds the exp-domain
// kernel from it. With y_jk = (P_jk / max_l P_jl)^λ and m_j = λ·log max_l
// P_jl, M = max_j m_j:
//
//	ṽ_k = (1/K) / (Σ_j y_jk·e^{m_j−M} / N)      (r after update 0, times e^M)
//	s_j = Σ_k y_jk·ṽ_k                          (c after update 0 is (1/N)/(e^{m_j−M}·s_j))
//	A_jk = y_jk·ṽ_k / s_j                       (N × the plan after update 0)
//	err_0 = Σ_j |e^{m_j−M}·s_j − 1|             (SeLa's check at update 0)
//
// The kernel's rows sum to 1, so only entries below 2^-126 of their row's
// mass are flushed. firstDone reports whether the kernel was built; ok
// whether it is valid for the exp domain (u = 1/N, v = 1 continue from it).
func selaFirstUpdate(e *engine) (ok bool, err error) {
	k := e.k
	e.firstDone = false
	e.parallel(selaColSumBlock)
	e.sumParts()
	if err := e.reduce(e.acc[:k], Sum); err != nil {
		return false, err
	}
	e.vt = e.vt[:k]
	nt := float64(e.nTotal)
	for j := range k {
		e.vt[j] = (1 / float64(k)) / (e.acc[j] / nt)
		if !(e.vt[j] > 0 && e.vt[j] <= math.MaxFloat64) {
			return false, nil
		}
	}
	e.parallel(selaKernelBlock)
	e.firstDone = true
	e.sumParts()
	errSum, bad, fu, _ := e.blockScalars()
	x := e.acc[:k+3]
	x[k], x[k+1], x[k+2] = errSum, bad, fu
	if err := e.reduce(x, Sum); err != nil {
		return false, err
	}
	e.param3 = x[k]
	for j := range k {
		e.v[j] = 1
	}
	e.vSum = float64(k)
	return x[k+1] == 0 && sumOK(x[:k], x[k+2]), nil
}

// selaLoop runs SeLa's loop from update `start` with the error at the last
// check, until a positive Tol is met or cfg.iters updates have run. ok is
// false when the exp domain failed.
func selaLoop(e *engine, cfg selaCfg, start int, stopErr float64) (iters int, lastErr float64, conv, ok bool, err error) {
	iters = start
	met := func() bool { return cfg.tol > 0 && stopErr <= cfg.tol }
	for iters < cfg.iters && !met() {
		if e.logDomain {
			e.colUpdateLog()
		} else if !e.colUpdateExp() {
			return iters, stopErr, false, false, nil
		}
		e.check = iters%cfg.checkEvery == 0
		s, ok, err := e.rowPass()
		e.check = false
		if err != nil {
			return iters, stopErr, false, false, err
		}
		if !ok {
			return iters, stopErr, false, false, nil
		}
		if iters%cfg.checkEvery == 0 {
			stopErr = s
		}
		iters++
	}
	return iters, stopErr, cfg.tol == 0 || met(), true, nil
}

// selaRowY writes y_j = (src_j·pinv)^λ in float64, using t as scratch:
// for integer λ by repeated squaring over the whole row (the branches on
// the bits of λ are per row, not per element), else with math.Pow.
func (e *engine) selaRowY(y, t []float64, src []float32, pinv float64) {
	y, t = y[:len(src)], t[:len(src)]
	if e.intPow == 0 {
		for j, x := range src {
			y[j] = math.Pow(float64(x)*pinv, e.param)
		}
		return
	}
	for j, x := range src {
		t[j] = float64(x) * pinv
	}
	first := true
	for n := e.intPow; n > 0; n >>= 1 {
		if n&1 != 0 {
			if first {
				copy(y, t)
				first = false
			} else {
				for j, x := range t {
					y[j] *= x
				}
			}
		}
		if n > 1 {
			for j, x := range t {
				t[j] = x * x
			}
		}
	}
}

// selaColSumBlock accumulates the block's Σ_j y_jk·e^{m_j−M} in float64.
func selaColSumBlock(e *engine, blk, lo, hi int) {
	k := e.k
	p := e.part[blk*k : (blk+1)*k]
	clear(p)
	y, t := e.rowBuf[blk*k:(blk+1)*k], e.rowBuf2[blk*k:(blk+1)*k]
	for i := lo; i < hi; i++ {
		e.selaRowY(y, t, e.src[i*k:(i+1)*k], 1/e.rmax[i])
		w := math.Exp(e.param*math.Log(e.rmax[i]) - e.param2)
		for j, yj := range y {
			p[j] += yj * w
		}
	}
}

// selaKernelBlock writes the kernel A_jk = y_jk·ṽ_k/s_j, records s_j, the
// largest flushed entry of each row, SeLa's error terms of update 0, and
// the column sums Σ_j A_jk/N for the next update.
func selaKernelBlock(e *engine, blk, lo, hi int) {
	k := e.k
	p := e.part[blk*k : (blk+1)*k]
	clear(p)
	x, t := e.rowBuf[blk*k:(blk+1)*k], e.rowBuf2[blk*k:(blk+1)*k]
	vt := e.vt[:k]
	u0 := 1 / float64(e.nTotal)
	var errSum, fu float64
	for i := lo; i < hi; i++ {
		src, row := e.src[i*k:(i+1)*k], e.a[i*k:(i+1)*k]
		e.selaRowY(x, t, src, 1/e.rmax[i])
		s := 0.0
		for j := range x {
			x[j] *= vt[j]
			s += x[j]
		}
		inv := 1 / s
		fl := 0.0
		for j, xj := range x {
			a := xj * inv
			r := float32(a)
			if r < 0x1p-126 {
				fl = max(fl, a)
			}
			row[j] = r
		}
		e.rowS[i], e.flush[i], e.u[i] = s, fl, u0
		fu += fl * u0
		if t := math.Abs(math.Exp(e.param*math.Log(e.rmax[i])-e.param2)*s - 1); t == t {
			errSum += t
		}
		axpy64(u0, row, p)
	}
	e.blk[4*blk], e.blk[4*blk+1], e.blk[4*blk+2], e.blk[4*blk+3] = errSum, 0, fu, 0
}

// selaRowMaxBlock stores each row's maximum in rmax, the block's column
// maxima of P_jk / max_k P_jk in part, and in blk[4·blk] the flat index of
// the first invalid entry (NaN, ±Inf, negative, or a row of zeros), or -1.
func selaRowMaxBlock(e *engine, blk, lo, hi int) {
	k := e.k
	cm := e.part3[blk*k : (blk+1)*k]
	clear(cm)
	e.blk[4*blk] = -1
	for i := lo; i < hi; i++ {
		row := e.src[i*k : (i+1)*k]
		m := float32(0)
		for j, x := range row {
			if !(x >= 0) || x > math.MaxFloat32 {
				if e.blk[4*blk] < 0 {
					e.blk[4*blk] = float64(i*k + j)
				}
				x = 0
			}
			m = max(m, x)
		}
		if m == 0 {
			if e.blk[4*blk] < 0 {
				e.blk[4*blk] = float64(i * k)
			}
			m = 1
		}
		e.rmax[i] = float64(m)
		inv := 1 / m
		for j, x := range row {
			cm[j] = max(cm[j], x*inv)
		}
	}
}

// selaLogKernelBlock writes the log-kernel and the initial f: for a replay
// L_jk = λ·log(P_jk / max_l P_jl) and f_j = m_j − M − log N (c = 1/N); to
// continue after update 0, L_jk = log(y_jk·ṽ_k/s_j) (or the log of the
// exp kernel already in the buffer, with InPlace) and f_j = −log N.
func selaLogKernelBlock(e *engine, blk, lo, hi int) {
	k := e.k
	logN := math.Log(float64(e.nTotal))
	for i := lo; i < hi; i++ {
		row, src := e.a[i*k:(i+1)*k], e.src[i*k:(i+1)*k]
		pinv := 1 / e.rmax[i]
		switch {
		case e.logMode == selaLogReplay:
			for j, x := range src {
				row[j] = float32(e.param * math.Log(float64(x)*pinv))
			}
			e.f[i] = e.param*math.Log(e.rmax[i]) - e.param2 - logN
			continue
		case e.fromKernel:
			for j, x := range row {
				row[j] = float32(math.Log(float64(x)))
			}
		default:
			ls := math.Log(e.rowS[i])
			for j, x := range src {
				row[j] = float32(e.param*math.Log(float64(x)*pinv) + math.Log(e.vt[j]) - ls)
			}
		}
		e.f[i] = -logN
	}
}

// selaFinalBlock writes the labels (first maximum of row j of Q) and, when
// e.out is set, the plan Q_jk = u_j·A_jk·v_k (or exp(f_j + L_jk + g_k)).
func selaFinalBlock(e *engine, blk, lo, hi int) {
	k := e.k
	v, g := e.v[:k], e.g[:k]
	for i := lo; i < hi; i++ {
		row := e.a[i*k : (i+1)*k]
		best, at := math.Inf(-1), 0
		if e.logDomain {
			for j, x := range row {
				if s := float64(x) + g[j]; s > best {
					best, at = s, j
				}
			}
		} else {
			for j, x := range row {
				if s := float64(x) * v[j]; s > best {
					best, at = s, j
				}
			}
		}
		e.labels[i] = at
		if e.out == nil {
			continue
		}
		out := e.out[i*k : (i+1)*k]
		if e.logDomain {
			fi := e.f[i]
			for j, x := range row {
				out[j] = float32(math.Exp(fi + float64(x) + g[j]))
			}
			continue
		}
		ui := e.u[i]
		for j, x := range row {
			out[j] = float32(ui * float64(x) * v[j])
		}
	}
}
