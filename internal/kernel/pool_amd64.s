//go:build amd64 && !purego

#include "textflag.h"

// AVX2 MaxPool2x2: 8 outputs of a row per block, from 16 values of each
// of the two input rows. VSHUFPS (0x88: even, 0xDD: odd columns) and
// VPERMPD (0xD8) take the even and the odd columns out of two registers;
// KEY8 gives pool.go's sortKey of v+0 as an int32; VPCMPGTD and VBLENDVPS
// pick, per lane, the right column over the left only if its key is
// greater, then the lower row over the upper only if greater, as
// maxPool2x2Go does. The index starts at 2i·w + 2j and gains 1 for the
// right column and w for the lower row (subtracting the all-ones masks).
// The blocks' lanes come from the masks' bits as in im2col_amd64.s.

DATA poolc<>+0(SB)/4, $0
DATA poolc<>+4(SB)/4, $2
DATA poolc<>+8(SB)/4, $4
DATA poolc<>+12(SB)/4, $6
DATA poolc<>+16(SB)/4, $8
DATA poolc<>+20(SB)/4, $10
DATA poolc<>+24(SB)/4, $12
DATA poolc<>+28(SB)/4, $14
DATA poolc<>+32(SB)/4, $1
DATA poolc<>+36(SB)/4, $2
DATA poolc<>+40(SB)/4, $4
DATA poolc<>+44(SB)/4, $8
DATA poolc<>+48(SB)/4, $16
DATA poolc<>+52(SB)/4, $32
DATA poolc<>+56(SB)/4, $64
DATA poolc<>+60(SB)/4, $128
GLOBL poolc<>(SB), RODATA|NOPTR, $64

// KEY8(v, k) sets k to the key of v+0: its bits as an int32, the low 31
// flipped when negative. Y13 holds 0, Y14 0x7fffffff; it clobbers Y10.
#define KEY8(v, k) \
	VADDPS Y13, v, k \
	VPSRAD $31, k, Y10 \
	VPAND  Y14, Y10, Y10 \
	VPXOR  Y10, k, k

// POOLLANES(m, y) sets the lanes of y whose bit is set in the low 8 bits
// of the 16-bit mask at m (4 bytes are read; the upper two meet zero bits
// of Y11).
#define POOLLANES(m, y) \
	VPBROADCASTD m, y \
	VPAND        Y11, y, y \
	VPCMPEQD     Y11, y, y

// EVENODD(a, b, e, o) puts the even columns of the 16 values a:b in e and
// the odd ones in o, in order.
#define EVENODD(a, b, e, o) \
	VSHUFPS $0x88, b, a, e \
	VSHUFPS $0xDD, b, a, o \
	VPERMPD $0xD8, e, e \
	VPERMPD $0xD8, o, o

// func maxPool2x2AVX2(dst *float32, at *int32, x *float32, masks *uint16, planes, h, w, ho, wo, nchunks, n int)
// Y15: 0, 2, …, 14; Y12: w; Y11: 1, 2, …, 128. DI and DX point at the
// output row of dst and at, R11 and R13 at the two input rows, R12 is the
// block's byte offset in them (64 per block), CX the block. The outputs
// are stored 8 at a time with VMOVUPS: the lanes past a row's end land on
// the next row, stored after it; only a block that would pass the end of
// dst (n values; the prologue puts dst's end address in n) is stored with
// VMASKMOVPS, microcoded on AMD Zen 2 and Zen 3.
TEXT ·maxPool2x2AVX2(SB), NOSPLIT, $0-88
	MOVQ         dst+0(FP), DI
	MOVQ         n+80(FP), AX
	LEAQ         (DI)(AX*4), AX
	MOVQ         AX, n+80(FP)
	MOVQ         at+8(FP), DX
	MOVQ         x+16(FP), SI
	MOVQ         masks+24(FP), R9
	MOVQ         planes+32(FP), BX
	MOVQ         w+48(FP), R8
	SHLQ         $2, R8
	VMOVDQU      poolc<>(SB), Y15
	VMOVDQU      poolc<>+32(SB), Y11
	VPXOR        Y13, Y13, Y13
	MOVL         $0x7fffffff, AX
	VMOVQ        AX, X14
	VPBROADCASTD X14, Y14
	MOVQ         w+48(FP), AX
	VMOVQ        AX, X12
	VPBROADCASTD X12, Y12

plane:
	XORQ R10, R10
	MOVQ SI, R11

row:
	LEAQ (R11)(R8*1), R13
	XORQ CX, CX
	XORQ R12, R12

block:
	POOLLANES(16(R9)(CX*2), Y8)
	POOLLANES(32(R9)(CX*2), Y9)
	VMASKMOVPS (R11)(R12*1), Y8, Y0
	VMASKMOVPS 32(R11)(R12*1), Y9, Y1
	EVENODD(Y0, Y1, Y2, Y3)
	VMASKMOVPS (R13)(R12*1), Y8, Y0
	VMASKMOVPS 32(R13)(R12*1), Y9, Y1
	EVENODD(Y0, Y1, Y4, Y5)
	KEY8(Y2, Y6)
	KEY8(Y3, Y7)
	VPCMPGTD   Y6, Y7, Y8
	VBLENDVPS  Y8, Y3, Y2, Y2
	VBLENDVPS  Y8, Y7, Y6, Y6
	KEY8(Y4, Y3)
	KEY8(Y5, Y7)
	VPCMPGTD   Y3, Y7, Y9
	VBLENDVPS  Y9, Y5, Y4, Y4
	VBLENDVPS  Y9, Y7, Y3, Y3
	VPCMPGTD   Y6, Y3, Y10
	VBLENDVPS  Y10, Y4, Y2, Y2

	// Indices: 2i·w + 16c + 2l, +1 for the right column, +w for the
	// lower row.
	MOVQ         R10, AX
	IMULQ        w+48(FP), AX
	SHLQ         $1, AX
	LEAQ         (AX)(CX*8), AX
	LEAQ         (AX)(CX*8), AX
	VMOVQ        AX, X0
	VPBROADCASTD X0, Y0
	VPADDD       Y15, Y0, Y0
	VPSUBD       Y8, Y0, Y1
	VPADDD       Y12, Y0, Y0
	VPSUBD       Y9, Y0, Y0
	VBLENDVPS    Y10, Y0, Y1, Y1
	MOVQ    R12, AX
	SHRQ    $1, AX
	LEAQ    32(DI)(AX*1), AX
	CMPQ    AX, n+80(FP)
	JHI     poollast
	SUBQ    DI, AX
	VMOVUPS Y2, -32(DI)(AX*1)
	VMOVUPS Y1, -32(DX)(AX*1)

stored:
	ADDQ         $64, R12
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
	MOVQ  h+40(FP), AX
	IMULQ R8, AX
	ADDQ  AX, SI
	DECQ  BX
	JNZ   plane
	VZEROUPPER
	RET

poollast:
	SUBQ       DI, AX
	POOLLANES((R9)(CX*2), Y5)
	VMASKMOVPS Y2, Y5, -32(DI)(AX*1)
	VMASKMOVPS Y1, Y5, -32(DX)(AX*1)
	JMP        stored
