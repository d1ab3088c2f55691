package kernel

// The packed, cache-blocked product (Goto and van de Geijn, "Anatomy of
// High-Performance Matrix Multiplication", ACM TOMS 34(3), 2008): op(B) is
// packed kc rows at a time into 16-column panels, op(A) into 6-row panels,
// and a register-blocked 6×16 micro-kernel multiplies one panel of each.
// gemm_amd64.go runs it with the AVX2 + FMA micro-kernel of gemm_amd64.s;
// the tests also run it with sgemm6x16Go on every platform.

import (
	"sync"
	"unsafe"
)

// Block sizes. They depend on nothing but the problem size, and every
// element of C is produced by the same sequence of FMAs whatever the tiling,
// so the result does not depend on GOMAXPROCS.
const (
	gemmMR = 6  // rows of the micro-kernel: 12 accumulators + 4 operands = 16 YMM registers
	gemmNR = 16 // columns of the micro-kernel: two YMM registers
	// gemmKC is the largest k block: a packed 16×320 panel of B (20 KB)
	// stays in the 32 KB L1 while the panels of A stream past it. 320
	// rather than 256 keeps k = 288 (ConvNet3's second layer) in one block,
	// so C is written once: 35% more GFLOP per CPU-second there, measured.
	gemmKC = 320
	// gemmMC is the largest number of rows of A packed per tile: 120×320
	// floats (150 KB) stay in the 1 MB L2 of one core.
	gemmMC = 120
	// gemmNC is the largest number of columns of C computed per packing of
	// op(B) (a multiple of gemmNR): at most 320×4096 floats (5 MB).
	gemmNC = 4096
	// gemmDirectTK is the largest k for which a transposed A is read in
	// place: each step reads a different row of A, and more than a few
	// dozen such streams defeat the prefetchers, where packing pays.
	gemmDirectTK = 32
	// gemmNTMin is the size of C (in floats: 16 MB, half the L3) from which
	// a product that writes C once (beta = 0, one k block) stores it
	// non-temporally: C would not stay in cache, and the stores then skip
	// reading every line of C from memory first.
	gemmNTMin = 1 << 22
	// gemmTiles is the number of tiles a large product is cut into at
	// least, so two to four threads stay evenly loaded.
	gemmTiles = 8
	// gemmPackWork is the number of elements per parallel block of packing.
	gemmPackWork = 1 << 15
)

// microKernel is the signature of the 6×16 micro-kernels on a packed panel
// of op(A): see sgemm6x16.
type microKernel func(k int, a, b, c *float32, ldc int, alpha, beta float32)

// directKernel is the signature of the 6×16 micro-kernels that read op(A)
// in place, op(A)[r, p] = a[r·rs + p·ps]: see sgemm6x16d. They must produce
// the same bits as the microKernel they go with.
type directKernel func(k int, a *float32, rs, ps int, b, c *float32, ldc int, alpha, beta float32)

// gemmKernels are the micro-kernels gemmPacked runs; all produce the same
// bits for the same block.
type gemmKernels struct {
	packed microKernel
	// direct, if not nil, reads op(A) in place: full 6-row panels of a
	// non-transposed A, and of a transposed one when k ≤ gemmDirectTK, are
	// then not packed (packing costs as much as the product when k is
	// small).
	direct directKernel
	// packedNT and directNT, if not nil, store C with non-temporal stores
	// (beta = 0 only; C 32-byte aligned); fence orders those stores and
	// runs before a goroutine hands its tiles back.
	packedNT microKernel
	directNT directKernel
	fence    func()
}

// Scratch for packed panels: gemmBBufs for op(B), gemmABufs for op(A) and
// the edge block, kept apart so each pool holds buffers of one kind of size.
var gemmABufs, gemmBBufs sync.Pool // *[]float32

func getBuf(pool *sync.Pool, n int) *[]float32 {
	if p, ok := pool.Get().(*[]float32); ok && cap(*p) >= n {
		*p = (*p)[:n]
		return p
	}
	s := make([]float32, n)
	return &s
}

// gemmPacked computes C = alpha·op(A)·op(B) + beta·C with the packed
// algorithm and the micro-kernels ks; m, n, k ≥ 1 and alpha ≠ 0.
func gemmPacked(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, ks *gemmKernels) {
	// Blocks of at most gemmNC columns of C, so the packed op(B) stays
	// within gemmKC·gemmNC floats (5 MB) whatever n is.
	for j0 := 0; j0 < n; j0 += gemmNC {
		nb := min(gemmNC, n-j0)
		bj := b[j0:]
		if transB {
			bj = b[j0*ldb:]
		}
		stream := ks.packedNT != nil && beta == 0 && k <= gemmKC && m*n >= gemmNTMin &&
			ldc%8 == 0 && uintptr(unsafe.Pointer(&c[j0]))%32 == 0
		gemmPackedBlock(transA, transB, m, nb, k, alpha, a, lda, bj, ldb, beta, c[j0:], ldc, ks, stream)
	}
}

// gemmPackedBlock is gemmPacked for n ≤ gemmNC.
// With stream, full blocks of C are stored non-temporally.
func gemmPackedBlock(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, ks *gemmKernels, stream bool) {
	g := gemmJob{
		transA: transA, transB: transB, m: m, n: n, alpha: alpha,
		a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, ks: ks, stream: stream,
	}
	g.direct = ks.direct != nil && (!transA || k <= gemmDirectTK)
	g.rs, g.ps = lda, 1 // op(A)[r, p] = a[r·rs + p·ps]
	if transA {
		g.rs, g.ps = 1, lda
	}
	g.kern, g.kernD = ks.packed, ks.direct
	if stream {
		g.kern, g.kernD = ks.packedNT, ks.directNT
	}
	// Equal k blocks of at most gemmKC.
	nkb := (k + gemmKC - 1) / gemmKC
	g.kc = (k + nkb - 1) / nkb
	// Tiles of C: mc rows (a multiple of gemmMR) × nc columns (a multiple of
	// gemmNR), at least gemmTiles of them when there are enough panels.
	mt := (m + gemmMC - 1) / gemmMC
	g.mc = roundUp((m+mt-1)/mt, gemmMR)
	mt = (m + g.mc - 1) / g.mc
	npan := (n + gemmNR - 1) / gemmNR
	nt := min(npan, max(1, (gemmTiles+mt-1)/mt))
	g.nc = ((npan + nt - 1) / nt) * gemmNR
	nt = (n + g.nc - 1) / g.nc
	if m*n*k < 1<<15 {
		mt, nt, g.mc, g.nc = 1, 1, roundUp(m, gemmMR), roundUp(n, gemmNR)
	}
	g.nt = nt

	pbp := getBuf(&gemmBBufs, npan*gemmNR*g.kc)
	defer gemmBBufs.Put(pbp)
	g.pb = *pbp
	packGrain := Grain(npan, gemmNR*g.kc, gemmPackWork)
	for p0 := 0; p0 < k; p0 += g.kc {
		g.p0, g.pk = p0, min(g.kc, k-p0)
		g.bt = beta
		if p0 > 0 {
			g.bt = 1
		}
		// One block runs here, without the closure ParallelFor needs, so
		// small products allocate nothing.
		if packGrain >= npan {
			g.packB(0, npan)
		} else {
			gp := g
			ParallelFor(npan, packGrain, gp.packB)
		}
		if mt*nt == 1 {
			g.tiles(0, 1)
		} else {
			gp := g
			ParallelFor(mt*nt, 1, gp.tiles)
		}
	}
}

// gemmJob is one k block of a packed product: its operands, its blocking and
// the packed op(B).
type gemmJob struct {
	transA, transB bool
	m, n           int
	alpha, bt      float32 // bt: beta for the first k block, 1 after
	a, b, c        []float32
	lda, ldb, ldc  int
	ks             *gemmKernels
	stream, direct bool
	kern           microKernel
	kernD          directKernel
	rs, ps         int // op(A)[r, p] = a[r·rs + p·ps]
	kc, mc, nc, nt int
	p0, pk         int // the k block: rows p0 … p0+pk−1 of op(B)
	pb             []float32
}

// packB packs the 16-column panels lo … hi−1 of op(B)'s k block.
func (g *gemmJob) packB(lo, hi int) {
	pk := g.pk
	for q := lo; q < hi; q++ {
		packB(g.pb[q*gemmNR*pk:(q+1)*gemmNR*pk], g.b, g.ldb, g.transB, g.p0, pk, q*gemmNR, min(gemmNR, g.n-q*gemmNR))
	}
}

// tiles computes the tiles lo … hi−1 of C for the k block.
func (g *gemmJob) tiles(lo, hi int) {
	m, n, pk, p0 := g.m, g.n, g.pk, g.p0
	a, c, ldc, rs, ps := g.a, g.c, g.ldc, g.rs, g.ps
	alpha, bt := g.alpha, g.bt
	pap := getBuf(&gemmABufs, g.mc*g.kc+gemmMR*gemmNR)
	pa, tmp := (*pap)[:g.mc*pk], (*pap)[g.mc*g.kc:]
	for t := lo; t < hi; t++ {
		i0, j0 := (t/g.nt)*g.mc, (t%g.nt)*g.nc
		i1, j1 := min(m, i0+g.mc), min(n, j0+g.nc)
		// Panels of op(A): packed into pa, or with the direct kernel read in
		// place except a last partial panel, packed at pa[0].
		iFull := i1 - (i1-i0)%gemmMR
		switch {
		case !g.direct:
			packA(pa, a, g.lda, g.transA, i0, i1-i0, p0, pk)
		case iFull < i1:
			packA(pa, a, g.lda, g.transA, iFull, i1-iFull, p0, pk)
		}
		for j := j0; j < j1; j += gemmNR {
			bp := &g.pb[(j/gemmNR)*gemmNR*pk]
			nr := min(gemmNR, n-j)
			for i := i0; i < i1; i += gemmMR {
				mr := min(gemmMR, m-i)
				ap := &pa[0]
				if !g.direct {
					ap = &pa[((i-i0)/gemmMR)*gemmMR*pk]
				}
				if mr == gemmMR && nr == gemmNR {
					if g.direct {
						g.kernD(pk, &a[i*rs+p0*ps], rs, ps, bp, &c[i*ldc+j], ldc, alpha, bt)
					} else {
						g.kern(pk, ap, bp, &c[i*ldc+j], ldc, alpha, bt)
					}
					continue
				}
				// An edge block goes through tmp, with the same arithmetic as
				// a full one (and ordinary stores).
				if bt != 0 {
					for r := range mr {
						copy(tmp[r*gemmNR:r*gemmNR+nr], c[(i+r)*ldc+j:(i+r)*ldc+j+nr])
					}
				}
				if g.direct && mr == gemmMR {
					g.ks.direct(pk, &a[i*rs+p0*ps], rs, ps, bp, &tmp[0], gemmNR, alpha, bt)
				} else {
					g.ks.packed(pk, ap, bp, &tmp[0], gemmNR, alpha, bt)
				}
				for r := range mr {
					copy(c[(i+r)*ldc+j:(i+r)*ldc+j+nr], tmp[r*gemmNR:r*gemmNR+nr])
				}
			}
		}
	}
	if g.stream {
		g.ks.fence()
	}
	gemmABufs.Put(pap)
}

func roundUp(x, m int) int { return (x + m - 1) / m * m }

// packB packs op(B)[p0:p0+pk, j0:j0+nr] into dst as a pk×16 panel,
// dst[p·16+j] = op(B)[p0+p, j0+j], zero beyond nr.
func packB(dst, b []float32, ldb int, transB bool, p0, pk, j0, nr int) {
	dst = dst[:pk*gemmNR]
	if !transB {
		for p := range pk {
			d := dst[p*gemmNR : (p+1)*gemmNR]
			src := b[(p0+p)*ldb+j0:]
			copy(d, src[:nr])
			clear(d[nr:])
		}
		return
	}
	if nr < gemmNR {
		clear(dst)
		for j := range nr {
			src := b[(j0+j)*ldb+p0:][:pk]
			for p, v := range src {
				dst[p*gemmNR+j] = v
			}
		}
		return
	}
	// op(B)[p, j] = b[j·ldb + p]: read 16 rows of b side by side.
	var rows [gemmNR][]float32
	for j := range rows {
		rows[j] = b[(j0+j)*ldb+p0:][:pk]
	}
	for p := range pk {
		d := dst[p*gemmNR : (p+1)*gemmNR : (p+1)*gemmNR]
		d[0], d[1], d[2], d[3] = rows[0][p], rows[1][p], rows[2][p], rows[3][p]
		d[4], d[5], d[6], d[7] = rows[4][p], rows[5][p], rows[6][p], rows[7][p]
		d[8], d[9], d[10], d[11] = rows[8][p], rows[9][p], rows[10][p], rows[11][p]
		d[12], d[13], d[14], d[15] = rows[12][p], rows[13][p], rows[14][p], rows[15][p]
	}
}

// packA packs op(A)[i0:i0+mc, p0:p0+pk] into 6-row panels: panel q holds
// dst[q·6·pk + p·6 + r] = op(A)[i0+6q+r, p0+p], zero beyond mc.
func packA(dst, a []float32, lda int, transA bool, i0, mc, p0, pk int) {
	for ip := 0; ip < mc; ip += gemmMR {
		mr := min(gemmMR, mc-ip)
		d := dst[(ip/gemmMR)*gemmMR*pk : (ip/gemmMR+1)*gemmMR*pk]
		switch {
		case transA:
			// op(A)[i, p] = a[p·lda + i]: six contiguous floats per p.
			for p := range pk {
				src := a[(p0+p)*lda+i0+ip:][:mr]
				dd := d[p*gemmMR : (p+1)*gemmMR : (p+1)*gemmMR]
				if mr == gemmMR {
					dd[0], dd[1], dd[2], dd[3], dd[4], dd[5] = src[0], src[1], src[2], src[3], src[4], src[5]
					continue
				}
				copy(dd, src)
				clear(dd[mr:])
			}
		case mr == gemmMR:
			r0 := a[(i0+ip)*lda+p0:][:pk]
			r1 := a[(i0+ip+1)*lda+p0:][:pk]
			r2 := a[(i0+ip+2)*lda+p0:][:pk]
			r3 := a[(i0+ip+3)*lda+p0:][:pk]
			r4 := a[(i0+ip+4)*lda+p0:][:pk]
			r5 := a[(i0+ip+5)*lda+p0:][:pk]
			for p := range pk {
				dd := d[p*gemmMR : (p+1)*gemmMR : (p+1)*gemmMR]
				dd[0], dd[1], dd[2], dd[3], dd[4], dd[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
			}
		default:
			clear(d)
			for r := range mr {
				src := a[(i0+ip+r)*lda+p0:][:pk]
				for p, v := range src {
					d[p*gemmMR+r] = v
				}
			}
		}
	}
}

// sgemm6x16Go is the portable twin of the assembly micro-kernel sgemm6x16,
// with the same contract; the tests run the packed driver with it.
func sgemm6x16Go(k int, a, b, c *float32, ldc int, alpha, beta float32) {
	as := unsafe.Slice(a, k*gemmMR)
	bs := unsafe.Slice(b, k*gemmNR)
	cs := unsafe.Slice(c, (gemmMR-1)*ldc+gemmNR)
	var acc [gemmMR][gemmNR]float32
	for p := range k {
		bp := bs[p*gemmNR : (p+1)*gemmNR : (p+1)*gemmNR]
		for r := range gemmMR {
			av := as[p*gemmMR+r]
			ar := &acc[r]
			for j, bv := range bp {
				ar[j] += av * bv
			}
		}
	}
	for r := range gemmMR {
		cr := cs[r*ldc : r*ldc+gemmNR]
		for j := range cr {
			if beta == 0 {
				cr[j] = alpha * acc[r][j]
			} else {
				cr[j] = alpha*acc[r][j] + beta*cr[j]
			}
		}
	}
}

// sgemm6x16dGo is the portable twin of sgemm6x16d.
func sgemm6x16dGo(k int, a *float32, rs, ps int, b, c *float32, ldc int, alpha, beta float32) {
	as := unsafe.Slice(a, (gemmMR-1)*rs+(k-1)*ps+1)
	pa := make([]float32, k*gemmMR)
	for r := range gemmMR {
		for p := range k {
			pa[p*gemmMR+r] = as[r*rs+p*ps]
		}
	}
	sgemm6x16Go(k, &pa[0], b, c, ldc, alpha, beta)
}
