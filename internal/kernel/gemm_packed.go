package kernel

// The packed, cache-blocked product (Goto and van de Geijn, "Anatomy of
// High-Performance Matrix Multiplication", ACM TOMS 34(3), 2008): op(B) is
// packed kc rows at a time into nr-column panels, op(A) into mr-row panels,
// and a register-blocked mr×nr micro-kernel multiplies one panel of each.
// gemm_amd64.go runs it with the AVX2 + FMA 6×16 micro-kernels of
// gemm_amd64.s or the AVX-512 14×32 ones of gemm512_amd64.s; the tests also
// run it with their portable twins (sgemm6x16Go, sgemm14x32Go) on every
// platform.

import (
	"sync"
	"unsafe"
)

// Block sizes. They depend on nothing but the problem size, and every
// element of C is produced by the same sequence of FMAs whatever the tiling,
// so the result does not depend on GOMAXPROCS.
const (
	gemmMR = 6  // rows of the AVX2 micro-kernel: 12 accumulators + 4 operands = 16 YMM registers
	gemmNR = 16 // columns of the AVX2 micro-kernel: two YMM registers
	// The AVX-512 micro-kernel: 14 rows × 32 columns, 28 ZMM accumulators +
	// 2 rows of B + 2 broadcasts = 32 ZMM registers. Each step loads 128
	// bytes of B and 56 of A for 28 FMAs (AVX2: 64 + 24 bytes for 12).
	gemmMR512 = 14
	gemmNR512 = 32
	// gemmKC is the largest k block: a packed 16×320 panel of B (20 KB)
	// stays in the 32 KB L1 while the panels of A stream past it. 320
	// rather than 256 keeps k = 288 (ConvNet3's second layer) in one block,
	// so C is written once: 35% more GFLOP per CPU-second there, measured.
	// The AVX-512 kernels' 32×320 panel (40 KB) fits a 48 KB L1 (Zen 5);
	// keeping kc the same for both kernel sets keeps their bits the same.
	gemmKC = 320
	// gemmMC is the largest number of rows of A packed per tile: 120×320
	// floats (150 KB) stay in the 1 MB L2 of one core (rounded up to a
	// multiple of the kernel's rows: 126 for the 14-row kernel).
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
	// mr × nr is the block the kernels compute (panels of op(A) are mr rows,
	// of op(B) nr columns); 0 means gemmMR × gemmNR.
	mr, nr int
	// mcMax is the largest number of rows of a tile (0 means gemmMC).
	mcMax int
	// ntAlign is the alignment in bytes the non-temporal stores need (of C
	// and of ldc·4); 0 means 32.
	ntAlign int
	packed  microKernel
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
	// packRows and packCols, if not nil, pack 16 columns of op(B) at a
	// time (see packB): packRows copies rows × 16 floats, dst[p·ldd + j] =
	// src[p·lds + j]; packCols gathers 16 rows of a transposed B,
	// dst[p·ldd + j] = src[j·lds + p] for p < pk, a multiple of 8. Packing
	// only moves floats, so they change no bits.
	packRows func(dst *float32, ldd int, src *float32, lds, rows int)
	packCols func(dst *float32, ldd int, src *float32, lds, pk int)
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
	al := uintptr(32)
	if ks.ntAlign != 0 {
		al = uintptr(ks.ntAlign)
	}
	for j0 := 0; j0 < n; j0 += gemmNC {
		nb := min(gemmNC, n-j0)
		bj := b[j0:]
		if transB {
			bj = b[j0*ldb:]
		}
		stream := ks.packedNT != nil && beta == 0 && k <= gemmKC && m*n >= gemmNTMin &&
			uintptr(ldc*4)%al == 0 && uintptr(unsafe.Pointer(&c[j0]))%al == 0
		gemmPackedBlock(transA, transB, m, nb, k, alpha, a, lda, bj, ldb, beta, c[j0:], ldc, ks, stream)
	}
}

// gemmPackedBlock is gemmPacked for n ≤ gemmNC.
// With stream, full blocks of C are stored non-temporally.
func gemmPackedBlock(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int, ks *gemmKernels, stream bool) {
	g := gemmJob{
		transA: transA, transB: transB, m: m, n: n, alpha: alpha,
		a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, ks: ks, stream: stream,
		mr: gemmMR, nr: gemmNR,
	}
	if ks.mr != 0 {
		g.mr, g.nr = ks.mr, ks.nr
	}
	mr, nr := g.mr, g.nr
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
	// Tiles of C: mc rows (a multiple of mr) × nc columns (a multiple of
	// nr), at least gemmTiles of them when there are enough panels.
	mcMax := gemmMC
	if ks.mcMax != 0 {
		mcMax = ks.mcMax
	}
	mt := (m + mcMax - 1) / mcMax
	g.mc = roundUp((m+mt-1)/mt, mr)
	mt = (m + g.mc - 1) / g.mc
	npan := (n + nr - 1) / nr
	nt := min(npan, max(1, (gemmTiles+mt-1)/mt))
	g.nc = ((npan + nt - 1) / nt) * nr
	nt = (n + g.nc - 1) / g.nc
	if m*n*k < 1<<15 {
		mt, nt, g.mc, g.nc = 1, 1, roundUp(m, mr), roundUp(n, nr)
	}
	g.nt = nt

	pbp := getBuf(&gemmBBufs, npan*nr*g.kc)
	defer gemmBBufs.Put(pbp)
	g.pb = *pbp
	packGrain := Grain(npan, nr*g.kc, gemmPackWork)
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
	mr, nr         int // the micro-kernels' block
	kc, mc, nc, nt int
	p0, pk         int // the k block: rows p0 … p0+pk−1 of op(B)
	pb             []float32
}

// packB packs the nr-column panels lo … hi−1 of op(B)'s k block.
func (g *gemmJob) packB(lo, hi int) {
	pk, w := g.pk, g.nr
	for q := lo; q < hi; q++ {
		packB(g.pb[q*w*pk:(q+1)*w*pk], w, g.b, g.ldb, g.transB, g.p0, pk, q*w, min(w, g.n-q*w), g.ks)
	}
}

// tiles computes the tiles lo … hi−1 of C for the k block.
func (g *gemmJob) tiles(lo, hi int) {
	m, n, pk, p0 := g.m, g.n, g.pk, g.p0
	a, c, ldc, rs, ps := g.a, g.c, g.ldc, g.rs, g.ps
	alpha, bt := g.alpha, g.bt
	MR, NR := g.mr, g.nr
	pap := getBuf(&gemmABufs, g.mc*g.kc+MR*NR)
	pa, tmp := (*pap)[:g.mc*pk], (*pap)[g.mc*g.kc:]
	for t := lo; t < hi; t++ {
		i0, j0 := (t/g.nt)*g.mc, (t%g.nt)*g.nc
		i1, j1 := min(m, i0+g.mc), min(n, j0+g.nc)
		// Panels of op(A): packed into pa, or with the direct kernel read in
		// place except a last partial panel, packed at pa[0].
		iFull := i1 - (i1-i0)%MR
		switch {
		case !g.direct:
			packA(pa, MR, a, g.lda, g.transA, i0, i1-i0, p0, pk)
		case iFull < i1:
			packA(pa, MR, a, g.lda, g.transA, iFull, i1-iFull, p0, pk)
		}
		for j := j0; j < j1; j += NR {
			bp := &g.pb[(j/NR)*NR*pk]
			nr := min(NR, n-j)
			for i := i0; i < i1; i += MR {
				mr := min(MR, m-i)
				ap := &pa[0]
				if !g.direct {
					ap = &pa[((i-i0)/MR)*MR*pk]
				}
				if mr == MR && nr == NR {
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
						copy(tmp[r*NR:r*NR+nr], c[(i+r)*ldc+j:(i+r)*ldc+j+nr])
					}
				}
				if g.direct && mr == MR {
					g.ks.direct(pk, &a[i*rs+p0*ps], rs, ps, bp, &tmp[0], NR, alpha, bt)
				} else {
					g.ks.packed(pk, ap, bp, &tmp[0], NR, alpha, bt)
				}
				for r := range mr {
					copy(c[(i+r)*ldc+j:(i+r)*ldc+j+nr], tmp[r*NR:r*NR+nr])
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

// packB packs op(B)[p0:p0+pk, j0:j0+nr] into dst as a pk×w panel,
// dst[p·w+j] = op(B)[p0+p, j0+j], zero beyond nr (nr ≤ w). A full panel
// (nr = w, a multiple of 16) goes through ks's packRows or packCols where
// it has them.
func packB(dst []float32, w int, b []float32, ldb int, transB bool, p0, pk, j0, nr int, ks *gemmKernels) {
	dst = dst[:pk*w]
	if nr == w && w%16 == 0 {
		if !transB && ks.packRows != nil {
			src := b[p0*ldb+j0 : (p0+pk-1)*ldb+j0+w]
			for j := 0; j < w; j += 16 {
				ks.packRows(&dst[j], w, &src[j], ldb, pk)
			}
			return
		}
		if pk8 := pk &^ 7; transB && ks.packCols != nil && pk8 > 0 {
			src := b[j0*ldb+p0 : (j0+w-1)*ldb+p0+pk]
			for j := 0; j < w; j += 16 {
				ks.packCols(&dst[j], w, &src[j*ldb], ldb, pk8)
			}
			// The last pk % 8 rows of the panel.
			for j := range w {
				for p, v := range src[j*ldb+pk8 : j*ldb+pk] {
					dst[(pk8+p)*w+j] = v
				}
			}
			return
		}
	}
	if !transB {
		for p := range pk {
			d := dst[p*w : (p+1)*w]
			src := b[(p0+p)*ldb+j0:]
			copy(d, src[:nr])
			clear(d[nr:])
		}
		return
	}
	if nr < w {
		clear(dst)
	}
	// op(B)[p, j] = b[j·ldb + p]: read 16 rows of b side by side.
	j := 0
	for ; j+16 <= nr; j += 16 {
		var rows [16][]float32
		for t := range rows {
			rows[t] = b[(j0+j+t)*ldb+p0:][:pk]
		}
		for p := range pk {
			d := dst[p*w+j : p*w+j+16 : p*w+j+16]
			d[0], d[1], d[2], d[3] = rows[0][p], rows[1][p], rows[2][p], rows[3][p]
			d[4], d[5], d[6], d[7] = rows[4][p], rows[5][p], rows[6][p], rows[7][p]
			d[8], d[9], d[10], d[11] = rows[8][p], rows[9][p], rows[10][p], rows[11][p]
			d[12], d[13], d[14], d[15] = rows[12][p], rows[13][p], rows[14][p], rows[15][p]
		}
	}
	for ; j < nr; j++ {
		src := b[(j0+j)*ldb+p0:][:pk]
		for p, v := range src {
			dst[p*w+j] = v
		}
	}
}

// packA packs op(A)[i0:i0+mc, p0:p0+pk] into h-row panels: panel q holds
// dst[q·h·pk + p·h + r] = op(A)[i0+h·q+r, p0+p], zero beyond mc.
func packA(dst []float32, h int, a []float32, lda int, transA bool, i0, mc, p0, pk int) {
	if transA {
		// op(A)[i, p] = a[p·lda + i]: row p of a holds column p of every
		// panel side by side; it is read once, contiguously, and spread over
		// the panels (panel by panel, each panel would stride over pk rows).
		full := mc - mc%h
		for p := range pk {
			src := a[(p0+p)*lda+i0:][:mc]
			ip := 0
			switch h {
			// Element by element: an array assignment between slices that
			// may overlap compiles to a call of memmove, which cost more
			// than the 24 or 56 bytes it moved.
			case 6:
				for ; ip < full; ip += 6 {
					d, s := dst[ip*pk+p*6:][:6:6], src[ip:][:6:6]
					d[0], d[1], d[2], d[3], d[4], d[5] = s[0], s[1], s[2], s[3], s[4], s[5]
				}
			case gemmMR512:
				for ; ip < full; ip += gemmMR512 {
					d, s := dst[ip*pk+p*gemmMR512:][:gemmMR512:gemmMR512], src[ip:][:gemmMR512:gemmMR512]
					for r, v := range s {
						d[r] = v
					}
				}
			}
			for ; ip < mc; ip += h {
				dd := dst[ip*pk+p*h : ip*pk+(p+1)*h]
				n := copy(dd, src[ip:])
				clear(dd[n:])
			}
		}
		return
	}
	for ip := 0; ip < mc; ip += h {
		mr := min(h, mc-ip)
		d := dst[(ip/h)*h*pk : (ip/h+1)*h*pk]
		switch {
		case mr == 6 && h == 6:
			r0 := a[(i0+ip)*lda+p0:][:pk]
			r1 := a[(i0+ip+1)*lda+p0:][:pk]
			r2 := a[(i0+ip+2)*lda+p0:][:pk]
			r3 := a[(i0+ip+3)*lda+p0:][:pk]
			r4 := a[(i0+ip+4)*lda+p0:][:pk]
			r5 := a[(i0+ip+5)*lda+p0:][:pk]
			for p := range pk {
				dd := d[p*6 : (p+1)*6 : (p+1)*6]
				dd[0], dd[1], dd[2], dd[3], dd[4], dd[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
			}
		default:
			if mr < h {
				clear(d)
			}
			for r := range mr {
				src := a[(i0+ip+r)*lda+p0:][:pk]
				for p, v := range src {
					d[p*h+r] = v
				}
			}
		}
	}
}

// sgemmGo is the portable twin of the assembly micro-kernels for an h×w
// block: with a a packed h×k panel (a[p·h+r]) and b a packed k×w panel
// (b[p·w+j]) it computes C[r·ldc+j] = alpha·Σ_p a[p·h+r]·b[p·w+j] +
// beta·C[r·ldc+j], never reading C when beta = 0.
func sgemmGo(h, w, k int, a, b, c *float32, ldc int, alpha, beta float32) {
	as := unsafe.Slice(a, k*h)
	bs := unsafe.Slice(b, k*w)
	cs := unsafe.Slice(c, (h-1)*ldc+w)
	acc := make([]float32, h*w)
	for p := range k {
		bp := bs[p*w : (p+1)*w : (p+1)*w]
		for r := range h {
			av := as[p*h+r]
			ar := acc[r*w : (r+1)*w]
			for j, bv := range bp {
				ar[j] += av * bv
			}
		}
	}
	for r := range h {
		cr := cs[r*ldc : r*ldc+w]
		for j := range cr {
			if beta == 0 {
				cr[j] = alpha * acc[r*w+j]
			} else {
				cr[j] = alpha*acc[r*w+j] + beta*cr[j]
			}
		}
	}
}

// sgemmDGo is the portable twin of the kernels that read op(A) in place,
// op(A)[r, p] = a[r·rs + p·ps].
func sgemmDGo(h, w, k int, a *float32, rs, ps int, b, c *float32, ldc int, alpha, beta float32) {
	as := unsafe.Slice(a, (h-1)*rs+(k-1)*ps+1)
	pa := make([]float32, k*h)
	for r := range h {
		for p := range k {
			pa[p*h+r] = as[r*rs+p*ps]
		}
	}
	sgemmGo(h, w, k, &pa[0], b, c, ldc, alpha, beta)
}

// sgemm6x16Go is the portable twin of the AVX2 micro-kernel sgemm6x16.
func sgemm6x16Go(k int, a, b, c *float32, ldc int, alpha, beta float32) {
	sgemmGo(gemmMR, gemmNR, k, a, b, c, ldc, alpha, beta)
}

// sgemm6x16dGo is the portable twin of sgemm6x16d.
func sgemm6x16dGo(k int, a *float32, rs, ps int, b, c *float32, ldc int, alpha, beta float32) {
	sgemmDGo(gemmMR, gemmNR, k, a, rs, ps, b, c, ldc, alpha, beta)
}

// sgemm14x32Go is the portable twin of the AVX-512 micro-kernel sgemm14x32.
func sgemm14x32Go(k int, a, b, c *float32, ldc int, alpha, beta float32) {
	sgemmGo(gemmMR512, gemmNR512, k, a, b, c, ldc, alpha, beta)
}

// sgemm14x32dGo is the portable twin of sgemm14x32d.
func sgemm14x32dGo(k int, a *float32, rs, ps int, b, c *float32, ldc int, alpha, beta float32) {
	sgemmDGo(gemmMR512, gemmNR512, k, a, rs, ps, b, c, ldc, alpha, beta)
}
