package backbone

import (
	"fmt"
	"math/rand/v2"
	"sync"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// Conv2D is a 2-D convolution (cross-correlation, as torch.nn.Conv2d) with
// square kernel K, stride S and zero padding P on every side:
//
//	out[n,o,i,j] = b[o] + Σ_{c,u,v} w[o,c,u,v] · xp[n,c,S·i+u, S·j+v]
//
// where xp is x zero-padded by P, for x of shape N×C×H×W, w of shape
// O×C×K×K and an output of shape N×O×Ho×Wo with Ho = ⌊(H+2P−K)/S⌋+1 (Wo
// likewise). The bias is optional. Dilation is 1 and groups 1.
//
// The product runs as im2col + GEMM on blocks of images: each block's
// patches are laid side by side in a (C·K·K)×(images·Ho·Wo) matrix and
// multiplied by the weight with internal/kernel.Gemm; the backward pass
// builds the same matrix again (it is not kept) for the weight gradient
// (computed transposed, patches·dyᵀ, so that the GEMM reads the patches in
// place) and scatters Wᵀ·dy back (col2im) for the input gradient, with Wᵀ
// written once per call. Blocks of the batch run in parallel; each chunk of
// blocks accumulates its own partial weight gradient and the partials are
// added in chunk order, so the result does not depend on GOMAXPROCS.
type Conv2D struct {
	In, Out, K, Stride, Pad int
	Weight                  *Param // O×C×K×K
	Bias                    *Param // O, or nil without bias
	name                    string

	mu      sync.Mutex
	scratch []*convScratch
	partW   []float32 // per-chunk partial weight gradients, transposed: (C·K·K)×O
	wT      []float32 // Wᵀ, (C·K·K)×O, for the input gradient
	gT      []float32 // the weight gradient transposed while the partials are added
	partB   []float64 // per-chunk partial bias gradients
}

// NewConv2D returns a convolution from in to out channels with a k×k kernel,
// stride and padding, with a bias if bias is true, initialized as PyTorch
// initializes nn.Conv2d (uniform in ±1/√(in·k·k)) from rng. Its parameters
// are called name+".weight" and name+".bias". It returns an error wrapping
// ssl.ErrParam for non-positive sizes or stride, or a negative padding.
func NewConv2D(name string, in, out, k, stride, pad int, bias bool, rng *rand.Rand) (*Conv2D, error) {
	fn := "backbone: NewConv2D(" + name + ")"
	for _, err := range []error{
		check.Count(fn, "in", in, 1), check.Count(fn, "out", out, 1), check.Count(fn, "k", k, 1),
		check.Count(fn, "stride", stride, 1), check.Count(fn, "pad", pad, 0), check.Rand(fn, rng),
	} {
		if err != nil {
			return nil, err
		}
	}
	c := &Conv2D{In: in, Out: out, K: k, Stride: stride, Pad: pad, name: name}
	c.Weight = newParam(join(name, "weight"), out, in, k, k)
	initUniform(c.Weight.Data(), in*k*k, rng)
	if bias {
		c.Bias = newParam(join(name, "bias"), out)
		initUniform(c.Bias.Data(), in*k*k, rng)
	}
	return c, nil
}

func join(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func (c *Conv2D) label() string { return "Conv2D(" + c.name + ")" }

// Params returns the weight and, if present, the bias.
func (c *Conv2D) Params() []*Param {
	if c.Bias == nil {
		return []*Param{c.Weight}
	}
	return []*Param{c.Weight, c.Bias}
}

// Buffers returns nil: a convolution has no buffers.
func (c *Conv2D) Buffers() []*Param { return nil }

// OutShape returns N×O×Ho×Wo for an input N×C×H×W.
func (c *Conv2D) OutShape(in []int) ([]int, error) {
	if len(in) != 4 || in[1] != c.In {
		return nil, fmt.Errorf("input shape %v, want N×%d×H×W: %w", in, c.In, ssl.ErrShape)
	}
	ho := (in[2]+2*c.Pad-c.K)/c.Stride + 1
	wo := (in[3]+2*c.Pad-c.K)/c.Stride + 1
	if in[2]+2*c.Pad < c.K || in[3]+2*c.Pad < c.K {
		return nil, fmt.Errorf("input %d×%d with padding %d is smaller than the kernel %d: %w", in[2], in[3], c.Pad, c.K, ssl.ErrShape)
	}
	return []int{in[0], c.Out, ho, wo}, nil
}

// Forward computes the convolution of x into dst; see [Layer].
func (c *Conv2D) Forward(ws *Workspace, dst, x ssl.Tensor, train bool) error {
	return runForward(c, ws, dst, x, train)
}

// Backward adds ∂L/∂w and ∂L/∂b into the gradients and writes ∂L/∂x into
// dx (if not nil); see [Layer].
func (c *Conv2D) Backward(ws *Workspace, dx, dy ssl.Tensor) error {
	return runBackward(c, ws, dx, dy)
}

// convGeom is the geometry of one convolution call.
type convGeom struct {
	n, c, h, w, o, k, s, p, ho, wo int
	ckk, hw, ohw                   int // C·K·K, Ho·Wo, H·W
	nb                             int // images per im2col block
}

// convCols is the number of output positions an im2col block aims for: wide
// enough that the GEMM's rows are long (Ho·Wo alone is 49 for ConvNet3's
// last block), small enough that a block's patch matrix (up to C·K·K = 576
// rows) stays in L2.
const convCols = 512

// convChunks is the number of fixed chunks the batch is split into for
// parallel work; each chunk owns a partial weight gradient. 16 chunks keep
// two to eight cores busy with partials of at most 16·|w| floats.
const convChunks = 16

func (c *Conv2D) geom(shape []int) convGeom {
	g := convGeom{n: shape[0], c: shape[1], h: shape[2], w: shape[3], o: c.Out, k: c.K, s: c.Stride, p: c.Pad}
	g.ho = (g.h+2*g.p-g.k)/g.s + 1
	g.wo = (g.w+2*g.p-g.k)/g.s + 1
	g.ckk, g.hw, g.ohw = g.c*g.k*g.k, g.ho*g.wo, g.h*g.w
	g.nb = max(1, min(convCols/g.hw, g.n))
	return g
}

// direct reports whether the patch matrix of one image is the image itself
// (1×1 kernel, stride 1, no padding).
func (g *convGeom) direct() bool { return g.k == 1 && g.s == 1 && g.p == 0 }

type convScratch struct{ col, y []float32 }

func (c *Conv2D) getScratch(g *convGeom) *convScratch {
	c.mu.Lock()
	var s *convScratch
	if n := len(c.scratch); n > 0 {
		s = c.scratch[n-1]
		c.scratch = c.scratch[:n-1]
	} else {
		s = new(convScratch)
	}
	c.mu.Unlock()
	s.col = grow(s.col, g.ckk*g.nb*g.hw)
	s.y = grow(s.y, g.o*g.nb*g.hw)
	return s
}

func (c *Conv2D) putScratch(s *convScratch) {
	c.mu.Lock()
	c.scratch = append(c.scratch, s)
	c.mu.Unlock()
}

func chunkGrain(n int) int { return (n + convChunks - 1) / convChunks }

func (c *Conv2D) forward(ws *Workspace, dst, x []float32, shape []int, train bool) error {
	g := c.geom(shape)
	w := c.Weight.Data()
	var b []float32
	if c.Bias != nil {
		b = c.Bias.Data()
	}
	kernel.ParallelFor(g.n, chunkGrain(g.n), func(lo, hi int) {
		s := c.getScratch(&g)
		defer c.putScratch(s)
		for i0 := lo; i0 < hi; i0 += g.nb {
			nb := min(g.nb, hi-i0)
			convForwardBlock(&g, dst, x, w, b, s, i0, nb)
		}
	})
	return nil
}

// convForwardBlock computes the outputs of images i0..i0+nb−1.
func convForwardBlock(g *convGeom, dst, x, w, b []float32, s *convScratch, i0, nb int) {
	L := nb * g.hw
	if nb == 1 {
		col := s.col
		if g.direct() {
			col = x[i0*g.c*g.ohw : (i0+1)*g.c*g.ohw]
		} else {
			im2col(g, col, x, i0, 1)
		}
		out := dst[i0*g.o*g.hw : (i0+1)*g.o*g.hw]
		kernel.Gemm(false, false, g.o, g.hw, g.ckk, 1, w, g.ckk, col, g.hw, 0, out, g.hw)
		if b != nil {
			for o := range g.o {
				addConst(out[o*g.hw:(o+1)*g.hw], b[o])
			}
		}
		return
	}
	im2col(g, s.col, x, i0, nb)
	kernel.Gemm(false, false, g.o, L, g.ckk, 1, w, g.ckk, s.col, L, 0, s.y, L)
	for j := range nb {
		out := dst[(i0+j)*g.o*g.hw : (i0+j+1)*g.o*g.hw]
		for o := range g.o {
			src := s.y[o*L+j*g.hw : o*L+(j+1)*g.hw]
			d := out[o*g.hw : (o+1)*g.hw]
			if b != nil {
				bo := b[o]
				for t, v := range src {
					d[t] = v + bo
				}
			} else {
				copy(d, src)
			}
		}
	}
}

func addConst(x []float32, a float32) {
	for i := range x {
		x[i] += a
	}
}

// im2col writes the patches of images i0..i0+nb−1 into col, a
// (C·K·K)×(nb·Ho·Wo) row-major matrix: row (c·K+u)·K+v, column j·Ho·Wo +
// i·Wo + jj holds xp[i0+j, c, S·i+u, S·jj+v] (0 in the padding). With
// stride 1 each row is one kernel.Im2ColTap (vector copies with masked
// padding); other strides go through patchRow.
func im2col(g *convGeom, col, x []float32, i0, nb int) {
	L := nb * g.hw
	for c := range g.c {
		plane := x[(i0*g.c+c)*g.ohw:]
		for u := range g.k {
			for v := range g.k {
				row := col[((c*g.k+u)*g.k+v)*L:][:L]
				if g.s == 1 {
					kernel.Im2ColTap(row, plane, nb, g.c*g.ohw, g.h, g.w, g.ho, g.wo, u-g.p, v-g.p)
					continue
				}
				for j := range nb {
					img := plane[j*g.c*g.ohw:][:g.ohw]
					dst := row[j*g.hw:][:g.hw]
					patchRow(g, dst, img, u, v)
				}
			}
		}
	}
}

// patchRow fills dst (Ho·Wo) with the kernel tap (u, v) of one channel,
// for a stride S > 1.
func patchRow(g *convGeom, dst, img []float32, u, v int) {
	// Output columns jj with 0 ≤ S·jj+v−P < W.
	jlo, jhi := validRange(v-g.p, g.s, g.w, g.wo)
	off := v - g.p
	for i := range g.ho {
		d := dst[i*g.wo : (i+1)*g.wo]
		hi := i*g.s + u - g.p
		if hi < 0 || hi >= g.h {
			zero(d)
			continue
		}
		src := img[hi*g.w : (hi+1)*g.w]
		// The padding columns are one or two values: loops, not memclr.
		zero(d[:jlo])
		zero(d[jhi:])
		for jj := jlo; jj < jhi; jj++ {
			d[jj] = src[jj*g.s+off]
		}
	}
}

// zero sets the elements of a short slice to 0.
func zero(x []float32) {
	for i := range x {
		x[i] = 0
	}
}

// validRange returns the range [lo, hi) of output indices j < n for which
// 0 ≤ s·j + off < size.
func validRange(off, s, size, n int) (int, int) {
	lo := 0
	if off < 0 {
		lo = (-off + s - 1) / s
	}
	hi := 0
	if size-off > 0 {
		hi = (size - off + s - 1) / s
	}
	hi = min(hi, n)
	lo = min(lo, hi)
	return lo, hi
}

// col2im writes into dx of images i0..i0+nb−1 the sum of the patch
// gradients in col (laid out as im2col's) that fall on each element, in
// the order of (c, u, v): with stride 1 one kernel.Col2Im per channel,
// which sums each element's taps in registers; other strides clear dx and
// add the taps back one after the other (the same order, the same bits).
func col2im(g *convGeom, dx, col []float32, i0, nb int) {
	L := nb * g.hw
	if g.s == 1 {
		for c := range g.c {
			kernel.Col2Im(dx[(i0*g.c+c)*g.ohw:], col[c*g.k*g.k*L:], nb, g.c*g.ohw, g.h, g.w, g.ho, g.wo, g.k, g.p, L)
		}
		return
	}
	clear(dx[i0*g.c*g.ohw : (i0+nb)*g.c*g.ohw])
	for c := range g.c {
		plane := dx[(i0*g.c+c)*g.ohw:]
		for u := range g.k {
			for v := range g.k {
				row := col[((c*g.k+u)*g.k+v)*L:][:L]
				jlo, jhi := validRange(v-g.p, g.s, g.w, g.wo)
				off := v - g.p
				for j := range nb {
					img := plane[j*g.c*g.ohw:][:g.ohw]
					src := row[j*g.hw:][:g.hw]
					for i := range g.ho {
						hi := i*g.s + u - g.p
						if hi < 0 || hi >= g.h {
							continue
						}
						d := img[hi*g.w : (hi+1)*g.w]
						sr := src[i*g.wo : (i+1)*g.wo]
						for jj := jlo; jj < jhi; jj++ {
							d[jj*g.s+off] += sr[jj]
						}
					}
				}
			}
		}
	}
}

func (c *Conv2D) backward(ws *Workspace, dx, dy []float32) error {
	g := c.geom(ws.shape)
	x := ws.x
	w := c.Weight.Data()
	chunk := chunkGrain(g.n)
	nChunks := (g.n + chunk - 1) / chunk
	nw := g.o * g.ckk
	c.partW = grow(c.partW, nChunks*nw)
	if cap(c.partB) < nChunks*g.o {
		c.partB = make([]float64, nChunks*g.o)
	}
	c.partB = c.partB[:nChunks*g.o]
	// Wᵀ once per call: every block's input gradient Wᵀ·dY reads it in
	// place (the GEMM's direct kernel) rather than packing op(A) = Wᵀ of
	// the O×C·K·K weight again for every block and tile. The products are
	// the same FMA chains either way, so the bits are the same.
	var wT []float32
	if dx != nil {
		c.wT = grow(c.wT, nw)
		wT = c.wT
		transpose(wT, w, g.o, g.ckk)
	}
	kernel.ParallelFor(g.n, chunk, func(lo, hi int) {
		ci := lo / chunk
		pw := c.partW[ci*nw : (ci+1)*nw]
		var pb []float64
		if c.Bias != nil {
			pb = c.partB[ci*g.o : (ci+1)*g.o]
			clear(pb)
		}
		s := c.getScratch(&g)
		defer c.putScratch(s)
		for i0 := lo; i0 < hi; i0 += g.nb {
			nb := min(g.nb, hi-i0)
			beta := float32(1)
			if i0 == lo {
				beta = 0
			}
			convBackwardBlock(&g, dx, dy, x, wT, pw, pb, s, i0, nb, beta)
		}
	})
	// gw += Σ partials in chunk order: the gradient transposed into gT, the
	// partials added to it (contiguous), and gT transposed back. Every
	// element sees the same float32 additions, in the same order, as adding
	// O×C·K·K partials to gw would give.
	gw := c.Weight.GradData()
	c.gT = grow(c.gT, nw)
	transpose(c.gT, gw, g.o, g.ckk)
	for ci := range nChunks {
		kernel.Axpy(1, c.partW[ci*nw:(ci+1)*nw], c.gT)
	}
	transpose(gw, c.gT, g.ckk, g.o)
	if c.Bias != nil {
		gb := c.Bias.GradData()
		for o := range g.o {
			var sum float64
			for ci := range nChunks {
				sum += c.partB[ci*g.o+o]
			}
			gb[o] += float32(sum)
		}
	}
	return nil
}

// transpose writes the r×c matrix src, transposed, into dst (c×r), in
// blocks of 16×16 so that both sides are read and written a cache line at a
// time.
func transpose(dst, src []float32, r, c int) {
	const bs = 16
	src, dst = src[:r*c], dst[:r*c]
	for i0 := 0; i0 < r; i0 += bs {
		i1 := min(i0+bs, r)
		for j0 := 0; j0 < c; j0 += bs {
			j1 := min(j0+bs, c)
			for i := i0; i < i1; i++ {
				row := src[i*c+j0 : i*c+j1]
				for j, v := range row {
					dst[(j0+j)*r+i] = v
				}
			}
		}
	}
}

// convBackwardBlock handles images i0..i0+nb−1: pwT = beta·pwT + col·dYᵀ
// (the weight gradient transposed, (C·K·K)×O), pb += Σ dY per channel (if
// pb is not nil), and, if dx is not nil, dx = col2im(Wᵀ·dY), with wT = Wᵀ,
// (C·K·K)×O.
//
// The weight gradient is computed transposed so that the GEMM reads the
// patch matrix in place and packs only dY (O rows instead of C·K·K): the
// same products summed in the same order as dY·colᵀ. On an AVX2 Zen 3
// (internal/kernel's BenchmarkGemm, 288x64x392 against 64x288x392 and
// 576x128x490 against 128x576x490, NT) it ran at 1.7–1.8× the GFLOP per
// CPU-second while transposed panels were gathered one float at a time,
// and at 1.1–1.2× since they are packed in assembly.
func convBackwardBlock(g *convGeom, dx, dy, x, wT, pwT []float32, pb []float64, s *convScratch, i0, nb int, beta float32) {
	L := nb * g.hw
	var ybuf []float32
	if nb == 1 {
		ybuf = dy[i0*g.o*g.hw : (i0+1)*g.o*g.hw]
	} else {
		ybuf = s.y[:g.o*L]
		for j := range nb {
			src := dy[(i0+j)*g.o*g.hw : (i0+j+1)*g.o*g.hw]
			for o := range g.o {
				copy(ybuf[o*L+j*g.hw:o*L+(j+1)*g.hw], src[o*g.hw:(o+1)*g.hw])
			}
		}
	}
	if pb != nil {
		for o := range g.o {
			pb[o] += kernel.Sum(ybuf[o*L : (o+1)*L])
		}
	}
	col := s.col[:g.ckk*L]
	if nb == 1 && g.direct() {
		col = x[i0*g.c*g.ohw : (i0+1)*g.c*g.ohw]
	} else {
		im2col(g, col, x, i0, nb)
	}
	kernel.Gemm(false, true, g.ckk, g.o, L, 1, col, L, ybuf, L, beta, pwT, g.o)
	if dx == nil {
		return
	}
	if nb == 1 && g.direct() {
		kernel.Gemm(false, false, g.ckk, L, g.o, 1, wT, g.o, ybuf, L, 0, dx[i0*g.c*g.ohw:(i0+1)*g.c*g.ohw], L)
		return
	}
	dcol := s.col[:g.ckk*L]
	kernel.Gemm(false, false, g.ckk, L, g.o, 1, wT, g.o, ybuf, L, 0, dcol, L)
	col2im(g, dx, dcol, i0, nb)
}
