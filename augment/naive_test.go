package augment

import "math"

// Naive float64 oracles: literal transcriptions of the formulas in
// testdata/vectors/augment/KINDS.md, sharing no code with the package.

func cropNaive(img []float64, C, H, W, top, left, h, w, sh, sw int) []float64 {
	// The crop, zero-padded outside the image.
	crop := make([]float64, C*h*w)
	for c := 0; c < C; c++ {
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				yy, xx := top+y, left+x
				if yy >= 0 && yy < H && xx >= 0 && xx < W {
					crop[(c*h+y)*w+x] = img[(c*H+yy)*W+xx]
				}
			}
		}
	}
	idx := func(d, in, out int) (int, int, float64) {
		scale := float64(in) / float64(out)
		src := math.Max(scale*(float64(d)+0.5)-0.5, 0)
		i0 := int(math.Min(math.Floor(src), float64(in-1)))
		i1 := int(math.Min(float64(i0+1), float64(in-1)))
		return i0, i1, src - float64(i0)
	}
	out := make([]float64, C*sh*sw)
	for c := 0; c < C; c++ {
		for y := 0; y < sh; y++ {
			y0, y1, ly := idx(y, h, sh)
			for x := 0; x < sw; x++ {
				x0, x1, lx := idx(x, w, sw)
				at := func(a, b int) float64 { return crop[(c*h+a)*w+b] }
				out[(c*sh+y)*sw+x] = (1-ly)*((1-lx)*at(y0, x0)+lx*at(y0, x1)) + ly*((1-lx)*at(y1, x0)+lx*at(y1, x1))
			}
		}
	}
	return out
}

func flipNaive(img []float64, C, H, W int) []float64 {
	out := make([]float64, len(img))
	for c := 0; c < C; c++ {
		for i := 0; i < H; i++ {
			for j := 0; j < W; j++ {
				out[(c*H+i)*W+j] = img[(c*H+i)*W+W-1-j]
			}
		}
	}
	return out
}

func rotNaive(img []float64, C, H, W, k int) []float64 {
	oh, ow := H, W
	if k%2 == 1 {
		oh, ow = W, H
	}
	out := make([]float64, len(img))
	for c := 0; c < C; c++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				var y, x int
				switch k {
				case 0:
					y, x = i, j
				case 1:
					y, x = j, W-1-i
				case 2:
					y, x = H-1-i, W-1-j
				case 3:
					y, x = H-1-j, i
				}
				out[(c*oh+i)*ow+j] = img[(c*H+y)*W+x]
			}
		}
	}
	return out
}

func clip(v float64) float64 { return math.Min(math.Max(v, 0), 1) }

func grayNaive(img []float64, H, W int) []float64 {
	n := H * W
	g := make([]float64, n)
	for i := range g {
		g[i] = 0.2989*img[i] + 0.587*img[n+i] + 0.114*img[2*n+i]
	}
	return g
}

func brightnessNaive(img []float64, f float64) []float64 {
	out := make([]float64, len(img))
	for i, v := range img {
		out[i] = clip(f * v)
	}
	return out
}

func contrastNaive(img []float64, C, H, W int, f float64) []float64 {
	src := img[:H*W]
	if C == 3 {
		src = grayNaive(img, H, W)
	}
	m := 0.0
	for _, v := range src {
		m += v
	}
	m /= float64(H * W)
	out := make([]float64, len(img))
	for i, v := range img {
		out[i] = clip(f*v + (1-f)*m)
	}
	return out
}

func saturationNaive(img []float64, C, H, W int, f float64) []float64 {
	out := append([]float64(nil), img...)
	if C != 3 {
		return out
	}
	g := grayNaive(img, H, W)
	for i := range img {
		out[i] = clip(f*img[i] + (1-f)*g[i%(H*W)])
	}
	return out
}

func hueNaive(img []float64, C, H, W int, hf float64) []float64 {
	out := append([]float64(nil), img...)
	if C != 3 {
		return out
	}
	n := H * W
	for i := 0; i < n; i++ {
		r, g, b := img[i], img[n+i], img[2*n+i]
		M, m := math.Max(r, math.Max(g, b)), math.Min(r, math.Min(g, b))
		cr, eq := M-m, M == m
		s := cr / M
		if eq {
			s = cr
		}
		v := M
		d := cr
		if eq {
			d = 1
		}
		rc, gc, bc := (M-r)/d, (M-g)/d, (M-b)/d
		var h6 float64
		if M == r {
			h6 += bc - gc
		}
		if M == g && M != r {
			h6 += 2 + rc - bc
		}
		if M != g && M != r {
			h6 += 4 + gc - rc
		}
		h := math.Mod(h6/6+1, 1)
		h = math.Mod(math.Mod(h+hf, 1)+1, 1)
		ii := math.Floor(6 * h)
		f := 6*h - ii
		k := int(ii) % 6
		p, q, t := clip(v*(1-s)), clip(v*(1-s*f)), clip(v*(1-s*(1-f)))
		rgb := [6][3]float64{{v, t, p}, {q, v, p}, {p, v, t}, {p, q, v}, {t, p, v}, {v, p, q}}[k]
		out[i], out[n+i], out[2*n+i] = rgb[0], rgb[1], rgb[2]
	}
	return out
}

func blurNaive(img []float64, C, H, W, kx, ky int, sx, sy float64) []float64 {
	k1 := func(k int, s float64) []float64 {
		out := make([]float64, k)
		sum := 0.0
		for i := range out {
			x := -float64(k-1)/2 + float64(i)
			out[i] = math.Exp(-0.5 * (x / s) * (x / s))
			sum += out[i]
		}
		for i := range out {
			out[i] /= sum
		}
		return out
	}
	gx, gy := k1(kx, sx), k1(ky, sy)
	px, py := kx/2, ky/2
	ph, pw := H+2*py, W+2*px
	out := make([]float64, len(img))
	for c := 0; c < C; c++ {
		pad := make([]float64, ph*pw)
		for y := 0; y < ph; y++ {
			for x := 0; x < pw; x++ {
				sy, sx := y-py, x-px
				if sy < 0 {
					sy = -sy
				} else if sy >= H {
					sy = 2*H - 2 - sy
				}
				if sx < 0 {
					sx = -sx
				} else if sx >= W {
					sx = 2*W - 2 - sx
				}
				pad[y*pw+x] = img[(c*H+sy)*W+sx]
			}
		}
		for y := 0; y < H; y++ {
			for x := 0; x < W; x++ {
				s := 0.0
				for a := 0; a < ky; a++ {
					for b := 0; b < kx; b++ {
						s += gy[a] * gx[b] * pad[(y+a)*pw+x+b]
					}
				}
				out[(c*H+y)*W+x] = s
			}
		}
	}
	return out
}
