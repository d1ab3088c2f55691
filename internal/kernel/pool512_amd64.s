//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 (AVX512F) MaxPool2x2: 16 outputs of a row per block, from 32
// values of each of the two input rows. VPERMI2PS takes the even and the
// odd columns out of two registers; KEY512 gives pool.go's sortKey of
// v+0 as an int32; VPCMPGTD, VBLENDMPS and VPBLENDMD pick, per lane, the
// right column over the left only if its key is greater, then the lower
// row over the upper only if greater, as maxPool2x2Go does. The index
// starts at 2i·w + 2j and gains 1 for the right column and w for the lower
// row under the same masks. pool_amd64.go chooses between this and the
// AVX2 code.

DATA pool512c<>+0(SB)/4, $0
DATA pool512c<>+4(SB)/4, $2
DATA pool512c<>+8(SB)/4, $4
DATA pool512c<>+12(SB)/4, $6
DATA pool512c<>+16(SB)/4, $8
DATA pool512c<>+20(SB)/4, $10
DATA pool512c<>+24(SB)/4, $12
DATA pool512c<>+28(SB)/4, $14
DATA pool512c<>+32(SB)/4, $16
DATA pool512c<>+36(SB)/4, $18
DATA pool512c<>+40(SB)/4, $20
DATA pool512c<>+44(SB)/4, $22
DATA pool512c<>+48(SB)/4, $24
DATA pool512c<>+52(SB)/4, $26
DATA pool512c<>+56(SB)/4, $28
DATA pool512c<>+60(SB)/4, $30
GLOBL pool512c<>(SB), RODATA|NOPTR, $64

// KEY512(v, k) sets k to the key of v+0: its bits as an int32, the low 31
// flipped when negative. Z28 holds 0, Z29 0x7fffffff; it clobbers Z20.
#define KEY512(v, k) \
	VADDPS Z28, v, k \
	VPSRAD $31, k, Z20 \
	VPANDD Z29, Z20, Z20 \
	VPXORD Z20, k, k

// func maxPool2x2AVX512(dst *float32, at *int32, x *float32, masks *uint16, planes, h, w, ho, wo, nchunks int)
// Z31: 0, 2, …, 30 (the even columns, and 2j within a block); Z26: 1, 3,
// …, 31; Z30: 1; Z23: w; Z25: 2i·w. DI and DX point at the output row of
// dst and at, R11 and R13 at the two input rows, R12 is the block's byte
// offset in them (128 per block), CX the block.
TEXT ·maxPool2x2AVX512(SB), NOSPLIT, $0-80
	MOVQ         dst+0(FP), DI
	MOVQ         at+8(FP), DX
	MOVQ         x+16(FP), SI
	MOVQ         masks+24(FP), R9
	MOVQ         planes+32(FP), BX
	MOVQ         w+48(FP), R8
	SHLQ         $2, R8
	VMOVDQU32    pool512c<>(SB), Z31
	MOVL         $1, AX
	VPBROADCASTD AX, Z30
	VPADDD       Z30, Z31, Z26
	MOVL         $0x7fffffff, AX
	VPBROADCASTD AX, Z29
	VPXORD       Z28, Z28, Z28
	MOVQ         w+48(FP), AX
	VPBROADCASTD AX, Z23

plane:
	XORQ R10, R10
	MOVQ SI, R11

row:
	LEAQ         (R11)(R8*1), R13
	MOVQ         R10, AX
	IMULQ        w+48(FP), AX
	SHLQ         $1, AX
	VPBROADCASTD AX, Z25
	XORQ         CX, CX
	XORQ         R12, R12

block:
	KMOVW     8(R9)(CX*2), K4
	KMOVW     16(R9)(CX*2), K5
	KMOVW     (R9)(CX*2), K6
	VMOVUPS.Z (R11)(R12*1), K4, Z0
	VMOVUPS.Z 64(R11)(R12*1), K5, Z1
	VMOVUPS.Z (R13)(R12*1), K4, Z4
	VMOVUPS.Z 64(R13)(R12*1), K5, Z5
	VMOVAPS   Z31, Z2
	VPERMI2PS Z1, Z0, Z2
	VMOVAPS   Z26, Z3
	VPERMI2PS Z1, Z0, Z3
	VMOVAPS   Z31, Z6
	VPERMI2PS Z5, Z4, Z6
	VMOVAPS   Z26, Z7
	VPERMI2PS Z5, Z4, Z7
	KEY512(Z2, Z8)
	KEY512(Z3, Z9)
	KEY512(Z6, Z10)
	KEY512(Z7, Z11)
	VPCMPGTD  Z8, Z9, K1
	VBLENDMPS Z3, Z2, K1, Z12
	VPBLENDMD Z9, Z8, K1, Z13
	VPCMPGTD  Z10, Z11, K2
	VBLENDMPS Z7, Z6, K2, Z14
	VPBLENDMD Z11, Z10, K2, Z15
	VPCMPGTD  Z13, Z15, K3
	VBLENDMPS Z14, Z12, K3, Z16

	// Indices: 2i·w + 32c + 2l, +1 for the right column, +w for the
	// lower row.
	MOVQ         R12, AX
	SHRQ         $2, AX
	VPBROADCASTD AX, Z24
	VPADDD       Z25, Z24, Z24
	VPADDD       Z31, Z24, Z24
	VMOVDQA32    Z24, Z18
	VPADDD       Z30, Z18, K1, Z18
	VPADDD       Z23, Z24, Z19
	VPADDD       Z30, Z19, K2, Z19
	VPBLENDMD    Z19, Z18, K3, Z18
	MOVQ         R12, AX
	SHRQ         $1, AX
	VMOVUPS      Z16, K6, (DI)(AX*1)
	VMOVDQU32    Z18, K6, (DX)(AX*1)
	ADDQ         $128, R12
	INCQ         CX
	CMPQ         CX, nchunks+72(FP)
	JLT          block

	MOVQ wo+64(FP), AX
	LEAQ (DI)(AX*4), DI
	LEAQ (DX)(AX*4), DX
	LEAQ (R11)(R8*2), R11
	INCQ R10
	CMPQ R10, ho+56(FP)
	JLT  row
	MOVQ h+40(FP), AX
	IMULQ R8, AX
	ADDQ AX, SI
	DECQ BX
	JNZ  plane
	VZEROUPPER
	RET
