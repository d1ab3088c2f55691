package augment

import "ssl"

// Rotate90 writes img [C, H, W] rotated by k·90° counter-clockwise (as
// displayed, row 0 at the top) into dst, as torch.rot90(img, k, dims=[-2,-1]):
//
//	k = 0: out = img                                  [C, H, W]
//	k = 1: out[c,i,j] = img[c, j, W−1−i]              [C, W, H]
//	k = 2: out[c,i,j] = img[c, H−1−i, W−1−j]          [C, H, W]
//	k = 3: out[c,i,j] = img[c, H−1−j, i]              [C, W, H]
//
// k is taken modulo 4 (negative k rotates clockwise). A nil dst is
// allocated; dst is returned. It returns an error wrapping ssl.ErrShape if
// img is not rank 3, dst's shape differs or dst overlaps img.
//
// Rotation prediction is the pretext task of RotNet (Gidaris et al. 2018),
// used by S4L (Zhai et al. 2019, §3.1) and DeeperCluster (Caron et al. 2019,
// §3.2); [Rotations] builds such batches.
func Rotate90(dst, img ssl.Tensor, k int) (ssl.Tensor, error) {
	src, err := input("augment: Rotate90", img)
	if err != nil {
		return dst, err
	}
	k = ((k % 4) + 4) % 4
	h, w := src.H, src.W
	if k%2 == 1 {
		h, w = w, h
	}
	dst, out, err := output("augment: Rotate90", dst, src, src.C, h, w, false)
	if err != nil {
		return dst, err
	}
	rotate90(out, src, k)
	return dst, nil
}

// rotate90 writes src rotated by k ∈ {0,1,2,3} quarter turns into dst.
func rotate90(dst, src Image, k int) {
	H, W := src.H, src.W
	for c := 0; c < src.C; c++ {
		in, out := src.plane(c), dst.plane(c)
		switch k {
		case 0:
			copy(out, in)
		case 1: // out is W×H
			for i := 0; i < W; i++ {
				for j := 0; j < H; j++ {
					out[i*H+j] = in[j*W+W-1-i]
				}
			}
		case 2:
			n := H * W
			for i := range n {
				out[i] = in[n-1-i]
			}
		case 3:
			for i := 0; i < W; i++ {
				for j := 0; j < H; j++ {
					out[i*H+j] = in[(H-1-j)*W+i]
				}
			}
		}
	}
}
