//go:build amd64 && !purego

#include "textflag.h"

// AVX2 + FMA loops of batch normalisation over one channel (bn.go): rows
// spans of span values, the first at x, each ld elements after the last
// (rows ≥ 1, span ≥ 1); bn_amd64.go declares them.
//
// The sums widen each float32 term to float64 (VCVTPS2PD; the terms and
// the products of two float32 are exact) and add them in 16 float64 lanes:
// Y0–Y3 hold lanes 0–3, 4–7, 8–11 and 12–15 of the first sum, Y4–Y7 those
// of the second. The 16-blocks of a span go to lanes 0–15 in order, an
// 8-block left over to lanes 0–7, and the last span%8 values are loaded
// with a mask into lanes 0–7 (the masked-off lanes add +0). HSUM16 then
// adds the lanes in one fixed tree. bn512_amd64.s does the same in ZMM
// registers, so the two give the same bits. The element-wise loops round
// every float32 operation as bn.go's portable twins do and give their
// bits; the last span%8 values of a span are loaded and stored with
// VMASKMOVPS, so nothing outside the spans is read or written. Each block
// also prefetches the same columns of the next span (ld further on): the
// spans of a channel lie C·H·W apart, and the hardware prefetchers stop at
// every new span (AVX-512 on 256×32×28×28: −18 % forward, −27 %
// backward per element; BenchmarkBNPaths).

// bnmask<>+32−4·r holds r lanes of all ones, then zeros.
DATA bnmask<>+0(SB)/4, $0xffffffff
DATA bnmask<>+4(SB)/4, $0xffffffff
DATA bnmask<>+8(SB)/4, $0xffffffff
DATA bnmask<>+12(SB)/4, $0xffffffff
DATA bnmask<>+16(SB)/4, $0xffffffff
DATA bnmask<>+20(SB)/4, $0xffffffff
DATA bnmask<>+24(SB)/4, $0xffffffff
DATA bnmask<>+28(SB)/4, $0xffffffff
DATA bnmask<>+32(SB)/4, $0
DATA bnmask<>+36(SB)/4, $0
DATA bnmask<>+40(SB)/4, $0
DATA bnmask<>+44(SB)/4, $0
DATA bnmask<>+48(SB)/4, $0
DATA bnmask<>+52(SB)/4, $0
DATA bnmask<>+56(SB)/4, $0
DATA bnmask<>+60(SB)/4, $0
GLOBL bnmask<>(SB), RODATA|NOPTR, $64

// TAILMASK(n, y) loads into y the mask of the last n%8 values of a span.
// It clobbers CX and AX.
#define TAILMASK(n, y) \
	MOVQ    n, CX \
	ANDQ    $7, CX \
	SHLQ    $2, CX \
	LEAQ    bnmask<>+32(SB), AX \
	SUBQ    CX, AX \
	VMOVDQU (AX), y

// HSUM16 leaves in xa the sum of the 16 lanes of ya, yb, yc, yd (lanes
// 0–3, 4–7, 8–11, 12–15): ((l_i + l_i+8) + (l_i+4 + l_i+12)) for i < 4,
// then lanes 0+2 and 1+3, then those two. It clobbers yb, yc, yd.
#define HSUM16(ya, yb, yc, yd, xa, xb) \
	VADDPD       yc, ya, ya \
	VADDPD       yd, yb, yb \
	VADDPD       yb, ya, ya \
	VEXTRACTF128 $1, ya, xb \
	VADDPD       xb, xa, xa \
	VUNPCKHPD    xa, xa, xb \
	VADDSD       xb, xa, xa

#define ZERO8 \
	VXORPD Y0, Y0, Y0 \
	VXORPD Y1, Y1, Y1 \
	VXORPD Y2, Y2, Y2 \
	VXORPD Y3, Y3, Y3 \
	VXORPD Y4, Y4, Y4 \
	VXORPD Y5, Y5, Y5 \
	VXORPD Y6, Y6, Y6 \
	VXORPD Y7, Y7, Y7

// STATS8(y, sa, sb, qa, qb) adds the 8 float32 values d of y (clobbered)
// to lanes sa:sb and their squares to qa:qb; it clobbers Y10, Y11.
#define STATS8(y, x, sa, sb, qa, qb) \
	VCVTPS2PD    x, Y10 \
	VEXTRACTF128 $1, y, x \
	VCVTPS2PD    x, Y11 \
	VADDPD       Y10, sa, sa \
	VADDPD       Y11, sb, sb \
	VFMADD231PD  Y10, Y10, qa \
	VFMADD231PD  Y11, Y11, qb

// func bnStatsAVX2(x *float32, rows, span, ld int, k float32) (s, q float64)
// Y15 holds k, Y14 the tail mask.
TEXT ·bnStatsAVX2(SB), NOSPLIT, $0-56
	MOVQ         x+0(FP), SI
	MOVQ         rows+8(FP), BX
	MOVQ         span+16(FP), R8
	MOVQ         ld+24(FP), R9
	SHLQ         $2, R9
	VBROADCASTSS k+32(FP), Y15
	TAILMASK(R8, Y14)
	ZERO8

statsrow:
	MOVQ SI, AX
	MOVQ R8, CX
	CMPQ CX, $16
	JLT  stats8

stats16:
	PREFETCHT0 (AX)(R9*1)
	VMOVUPS (AX), Y8
	VMOVUPS 32(AX), Y9
	VSUBPS  Y15, Y8, Y8
	VSUBPS  Y15, Y9, Y9
	STATS8(Y8, X8, Y0, Y1, Y4, Y5)
	STATS8(Y9, X9, Y2, Y3, Y6, Y7)
	ADDQ    $64, AX
	SUBQ    $16, CX
	CMPQ    CX, $16
	JGE     stats16

stats8:
	CMPQ    CX, $8
	JLT     statstail
	VMOVUPS (AX), Y8
	VSUBPS  Y15, Y8, Y8
	STATS8(Y8, X8, Y0, Y1, Y4, Y5)
	ADDQ    $32, AX
	SUBQ    $8, CX

statstail:
	TESTQ      CX, CX
	JZ         statsnext
	VMASKMOVPS (AX), Y14, Y8
	VSUBPS     Y15, Y8, Y8
	VANDPS     Y14, Y8, Y8
	STATS8(Y8, X8, Y0, Y1, Y4, Y5)

statsnext:
	ADDQ R9, SI
	DECQ BX
	JNZ  statsrow
	HSUM16(Y0, Y1, Y2, Y3, X0, X1)
	HSUM16(Y4, Y5, Y6, Y7, X4, X5)
	VMOVSD X0, s+40(FP)
	VMOVSD X4, q+48(FP)
	VZEROUPPER
	RET

// AFF8(y) turns x into float32(x·a) + b (a in Y13, b in Y14) in y, and
// RELU8(y) into max(y, 0) as Go defines it: VMAXPS returns its second
// source (y) when either is NaN or both are zero, and adding +0 (Y15)
// turns −0 into +0.
#define AFF8(y) \
	VMULPS Y13, y, y \
	VADDPS Y14, y, y

#define RELU8(y) \
	VMAXPS y, Y15, y \
	VADDPS Y15, y, y

// func bnAffineAVX2(dst, x *float32, rows, span, ld int, a, b float32, relu bool)
TEXT ·bnAffineAVX2(SB), NOSPLIT, $0-49
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         rows+16(FP), BX
	MOVQ         span+24(FP), R8
	MOVQ         ld+32(FP), R9
	SHLQ         $2, R9
	VBROADCASTSS a+40(FP), Y13
	VBROADCASTSS b+44(FP), Y14
	VXORPS       Y15, Y15, Y15
	TAILMASK(R8, Y12)
	MOVBLZX      relu+48(FP), R10
	TESTL        R10, R10
	JNZ          relurow

affrow:
	MOVQ SI, AX
	MOVQ DI, DX
	MOVQ R8, CX
	CMPQ CX, $16
	JLT  aff8

aff16:
	PREFETCHT0 (AX)(R9*1)
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y1
	AFF8(Y0)
	AFF8(Y1)
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	ADDQ    $64, AX
	ADDQ    $64, DX
	SUBQ    $16, CX
	CMPQ    CX, $16
	JGE     aff16

aff8:
	CMPQ    CX, $8
	JLT     afftail
	VMOVUPS (AX), Y0
	AFF8(Y0)
	VMOVUPS Y0, (DX)
	ADDQ    $32, AX
	ADDQ    $32, DX
	SUBQ    $8, CX

afftail:
	TESTQ      CX, CX
	JZ         affnext
	VMASKMOVPS (AX), Y12, Y0
	AFF8(Y0)
	VMASKMOVPS Y0, Y12, (DX)

affnext:
	ADDQ R9, SI
	ADDQ R9, DI
	DECQ BX
	JNZ  affrow
	VZEROUPPER
	RET

relurow:
	MOVQ SI, AX
	MOVQ DI, DX
	MOVQ R8, CX
	CMPQ CX, $16
	JLT  relu8

relu16:
	PREFETCHT0 (AX)(R9*1)
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y1
	AFF8(Y0)
	AFF8(Y1)
	RELU8(Y0)
	RELU8(Y1)
	VMOVUPS Y0, (DX)
	VMOVUPS Y1, 32(DX)
	ADDQ    $64, AX
	ADDQ    $64, DX
	SUBQ    $16, CX
	CMPQ    CX, $16
	JGE     relu16

relu8:
	CMPQ    CX, $8
	JLT     relutail
	VMOVUPS (AX), Y0
	AFF8(Y0)
	RELU8(Y0)
	VMOVUPS Y0, (DX)
	ADDQ    $32, AX
	ADDQ    $32, DX
	SUBQ    $8, CX

relutail:
	TESTQ      CX, CX
	JZ         relunext
	VMASKMOVPS (AX), Y12, Y0
	AFF8(Y0)
	RELU8(Y0)
	VMASKMOVPS Y0, Y12, (DX)

relunext:
	ADDQ R9, SI
	ADDQ R9, DI
	DECQ BX
	JNZ  relurow
	VZEROUPPER
	RET

// RELUMASK(x, g, ya, yb) zeroes the lanes of g where float32(x·a) + b (a
// in ya, b in yb) read as an int32 is not positive (bn.go's ReLUGrad);
// Y15 holds 0. It clobbers Y10.
#define RELUMASK(x, g, ya, yb) \
	VMULPS   ya, x, Y10 \
	VADDPS   yb, Y10, Y10 \
	VPCMPGTD Y15, Y10, Y10 \
	VANDPS   Y10, g, g

// GSUM8(sa, sb, qa, qb) adds g (Y9) to lanes sa:sb and g·t (t = x − mu in
// Y8) to lanes qa:qb; it clobbers Y8–Y11.
#define GSUM8(sa, sb, qa, qb) \
	VCVTPS2PD    X9, Y10 \
	VEXTRACTF128 $1, Y9, X9 \
	VCVTPS2PD    X9, Y9 \
	VCVTPS2PD    X8, Y11 \
	VEXTRACTF128 $1, Y8, X8 \
	VCVTPS2PD    X8, Y8 \
	VADDPD       Y10, sa, sa \
	VADDPD       Y9, sb, sb \
	VFMADD231PD  Y11, Y10, qa \
	VFMADD231PD  Y8, Y9, qb

// func bnGradSumsAVX2(x, dy *float32, rows, span, ld int, mu, a, b float32, relu bool) (sg, sgx float64)
// Y12 holds mu, Y13 a, Y14 b, Y15 zero; R11 points at the tail mask.
TEXT ·bnGradSumsAVX2(SB), NOSPLIT, $0-72
	MOVQ         x+0(FP), SI
	MOVQ         dy+8(FP), DI
	MOVQ         rows+16(FP), BX
	MOVQ         span+24(FP), R8
	MOVQ         ld+32(FP), R9
	SHLQ         $2, R9
	VBROADCASTSS mu+40(FP), Y12
	VBROADCASTSS a+44(FP), Y13
	VBROADCASTSS b+48(FP), Y14
	VXORPS       Y15, Y15, Y15
	MOVQ         R8, CX
	ANDQ         $7, CX
	SHLQ         $2, CX
	LEAQ         bnmask<>+32(SB), R11
	SUBQ         CX, R11
	MOVBLZX      relu+52(FP), R10
	ZERO8

gsrow:
	MOVQ SI, AX
	MOVQ DI, DX
	MOVQ R8, CX
	CMPQ CX, $16
	JLT  gs8

gs16:
	PREFETCHT0 (AX)(R9*1)
	PREFETCHT0 (DX)(R9*1)
	VMOVUPS (AX), Y8
	VMOVUPS (DX), Y9
	TESTL   R10, R10
	JZ      gs16a
	RELUMASK(Y8, Y9, Y13, Y14)

gs16a:
	VSUBPS  Y12, Y8, Y8
	GSUM8(Y0, Y1, Y4, Y5)
	VMOVUPS 32(AX), Y8
	VMOVUPS 32(DX), Y9
	TESTL   R10, R10
	JZ      gs16b
	RELUMASK(Y8, Y9, Y13, Y14)

gs16b:
	VSUBPS Y12, Y8, Y8
	GSUM8(Y2, Y3, Y6, Y7)
	ADDQ   $64, AX
	ADDQ   $64, DX
	SUBQ   $16, CX
	CMPQ   CX, $16
	JGE    gs16

gs8:
	CMPQ    CX, $8
	JLT     gstail
	VMOVUPS (AX), Y8
	VMOVUPS (DX), Y9
	TESTL   R10, R10
	JZ      gs8sum
	RELUMASK(Y8, Y9, Y13, Y14)

gs8sum:
	VSUBPS Y12, Y8, Y8
	GSUM8(Y0, Y1, Y4, Y5)
	ADDQ   $32, AX
	ADDQ   $32, DX
	SUBQ   $8, CX

gstail:
	TESTQ      CX, CX
	JZ         gsnext
	VMOVDQU    (R11), Y11
	VMASKMOVPS (AX), Y11, Y8
	VMASKMOVPS (DX), Y11, Y9
	TESTL      R10, R10
	JZ         gstailsum
	RELUMASK(Y8, Y9, Y13, Y14)

gstailsum:
	VSUBPS Y12, Y8, Y8
	VANDPS Y11, Y8, Y8
	GSUM8(Y0, Y1, Y4, Y5)

gsnext:
	ADDQ R9, SI
	ADDQ R9, DI
	DECQ BX
	JNZ  gsrow
	HSUM16(Y0, Y1, Y2, Y3, X0, X1)
	HSUM16(Y4, Y5, Y6, Y7, X4, X5)
	VMOVSD X0, sg+56(FP)
	VMOVSD X4, sgx+64(FP)
	VZEROUPPER
	RET

// func bnGradAVX2(dx, x, dy *float32, rows, span, ld int, mu, a, b, k, c0, c1 float32, relu, train bool)
// x (Y0) and dy (Y1) become dx (Y1): the fused ReLU's mask if relu is set
// (R10), then k·((g − c0) − (x − mu)·c1) if train is set (R11), g·k
// otherwise, 8 values at a time and then the masked tail (mask in Y8).
// Y9 holds mu, Y2 a, Y11 b, Y12 k, Y13 c0, Y14 c1, Y15 zero (RELUMASK
// clobbers Y10).
TEXT ·bnGradAVX2(SB), NOSPLIT, $0-74
	MOVQ         dx+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         dy+16(FP), DX
	MOVQ         rows+24(FP), BX
	MOVQ         span+32(FP), R8
	MOVQ         ld+40(FP), R9
	SHLQ         $2, R9
	VBROADCASTSS mu+48(FP), Y9
	VBROADCASTSS a+52(FP), Y2
	VBROADCASTSS b+56(FP), Y11
	VBROADCASTSS k+60(FP), Y12
	VBROADCASTSS c0+64(FP), Y13
	VBROADCASTSS c1+68(FP), Y14
	VXORPS       Y15, Y15, Y15
	TAILMASK(R8, Y8)
	MOVBLZX      relu+72(FP), R10
	MOVBLZX      train+73(FP), R11

grow:
	MOVQ SI, AX
	MOVQ DX, R12
	MOVQ DI, R13
	MOVQ R8, CX
	CMPQ CX, $8
	JLT  gtail

g8:
	PREFETCHT0 (AX)(R9*1)
	PREFETCHT0 (R12)(R9*1)
	VMOVUPS (AX), Y0
	VMOVUPS (R12), Y1
	TESTL   R10, R10
	JZ      g8train
	RELUMASK(Y0, Y1, Y2, Y11)

g8train:
	TESTL  R11, R11
	JZ     g8scale
	VSUBPS Y13, Y1, Y1
	VSUBPS Y9, Y0, Y0
	VMULPS Y14, Y0, Y0
	VSUBPS Y0, Y1, Y1

g8scale:
	VMULPS  Y12, Y1, Y1
	VMOVUPS Y1, (R13)
	ADDQ    $32, AX
	ADDQ    $32, R12
	ADDQ    $32, R13
	SUBQ    $8, CX
	CMPQ    CX, $8
	JGE     g8

gtail:
	TESTQ      CX, CX
	JZ         gnext
	VMASKMOVPS (AX), Y8, Y0
	VMASKMOVPS (R12), Y8, Y1
	TESTL      R10, R10
	JZ         gtailtrain
	RELUMASK(Y0, Y1, Y2, Y11)

gtailtrain:
	TESTL  R11, R11
	JZ     gtailscale
	VSUBPS Y13, Y1, Y1
	VSUBPS Y9, Y0, Y0
	VMULPS Y14, Y0, Y0
	VSUBPS Y0, Y1, Y1

gtailscale:
	VMULPS     Y12, Y1, Y1
	VMASKMOVPS Y1, Y8, (R13)

gnext:
	ADDQ R9, SI
	ADDQ R9, DX
	ADDQ R9, DI
	DECQ BX
	JNZ  grow
	VZEROUPPER
	RET
