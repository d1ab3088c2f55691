package kernel

// Batch-normalisation loops over one channel: the statistics, the affine
// map (with the fused ReLU) and the backward pass's sums and gradient. A
// channel of an N×C×H×W tensor is rows = N spans of span = H·W values, ld =
// C·H·W apart. They are bound in bn_amd64.go (AVX2 + FMA and AVX-512
// assembly, bn_amd64.s and bn512_amd64.s) and bn_generic.go (the portable
// twins below); the five files change together.

import "math"

// BNStats returns the sums over the values v = x[i·ld+j], i < rows,
// j < span, shifted by k:
//
//	d = float32(v − k),  s = Σ d,  q = Σ d²
//
// d is rounded to float32 as written; each d and d² is exact in float64
// (the square of a float32 needs 48 of float64's 53 bits), and the sums
// are float64, so only the additions round. The accelerated build adds in
// another order than the portable one (16 float64 lanes, see bn_amd64.s);
// both sums lie within γ(m−1)·Σ|term| of the exact ones, γ(m) =
// m·u/(1−m·u), u = 2⁻⁵³, m = rows·span (Higham, Accuracy and Stability of
// Numerical Algorithms, 2nd ed., eq. 4.4), so the builds differ by at most
// twice that. ld ≥ span; x holds (rows−1)·ld + span values.
func BNStats(x []float32, rows, span, ld int, k float32) (s, q float64) {
	if rows <= 0 || span <= 0 {
		return 0, 0
	}
	return bnStats(x[:(rows-1)*ld+span], rows, span, ld, k)
}

// BNAffine writes, for i < rows, j < span and v = x[i·ld+j],
//
//	dst[i·ld+j] = float32(v·a) + b            (relu false)
//	dst[i·ld+j] = max(float32(v·a) + b, 0)    (relu true)
//
// with the product rounded before the sum (no fused multiply-add) and Go's
// max (NaN stays NaN, −0 becomes +0). Every build gives the same bits. dst
// may be x itself; values between the spans are not touched.
func BNAffine(dst, x []float32, rows, span, ld int, a, b float32, relu bool) {
	if rows <= 0 || span <= 0 {
		return
	}
	n := (rows-1)*ld + span
	bnAffine(dst[:n], x[:n], rows, span, ld, a, b, relu)
}

// BNGradSums returns the sums of batch normalisation's backward pass over
// one channel, for v = x[i·ld+j] and g = dy[i·ld+j] (i < rows, j < span):
//
//	sg = Σ g',  sgx = Σ g'·float32(v − mu)
//
// where g' = g, or with relu g' = g where float32(v·a) + b (the output
// [BNAffine] computed) has the bits of a positive int32 and +0 elsewhere,
// as in [ReLUGrad]. Terms and products are exact in float64 and summed in
// float64, in another order in the accelerated build than in the portable
// one: the bound of [BNStats] applies.
func BNGradSums(x, dy []float32, rows, span, ld int, mu, a, b float32, relu bool) (sg, sgx float64) {
	if rows <= 0 || span <= 0 {
		return 0, 0
	}
	n := (rows-1)*ld + span
	return bnGradSums(x[:n], dy[:n], rows, span, ld, mu, a, b, relu)
}

// BNGrad writes the input gradient of batch normalisation over one
// channel, for v = x[i·ld+j], g' as in [BNGradSums]:
//
//	dx[i·ld+j] = k·(g' − c0 − float32((v − mu)·c1))   (train)
//	dx[i·ld+j] = g'·k                                  (evaluation)
//
// every operation rounded to float32 in the order written (no fused
// multiply-add); every build gives the same bits. dx must not overlap x
// or dy; values between the spans are not touched.
func BNGrad(dx, x, dy []float32, rows, span, ld int, mu, a, b, k, c0, c1 float32, relu, train bool) {
	if rows <= 0 || span <= 0 {
		return
	}
	n := (rows-1)*ld + span
	bnGrad(dx[:n], x[:n], dy[:n], rows, span, ld, mu, a, b, k, c0, c1, relu, train)
}

// ReLUGrad returns g·[float32(v·a) + b > 0] without a branch (the sign of
// the pre-activation is unpredictable): the mask is all ones exactly when
// the float's bits, read as an int32, are positive (−0 and +0 give 0), so
// a masked g is +0.
func ReLUGrad(g, v, a, b float32) float32 {
	yb := int64(int32(math.Float32bits(float32(v*a) + b)))
	return math.Float32frombits(math.Float32bits(g) & uint32(^((yb - 1) >> 63)))
}

// bnStatsGo is the portable BNStats: four float64 accumulators over
// j mod 4 of each span, the span's tail added to the first, combined as
// (s0+s1)+(s2+s3).
func bnStatsGo(x []float32, rows, span, ld int, k float32) (s, q float64) {
	var s0, s1, s2, s3, q0, q1, q2, q3 float64
	for i := range rows {
		r := x[i*ld:][:span]
		j := 0
		for ; j+4 <= len(r); j += 4 {
			r4 := r[j : j+4 : j+4]
			d0, d1, d2, d3 := float64(r4[0]-k), float64(r4[1]-k), float64(r4[2]-k), float64(r4[3]-k)
			s0 += d0
			s1 += d1
			s2 += d2
			s3 += d3
			q0 += d0 * d0
			q1 += d1 * d1
			q2 += d2 * d2
			q3 += d3 * d3
		}
		for ; j < len(r); j++ {
			d := float64(r[j] - k)
			s0 += d
			q0 += d * d
		}
	}
	return (s0 + s1) + (s2 + s3), (q0 + q1) + (q2 + q3)
}

// bnAffineGo is the portable BNAffine.
func bnAffineGo(dst, x []float32, rows, span, ld int, a, b float32, relu bool) {
	for i := range rows {
		xs := x[i*ld:][:span]
		d := dst[i*ld:][:span]
		if relu {
			for t, v := range xs {
				d[t] = max(float32(v*a)+b, 0)
			}
			continue
		}
		for t, v := range xs {
			d[t] = float32(v*a) + b
		}
	}
}

// bnGradSumsGo is the portable BNGradSums, summed as bnStatsGo.
func bnGradSumsGo(x, dy []float32, rows, span, ld int, mu, a, b float32, relu bool) (sg, sgx float64) {
	var s0, s1, s2, s3, q0, q1, q2, q3 float64
	for i := range rows {
		xs := x[i*ld:][:span]
		gs := dy[i*ld:][:span]
		t := 0
		for ; t+4 <= len(xs); t += 4 {
			g4, x4 := gs[t:t+4:t+4], xs[t:t+4:t+4]
			g0, g1, g2, g3 := g4[0], g4[1], g4[2], g4[3]
			v0, v1, v2, v3 := x4[0], x4[1], x4[2], x4[3]
			if relu {
				g0, g1, g2, g3 = ReLUGrad(g0, v0, a, b), ReLUGrad(g1, v1, a, b), ReLUGrad(g2, v2, a, b), ReLUGrad(g3, v3, a, b)
			}
			s0 += float64(g0)
			s1 += float64(g1)
			s2 += float64(g2)
			s3 += float64(g3)
			q0 += float64(g0) * float64(v0-mu)
			q1 += float64(g1) * float64(v1-mu)
			q2 += float64(g2) * float64(v2-mu)
			q3 += float64(g3) * float64(v3-mu)
		}
		for ; t < len(xs); t++ {
			g := gs[t]
			if relu {
				g = ReLUGrad(g, xs[t], a, b)
			}
			s0 += float64(g)
			q0 += float64(g) * float64(xs[t]-mu)
		}
	}
	return (s0 + s1) + (s2 + s3), (q0 + q1) + (q2 + q3)
}

// bnGradGo is the portable BNGrad.
func bnGradGo(dx, x, dy []float32, rows, span, ld int, mu, a, b, k, c0, c1 float32, relu, train bool) {
	for i := range rows {
		xs := x[i*ld:][:span]
		gs := dy[i*ld:][:span]
		d := dx[i*ld:][:span]
		switch {
		case train && relu:
			for t, v := range xs {
				d[t] = k * (ReLUGrad(gs[t], v, a, b) - c0 - float32((v-mu)*c1))
			}
		case train:
			for t, v := range xs {
				d[t] = k * (gs[t] - c0 - float32((v-mu)*c1))
			}
		case relu:
			for t, v := range xs {
				d[t] = ReLUGrad(gs[t], v, a, b) * k
			}
		default:
			for t, g := range gs {
				d[t] = g * k
			}
		}
	}
}
