//go:build amd64 && !purego

#include "textflag.h"

// One step p of the 6×16 micro-kernel: a row of the packed B panel
// (16 floats at DI+ob) times each of the 6 packed A elements at SI+oa,
// accumulated into Y0–Y11 (row r in Y(2r), Y(2r+1)).
#define STEP(oa, ob) \
	VMOVUPS      ob(DI), Y12       \
	VMOVUPS      ob+32(DI), Y13    \
	VBROADCASTSS oa(SI), Y14       \
	VFMADD231PS  Y12, Y14, Y0      \
	VFMADD231PS  Y13, Y14, Y1      \
	VBROADCASTSS oa+4(SI), Y15     \
	VFMADD231PS  Y12, Y15, Y2      \
	VFMADD231PS  Y13, Y15, Y3      \
	VBROADCASTSS oa+8(SI), Y14     \
	VFMADD231PS  Y12, Y14, Y4      \
	VFMADD231PS  Y13, Y14, Y5      \
	VBROADCASTSS oa+12(SI), Y15    \
	VFMADD231PS  Y12, Y15, Y6      \
	VFMADD231PS  Y13, Y15, Y7      \
	VBROADCASTSS oa+16(SI), Y14    \
	VFMADD231PS  Y12, Y14, Y8      \
	VFMADD231PS  Y13, Y14, Y9      \
	VBROADCASTSS oa+20(SI), Y15    \
	VFMADD231PS  Y12, Y15, Y10     \
	VFMADD231PS  Y13, Y15, Y11

// C row (at DX) = alpha·acc + beta·C row, alpha in Y12, beta in Y13.
#define UPDATE(lo, hi) \
	VMULPS      Y12, lo, lo      \
	VFMADD231PS (DX), Y13, lo    \
	VMOVUPS     lo, (DX)         \
	VMULPS      Y12, hi, hi      \
	VFMADD231PS 32(DX), Y13, hi  \
	VMOVUPS     hi, 32(DX)       \
	ADDQ        R8, DX

// C row (at DX) = alpha·acc, alpha in Y12; C is not read.
#define STORE(lo, hi) \
	VMULPS  Y12, lo, lo \
	VMOVUPS lo, (DX)    \
	VMULPS  Y12, hi, hi \
	VMOVUPS hi, 32(DX)  \
	ADDQ    R8, DX

// C row (at DX) = alpha·acc with non-temporal stores (C 32-byte aligned),
// which skip reading the lines of C into the cache first.
#define STORENT(lo, hi) \
	VMULPS   Y12, lo, lo \
	VMOVNTPS lo, (DX)    \
	VMULPS   Y12, hi, hi \
	VMOVNTPS hi, 32(DX)  \
	ADDQ     R8, DX

// func sgemm6x16(k int, a, b, c *float32, ldc int, alpha, beta float32)
//
// The register-blocked micro-kernel of the packed product: with a a packed
// 6×k panel of op(A) (a[p*6+r] = op(A)[r,p]) and b a packed k×16 panel of
// op(B) (b[p*16+j] = op(B)[p,j]), it computes the 6×16 block
//
//	C[r*ldc+j] = alpha·Σ_p a[p*6+r]·b[p*16+j] + beta·C[r*ldc+j]
//
// summing p in order with one FMA per step, and with beta = 0 (either sign)
// it never reads C. k ≥ 1.
TEXT ·sgemm6x16(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	CMPQ CX, $4
	JLT  tail

loop4:
	STEP(0, 0)
	STEP(24, 64)
	STEP(48, 128)
	STEP(72, 192)
	ADDQ $96, SI
	ADDQ $256, DI
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  loop4

tail:
	TESTQ CX, CX
	JZ    done

loop1:
	STEP(0, 0)
	ADDQ $24, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loop1

done:
	VBROADCASTSS alpha+40(FP), Y12
	MOVL         beta+44(FP), AX
	TESTL        $0x7fffffff, AX
	JZ           store
	VBROADCASTSS beta+44(FP), Y13
	UPDATE(Y0, Y1)
	UPDATE(Y2, Y3)
	UPDATE(Y4, Y5)
	UPDATE(Y6, Y7)
	UPDATE(Y8, Y9)
	UPDATE(Y10, Y11)
	VZEROUPPER
	RET

store:
	STORE(Y0, Y1)
	STORE(Y2, Y3)
	STORE(Y4, Y5)
	STORE(Y6, Y7)
	STORE(Y8, Y9)
	STORE(Y10, Y11)
	VZEROUPPER
	RET

// STEPD is STEP with op(A) read in place: element r of the current column
// of the 6-row block at SI + r·R9 (rows 3–5 from R10 = SI + 3·R9); it then
// moves SI and R10 on by R11 bytes to the next column.
#define STEPD(ob) \
	VMOVUPS      ob(DI), Y12        \
	VMOVUPS      ob+32(DI), Y13     \
	VBROADCASTSS (SI), Y14          \
	VFMADD231PS  Y12, Y14, Y0       \
	VFMADD231PS  Y13, Y14, Y1       \
	VBROADCASTSS (SI)(R9*1), Y15    \
	VFMADD231PS  Y12, Y15, Y2       \
	VFMADD231PS  Y13, Y15, Y3       \
	VBROADCASTSS (SI)(R9*2), Y14    \
	VFMADD231PS  Y12, Y14, Y4       \
	VFMADD231PS  Y13, Y14, Y5       \
	VBROADCASTSS (R10), Y15         \
	VFMADD231PS  Y12, Y15, Y6       \
	VFMADD231PS  Y13, Y15, Y7       \
	VBROADCASTSS (R10)(R9*1), Y14   \
	VFMADD231PS  Y12, Y14, Y8       \
	VFMADD231PS  Y13, Y14, Y9       \
	VBROADCASTSS (R10)(R9*2), Y15   \
	VFMADD231PS  Y12, Y15, Y10      \
	VFMADD231PS  Y13, Y15, Y11      \
	ADDQ         R11, SI            \
	ADDQ         R11, R10

// func sgemm6x16d(k int, a *float32, rs, ps int, b, c *float32, ldc int, alpha, beta float32)
//
// sgemm6x16 with op(A) read where it lies instead of packed: op(A)[r, p] =
// a[r·rs + p·ps] for r < 6, p < k (rs = lda, ps = 1 for A; rs = 1, ps = lda
// for Aᵀ). The accumulation order, and so the result, is the same as
// sgemm6x16's on the packed panel.
TEXT ·sgemm6x16d(SB), NOSPLIT, $0-64
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ rs+16(FP), R9
	SHLQ $2, R9
	MOVQ ps+24(FP), R11
	SHLQ $2, R11
	LEAQ (SI)(R9*2), R10
	ADDQ R9, R10
	MOVQ b+32(FP), DI
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	CMPQ CX, $4
	JLT  dtail

dloop4:
	STEPD(0)
	STEPD(64)
	STEPD(128)
	STEPD(192)
	ADDQ $256, DI
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  dloop4

dtail:
	TESTQ CX, CX
	JZ    ddone

dloop1:
	STEPD(0)
	ADDQ $64, DI
	DECQ CX
	JNZ  dloop1

ddone:
	VBROADCASTSS alpha+56(FP), Y12
	MOVL         beta+60(FP), AX
	TESTL        $0x7fffffff, AX
	JZ           dstore
	VBROADCASTSS beta+60(FP), Y13
	UPDATE(Y0, Y1)
	UPDATE(Y2, Y3)
	UPDATE(Y4, Y5)
	UPDATE(Y6, Y7)
	UPDATE(Y8, Y9)
	UPDATE(Y10, Y11)
	VZEROUPPER
	RET

dstore:
	STORE(Y0, Y1)
	STORE(Y2, Y3)
	STORE(Y4, Y5)
	STORE(Y6, Y7)
	STORE(Y8, Y9)
	STORE(Y10, Y11)
	VZEROUPPER
	RET

// func sgemm6x16nt(k int, a, b, c *float32, ldc int, alpha, beta float32)
//
// sgemm6x16 storing C with non-temporal stores when beta = 0; C and ldc·4
// must be 32-byte aligned, and the caller runs sfence before C is read.
TEXT ·sgemm6x16nt(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	CMPQ CX, $4
	JLT  tail

loop4:
	STEP(0, 0)
	STEP(24, 64)
	STEP(48, 128)
	STEP(72, 192)
	ADDQ $96, SI
	ADDQ $256, DI
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  loop4

tail:
	TESTQ CX, CX
	JZ    done

loop1:
	STEP(0, 0)
	ADDQ $24, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loop1

done:
	VBROADCASTSS alpha+40(FP), Y12
	MOVL         beta+44(FP), AX
	TESTL        $0x7fffffff, AX
	JZ           store
	VBROADCASTSS beta+44(FP), Y13
	UPDATE(Y0, Y1)
	UPDATE(Y2, Y3)
	UPDATE(Y4, Y5)
	UPDATE(Y6, Y7)
	UPDATE(Y8, Y9)
	UPDATE(Y10, Y11)
	VZEROUPPER
	RET

store:
	STORENT(Y0, Y1)
	STORENT(Y2, Y3)
	STORENT(Y4, Y5)
	STORENT(Y6, Y7)
	STORENT(Y8, Y9)
	STORENT(Y10, Y11)
	VZEROUPPER
	RET

// func sgemm6x16dnt(k int, a *float32, rs, ps int, b, c *float32, ldc int, alpha, beta float32)
//
// sgemm6x16d with sgemm6x16nt's non-temporal stores.
TEXT ·sgemm6x16dnt(SB), NOSPLIT, $0-64
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ rs+16(FP), R9
	SHLQ $2, R9
	MOVQ ps+24(FP), R11
	SHLQ $2, R11
	LEAQ (SI)(R9*2), R10
	ADDQ R9, R10
	MOVQ b+32(FP), DI
	MOVQ c+40(FP), DX
	MOVQ ldc+48(FP), R8
	SHLQ $2, R8

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

	CMPQ CX, $4
	JLT  dtail

dloop4:
	STEPD(0)
	STEPD(64)
	STEPD(128)
	STEPD(192)
	ADDQ $256, DI
	SUBQ $4, CX
	CMPQ CX, $4
	JGE  dloop4

dtail:
	TESTQ CX, CX
	JZ    ddone

dloop1:
	STEPD(0)
	ADDQ $64, DI
	DECQ CX
	JNZ  dloop1

ddone:
	VBROADCASTSS alpha+56(FP), Y12
	MOVL         beta+60(FP), AX
	TESTL        $0x7fffffff, AX
	JZ           dstore
	VBROADCASTSS beta+60(FP), Y13
	UPDATE(Y0, Y1)
	UPDATE(Y2, Y3)
	UPDATE(Y4, Y5)
	UPDATE(Y6, Y7)
	UPDATE(Y8, Y9)
	UPDATE(Y10, Y11)
	VZEROUPPER
	RET

dstore:
	STORENT(Y0, Y1)
	STORENT(Y2, Y3)
	STORENT(Y4, Y5)
	STORENT(Y6, Y7)
	STORENT(Y8, Y9)
	STORENT(Y10, Y11)
	VZEROUPPER
	RET

// func sfence()
// Orders the non-temporal stores before every later store.
TEXT ·sfence(SB), NOSPLIT, $0-0
	SFENCE
	RET

// func packRows16(dst *float32, ldd int, src *float32, lds, rows int)
// dst[p·ldd + j] = src[p·lds + j] for p < rows, j < 16: op(B)'s rows copied
// into a 16-column panel, two 8-float loads and stores a row (AVX).
TEXT ·packRows16(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R8
	SHLQ $2, R8
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), R9
	SHLQ $2, R9
	MOVQ rows+32(FP), CX
	TESTQ CX, CX
	JLE  rdone

rloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    R9, SI
	ADDQ    R8, DI
	DECQ    CX
	JNZ     rloop

rdone:
	VZEROUPPER
	RET

// LOAD8 loads 8 floats from each of the 8 rows at base, base+R9, …,
// base+7·R9 (R10 = 3·R9) into Y0–Y7.
#define LOAD8(base) \
	VMOVUPS (base), Y0          \
	VMOVUPS (base)(R9*1), Y1    \
	VMOVUPS (base)(R9*2), Y2    \
	VMOVUPS (base)(R10*1), Y3   \
	LEAQ    (base)(R9*4), BX    \
	VMOVUPS (BX), Y4            \
	VMOVUPS (BX)(R9*1), Y5      \
	VMOVUPS (BX)(R9*2), Y6      \
	VMOVUPS (BX)(R10*1), Y7

// TRANSPOSE8 transposes the 8×8 block in Y0–Y7 into Y8–Y15: Y(8+k) holds
// element k of Y0, Y1, …, Y7.
#define TRANSPOSE8 \
	VUNPCKLPS  Y1, Y0, Y8          \
	VUNPCKHPS  Y1, Y0, Y9          \
	VUNPCKLPS  Y3, Y2, Y10         \
	VUNPCKHPS  Y3, Y2, Y11         \
	VUNPCKLPS  Y5, Y4, Y12         \
	VUNPCKHPS  Y5, Y4, Y13         \
	VUNPCKLPS  Y7, Y6, Y14         \
	VUNPCKHPS  Y7, Y6, Y15         \
	VSHUFPS    $0x44, Y10, Y8, Y0  \
	VSHUFPS    $0xEE, Y10, Y8, Y1  \
	VSHUFPS    $0x44, Y11, Y9, Y2  \
	VSHUFPS    $0xEE, Y11, Y9, Y3  \
	VSHUFPS    $0x44, Y14, Y12, Y4 \
	VSHUFPS    $0xEE, Y14, Y12, Y5 \
	VSHUFPS    $0x44, Y15, Y13, Y6 \
	VSHUFPS    $0xEE, Y15, Y13, Y7 \
	VPERM2F128 $0x20, Y4, Y0, Y8   \
	VPERM2F128 $0x20, Y5, Y1, Y9   \
	VPERM2F128 $0x20, Y6, Y2, Y10  \
	VPERM2F128 $0x20, Y7, Y3, Y11  \
	VPERM2F128 $0x31, Y4, Y0, Y12  \
	VPERM2F128 $0x31, Y5, Y1, Y13  \
	VPERM2F128 $0x31, Y6, Y2, Y14  \
	VPERM2F128 $0x31, Y7, Y3, Y15

// STORE8 stores Y8–Y15 to the 8 rows at base, base+R8, …, base+7·R8
// (R11 = 3·R8).
#define STORE8(base) \
	VMOVUPS Y8, (base)          \
	VMOVUPS Y9, (base)(R8*1)    \
	VMOVUPS Y10, (base)(R8*2)   \
	VMOVUPS Y11, (base)(R11*1)  \
	LEAQ    (base)(R8*4), BX    \
	VMOVUPS Y12, (BX)           \
	VMOVUPS Y13, (BX)(R8*1)     \
	VMOVUPS Y14, (BX)(R8*2)     \
	VMOVUPS Y15, (BX)(R11*1)

// func packCols16(dst *float32, ldd int, src *float32, lds, pk int)
// dst[p·ldd + j] = src[j·lds + p] for j < 16, p < pk (a multiple of 8):
// 16 rows of b gathered into the columns of a panel of op(B) = bᵀ, as two
// 8×8 transposes in registers per 8 values of p.
TEXT ·packCols16(SB), NOSPLIT, $0-40
	MOVQ dst+0(FP), DI
	MOVQ ldd+8(FP), R8
	SHLQ $2, R8                // dst row stride, bytes
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), R9
	SHLQ $2, R9                // src row stride, bytes
	MOVQ pk+32(FP), CX
	SHRQ $3, CX
	JZ   cdone
	LEAQ (R9)(R9*2), R10       // 3 src rows
	LEAQ (R8)(R8*2), R11       // 3 dst rows
	MOVQ R9, R13
	SHLQ $3, R13               // 8 src rows
	MOVQ R8, R12
	SHLQ $3, R12               // 8 dst rows

cloop:
	LOAD8(SI)
	TRANSPOSE8
	STORE8(DI)
	LEAQ (SI)(R13*1), AX
	LOAD8(AX)
	TRANSPOSE8
	LEAQ 32(DI), DX
	STORE8(DX)
	ADDQ $32, SI
	ADDQ R12, DI
	DECQ CX
	JNZ  cloop

cdone:
	VZEROUPPER
	RET
