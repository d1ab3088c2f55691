//go:build amd64 && !purego

#include "textflag.h"

// AVX2 loops of im2col.go (stride 1, rows of at most 64 values):
// image j's output rows follow one another in dst (src for col2im); the
// source row of output row i starts at x + j·ld + i·w + off, off = du·w +
// dv (it is only read, under the masks, for ilo ≤ i < ihi). Each row moves
// in blocks of 8 columns; the lanes of a block come from 8 bits of the
// 64-bit masks (bit t of valid: column t + dv exists; bit t of all: t <
// wo), spread over the lanes with VPAND/VPCMPEQD against 1, 2, …, 128,
// and VMASKMOVPS reads only those lanes. im2colTapAVX2 stores whole blocks
// with VMOVUPS: the lanes past a row's end hold 0 and land on the start of
// the next row, which is written after it; only a block that would pass
// the end of dst is stored with VMASKMOVPS. A masked store is microcoded
// on AMD Zen 2 and Zen 3 (about 12 cycles a block, against 1 for VMOVUPS):
// storing every block with it made im2col 5 times slower than a copy.

DATA tapbits<>+0(SB)/4, $1
DATA tapbits<>+4(SB)/4, $2
DATA tapbits<>+8(SB)/4, $4
DATA tapbits<>+12(SB)/4, $8
DATA tapbits<>+16(SB)/4, $16
DATA tapbits<>+20(SB)/4, $32
DATA tapbits<>+24(SB)/4, $64
DATA tapbits<>+28(SB)/4, $128
GLOBL tapbits<>(SB), RODATA|NOPTR, $32

// LANES(r, x, y) sets the lanes of y whose bit is set in the low 8 bits
// of r (x is y's low half).
#define LANES(r, x, y) \
	VMOVQ        r, x \
	VPBROADCASTD x, y \
	VPAND        Y14, y, y \
	VPCMPEQD     Y14, y, y

// func im2colTapAVX2(dst, x *float32, nb, ld, w, ho, wo, ilo, ihi, off int, valid, all uint64, n int)
// n is the length of dst; the prologue replaces it with dst's end address.
TEXT ·im2colTapAVX2(SB), NOSPLIT, $0-104
	MOVQ    dst+0(FP), DI
	MOVQ    n+96(FP), AX
	LEAQ    (DI)(AX*4), AX
	MOVQ    AX, n+96(FP)
	MOVQ    x+8(FP), SI
	MOVQ    nb+16(FP), BX
	MOVQ    ld+24(FP), R8
	SHLQ    $2, R8
	MOVQ    w+32(FP), R9
	SHLQ    $2, R9
	MOVQ    off+72(FP), R13
	SHLQ    $2, R13
	VMOVDQU tapbits<>(SB), Y14
	VXORPS  Y15, Y15, Y15

image:
	LEAQ (SI)(R13*1), R12
	XORQ R10, R10

row:
	MOVQ valid+80(FP), AX
	MOVQ all+88(FP), DX
	XORQ CX, CX
	CMPQ R10, ilo+56(FP)
	JLT  zero
	CMPQ R10, ihi+64(FP)
	JGE  zero

copy:
	LANES(AX, X1, Y1)
	VMASKMOVPS (R12)(CX*1), Y1, Y0
	LEAQ       32(DI)(CX*1), R11
	CMPQ       R11, n+96(FP)
	JHI        copylast
	VMOVUPS    Y0, (DI)(CX*1)

copynext:
	ADDQ $32, CX
	SHRQ $8, AX
	SHRQ $8, DX
	JNZ  copy
	JMP  next

copylast:
	LANES(DX, X2, Y2)
	VMASKMOVPS Y0, Y2, (DI)(CX*1)
	JMP        copynext

zero:
	LEAQ    32(DI)(CX*1), R11
	CMPQ    R11, n+96(FP)
	JHI     zerolast
	VMOVUPS Y15, (DI)(CX*1)

zeronext:
	ADDQ $32, CX
	SHRQ $8, DX
	JNZ  zero
	JMP  next

zerolast:
	LANES(DX, X2, Y2)
	VMASKMOVPS Y15, Y2, (DI)(CX*1)
	JMP        zeronext

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

// LANESM(m, y) sets the lanes of y whose bit is set in the low 8 bits of
// the 16-bit mask at m (4 bytes are read; the upper two meet zero bits).
#define LANESM(m, y) \
	VPBROADCASTD m, y \
	VPAND        Y14, y, y \
	VPCMPEQD     Y14, y, y

// func col2imAVX2(dx, col *float32, offs *int, masks *uint16, nb, ld, h, w, ho, wo, k, p, nchunks int, end uintptr)
// For each image (SI: its plane of dx, DI: its first output in col), row r
// (R10) and block of 8 columns (CX: byte offset, R9: its masks), Y0 sums
// the taps (u, v) in order whose row i = r + p − u exists, each a masked
// load at R8 + offs[u·k+v] + CX (R8 = DI + r·wo·4), and is stored once:
// with VMOVUPS (the lanes past the row's end land on the next row, stored
// after it), or with VMASKMOVPS where the block would pass the end of the
// image's plane, whose address the loop keeps in end (the caller passes 0).
TEXT ·col2imAVX2(SB), NOSPLIT, $0-112
	MOVQ    dx+0(FP), SI
	MOVQ    col+8(FP), DI
	MOVQ    nb+32(FP), BX
	VMOVDQU tapbits<>(SB), Y14

image:
	XORQ  R10, R10
	MOVQ  h+48(FP), AX
	IMULQ w+56(FP), AX
	LEAQ  (SI)(AX*4), AX
	MOVQ  AX, end+104(FP)

row:
	MOVQ  R10, AX
	IMULQ wo+72(FP), AX
	LEAQ  (DI)(AX*4), R8
	MOVQ  masks+24(FP), R9
	XORQ  CX, CX
	MOVQ  nchunks+96(FP), R13

block:
	VXORPS Y0, Y0, Y0
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
	LANESM((R9)(DX*2), Y1)
	MOVQ       (R12)(DX*8), AX
	ADDQ       R8, AX
	VMASKMOVPS (AX)(CX*1), Y1, Y2
	VADDPS     Y2, Y0, Y0
	INCQ       DX
	CMPQ       DX, k+80(FP)
	JLT        tap

nexttaprow:
	MOVQ k+80(FP), AX
	LEAQ (R12)(AX*8), R12
	INCQ R11
	CMPQ R11, k+80(FP)
	JLT  taprow
	MOVQ    R10, AX
	IMULQ   w+56(FP), AX
	LEAQ    (SI)(AX*4), AX
	LEAQ    32(AX)(CX*1), DX
	CMPQ    DX, end+104(FP)
	JHI     storelast
	VMOVUPS Y0, (AX)(CX*1)

stored:
	MOVQ       k+80(FP), AX
	LEAQ       2(R9)(AX*2), R9
	ADDQ       $32, CX
	DECQ       R13
	JNZ        block
	INCQ       R10
	CMPQ       R10, h+48(FP)
	JLT        row
	MOVQ       ld+40(FP), AX
	LEAQ       (SI)(AX*4), SI
	MOVQ       ho+64(FP), AX
	IMULQ      wo+72(FP), AX
	LEAQ       (DI)(AX*4), DI
	DECQ       BX
	JNZ        image
	VZEROUPPER
	RET

storelast:
	MOVQ       k+80(FP), DX
	LANESM((R9)(DX*2), Y1)
	VMASKMOVPS Y0, Y1, (AX)(CX*1)
	JMP        stored
