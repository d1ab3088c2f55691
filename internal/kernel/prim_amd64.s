//go:build amd64 && !purego

#include "textflag.h"

// AVX2 + FMA vector primitives of the row and column kernels; prim_amd64.go
// declares them and handles the tails (n is a multiple of 8 here), and
// prim.go holds the portable twins. The three files change together.
//
// The exponential is Cephes' expf (Moshier, Cephes Math Library 2.2, 1992)
// evaluated with FMAs on 8 lanes: x is clamped to [-104, 89] (NaN passes
// through both clamps, as VMAXPS/VMINPS return their second source for NaN),
// n = round(x·log2 e), r = x − n·C1 − n·C2, e^r = 1 + r + r²·P(r) with P of
// degree 5, and the result is e^r·2^(n>>1)·2^(n−n>>1): two exact power-of-2
// factors, so results that overflow give +Inf and subnormal results are
// rounded once. e^(>88.72) = +Inf, e^(-Inf) = 0, NaN gives NaN.

// log2e: log2(e)
DATA expc<>+0(SB)/4, $0x3fb8aa3b
DATA expc<>+4(SB)/4, $0x3fb8aa3b
DATA expc<>+8(SB)/4, $0x3fb8aa3b
DATA expc<>+12(SB)/4, $0x3fb8aa3b
DATA expc<>+16(SB)/4, $0x3fb8aa3b
DATA expc<>+20(SB)/4, $0x3fb8aa3b
DATA expc<>+24(SB)/4, $0x3fb8aa3b
DATA expc<>+28(SB)/4, $0x3fb8aa3b
// negln2hi: -0.693359375, ln 2 to 9 bits (Cephes C1)
DATA expc<>+32(SB)/4, $0xbf318000
DATA expc<>+36(SB)/4, $0xbf318000
DATA expc<>+40(SB)/4, $0xbf318000
DATA expc<>+44(SB)/4, $0xbf318000
DATA expc<>+48(SB)/4, $0xbf318000
DATA expc<>+52(SB)/4, $0xbf318000
DATA expc<>+56(SB)/4, $0xbf318000
DATA expc<>+60(SB)/4, $0xbf318000
// negln2lo: 2.12194440e-4 = -(ln 2 - C1) (Cephes C2)
DATA expc<>+64(SB)/4, $0x395e8083
DATA expc<>+68(SB)/4, $0x395e8083
DATA expc<>+72(SB)/4, $0x395e8083
DATA expc<>+76(SB)/4, $0x395e8083
DATA expc<>+80(SB)/4, $0x395e8083
DATA expc<>+84(SB)/4, $0x395e8083
DATA expc<>+88(SB)/4, $0x395e8083
DATA expc<>+92(SB)/4, $0x395e8083
// p0: 1.9875691500e-4 (Cephes expf polynomial)
DATA expc<>+96(SB)/4, $0x39506967
DATA expc<>+100(SB)/4, $0x39506967
DATA expc<>+104(SB)/4, $0x39506967
DATA expc<>+108(SB)/4, $0x39506967
DATA expc<>+112(SB)/4, $0x39506967
DATA expc<>+116(SB)/4, $0x39506967
DATA expc<>+120(SB)/4, $0x39506967
DATA expc<>+124(SB)/4, $0x39506967
// p1: 1.3981999507e-3
DATA expc<>+128(SB)/4, $0x3ab743ce
DATA expc<>+132(SB)/4, $0x3ab743ce
DATA expc<>+136(SB)/4, $0x3ab743ce
DATA expc<>+140(SB)/4, $0x3ab743ce
DATA expc<>+144(SB)/4, $0x3ab743ce
DATA expc<>+148(SB)/4, $0x3ab743ce
DATA expc<>+152(SB)/4, $0x3ab743ce
DATA expc<>+156(SB)/4, $0x3ab743ce
// p2: 8.3334519073e-3
DATA expc<>+160(SB)/4, $0x3c088908
DATA expc<>+164(SB)/4, $0x3c088908
DATA expc<>+168(SB)/4, $0x3c088908
DATA expc<>+172(SB)/4, $0x3c088908
DATA expc<>+176(SB)/4, $0x3c088908
DATA expc<>+180(SB)/4, $0x3c088908
DATA expc<>+184(SB)/4, $0x3c088908
DATA expc<>+188(SB)/4, $0x3c088908
// p3: 4.1665795894e-2
DATA expc<>+192(SB)/4, $0x3d2aa9c1
DATA expc<>+196(SB)/4, $0x3d2aa9c1
DATA expc<>+200(SB)/4, $0x3d2aa9c1
DATA expc<>+204(SB)/4, $0x3d2aa9c1
DATA expc<>+208(SB)/4, $0x3d2aa9c1
DATA expc<>+212(SB)/4, $0x3d2aa9c1
DATA expc<>+216(SB)/4, $0x3d2aa9c1
DATA expc<>+220(SB)/4, $0x3d2aa9c1
// p4: 1.6666665459e-1
DATA expc<>+224(SB)/4, $0x3e2aaaaa
DATA expc<>+228(SB)/4, $0x3e2aaaaa
DATA expc<>+232(SB)/4, $0x3e2aaaaa
DATA expc<>+236(SB)/4, $0x3e2aaaaa
DATA expc<>+240(SB)/4, $0x3e2aaaaa
DATA expc<>+244(SB)/4, $0x3e2aaaaa
DATA expc<>+248(SB)/4, $0x3e2aaaaa
DATA expc<>+252(SB)/4, $0x3e2aaaaa
// p5: 5.0000001201e-1
DATA expc<>+256(SB)/4, $0x3f000000
DATA expc<>+260(SB)/4, $0x3f000000
DATA expc<>+264(SB)/4, $0x3f000000
DATA expc<>+268(SB)/4, $0x3f000000
DATA expc<>+272(SB)/4, $0x3f000000
DATA expc<>+276(SB)/4, $0x3f000000
DATA expc<>+280(SB)/4, $0x3f000000
DATA expc<>+284(SB)/4, $0x3f000000
// one: 1
DATA expc<>+288(SB)/4, $0x3f800000
DATA expc<>+292(SB)/4, $0x3f800000
DATA expc<>+296(SB)/4, $0x3f800000
DATA expc<>+300(SB)/4, $0x3f800000
DATA expc<>+304(SB)/4, $0x3f800000
DATA expc<>+308(SB)/4, $0x3f800000
DATA expc<>+312(SB)/4, $0x3f800000
DATA expc<>+316(SB)/4, $0x3f800000
// hi: 89: e^89 overflows, and round(89·log2 e) = 128
DATA expc<>+320(SB)/4, $0x42b20000
DATA expc<>+324(SB)/4, $0x42b20000
DATA expc<>+328(SB)/4, $0x42b20000
DATA expc<>+332(SB)/4, $0x42b20000
DATA expc<>+336(SB)/4, $0x42b20000
DATA expc<>+340(SB)/4, $0x42b20000
DATA expc<>+344(SB)/4, $0x42b20000
DATA expc<>+348(SB)/4, $0x42b20000
// lo: -104: e^-104 rounds to 0, and round(-104·log2 e) = -150
DATA expc<>+352(SB)/4, $0xc2d00000
DATA expc<>+356(SB)/4, $0xc2d00000
DATA expc<>+360(SB)/4, $0xc2d00000
DATA expc<>+364(SB)/4, $0xc2d00000
DATA expc<>+368(SB)/4, $0xc2d00000
DATA expc<>+372(SB)/4, $0xc2d00000
DATA expc<>+376(SB)/4, $0xc2d00000
DATA expc<>+380(SB)/4, $0xc2d00000
// bias: the float32 exponent bias (int32)
DATA expc<>+384(SB)/4, $0x7f
DATA expc<>+388(SB)/4, $0x7f
DATA expc<>+392(SB)/4, $0x7f
DATA expc<>+396(SB)/4, $0x7f
DATA expc<>+400(SB)/4, $0x7f
DATA expc<>+404(SB)/4, $0x7f
DATA expc<>+408(SB)/4, $0x7f
DATA expc<>+412(SB)/4, $0x7f
GLOBL expc<>(SB), RODATA|NOPTR, $416
DATA ninf<>+0(SB)/4, $0xff800000
GLOBL ninf<>(SB), RODATA|NOPTR, $4

// EXP8 replaces X with e^X; N, R, P are scratch. Y13 holds the lower clamp,
// Y14 the upper clamp, Y15 log2 e.
#define EXP8(X, N, R, P) \
	VMAXPS      X, Y13, X                 \
	VMINPS      X, Y14, X                 \
	VMULPS      Y15, X, N                 \
	VROUNDPS    $0, N, N                  \
	VMOVAPS     X, R                      \
	VFMADD231PS expc<>+32(SB), N, R \
	VFMADD231PS expc<>+64(SB), N, R \
	VMOVUPS     expc<>+96(SB), P          \
	VFMADD213PS expc<>+128(SB), R, P       \
	VFMADD213PS expc<>+160(SB), R, P       \
	VFMADD213PS expc<>+192(SB), R, P       \
	VFMADD213PS expc<>+224(SB), R, P       \
	VFMADD213PS expc<>+256(SB), R, P       \
	VMULPS      R, R, X                   \
	VFMADD213PS R, X, P                   \
	VADDPS      expc<>+288(SB), P, P      \
	VCVTPS2DQ   N, N                      \
	VPSRAD      $1, N, X                  \
	VPSUBD      X, N, N                   \
	VPADDD      expc<>+384(SB), X, X     \
	VPSLLD      $23, X, X                 \
	VMULPS      X, P, P                   \
	VPADDD      expc<>+384(SB), N, N     \
	VPSLLD      $23, N, N                 \
	VMULPS      N, P, X

#define EXPCONSTS \
	VMOVUPS expc<>+352(SB), Y13    \
	VMOVUPS expc<>+320(SB), Y14    \
	VMOVUPS expc<>+0(SB), Y15

// ACC8 adds the 8 floats of Y (X is its low half), widened to float64, to
// Y8 (lanes 0–3) and Y9 (lanes 4–7); it clobbers Y, and T is scratch.
#define ACC8(Y, X, T) \
	VCVTPS2PD    X, T       \
	VADDPD       T, Y8, Y8  \
	VEXTRACTF128 $1, Y, X   \
	VCVTPS2PD    X, T       \
	VADDPD       T, Y9, Y9

// HSUM64 leaves (Y8[0]+Y9[0]+Y8[2]+Y9[2]) + (Y8[1]+Y9[1]+Y8[3]+Y9[3]) in X8.
#define HSUM64 \
	VADDPD       Y9, Y8, Y8 \
	VEXTRACTF128 $1, Y8, X9 \
	VADDPD       X9, X8, X8 \
	VUNPCKHPD    X8, X8, X9 \
	VADDSD       X9, X8, X8

// func expAVX2(dst, x *float32, n int)
// dst[i] = e^x[i] for i < n; n is a multiple of 8.
TEXT ·expAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	EXPCONSTS
	CMPQ CX, $16
	JLT  exptail

exploop16:
	// Two independent 8-lane chains per iteration keep the FMA pipes busy.
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y4
	EXP8(Y0, Y1, Y2, Y3)
	EXP8(Y4, Y5, Y6, Y7)
	VMOVUPS Y0, (DI)
	VMOVUPS Y4, 32(DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	CMPQ    CX, $16
	JGE     exploop16

exptail:
	TESTQ CX, CX
	JZ    expdone
	VMOVUPS (SI), Y0
	EXP8(Y0, Y1, Y2, Y3)
	VMOVUPS Y0, (DI)

expdone:
	VZEROUPPER
	RET

// func expSumShiftAVX2(x *float32, n int, m float32) float64
// Returns Σ_i e^(x[i]−m) for i < n, accumulated in float64 in 8 lanes
// (summed pairwise at the end); n is a multiple of 8.
TEXT ·expSumShiftAVX2(SB), NOSPLIT, $0-32
	MOVQ         x+0(FP), SI
	MOVQ         n+8(FP), CX
	VBROADCASTSS m+16(FP), Y12
	EXPCONSTS
	VXORPD       Y8, Y8, Y8
	VXORPD       Y9, Y9, Y9
	CMPQ         CX, $16
	JLT          sumtail

sumloop16:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y4
	VSUBPS  Y12, Y0, Y0
	VSUBPS  Y12, Y4, Y4
	EXP8(Y0, Y1, Y2, Y3)
	EXP8(Y4, Y5, Y6, Y7)
	ACC8(Y0, X0, Y10)
	ACC8(Y4, X4, Y11)
	ADDQ    $64, SI
	SUBQ    $16, CX
	CMPQ    CX, $16
	JGE     sumloop16

sumtail:
	TESTQ   CX, CX
	JZ      sumdone
	VMOVUPS (SI), Y0
	VSUBPS  Y12, Y0, Y0
	EXP8(Y0, Y1, Y2, Y3)
	ACC8(Y0, X0, Y10)

sumdone:
	HSUM64
	VMOVSD X8, ret+24(FP)
	VZEROUPPER
	RET

// func expStoreShiftAVX2(dst, x *float32, n int, m float32) float64
// dst[i] = e^(x[i]−m) for i < n; returns Σ_i dst[i] accumulated as
// expSumShiftAVX2 does. n is a multiple of 8.
TEXT ·expStoreShiftAVX2(SB), NOSPLIT, $0-40
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS m+24(FP), Y12
	EXPCONSTS
	VXORPD       Y8, Y8, Y8
	VXORPD       Y9, Y9, Y9
	CMPQ         CX, $16
	JLT          storetail

storeloop16:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y4
	VSUBPS  Y12, Y0, Y0
	VSUBPS  Y12, Y4, Y4
	EXP8(Y0, Y1, Y2, Y3)
	EXP8(Y4, Y5, Y6, Y7)
	VMOVUPS Y0, (DI)
	VMOVUPS Y4, 32(DI)
	ACC8(Y0, X0, Y10)
	ACC8(Y4, X4, Y11)
	ADDQ    $64, SI
	ADDQ    $64, DI
	SUBQ    $16, CX
	CMPQ    CX, $16
	JGE     storeloop16

storetail:
	TESTQ   CX, CX
	JZ      storedone
	VMOVUPS (SI), Y0
	VSUBPS  Y12, Y0, Y0
	EXP8(Y0, Y1, Y2, Y3)
	VMOVUPS Y0, (DI)
	ACC8(Y0, X0, Y10)

storedone:
	HSUM64
	VMOVSD X8, ret+32(FP)
	VZEROUPPER
	RET

// func maxAVX2(x *float32, n int) float32
// Returns max(-Inf, x[0], …, x[n−1]) ignoring NaN; n is a multiple of 8.
TEXT ·maxAVX2(SB), NOSPLIT, $0-20
	MOVQ    x+0(FP), SI
	MOVQ    n+8(FP), CX
	VBROADCASTSS ninf<>(SB), Y0
	VMOVAPS      Y0, Y1
	VMOVAPS      Y0, Y2
	VMOVAPS      Y0, Y3
	CMPQ         CX, $32
	JLT          maxtail

maxloop32:
	// Four running maxima; VMAXPS returns its second source (the running
	// max) when x is NaN.
	VMOVUPS (SI), Y4
	VMOVUPS 32(SI), Y5
	VMOVUPS 64(SI), Y6
	VMOVUPS 96(SI), Y7
	VMAXPS  Y0, Y4, Y0
	VMAXPS  Y1, Y5, Y1
	VMAXPS  Y2, Y6, Y2
	VMAXPS  Y3, Y7, Y3
	ADDQ    $128, SI
	SUBQ    $32, CX
	CMPQ    CX, $32
	JGE     maxloop32

maxtail:
	TESTQ CX, CX
	JZ    maxdone

maxloop8:
	VMOVUPS (SI), Y4
	VMAXPS  Y0, Y4, Y0
	ADDQ    $32, SI
	SUBQ    $8, CX
	JNZ     maxloop8

maxdone:
	VMAXPS Y1, Y0, Y0
	VMAXPS Y3, Y2, Y2
	VMAXPS Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VMAXPS       X1, X0, X0
	VMOVSS       X0, ret+16(FP)
	VZEROUPPER
	RET

// func maxColsAVX2(m, x *float32, n int)
// m[j] = max(m[j], x[j]) for j < n, ignoring NaN in x; n is a multiple of 8.
TEXT ·maxColsAVX2(SB), NOSPLIT, $0-24
	MOVQ m+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   mcdone

mcloop:
	VMOVUPS (DI), Y0
	VMOVUPS (SI), Y1
	VMAXPS  Y0, Y1, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     mcloop

mcdone:
	VZEROUPPER
	RET

// func expAccColsAVX2(s *float64, x, m *float32, n int)
// s[j] += e^(x[j]−m[j]) for j < n, in float64; n is a multiple of 8.
TEXT ·expAccColsAVX2(SB), NOSPLIT, $0-32
	MOVQ s+0(FP), DI
	MOVQ x+8(FP), SI
	MOVQ m+16(FP), DX
	MOVQ n+24(FP), CX
	EXPCONSTS
	CMPQ CX, $16
	JLT  acctail

accloop16:
	VMOVUPS      (SI), Y0
	VMOVUPS      32(SI), Y4
	VSUBPS       (DX), Y0, Y0
	VSUBPS       32(DX), Y4, Y4
	EXP8(Y0, Y1, Y2, Y3)
	EXP8(Y4, Y5, Y6, Y7)
	VCVTPS2PD    X0, Y1
	VADDPD       (DI), Y1, Y1
	VMOVUPD      Y1, (DI)
	VEXTRACTF128 $1, Y0, X0
	VCVTPS2PD    X0, Y1
	VADDPD       32(DI), Y1, Y1
	VMOVUPD      Y1, 32(DI)
	VCVTPS2PD    X4, Y5
	VADDPD       64(DI), Y5, Y5
	VMOVUPD      Y5, 64(DI)
	VEXTRACTF128 $1, Y4, X4
	VCVTPS2PD    X4, Y5
	VADDPD       96(DI), Y5, Y5
	VMOVUPD      Y5, 96(DI)
	ADDQ         $64, SI
	ADDQ         $64, DX
	ADDQ         $128, DI
	SUBQ         $16, CX
	CMPQ         CX, $16
	JGE          accloop16

acctail:
	SHRQ $3, CX
	JZ   accdone

accloop:
	VMOVUPS      (SI), Y0
	VSUBPS       (DX), Y0, Y0
	EXP8(Y0, Y1, Y2, Y3)
	VCVTPS2PD    X0, Y4
	VADDPD       (DI), Y4, Y4
	VMOVUPD      Y4, (DI)
	VEXTRACTF128 $1, Y0, X0
	VCVTPS2PD    X0, Y4
	VADDPD       32(DI), Y4, Y4
	VMOVUPD      Y4, 32(DI)
	ADDQ         $32, SI
	ADDQ         $32, DX
	ADDQ         $64, DI
	DECQ         CX
	JNZ          accloop

accdone:
	VZEROUPPER
	RET

// func scaleAVX2(x *float32, n int, a float32)
// x[i] *= a for i < n; n is a multiple of 8.
TEXT ·scaleAVX2(SB), NOSPLIT, $0-20
	MOVQ         x+0(FP), DI
	MOVQ         n+8(FP), CX
	VBROADCASTSS a+16(FP), Y1
	SHRQ         $3, CX
	JZ           scaledone

scaleloop:
	VMULPS  (DI), Y1, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, DI
	DECQ    CX
	JNZ     scaleloop

scaledone:
	VZEROUPPER
	RET

// func subConstAVX2(dst, x *float32, n int, c float32)
// dst[i] = x[i] − c for i < n; n is a multiple of 8.
TEXT ·subConstAVX2(SB), NOSPLIT, $0-28
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         n+16(FP), CX
	VBROADCASTSS c+24(FP), Y1
	SHRQ         $3, CX
	JZ           subdone

subloop:
	VMOVUPS (SI), Y0
	VSUBPS  Y1, Y0, Y0
	VMOVUPS Y0, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     subloop

subdone:
	VZEROUPPER
	RET
