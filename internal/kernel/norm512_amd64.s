//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 (AVX512F) versions of norm_amd64.s's row loops, 8 float64 lanes
// per register: the sums keep the same 32 lanes (Z0–Z3 hold lanes 0–7, …,
// 24–31, i.e. Y0:Y1, …, Y6:Y7 of the AVX2 code) and add them in the same
// tree, so both give the same bits. n is a multiple of 8 and rows ≥ 1;
// norm_amd64.go chooses between the two sets.

// HSUM32Z leaves in X0 norm_amd64.s's HSUM32 of the 32 lanes of Z0–Z3. It
// clobbers Z1–Z3.
#define HSUM32Z \
	VADDPD        Z2, Z0, Z0 \
	VADDPD        Z3, Z1, Z1 \
	VADDPD        Z1, Z0, Z0 \
	VEXTRACTF64X4 $1, Z0, Y1 \
	VADDPD        Y1, Y0, Y0 \
	VEXTRACTF128  $1, Y0, X1 \
	VADDPD        X1, X0, X0 \
	VUNPCKHPD     X0, X0, X1 \
	VADDSD        X1, X0, X0

#define ZERO4Z \
	VPXORQ Z0, Z0, Z0 \
	VPXORQ Z1, Z1, Z1 \
	VPXORQ Z2, Z2, Z2 \
	VPXORQ Z3, Z3, Z3

// func sumSqRowsAVX512(s *float64, x *float32, rows, n, ld int)
// s[i] = Σ_{j<n} x[i·ld+j]² in float64 for i < rows.
TEXT ·sumSqRowsAVX512(SB), NOSPLIT, $0-40
	MOVQ s+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ rows+16(FP), BX
	MOVQ n+24(FP), R8
	MOVQ ld+32(FP), R9
	SHLQ $2, R9

sumsqrow:
	MOVQ SI, AX
	MOVQ R8, CX
	ZERO4Z
	CMPQ CX, $32
	JLT  sumsq8

sumsq32:
	VCVTPS2PD   (AX), Z4
	VCVTPS2PD   32(AX), Z5
	VCVTPS2PD   64(AX), Z6
	VCVTPS2PD   96(AX), Z7
	VFMADD231PD Z4, Z4, Z0
	VFMADD231PD Z5, Z5, Z1
	VFMADD231PD Z6, Z6, Z2
	VFMADD231PD Z7, Z7, Z3
	ADDQ        $128, AX
	SUBQ        $32, CX
	CMPQ        CX, $32
	JGE         sumsq32

sumsq8:
	TESTQ       CX, CX
	JZ          sumsqdone
	VCVTPS2PD   (AX), Z4
	VFMADD231PD Z4, Z4, Z0
	ADDQ        $32, AX
	SUBQ        $8, CX
	JMP         sumsq8

sumsqdone:
	HSUM32Z
	VMOVSD X0, (DI)
	ADDQ   $8, DI
	ADDQ   R9, SI
	DECQ   BX
	JNZ    sumsqrow
	VZEROUPPER
	RET

// func dotRowsAVX512(s *float64, x, y *float32, rows, n, ld int)
// s[i] = Σ_{j<n} x[i·ld+j]·y[i·ld+j] in float64 for i < rows.
TEXT ·dotRowsAVX512(SB), NOSPLIT, $0-48
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
	ZERO4Z
	CMPQ CX, $32
	JLT  dot8

dot32:
	VCVTPS2PD   (AX), Z4
	VCVTPS2PD   (R10), Z8
	VCVTPS2PD   32(AX), Z5
	VCVTPS2PD   32(R10), Z9
	VCVTPS2PD   64(AX), Z6
	VCVTPS2PD   64(R10), Z10
	VCVTPS2PD   96(AX), Z7
	VCVTPS2PD   96(R10), Z11
	VFMADD231PD Z8, Z4, Z0
	VFMADD231PD Z9, Z5, Z1
	VFMADD231PD Z10, Z6, Z2
	VFMADD231PD Z11, Z7, Z3
	ADDQ        $128, AX
	ADDQ        $128, R10
	SUBQ        $32, CX
	CMPQ        CX, $32
	JGE         dot32

dot8:
	TESTQ       CX, CX
	JZ          dotdone
	VCVTPS2PD   (AX), Z4
	VCVTPS2PD   (R10), Z8
	VFMADD231PD Z8, Z4, Z0
	ADDQ        $32, AX
	ADDQ        $32, R10
	SUBQ        $8, CX
	JMP         dot8

dotdone:
	HSUM32Z
	VMOVSD X0, (DI)
	ADDQ   $8, DI
	ADDQ   R9, SI
	ADDQ   R9, DX
	DECQ   BX
	JNZ    dotrow
	VZEROUPPER
	RET

// func scaleRowsAVX512(dst, x *float32, a *float64, rows, n, ld int)
// dst[i·ld+j] = float32(float64(x[i·ld+j])·a[i]) for i < rows, j < n;
// dst may be x.
TEXT ·scaleRowsAVX512(SB), NOSPLIT, $0-48
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
	VBROADCASTSD (DX), Z15
	CMPQ         CX, $32
	JLT          scale8

scale32:
	VCVTPS2PD (AX), Z0
	VCVTPS2PD 32(AX), Z1
	VCVTPS2PD 64(AX), Z2
	VCVTPS2PD 96(AX), Z3
	VMULPD    Z15, Z0, Z0
	VMULPD    Z15, Z1, Z1
	VMULPD    Z15, Z2, Z2
	VMULPD    Z15, Z3, Z3
	VCVTPD2PS Z0, Y0
	VCVTPD2PS Z1, Y1
	VCVTPD2PS Z2, Y2
	VCVTPD2PS Z3, Y3
	VMOVUPS   Y0, (R10)
	VMOVUPS   Y1, 32(R10)
	VMOVUPS   Y2, 64(R10)
	VMOVUPS   Y3, 96(R10)
	ADDQ      $128, AX
	ADDQ      $128, R10
	SUBQ      $32, CX
	CMPQ      CX, $32
	JGE       scale32

scale8:
	TESTQ     CX, CX
	JZ        scaledone
	VCVTPS2PD (AX), Z0
	VMULPD    Z15, Z0, Z0
	VCVTPD2PS Z0, Y0
	VMOVUPS   Y0, (R10)
	ADDQ      $32, AX
	ADDQ      $32, R10
	SUBQ      $8, CX
	JMP       scale8

scaledone:
	ADDQ R9, DI
	ADDQ R9, SI
	ADDQ $8, DX
	DECQ BX
	JNZ  scalerow
	VZEROUPPER
	RET

// func projectOutRowsAVX512(dst, dy, y *float32, c, a *float64, rows, n, ld int)
// dst[i·ld+j] = float32((float64(dy[i·ld+j]) − c[i]·float64(y[i·ld+j]))·a[i])
// for i < rows, j < n, each operation rounded to float64; dst may be dy.
TEXT ·projectOutRowsAVX512(SB), NOSPLIT, $0-64
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
	VBROADCASTSD (R11), Z14
	VBROADCASTSD (R12), Z15
	CMPQ         CX, $32
	JLT          proj8

proj32:
	VCVTPS2PD (R13), Z0
	VCVTPS2PD (AX), Z4
	VCVTPS2PD 32(R13), Z1
	VCVTPS2PD 32(AX), Z5
	VCVTPS2PD 64(R13), Z2
	VCVTPS2PD 64(AX), Z6
	VCVTPS2PD 96(R13), Z3
	VCVTPS2PD 96(AX), Z7
	VMULPD    Z14, Z0, Z0
	VMULPD    Z14, Z1, Z1
	VMULPD    Z14, Z2, Z2
	VMULPD    Z14, Z3, Z3
	VSUBPD    Z0, Z4, Z4
	VSUBPD    Z1, Z5, Z5
	VSUBPD    Z2, Z6, Z6
	VSUBPD    Z3, Z7, Z7
	VMULPD    Z15, Z4, Z4
	VMULPD    Z15, Z5, Z5
	VMULPD    Z15, Z6, Z6
	VMULPD    Z15, Z7, Z7
	VCVTPD2PS Z4, Y4
	VCVTPD2PS Z5, Y5
	VCVTPD2PS Z6, Y6
	VCVTPD2PS Z7, Y7
	VMOVUPS   Y4, (R10)
	VMOVUPS   Y5, 32(R10)
	VMOVUPS   Y6, 64(R10)
	VMOVUPS   Y7, 96(R10)
	ADDQ      $128, AX
	ADDQ      $128, R13
	ADDQ      $128, R10
	SUBQ      $32, CX
	CMPQ      CX, $32
	JGE       proj32

proj8:
	TESTQ     CX, CX
	JZ        projdone
	VCVTPS2PD (R13), Z0
	VCVTPS2PD (AX), Z4
	VMULPD    Z14, Z0, Z0
	VSUBPD    Z0, Z4, Z4
	VMULPD    Z15, Z4, Z4
	VCVTPD2PS Z4, Y4
	VMOVUPS   Y4, (R10)
	ADDQ      $32, AX
	ADDQ      $32, R13
	ADDQ      $32, R10
	SUBQ      $8, CX
	JMP       proj8

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
