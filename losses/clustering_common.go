package losses

// Numerical helpers shared by the clustering objectives (swav.go, mira.go,
// pseudolabel.go, iic.go, scan.go, scanselflabel.go, carl.go, localagg.go).

import (
	"math"

	"ssl/internal/kernel"
)

// clustParGrain is the number of scores one goroutine handles at least in
// the row-wise passes of the clustering objectives (about 16k elements: a
// few microseconds of work, well above the cost of a goroutine hand-off).
const clustParGrain = 1 << 14

// clustSumOrdered returns Σ x in index order (a fixed order, so the result
// does not depend on how the per-row terms were computed in parallel).
func clustSumOrdered(x []float64) float64 {
	var s float64
	for _, v := range x {
		s += v
	}
	return s
}

// clustLogSoftmax64 writes log_softmax(scale·x) of one row into dst in
// float64, subtracting the row maximum, and returns the row's log-sum-exp
// of scale·x. Small-K objectives (IIC, SCAN, CARL) use it: their reference
// clamps act at 1e-8 … 2.2e-16 and their logits reach ±60, where float32
// probabilities would round the quantities the clamps test.
func clustLogSoftmax64(dst []float64, x []float32, scale float64) float64 {
	dst = dst[:len(x)]
	m := math.Inf(-1)
	for _, v := range x {
		if f := scale * float64(v); f > m {
			m = f
		}
	}
	var s float64
	for j, v := range x {
		z := scale*float64(v) - m
		dst[j] = z
		s += math.Exp(z)
	}
	ls := math.Log(s)
	for j := range dst {
		dst[j] -= ls
	}
	return m + ls
}

// clustSoftmaxBackward64 overwrites g (∂L/∂p of one row) with ∂L/∂x for
// p = softmax(x): g_j ← p_j·(g_j − Σ_k g_k·p_k).
func clustSoftmaxBackward64(g, p []float64) {
	p = p[:len(g)]
	var dot float64
	for j, v := range g {
		dot += v * p[j]
	}
	for j := range g {
		g[j] = p[j] * (g[j] - dot)
	}
}

// clustRowLSE returns log Σ_k exp(x_k) − x_{j*} (≥ 0), where j* is the
// argmax of the row, from p = softmax(x) of the same row: since
// Σ_{k≠j*} p_k / p_{j*} = Σ_{k≠j*} exp(x_k − x_{j*}), it equals
// log1p(rest/p_{j*}) with rest summed in float64 and therefore keeps its
// relative precision even when it is tiny (a confident row). It returns j*
// too.
func clustRowLSE(p []float32) (float64, int) {
	pm, at := kernel.Max(p)
	var tot float64
	for _, v := range p {
		tot += float64(v)
	}
	rest := tot - float64(pm)
	if rest < 0 {
		rest = 0
	}
	return math.Log1p(rest / float64(pm)), at
}

// clustSwapCE is the swapped cross-entropy shared by [SwAV] and [MIRA]:
// n views of B rows of K scores each; the targets (codes) of the views in
// assign supervise every other view:
//
//	L = w · Σ_{c∈assign} Σ_{v≠c} Σ_b Σ_k −q_c[b,k] · log_softmax(s_v[b]/τ)[k],
//	w = 1/(|assign|·(n−1)·B)
//
// Its row passes are methods bound once per workspace, so repeated calls
// do not allocate.
type clustSwapCE struct {
	s       []float32 // all n views' scores
	d       []float32 // gradient destination (all views), or nil
	p       []float32 // exp rows: d itself, or scratch for the rows from base on
	base    int       // first row held by p
	codes   []float32 // |assign|·B·K targets, in the order of assign
	assign  []int
	mv      []float32 // per view: number of targets supervising it
	b, k    int
	invTau  float32
	coef    float32   // invTau·w: scale of the gradient
	rowLoss []float64 // per row of p's range

	rowF func(lo, hi int)
}

// rows handles the global rows [lo, hi) (row i is row i mod B of view
// i div B) in one pass per row, while the row is in cache: with
// x = s·invTau and j* the row's argmax it forms e_k = exp(x_k − x_{j*})
// (kernel.Exp) and Z = Σ_k e_k in float64, so that log_softmax(x)_k =
// x_k − x_{j*} − log Z with log Z = log1p(Z − 1) (the term e_{j*} = 1 is
// exact: confident rows keep their relative precision); then the row's
// loss Σ_{c≠v} Σ_k q_c[b,k]·(log Z + (s_{j*} − s_k)·invTau) and, when d is
// set, the gradient coef·(m_v·e/Z − Σ_{c≠v} q_c) written over e.
func (c *clustSwapCE) rows(lo, hi int) {
	k, bk := c.k, c.b*c.k
	invTau := c.invTau
	var q0, q1 []float32 // the (at most two, usually) targets of this view
	for i := lo; i < hi; i++ {
		v, r := i/c.b, i%c.b
		s := c.s[i*k : (i+1)*k]
		e := c.p[(i-c.base)*k : (i-c.base+1)*k]
		e = e[:len(s)]
		if c.mv[v] == 0 {
			// An assigned crop with no other assigned crop: no term.
			c.rowLoss[i-c.base] = 0
			if c.d != nil {
				clear(e)
			}
			continue
		}
		m, at := s[0], 0
		for j, x := range s {
			if x > m {
				m, at = x, j
			}
		}
		for j, x := range s {
			e[j] = (x - m) * invTau
		}
		kernel.Exp(e, e)
		e[at] = 1 // exp(0), exact whatever the kernel's rounding
		z := kernel.Sum(e)
		logZ := math.Log1p(z - 1)
		if math.IsNaN(logZ) || math.IsInf(logZ, 0) || m-m != 0 {
			// A NaN or ±Inf score, or s/τ beyond float32: report it through
			// the loss even where the targets' mass is zero.
			c.rowLoss[i-c.base] = math.NaN()
			continue
		}
		sm := float64(m)
		var loss float64
		n := 0
		for ci, cv := range c.assign {
			if cv == v {
				continue
			}
			q := c.codes[ci*bk+r*k : ci*bk+(r+1)*k]
			// Σ_k q_k (lse − x_k) = Σ_k q_k (log Z + (s_{j*} − s_k)/τ)
			sq, sqs := kernel.Sum(q), kernel.Dot(q, s)
			loss += logZ*sq + float64(invTau)*(sm*sq-sqs)
			switch n {
			case 0:
				q0 = q
			case 1:
				q1 = q
			}
			n++
		}
		c.rowLoss[i-c.base] = loss
		if c.d == nil {
			continue
		}
		coef := c.coef
		cm := float32(float64(c.coef*c.mv[v]) / z) // e·cm = coef·m_v·softmax
		switch n {
		case 1:
			q0 = q0[:len(e)]
			for j, ev := range e {
				e[j] = cm*ev - coef*q0[j]
			}
		case 2:
			q0, q1 = q0[:len(e)], q1[:len(e)]
			for j, ev := range e {
				e[j] = cm*ev - coef*(q0[j]+q1[j])
			}
		default:
			kernel.Scale(cm, e)
			for ci, cv := range c.assign {
				if cv == v {
					continue
				}
				kernel.Axpy(-coef, c.codes[ci*bk+r*k:ci*bk+(r+1)*k], e)
			}
		}
	}
}

// swapped evaluates the swapped cross-entropy described on clustSwapCE.
// scores holds n views of b×k rows; codes |assign| blocks of b×k targets;
// dscores, if not nil, receives the gradient with respect to scores. It
// returns the loss. Every argument has been checked by the caller. With a
// gradient destination all n·b rows run in one parallel loop (the
// destination holds the exponentials); without, view after view through a
// b×k scratch. Per-row losses are summed in row order, so the result does
// not depend on GOMAXPROCS.
func (w *Workspace) swapped(dscores, scores, codes []float32, n, b, k int, assign []int, tau float32) float64 {
	c := &w.swap
	if c.rowF == nil {
		c.rowF = c.rows
	}
	invTau := 1 / tau
	wgt := 1 / (float64(len(assign)) * float64(n-1) * float64(b))
	c.s, c.d, c.codes, c.assign, c.b, c.k, c.invTau = scores, dscores, codes, assign, b, k, invTau
	c.coef = float32(float64(invTau) * wgt)
	if cap(c.mv) < n {
		c.mv = make([]float32, n)
	}
	c.mv = c.mv[:n]
	for v := range n {
		c.mv[v] = 0
		for _, a := range assign {
			if a != v {
				c.mv[v]++
			}
		}
	}
	var total float64
	if dscores != nil {
		c.p, c.base = dscores, 0
		c.rowLoss = w.buf64(slotRows, n*b)
		kernel.ParallelFor(n*b, kernel.Grain(n*b, k, clustParGrain), c.rowF)
		total = clustSumOrdered(c.rowLoss)
	} else {
		c.p = w.buf(slotProbs, b*k)
		c.rowLoss = w.buf64(slotRows, b)
		for v := range n {
			c.base = v * b
			kernel.ParallelFor(b, kernel.Grain(b, k, clustParGrain), func(lo, hi int) { c.rowF(lo+c.base, hi+c.base) })
			for _, l := range c.rowLoss { // the same order as the one-loop path
				total += l
			}
		}
	}
	c.s, c.d, c.p, c.codes, c.assign, c.rowLoss = nil, nil, nil, nil, nil, nil
	return total * wgt
}

// clustSoftmax64 writes softmax(x) of one row into dst in float64.
func clustSoftmax64(dst []float64, x []float32) {
	clustLogSoftmax64(dst, x, 1)
	for j, v := range dst {
		dst[j] = math.Exp(v)
	}
}
