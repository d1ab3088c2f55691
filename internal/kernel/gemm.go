package kernel

// Gemm computes the matrix product
//
//	C = alpha·op(A)·op(B) + beta·C
//
// for row-major matrices, where op(A) is m×k (A is m×k with leading
// dimension lda, or k×m when transA), op(B) is k×n (B is k×n with ldb, or
// n×k when transB) and C is m×n with ldc. Equivalent loop:
//
//	for i < m, j < n: C[i·ldc+j] = alpha·Σ_p opA(i,p)·opB(p,j) + beta·C[i·ldc+j]
//
// With beta = 0, C is overwritten and its old contents (even NaN) are
// ignored, as BLAS does; with k = 0 or alpha = 0, A and B are not read. C
// must not overlap A or B. Work is split over fixed tiles of C whose bounds
// depend only on m, n and k, so the result does not depend on GOMAXPROCS.
// On amd64 with AVX2 and FMA it runs the packed assembly product of
// gemm_packed.go and gemm_amd64.s (gemm512_amd64.s with AVX512F); elsewhere, or with the purego tag, the
// portable gemmGo. It is safe for concurrent use; on the assembly path a
// product with m·n·k < 32768 runs on the calling goroutine and allocates
// nothing once the scratch pools are warm.
func Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for i := range m {
		row := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		Scale(beta, row)
	}
}

// Blocking of the portable product: kc rows of op(B) are packed at a time
// (kc·n floats; 256 keeps a packed strip of a 512-wide B in L2), rows of C
// are handed out gemmRowBlock at a time.
const (
	gemmGoKC     = 256
	gemmRowBlock = 16
)

// gemmGo is the portable product: op(B) is packed row-major in strips of kc
// rows, and each row of C is accumulated as a sum of scaled rows of the
// strip, four at a time.
func gemmGo(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	scaleC(m, n, beta, c, ldc)
	kc := min(k, gemmGoKC)
	pb := make([]float32, kc*n)
	for p0 := 0; p0 < k; p0 += kc {
		pk := min(kc, k-p0)
		// Pack op(B)[p0:p0+pk, :] row-major.
		for p := range pk {
			dst := pb[p*n : (p+1)*n]
			if transB {
				for j := range dst {
					dst[j] = b[j*ldb+p0+p]
				}
			} else {
				copy(dst, b[(p0+p)*ldb:(p0+p)*ldb+n])
			}
		}
		ParallelFor(m, gemmRowBlock, func(lo, hi int) {
			arow := make([]float32, pk)
			for i := lo; i < hi; i++ {
				for p := range arow {
					if transA {
						arow[p] = alpha * a[(p0+p)*lda+i]
					} else {
						arow[p] = alpha * a[i*lda+p0+p]
					}
				}
				gemmRow(c[i*ldc:i*ldc+n], arow, pb, n)
			}
		})
	}
}

// gemmRow computes crow[j] += Σ_p arow[p]·pb[p·n+j].
func gemmRow(crow, arow, pb []float32, n int) {
	p := 0
	for ; p+4 <= len(arow); p += 4 {
		a0, a1, a2, a3 := arow[p], arow[p+1], arow[p+2], arow[p+3]
		b0 := pb[p*n : p*n+n]
		b1 := pb[(p+1)*n : (p+1)*n+n]
		b2 := pb[(p+2)*n : (p+2)*n+n]
		b3 := pb[(p+3)*n : (p+3)*n+n]
		cr := crow[:n]
		for j := range cr {
			cr[j] += a0*b0[j] + a1*b1[j] + a2*b2[j] + a3*b3[j]
		}
	}
	for ; p < len(arow); p++ {
		Axpy(arow[p], pb[p*n:p*n+n], crow)
	}
}
