package backbone_test

import "math"

// Float64 oracles: literal transcriptions of each layer's formula, sharing
// no code with the package, used for values and for finite differences.

// convNaive: out[n,o,i,j] = b[o] + Σ_{c,u,v} w[o,c,u,v]·xp[n,c,s·i+u,s·j+v].
func convNaive(x, w, b []float64, n, c, h, wd, o, k, s, p int) ([]float64, int, int) {
	ho, wo := (h+2*p-k)/s+1, (wd+2*p-k)/s+1
	out := make([]float64, n*o*ho*wo)
	for in := range n {
		for oc := range o {
			for i := range ho {
				for j := range wo {
					sum := 0.0
					if b != nil {
						sum = b[oc]
					}
					for ch := range c {
						for u := range k {
							for v := range k {
								r, q := s*i+u-p, s*j+v-p
								if r < 0 || r >= h || q < 0 || q >= wd {
									continue
								}
								sum += w[((oc*c+ch)*k+u)*k+v] * x[((in*c+ch)*h+r)*wd+q]
							}
						}
					}
					out[((in*o+oc)*ho+i)*wo+j] = sum
				}
			}
		}
	}
	return out, ho, wo
}

// bnNaive: batch normalization with batch statistics (train) or the given
// running ones.
func bnNaive(x, g, b, rm, rv []float64, n, c, hw int, eps float64, train bool) []float64 {
	out := make([]float64, len(x))
	for ch := range c {
		mu, v := rm[ch], rv[ch]
		if train {
			mu, v = 0, 0
			for i := range n {
				for t := range hw {
					mu += x[(i*c+ch)*hw+t]
				}
			}
			mu /= float64(n * hw)
			for i := range n {
				for t := range hw {
					d := x[(i*c+ch)*hw+t] - mu
					v += d * d
				}
			}
			v /= float64(n * hw)
		}
		for i := range n {
			for t := range hw {
				k := (i*c+ch)*hw + t
				out[k] = g[ch]*(x[k]-mu)/math.Sqrt(v+eps) + b[ch]
			}
		}
	}
	return out
}

func reluNaive(x []float64) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		if v > 0 {
			out[i] = v
		}
	}
	return out
}

// poolNaive: k×k max pooling with stride s.
func poolNaive(x []float64, planes, h, w, k, s int) ([]float64, int, int) {
	ho, wo := (h-k)/s+1, (w-k)/s+1
	out := make([]float64, planes*ho*wo)
	for p := range planes {
		for i := range ho {
			for j := range wo {
				m := math.Inf(-1)
				for u := range k {
					for v := range k {
						m = math.Max(m, x[(p*h+s*i+u)*w+s*j+v])
					}
				}
				out[(p*ho+i)*wo+j] = m
			}
		}
	}
	return out, ho, wo
}

func gapNaive(x []float64, planes, hw int) []float64 {
	out := make([]float64, planes)
	for p := range planes {
		for t := range hw {
			out[p] += x[p*hw+t]
		}
		out[p] /= float64(hw)
	}
	return out
}

// linearNaive: out = x·Wᵀ + b.
func linearNaive(x, w, b []float64, n, in, o int) []float64 {
	out := make([]float64, n*o)
	for i := range n {
		for j := range o {
			s := 0.0
			if b != nil {
				s = b[j]
			}
			for k := range in {
				s += x[i*in+k] * w[j*in+k]
			}
			out[i*o+j] = s
		}
	}
	return out
}

func l2Naive(x []float64, n, d int, eps float64) []float64 {
	out := make([]float64, len(x))
	for i := range n {
		s := 0.0
		for j := range d {
			s += x[i*d+j] * x[i*d+j]
		}
		r := math.Max(math.Sqrt(s), eps)
		for j := range d {
			out[i*d+j] = x[i*d+j] / r
		}
	}
	return out
}

// convnet3Naive runs ConvNet3 in training mode on n images of 1×h×w with
// params in the order of ConvNet3.Params (no conv bias): conv, bn weight,
// bn bias per block.
func convnet3Naive(x []float64, ps [][]float64, widths [3]int, n, h, w int) []float64 {
	return convnet3NaiveMode(x, ps, nil, widths, n, h, w, true)
}

// convnet3NaiveMode is convnet3Naive in either mode; bufs holds the running
// mean and variance of each block (ConvNet3.Buffers order) for evaluation.
func convnet3NaiveMode(x []float64, ps, bufs [][]float64, widths [3]int, n, h, w int, train bool) []float64 {
	in := 1
	cur := x
	for blk := range 3 {
		o := widths[blk]
		conv, _, _ := convNaive(cur, ps[3*blk], nil, n, in, h, w, o, 3, 1, 1)
		rm, rv := make([]float64, o), make([]float64, o)
		if !train {
			rm, rv = bufs[2*blk], bufs[2*blk+1]
		}
		bn := bnNaive(conv, ps[3*blk+1], ps[3*blk+2], rm, rv, n, o, h*w, 1e-5, train)
		r := reluNaive(bn)
		if blk < 2 {
			r, h, w = poolNaive(r, n*o, h, w, 2, 2)
		}
		cur, in = r, o
	}
	return gapNaive(cur, n*in, h*w)
}

// blockNaive runs a BasicBlock in training mode with params in the order
// of BasicBlock.Params.
func blockNaive(x []float64, ps [][]float64, n, in, h, w, o, stride int) ([]float64, int, int) {
	ones := make([]float64, o)
	c1, ho, wo := convNaive(x, ps[0], nil, n, in, h, w, o, 3, stride, 1)
	b1 := reluNaive(bnNaive(c1, ps[1], ps[2], ones, ones, n, o, ho*wo, 1e-5, true))
	c2, _, _ := convNaive(b1, ps[3], nil, n, o, ho, wo, o, 3, 1, 1)
	sum := bnNaive(c2, ps[4], ps[5], ones, ones, n, o, ho*wo, 1e-5, true)
	short := x
	if len(ps) > 6 {
		dc, _, _ := convNaive(x, ps[6], nil, n, in, h, w, o, 1, stride, 0)
		short = bnNaive(dc, ps[7], ps[8], ones, ones, n, o, ho*wo, 1e-5, true)
	}
	for i := range sum {
		sum[i] += short[i]
	}
	return reluNaive(sum), ho, wo
}

func dot64(a, b []float64) float64 {
	s := 0.0
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

func allFinite(x []float32) bool {
	for _, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}

func nan() float64    { return math.NaN() }
func posInf() float64 { return math.Inf(1) }
