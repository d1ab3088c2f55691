//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 (AVX512F) versions of bn_amd64.s's channel loops, 16 floats per
// register. The sums keep bn_amd64.s's 16 float64 lanes (Z0 and Z1 hold
// lanes 0–7 and 8–15, i.e. Y0:Y1 and Y2:Y3 of the AVX2 code): the 16-blocks
// of a span go to lanes 0–15, a following 8-block and then the last
// span%8 values to lanes 0–7 (the rest of the masked block adds +0 to
// lanes span%8…7, as in the AVX2 code), and HSUM16Z adds the lanes in
// HSUM16's tree, so both give the same bits. The element-wise loops do a
// span in 16-blocks and one masked block; the blocks prefetch the next
// span as in bn_amd64.s. bn_amd64.go chooses between the two sets.

// HSUM16Z leaves in xa HSUM16's sum of the 16 lanes of za (lanes 0–7) and
// zb (8–15): ((l_i + l_i+8) + (l_i+4 + l_i+12)) for i < 4, then lanes 0+2
// and 1+3, then those two. It clobbers zb.
#define HSUM16Z(za, zb, ya, yb, xa, xb) \
	VADDPD        zb, za, za \
	VEXTRACTF64X4 $1, za, yb \
	VADDPD        yb, ya, ya \
	VEXTRACTF128  $1, ya, xb \
	VADDPD        xb, xa, xa \
	VUNPCKHPD     xa, xa, xb \
	VADDSD        xb, xa, xa

// TAILK(n, mask, k) sets k to the low n&mask bits: the masked block of a
// span. It clobbers CX and AX.
#define TAILK(n, mask, k) \
	MOVQ  n, CX \
	ANDQ  $mask, CX \
	MOVL  $1, AX \
	SHLL  CX, AX \
	DECL  AX \
	KMOVW AX, k

// RELUZ(x, g, za, zb) zeroes the lanes of g where float32(x·a) + b (a in
// za, b in zb) read as an int32 is not positive (bn.go's ReLUGrad); Z15
// holds 0. It clobbers Z6 and K2.
#define RELUZ(x, g, za, zb) \
	VMULPS    za, x, Z6 \
	VADDPS    zb, Z6, Z6 \
	VPCMPGTD  Z15, Z6, K2 \
	VMOVAPS.Z g, K2, g

// func bnStatsAVX512(x *float32, rows, span, ld int, k float32) (s, q float64)
TEXT ·bnStatsAVX512(SB), NOSPLIT, $0-56
	MOVQ         x+0(FP), SI
	MOVQ         rows+8(FP), BX
	MOVQ         span+16(FP), R8
	MOVQ         ld+24(FP), R9
	SHLQ         $2, R9
	VBROADCASTSS k+32(FP), Z15
	TAILK(R8, 7, K1)
	VPXORQ       Z0, Z0, Z0
	VPXORQ       Z1, Z1, Z1
	VPXORQ       Z2, Z2, Z2
	VPXORQ       Z3, Z3, Z3

statsrow:
	MOVQ SI, AX
	MOVQ R8, CX
	CMPQ CX, $16
	JLT  stats8

stats16:
	PREFETCHT0    (AX)(R9*1)
	VMOVUPS       (AX), Z4
	VSUBPS        Z15, Z4, Z4
	VEXTRACTF64X4 $1, Z4, Y5
	VCVTPS2PD     Y4, Z4
	VCVTPS2PD     Y5, Z5
	VADDPD        Z4, Z0, Z0
	VADDPD        Z5, Z1, Z1
	VFMADD231PD   Z4, Z4, Z2
	VFMADD231PD   Z5, Z5, Z3
	ADDQ          $64, AX
	SUBQ          $16, CX
	CMPQ          CX, $16
	JGE           stats16

stats8:
	CMPQ        CX, $8
	JLT         statstail
	VMOVUPS     (AX), Y4
	VSUBPS      Y15, Y4, Y4
	VCVTPS2PD   Y4, Z4
	VADDPD      Z4, Z0, Z0
	VFMADD231PD Z4, Z4, Z2
	ADDQ        $32, AX
	SUBQ        $8, CX

statstail:
	TESTQ       CX, CX
	JZ          statsnext
	VMOVUPS.Z   (AX), K1, Z4
	VSUBPS.Z    Z15, Z4, K1, Z4
	VCVTPS2PD   Y4, Z4
	VADDPD      Z4, Z0, Z0
	VFMADD231PD Z4, Z4, Z2

statsnext:
	ADDQ R9, SI
	DECQ BX
	JNZ  statsrow
	HSUM16Z(Z0, Z1, Y0, Y1, X0, X1)
	HSUM16Z(Z2, Z3, Y2, Y3, X2, X3)
	VMOVSD X0, s+40(FP)
	VMOVSD X2, q+48(FP)
	VZEROUPPER
	RET

// func bnAffineAVX512(dst, x *float32, rows, span, ld int, a, b float32, relu bool)
TEXT ·bnAffineAVX512(SB), NOSPLIT, $0-49
	MOVQ         dst+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         rows+16(FP), BX
	MOVQ         span+24(FP), R8
	MOVQ         ld+32(FP), R9
	SHLQ         $2, R9
	VBROADCASTSS a+40(FP), Z13
	VBROADCASTSS b+44(FP), Z14
	VPXORD       Z15, Z15, Z15
	TAILK(R8, 15, K1)
	MOVBLZX      relu+48(FP), R10
	TESTL        R10, R10
	JNZ          relurow

affrow:
	MOVQ SI, AX
	MOVQ DI, DX
	MOVQ R8, CX
	CMPQ CX, $16
	JLT  afftail

aff16:
	PREFETCHT0 (AX)(R9*1)
	VMULPS  (AX), Z13, Z0
	VADDPS  Z14, Z0, Z0
	VMOVUPS Z0, (DX)
	ADDQ    $64, AX
	ADDQ    $64, DX
	SUBQ    $16, CX
	CMPQ    CX, $16
	JGE     aff16

afftail:
	TESTQ     CX, CX
	JZ        affnext
	VMOVUPS.Z (AX), K1, Z0
	VMULPS    Z13, Z0, Z0
	VADDPS    Z14, Z0, Z0
	VMOVUPS   Z0, K1, (DX)

affnext:
	ADDQ R9, SI
	ADDQ R9, DI
	DECQ BX
	JNZ  affrow
	VZEROUPPER
	RET

// max(y, 0) as Go defines it: VMAXPS returns its second source (y) when
// either is NaN or both are zero, and adding +0 turns −0 into +0.
relurow:
	MOVQ SI, AX
	MOVQ DI, DX
	MOVQ R8, CX
	CMPQ CX, $16
	JLT  relutail

relu16:
	PREFETCHT0 (AX)(R9*1)
	VMULPS  (AX), Z13, Z0
	VADDPS  Z14, Z0, Z0
	VMAXPS  Z0, Z15, Z0
	VADDPS  Z15, Z0, Z0
	VMOVUPS Z0, (DX)
	ADDQ    $64, AX
	ADDQ    $64, DX
	SUBQ    $16, CX
	CMPQ    CX, $16
	JGE     relu16

relutail:
	TESTQ     CX, CX
	JZ        relunext
	VMOVUPS.Z (AX), K1, Z0
	VMULPS    Z13, Z0, Z0
	VADDPS    Z14, Z0, Z0
	VMAXPS    Z0, Z15, Z0
	VADDPS    Z15, Z0, Z0
	VMOVUPS   Z0, K1, (DX)

relunext:
	ADDQ R9, SI
	ADDQ R9, DI
	DECQ BX
	JNZ  relurow
	VZEROUPPER
	RET

// func bnGradSumsAVX512(x, dy *float32, rows, span, ld int, mu, a, b float32, relu bool) (sg, sgx float64)
TEXT ·bnGradSumsAVX512(SB), NOSPLIT, $0-72
	MOVQ         x+0(FP), SI
	MOVQ         dy+8(FP), DI
	MOVQ         rows+16(FP), BX
	MOVQ         span+24(FP), R8
	MOVQ         ld+32(FP), R9
	SHLQ         $2, R9
	VBROADCASTSS mu+40(FP), Z12
	VBROADCASTSS a+44(FP), Z13
	VBROADCASTSS b+48(FP), Z14
	VPXORD       Z15, Z15, Z15
	TAILK(R8, 7, K1)
	MOVBLZX      relu+52(FP), R10
	VPXORQ       Z0, Z0, Z0
	VPXORQ       Z1, Z1, Z1
	VPXORQ       Z2, Z2, Z2
	VPXORQ       Z3, Z3, Z3

gsrow:
	MOVQ SI, AX
	MOVQ DI, DX
	MOVQ R8, CX
	CMPQ CX, $16
	JLT  gs8

gs16:
	PREFETCHT0 (AX)(R9*1)
	PREFETCHT0 (DX)(R9*1)
	VMOVUPS (AX), Z4
	VMOVUPS (DX), Z5
	TESTL   R10, R10
	JZ      gs16sum
	RELUZ(Z4, Z5, Z13, Z14)

gs16sum:
	VSUBPS        Z12, Z4, Z4
	VEXTRACTF64X4 $1, Z5, Y7
	VCVTPS2PD     Y5, Z5
	VCVTPS2PD     Y7, Z7
	VEXTRACTF64X4 $1, Z4, Y6
	VCVTPS2PD     Y4, Z4
	VCVTPS2PD     Y6, Z6
	VADDPD        Z5, Z0, Z0
	VADDPD        Z7, Z1, Z1
	VFMADD231PD   Z4, Z5, Z2
	VFMADD231PD   Z6, Z7, Z3
	ADDQ          $64, AX
	ADDQ          $64, DX
	SUBQ          $16, CX
	CMPQ          CX, $16
	JGE           gs16

gs8:
	CMPQ    CX, $8
	JLT     gstail
	VMOVUPS (AX), Y4
	VMOVUPS (DX), Y5
	TESTL   R10, R10
	JZ      gs8sum
	RELUZ(Z4, Z5, Z13, Z14)

gs8sum:
	VSUBPS      Y12, Y4, Y4
	VCVTPS2PD   Y5, Z5
	VCVTPS2PD   Y4, Z4
	VADDPD      Z5, Z0, Z0
	VFMADD231PD Z4, Z5, Z2
	ADDQ        $32, AX
	ADDQ        $32, DX
	SUBQ        $8, CX

gstail:
	TESTQ     CX, CX
	JZ        gsnext
	VMOVUPS.Z (AX), K1, Z4
	VMOVUPS.Z (DX), K1, Z5
	TESTL     R10, R10
	JZ        gstailsum
	RELUZ(Z4, Z5, Z13, Z14)

gstailsum:
	VSUBPS.Z    Z12, Z4, K1, Z4
	VCVTPS2PD   Y5, Z5
	VCVTPS2PD   Y4, Z4
	VADDPD      Z5, Z0, Z0
	VFMADD231PD Z4, Z5, Z2

gsnext:
	ADDQ R9, SI
	ADDQ R9, DI
	DECQ BX
	JNZ  gsrow
	HSUM16Z(Z0, Z1, Y0, Y1, X0, X1)
	HSUM16Z(Z2, Z3, Y2, Y3, X2, X3)
	VMOVSD X0, sg+56(FP)
	VMOVSD X2, sgx+64(FP)
	VZEROUPPER
	RET

// func bnGradAVX512(dx, x, dy *float32, rows, span, ld int, mu, a, b, k, c0, c1 float32, relu, train bool)
// x (Z4) and dy (Z5) become dx (Z5): the fused ReLU's mask if relu is set
// (R10), then k·((g − c0) − (x − mu)·c1) if train is set (R11), g·k
// otherwise; the same steps for the 16-blocks and the masked block.
TEXT ·bnGradAVX512(SB), NOSPLIT, $0-74
	MOVQ         dx+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         dy+16(FP), DX
	MOVQ         rows+24(FP), BX
	MOVQ         span+32(FP), R8
	MOVQ         ld+40(FP), R9
	SHLQ         $2, R9
	VBROADCASTSS mu+48(FP), Z9
	VBROADCASTSS a+52(FP), Z10
	VBROADCASTSS b+56(FP), Z11
	VBROADCASTSS k+60(FP), Z12
	VBROADCASTSS c0+64(FP), Z13
	VBROADCASTSS c1+68(FP), Z14
	VPXORD       Z15, Z15, Z15
	TAILK(R8, 15, K1)
	MOVBLZX      relu+72(FP), R10
	MOVBLZX      train+73(FP), R11

grow:
	MOVQ SI, AX
	MOVQ DX, R12
	MOVQ DI, R13
	MOVQ R8, CX
	CMPQ CX, $16
	JLT  gtail

g16:
	PREFETCHT0 (AX)(R9*1)
	PREFETCHT0 (R12)(R9*1)
	VMOVUPS (AX), Z4
	VMOVUPS (R12), Z5
	TESTL   R10, R10
	JZ      g16train
	RELUZ(Z4, Z5, Z10, Z11)

g16train:
	TESTL  R11, R11
	JZ     g16scale
	VSUBPS Z13, Z5, Z5
	VSUBPS Z9, Z4, Z4
	VMULPS Z14, Z4, Z4
	VSUBPS Z4, Z5, Z5

g16scale:
	VMULPS  Z12, Z5, Z5
	VMOVUPS Z5, (R13)
	ADDQ    $64, AX
	ADDQ    $64, R12
	ADDQ    $64, R13
	SUBQ    $16, CX
	CMPQ    CX, $16
	JGE     g16

gtail:
	TESTQ     CX, CX
	JZ        gnext
	VMOVUPS.Z (AX), K1, Z4
	VMOVUPS.Z (R12), K1, Z5
	TESTL     R10, R10
	JZ        gtailtrain
	RELUZ(Z4, Z5, Z10, Z11)

gtailtrain:
	TESTL  R11, R11
	JZ     gtailscale
	VSUBPS Z13, Z5, Z5
	VSUBPS Z9, Z4, Z4
	VMULPS Z14, Z4, Z4
	VSUBPS Z4, Z5, Z5

gtailscale:
	VMULPS  Z12, Z5, Z5
	VMOVUPS Z5, K1, (R13)

gnext:
	ADDQ R9, SI
	ADDQ R9, DX
	ADDQ R9, DI
	DECQ BX
	JNZ  grow
	VZEROUPPER
	RET
