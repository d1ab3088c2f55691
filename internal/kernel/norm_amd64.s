//go:build amd64 && !purego

#include "textflag.h"

// AVX2 + FMA loops of L2 row normalisation (norm.go) over a block of rows:
// row i of each matrix starts ld elements after row i−1, and the first n
// elements of each row are done (n is a multiple of 8, rows ≥ 1);
// norm_amd64.go declares them and does the last cols%8 elements of a row.
//
// The sums widen each float32 to float64 (VCVTPS2PD) and accumulate the
// exact products with VFMADD231PD in 32 lanes: lane k (Y0–Y7 hold lanes
// 0–3, 4–7, …, 28–31) adds the elements j ≡ k (mod 32) of the row's
// 32-blocks in order, then the 8-blocks left over go to lanes 0–7; HSUM32
// adds the lanes in one fixed tree. norm512_amd64.s does the same in ZMM
// registers, so the two give the same bits. The element-wise loops round
// each float64 operation separately, as the portable twins in norm.go do,
// and give their bits.

// HSUM32 leaves in X0 the sum of the 32 lanes of Y0–Y7, A0–A7:
// ((A0+A4)+(A2+A6)) + ((A1+A5)+(A3+A7)) as four lanes, then lanes 0+2 and
// 1+3, then those two. It clobbers Y1–Y7.
#define HSUM32 \
	VADDPD       Y4, Y0, Y0 \
	VADDPD       Y6, Y2, Y2 \
	VADDPD       Y2, Y0, Y0 \
	VADDPD       Y5, Y1, Y1 \
	VADDPD       Y7, Y3, Y3 \
	VADDPD       Y3, Y1, Y1 \
	VADDPD       Y1, Y0, Y0 \
	VEXTRACTF128 $1, Y0, X1 \
	VADDPD       X1, X0, X0 \
	VUNPCKHPD    X0, X0, X1 \
	VADDSD       X1, X0, X0

#define ZERO8 \
	VXORPD Y0, Y0, Y0 \
	VXORPD Y1, Y1, Y1 \
	VXORPD Y2, Y2, Y2 \
	VXORPD Y3, Y3, Y3 \
	VXORPD Y4, Y4, Y4 \
	VXORPD Y5, Y5, Y5 \
	VXORPD Y6, Y6, Y6 \
	VXORPD Y7, Y7, Y7

// func sumSqRowsAVX2(s *float64, x *float32, rows, n, ld int)
// s[i] = Σ_{j<n} x[i·ld+j]² in float64 for i < rows.
TEXT ·sumSqRowsAVX2(SB), NOSPLIT, $0-40
	MOVQ s+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ rows+16(FP), BX
	MOVQ n+24(FP), R8
	MOVQ ld+32(FP), R9
	SHLQ $2, R9

sumsqrow:
	MOVQ SI, AX
	MOVQ R8, CX
	ZERO8
	CMPQ CX, $32
	JLT  sumsq8

sumsq32:
	VCVTPS2PD   (AX), Y8
	VCVTPS2PD   16(AX), Y9
	VCVTPS2PD   32(AX), Y10
	VCVTPS2PD   48(AX), Y11
	VCVTPS2PD   64(AX), Y12
	VCVTPS2PD   80(AX), Y13
	VCVTPS2PD   96(AX), Y14
	VCVTPS2PD   112(AX), Y15
	VFMADD231PD Y8, Y8, Y0
	VFMADD231PD Y9, Y9, Y1
	VFMADD231PD Y10, Y10, Y2
	VFMADD231PD Y11, Y11, Y3
	VFMADD231PD Y12, Y12, Y4
	VFMADD231PD Y13, Y13, Y5
	VFMADD231PD Y14, Y14, Y6
	VFMADD231PD Y15, Y15, Y7
	ADDQ        $128, AX
	SUBQ        $32, CX
	CMPQ        CX, $32
	JGE         sumsq32

sumsq8:
	TESTQ       CX, CX
	JZ          sumsqdone
	VCVTPS2PD   (AX), Y8
	VCVTPS2PD   16(AX), Y9
	VFMADD231PD Y8, Y8, Y0
	VFMADD231PD Y9, Y9, Y1
	ADDQ        $32, AX
	SUBQ        $8, CX
	JMP         sumsq8

sumsqdone:
	HSUM32
	VMOVSD X0, (DI)
	ADDQ   $8, DI
	ADDQ   R9, SI
	DECQ   BX
	JNZ    sumsqrow
	VZEROUPPER
	RET

// func dotRowsAVX2(s *float64, x, y *float32, rows, n, ld int)
// s[i] = Σ_{j<n} x[i·ld+j]·y[i·ld+j] in float64 for i < rows.
TEXT ·dotRowsAVX2(SB), NOSPLIT, $0-48
	MOVQ s+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ rows+24(FP), BX
	MOVQ n+32(FP), R8
	MOVQ ld+40(FP), R9
	SHLQ $2, R9

dotrow:
	MOVQ SI, AX
	MOVQ DX, R10
	MOVQ R8, CX
	ZERO8
	CMPQ CX, $32
	JLT  dot8

dot32:
	VCVTPS2PD   (AX), Y8
	VCVTPS2PD   (R10), Y12
	VCVTPS2PD   16(AX), Y9
	VCVTPS2PD   16(R10), Y13
	VCVTPS2PD   32(AX), Y10
	VCVTPS2PD   32(R10), Y14
	VCVTPS2PD   48(AX), Y11
	VCVTPS2PD   48(R10), Y15
	VFMADD231PD Y12, Y8, Y0
	VFMADD231PD Y13, Y9, Y1
	VFMADD231PD Y14, Y10, Y2
	VFMADD231PD Y15, Y11, Y3
	VCVTPS2PD   64(AX), Y8
	VCVTPS2PD   64(R10), Y12
	VCVTPS2PD   80(AX), Y9
	VCVTPS2PD   80(R10), Y13
	VCVTPS2PD   96(AX), Y10
	VCVTPS2PD   96(R10), Y14
	VCVTPS2PD   112(AX), Y11
	VCVTPS2PD   112(R10), Y15
	VFMADD231PD Y12, Y8, Y4
	VFMADD231PD Y13, Y9, Y5
	VFMADD231PD Y14, Y10, Y6
	VFMADD231PD Y15, Y11, Y7
	ADDQ        $128, AX
	ADDQ        $128, R10
	SUBQ        $32, CX
	CMPQ        CX, $32
	JGE         dot32

dot8:
	TESTQ       CX, CX
	JZ          dotdone
	VCVTPS2PD   (AX), Y8
	VCVTPS2PD   16(AX), Y9
	VCVTPS2PD   (R10), Y12
	VCVTPS2PD   16(R10), Y13
	VFMADD231PD Y12, Y8, Y0
	VFMADD231PD Y13, Y9, Y1
	ADDQ        $32, AX
	ADDQ        $32, R10
	SUBQ        $8, CX
	JMP         dot8

dotdone:
	HSUM32
	VMOVSD X0, (DI)
	ADDQ   $8, DI
	ADDQ   R9, SI
	ADDQ   R9, DX
	DECQ   BX
	JNZ    dotrow
	VZEROUPPER
	RET

// func scaleRowsAVX2(dst, x *float32, a *float64, rows, n, ld int)
// dst[i·ld+j] = float32(float64(x[i·ld+j])·a[i]) for i < rows, j < n;
// dst may be x.
TEXT ·scaleRowsAVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ a+16(FP), DX
	MOVQ rows+24(FP), BX
	MOVQ n+32(FP), R8
	MOVQ ld+40(FP), R9
	SHLQ $2, R9

scalerow:
	MOVQ         DI, R10
	MOVQ         SI, AX
	MOVQ         R8, CX
	VBROADCASTSD (DX), Y15
	CMPQ         CX, $32
	JLT          scale8

scale32:
	VCVTPS2PD  (AX), Y0
	VCVTPS2PD  16(AX), Y1
	VCVTPS2PD  32(AX), Y2
	VCVTPS2PD  48(AX), Y3
	VCVTPS2PD  64(AX), Y4
	VCVTPS2PD  80(AX), Y5
	VCVTPS2PD  96(AX), Y6
	VCVTPS2PD  112(AX), Y7
	VMULPD     Y15, Y0, Y0
	VMULPD     Y15, Y1, Y1
	VMULPD     Y15, Y2, Y2
	VMULPD     Y15, Y3, Y3
	VMULPD     Y15, Y4, Y4
	VMULPD     Y15, Y5, Y5
	VMULPD     Y15, Y6, Y6
	VMULPD     Y15, Y7, Y7
	VCVTPD2PSY Y0, X0
	VCVTPD2PSY Y1, X1
	VCVTPD2PSY Y2, X2
	VCVTPD2PSY Y3, X3
	VCVTPD2PSY Y4, X4
	VCVTPD2PSY Y5, X5
	VCVTPD2PSY Y6, X6
	VCVTPD2PSY Y7, X7
	VMOVUPS    X0, (R10)
	VMOVUPS    X1, 16(R10)
	VMOVUPS    X2, 32(R10)
	VMOVUPS    X3, 48(R10)
	VMOVUPS    X4, 64(R10)
	VMOVUPS    X5, 80(R10)
	VMOVUPS    X6, 96(R10)
	VMOVUPS    X7, 112(R10)
	ADDQ       $128, AX
	ADDQ       $128, R10
	SUBQ       $32, CX
	CMPQ       CX, $32
	JGE        scale32

scale8:
	TESTQ      CX, CX
	JZ         scaledone
	VCVTPS2PD  (AX), Y0
	VCVTPS2PD  16(AX), Y1
	VMULPD     Y15, Y0, Y0
	VMULPD     Y15, Y1, Y1
	VCVTPD2PSY Y0, X0
	VCVTPD2PSY Y1, X1
	VMOVUPS    X0, (R10)
	VMOVUPS    X1, 16(R10)
	ADDQ       $32, AX
	ADDQ       $32, R10
	SUBQ       $8, CX
	JMP        scale8

scaledone:
	ADDQ R9, DI
	ADDQ R9, SI
	ADDQ $8, DX
	DECQ BX
	JNZ  scalerow
	VZEROUPPER
	RET

// func projectOutRowsAVX2(dst, dy, y *float32, c, a *float64, rows, n, ld int)
// dst[i·ld+j] = float32((float64(dy[i·ld+j]) − c[i]·float64(y[i·ld+j]))·a[i])
// for i < rows, j < n, each operation rounded to float64; dst may be dy.
TEXT ·projectOutRowsAVX2(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ dy+8(FP), SI
	MOVQ y+16(FP), DX
	MOVQ c+24(FP), R11
	MOVQ a+32(FP), R12
	MOVQ rows+40(FP), BX
	MOVQ n+48(FP), R8
	MOVQ ld+56(FP), R9
	SHLQ $2, R9

projrow:
	MOVQ         DI, R10
	MOVQ         SI, AX
	MOVQ         DX, R13
	MOVQ         R8, CX
	VBROADCASTSD (R11), Y14
	VBROADCASTSD (R12), Y15
	CMPQ         CX, $16
	JLT          proj8

proj16:
	VCVTPS2PD  (R13), Y0
	VCVTPS2PD  (AX), Y4
	VCVTPS2PD  16(R13), Y1
	VCVTPS2PD  16(AX), Y5
	VCVTPS2PD  32(R13), Y2
	VCVTPS2PD  32(AX), Y6
	VCVTPS2PD  48(R13), Y3
	VCVTPS2PD  48(AX), Y7
	VMULPD     Y14, Y0, Y0
	VMULPD     Y14, Y1, Y1
	VMULPD     Y14, Y2, Y2
	VMULPD     Y14, Y3, Y3
	VSUBPD     Y0, Y4, Y4
	VSUBPD     Y1, Y5, Y5
	VSUBPD     Y2, Y6, Y6
	VSUBPD     Y3, Y7, Y7
	VMULPD     Y15, Y4, Y4
	VMULPD     Y15, Y5, Y5
	VMULPD     Y15, Y6, Y6
	VMULPD     Y15, Y7, Y7
	VCVTPD2PSY Y4, X4
	VCVTPD2PSY Y5, X5
	VCVTPD2PSY Y6, X6
	VCVTPD2PSY Y7, X7
	VMOVUPS    X4, (R10)
	VMOVUPS    X5, 16(R10)
	VMOVUPS    X6, 32(R10)
	VMOVUPS    X7, 48(R10)
	ADDQ       $64, AX
	ADDQ       $64, R13
	ADDQ       $64, R10
	SUBQ       $16, CX
	CMPQ       CX, $16
	JGE        proj16

proj8:
	TESTQ      CX, CX
	JZ         projdone
	VCVTPS2PD  (R13), Y0
	VCVTPS2PD  16(R13), Y1
	VCVTPS2PD  (AX), Y4
	VCVTPS2PD  16(AX), Y5
	VMULPD     Y14, Y0, Y0
	VMULPD     Y14, Y1, Y1
	VSUBPD     Y0, Y4, Y4
	VSUBPD     Y1, Y5, Y5
	VMULPD     Y15, Y4, Y4
	VMULPD     Y15, Y5, Y5
	VCVTPD2PSY Y4, X4
	VCVTPD2PSY Y5, X5
	VMOVUPS    X4, (R10)
	VMOVUPS    X5, 16(R10)

projdone:
	ADDQ R9, DI
	ADDQ R9, SI
	ADDQ R9, DX
	ADDQ $8, R11
	ADDQ $8, R12
	DECQ BX
	JNZ  projrow
	VZEROUPPER
	RET
