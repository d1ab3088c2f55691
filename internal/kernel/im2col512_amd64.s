//go:build amd64 && !purego

#include "textflag.h"

// AVX-512 (AVX512F) versions of im2col_amd64.s's taps: 16 columns per
// block, the masks taken 16 bits at a time into K1 (source columns) and
// K2 (the row). im2col_amd64.go chooses between the two sets.

// func im2colTapAVX512(dst, x *float32, nb, ld, w, ho, wo, ilo, ihi, off int, valid, all uint64)
TEXT ·im2colTapAVX512(SB), NOSPLIT, $0-96
	MOVQ   dst+0(FP), DI
	MOVQ   x+8(FP), SI
	MOVQ   nb+16(FP), BX
	MOVQ   ld+24(FP), R8
	SHLQ   $2, R8
	MOVQ   w+32(FP), R9
	SHLQ   $2, R9
	MOVQ   off+72(FP), R13
	SHLQ   $2, R13
	VPXORD Z15, Z15, Z15

image:
	LEAQ (SI)(R13*1), R12
	XORQ R10, R10

row:
	MOVQ  valid+80(FP), AX
	MOVQ  all+88(FP), DX
	XORQ  CX, CX
	CMPQ  R10, ilo+56(FP)
	JLT   zero
	CMPQ  R10, ihi+64(FP)
	JGE   zero

copy:
	KMOVW     AX, K1
	KMOVW     DX, K2
	VMOVUPS.Z (R12)(CX*1), K1, Z0
	VMOVUPS   Z0, K2, (DI)(CX*1)
	ADDQ      $64, CX
	SHRQ      $16, AX
	SHRQ      $16, DX
	JNZ       copy
	JMP       next

zero:
	KMOVW   DX, K2
	VMOVUPS Z15, K2, (DI)(CX*1)
	ADDQ    $64, CX
	SHRQ    $16, DX
	JNZ     zero

next:
	MOVQ wo+48(FP), R11
	LEAQ (DI)(R11*4), DI
	ADDQ R9, R12
	INCQ R10
	CMPQ R10, ho+40(FP)
	JLT  row
	ADDQ R8, SI
	DECQ BX
	JNZ  image
	VZEROUPPER
	RET

// func col2imAVX512(dx, col *float32, offs *int, masks *uint16, nb, ld, h, w, ho, wo, k, p, nchunks int)
// For each image (SI: its plane of dx, DI: its first output in col), row r
// (R10) and block of 16 columns (CX: byte offset, R9: its masks), Z0 sums
// the taps (u, v) in order whose row i = r + p − u exists, each a masked
// load at R8 + offs[u·k+v] + CX (R8 = DI + r·wo·4), and is stored once.
TEXT ·col2imAVX512(SB), NOSPLIT, $0-104
	MOVQ dx+0(FP), SI
	MOVQ col+8(FP), DI
	MOVQ nb+32(FP), BX

image:
	XORQ R10, R10

row:
	MOVQ  R10, AX
	IMULQ wo+72(FP), AX
	LEAQ  (DI)(AX*4), R8
	MOVQ  masks+24(FP), R9
	XORQ  CX, CX
	MOVQ  nchunks+96(FP), R13

block:
	VPXORD Z0, Z0, Z0
	MOVQ   offs+16(FP), R12
	XORQ   R11, R11

taprow:
	MOVQ R10, AX
	ADDQ p+88(FP), AX
	SUBQ R11, AX
	JLT  nexttaprow
	CMPQ AX, ho+64(FP)
	JGE  nexttaprow
	XORQ DX, DX

tap:
	KMOVW     (R9)(DX*2), K1
	MOVQ      (R12)(DX*8), AX
	ADDQ      R8, AX
	VMOVUPS.Z (AX)(CX*1), K1, Z1
	VADDPS    Z1, Z0, Z0
	INCQ      DX
	CMPQ      DX, k+80(FP)
	JLT       tap

nexttaprow:
	MOVQ k+80(FP), AX
	LEAQ (R12)(AX*8), R12
	INCQ R11
	CMPQ R11, k+80(FP)
	JLT  taprow
	KMOVW   (R9)(AX*2), K2
	MOVQ    R10, AX
	IMULQ   w+56(FP), AX
	LEAQ    (SI)(AX*4), AX
	VMOVUPS Z0, K2, (AX)(CX*1)
	MOVQ    k+80(FP), AX
	LEAQ    2(R9)(AX*2), R9
	ADDQ    $64, CX
	DECQ    R13
	JNZ     block
	INCQ    R10
	CMPQ    R10, h+48(FP)
	JLT     row
	MOVQ    ld+40(FP), AX
	LEAQ    (SI)(AX*4), SI
	MOVQ    ho+64(FP), AX
	IMULQ   wo+72(FP), AX
	LEAQ    (DI)(AX*4), DI
	DECQ    BX
	JNZ     image
	VZEROUPPER
	RET
