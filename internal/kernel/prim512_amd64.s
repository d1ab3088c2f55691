//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 (AVX512F) versions of the exponential primitives of
// prim_amd64.s on 16 lanes: the same operations, element by element, as
// EXP8, and the same float64 summation order as ACC8/HSUM64 (the 8-float
// halves of each 16 are added to one 8-lane float64 accumulator in order,
// which is Y8:Y9 of the AVX2 code), so both give the same bits. n is a
// multiple of 8; prim_amd64.go chooses between them.

// The constants of prim_amd64.s's expc<>, one of each: the clamps (-104,
// 89), log2 e, -C1, -C2, p0–p5, 1 and the exponent bias (int32).
DATA exp512c<>+0(SB)/4, $0xc2d00000
DATA exp512c<>+4(SB)/4, $0x42b20000
DATA exp512c<>+8(SB)/4, $0x3fb8aa3b
DATA exp512c<>+12(SB)/4, $0xbf318000
DATA exp512c<>+16(SB)/4, $0x395e8083
DATA exp512c<>+20(SB)/4, $0x39506967
DATA exp512c<>+24(SB)/4, $0x3ab743ce
DATA exp512c<>+28(SB)/4, $0x3c088908
DATA exp512c<>+32(SB)/4, $0x3d2aa9c1
DATA exp512c<>+36(SB)/4, $0x3e2aaaaa
DATA exp512c<>+40(SB)/4, $0x3f000000
DATA exp512c<>+44(SB)/4, $0x3f800000
DATA exp512c<>+48(SB)/4, $0x7f
GLOBL exp512c<>(SB), RODATA|NOPTR, $52

// EXP512CONSTS loads the clamps, log2 e, the Cody–Waite constants, the
// polynomial, 1 and the exponent bias into Z13–Z25.
#define EXP512CONSTS \
	VBROADCASTSS exp512c<>+0(SB), Z13 \
	VBROADCASTSS exp512c<>+4(SB), Z14 \
	VBROADCASTSS exp512c<>+8(SB), Z15 \
	VBROADCASTSS exp512c<>+12(SB), Z16 \
	VBROADCASTSS exp512c<>+16(SB), Z17 \
	VBROADCASTSS exp512c<>+20(SB), Z18 \
	VBROADCASTSS exp512c<>+24(SB), Z19 \
	VBROADCASTSS exp512c<>+28(SB), Z20 \
	VBROADCASTSS exp512c<>+32(SB), Z21 \
	VBROADCASTSS exp512c<>+36(SB), Z22 \
	VBROADCASTSS exp512c<>+40(SB), Z23 \
	VBROADCASTSS exp512c<>+44(SB), Z24 \
	VPBROADCASTD exp512c<>+48(SB), Z25

// EXP16 replaces X with e^X on 16 lanes; N, R, P are scratch. EXP8's
// steps with the constants in registers.
#define EXP16(X, N, R, P) \
	VMAXPS      X, Z13, X    \
	VMINPS      X, Z14, X    \
	VMULPS      Z15, X, N    \
	VRNDSCALEPS $0, N, N     \
	VMOVAPS     X, R         \
	VFMADD231PS Z16, N, R    \
	VFMADD231PS Z17, N, R    \
	VMOVAPS     Z18, P       \
	VFMADD213PS Z19, R, P    \
	VFMADD213PS Z20, R, P    \
	VFMADD213PS Z21, R, P    \
	VFMADD213PS Z22, R, P    \
	VFMADD213PS Z23, R, P    \
	VMULPS      R, R, X      \
	VFMADD213PS R, X, P      \
	VADDPS      Z24, P, P    \
	VCVTPS2DQ   N, N         \
	VPSRAD      $1, N, X     \
	VPSUBD      X, N, N      \
	VPADDD      Z25, X, X    \
	VPSLLD      $23, X, X    \
	VMULPS      X, P, P      \
	VPADDD      Z25, N, N    \
	VPSLLD      $23, N, N    \
	VMULPS      N, P, X

// ACC16 adds the 16 floats of Z (Y is its low half), widened to float64,
// to Z8 (lanes 0–7 of each 8-float half, low half first); T is scratch.
#define ACC16(Z, Y, T, TY) \
	VCVTPS2PD     Y, T      \
	VADDPD        T, Z8, Z8 \
	VEXTRACTF64X4 $1, Z, TY \
	VCVTPS2PD     TY, T     \
	VADDPD        T, Z8, Z8

// ACC8Z adds the low 8 floats of a register (Y), widened, to Z8.
#define ACC8Z(Y, T) \
	VCVTPS2PD Y, T      \
	VADDPD    T, Z8, Z8

// HSUM512 leaves HSUM64's sum of Z8 (Y8 = lanes 0–3, high half = Y9) in X8.
#define HSUM512 \
	VEXTRACTF64X4 $1, Z8, Y9 \
	VADDPD        Y9, Y8, Y8 \
	VEXTRACTF128  $1, Y8, X9 \
	VADDPD        X9, X8, X8 \
	VUNPCKHPD     X8, X8, X9 \
	VADDSD        X9, X8, X8

// func expAVX512(dst, x *float32, n int)
// dst[i] = e^x[i] for i < n; n is a multiple of 8.
TEXT ·expAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	EXP512CONSTS
	CMPQ CX, $32
	JLT  e16

e32:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z4
	EXP16(Z0, Z1, Z2, Z3)
	EXP16(Z4, Z5, Z6, Z7)
	VMOVUPS Z0, (DI)
	VMOVUPS Z4, 64(DI)
	ADDQ    $128, SI
	ADDQ    $128, DI
	SUBQ    $32, CX
	CMPQ    CX, $32
	JGE     e32

e16:
	CMPQ CX, $16
	JLT  e8
	VMOVUPS (SI), Z0
	EXP16(Z0, Z1, Z2, Z3)
	VMOVUPS Z0, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX

e8:
	TESTQ CX, CX
	JZ    edone
	VMOVUPS (SI), Y0
	EXP16(Z0, Z1, Z2, Z3)
	VMOVUPS Y0, (DI)

edone:
	VZEROUPPER
	RET

// func expSumShiftAVX512(x *float32, n int, m float32) float64
// expSumShiftAVX2 on 16 lanes, with the same bits.
TEXT ·expSumShiftAVX512(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS m+16(FP), Z12
	EXP512CONSTS
	VPXORQ       Z8, Z8, Z8
	CMPQ         CX, $32
	JLT          expSumShiftAVX51216

expSumShiftAVX51232:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z4
	VSUBPS  Z12, Z0, Z0
	VSUBPS  Z12, Z4, Z4
	EXP16(Z0, Z1, Z2, Z3)
	EXP16(Z4, Z5, Z6, Z7)
	ACC16(Z0, Y0, Z10, Y10)
	ACC16(Z4, Y4, Z11, Y11)
	ADDQ    $128, SI
	SUBQ    $32, CX
	CMPQ    CX, $32
	JGE     expSumShiftAVX51232

expSumShiftAVX51216:
	CMPQ    CX, $16
	JLT     expSumShiftAVX5128
	VMOVUPS (SI), Z0
	VSUBPS  Z12, Z0, Z0
	EXP16(Z0, Z1, Z2, Z3)
	ACC16(Z0, Y0, Z10, Y10)
	ADDQ    $64, SI
	SUBQ    $16, CX

expSumShiftAVX5128:
	TESTQ   CX, CX
	JZ      expSumShiftAVX512done
	VMOVUPS (SI), Y0
	VSUBPS  Z12, Z0, Z0
	EXP16(Z0, Z1, Z2, Z3)
	ACC8Z(Y0, Z10)

expSumShiftAVX512done:
	HSUM512
	VMOVSD X8, ret+24(FP)
	VZEROUPPER
	RET

// func expStoreShiftAVX512(dst, x *float32, n int, m float32) float64
// expStoreShiftAVX2 on 16 lanes, with the same bits.
TEXT ·expStoreShiftAVX512(SB), NOSPLIT, $0-40
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS m+24(FP), Z12
	EXP512CONSTS
	VPXORQ       Z8, Z8, Z8
	CMPQ         CX, $32
	JLT          expStoreShiftAVX51216

expStoreShiftAVX51232:
	VMOVUPS (SI), Z0
	VMOVUPS 64(SI), Z4
	VSUBPS  Z12, Z0, Z0
	VSUBPS  Z12, Z4, Z4
	EXP16(Z0, Z1, Z2, Z3)
	EXP16(Z4, Z5, Z6, Z7)
	VMOVUPS Z0, (DI)
	VMOVUPS Z4, 64(DI)
	ADDQ    $128, DI
	ACC16(Z0, Y0, Z10, Y10)
	ACC16(Z4, Y4, Z11, Y11)
	ADDQ    $128, SI
	SUBQ    $32, CX
	CMPQ    CX, $32
	JGE     expStoreShiftAVX51232

expStoreShiftAVX51216:
	CMPQ    CX, $16
	JLT     expStoreShiftAVX5128
	VMOVUPS (SI), Z0
	VSUBPS  Z12, Z0, Z0
	EXP16(Z0, Z1, Z2, Z3)
	VMOVUPS Z0, (DI)
	ADDQ    $64, DI
	ACC16(Z0, Y0, Z10, Y10)
	ADDQ    $64, SI
	SUBQ    $16, CX

expStoreShiftAVX5128:
	TESTQ   CX, CX
	JZ      expStoreShiftAVX512done
	VMOVUPS (SI), Y0
	VSUBPS  Z12, Z0, Z0
	EXP16(Z0, Z1, Z2, Z3)
	VMOVUPS Y0, (DI)
	ACC8Z(Y0, Z10)

expStoreShiftAVX512done:
	HSUM512
	VMOVSD X8, ret+32(FP)
	VZEROUPPER
	RET

// EXPACC16 adds e^(x−m) for the 16 floats at SI+o (m at DX+o), widened to
// float64, to the 16 float64 at DI+2·o; X, Y, W, V are registers
// (Y the low half of X), T, U, TY scratch (TY the low half of T).
#define EXPACC16(o, X, XY, A, B, C, T, TY) \
	VMOVUPS       o(SI), X          \
	VSUBPS        o(DX), X, X       \
	EXP16(X, A, B, C)               \
	VCVTPS2PD     XY, T             \
	VADDPD        (2*o)(DI), T, T   \
	VMOVUPD       T, (2*o)(DI)      \
	VEXTRACTF64X4 $1, X, TY         \
	VCVTPS2PD     TY, T             \
	VADDPD        (2*o+64)(DI), T, T \
	VMOVUPD       T, (2*o+64)(DI)

// func expAccColsAVX512(s *float64, x, m *float32, n int)
// expAccColsAVX2 on 16 lanes: s[j] += e^(x[j]−m[j]) for j < n, in float64,
// with the same bits; n is a multiple of 8.
TEXT ·expAccColsAVX512(SB), NOSPLIT, $0-32
	MOVQ s+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ m+16(FP), DX
	MOVQ n+24(FP), CX
	EXP512CONSTS
	CMPQ CX, $32
	JLT  acc16

acc32:
	EXPACC16(0, Z0, Y0, Z1, Z2, Z3, Z8, Y8)
	EXPACC16(64, Z4, Y4, Z5, Z6, Z7, Z9, Y9)
	ADDQ $128, SI
	ADDQ $128, DX
	ADDQ $256, DI
	SUBQ $32, CX
	CMPQ CX, $32
	JGE  acc32

acc16:
	CMPQ CX, $16
	JLT  acc8
	EXPACC16(0, Z0, Y0, Z1, Z2, Z3, Z8, Y8)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $128, DI
	SUBQ $16, CX

acc8:
	TESTQ     CX, CX
	JZ        accdone
	VMOVUPS   (SI), Y0
	VSUBPS    (DX), Y0, Y0
	EXP16(Z0, Z1, Z2, Z3)
	VCVTPS2PD Y0, Z8
	VADDPD    (DI), Z8, Z8
	VMOVUPD   Z8, (DI)

accdone:
	VZEROUPPER
	RET
