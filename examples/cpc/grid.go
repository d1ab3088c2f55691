package main

import (
	"fmt"

	"ssl"
	"ssl/backbone"
)

// The patch grid: 8×8 patches of a 28×28 image at stride 4 (half of a patch
// overlaps its neighbor, as in CPC v2), 6 rows of 6.
const (
	size   = 28
	patch  = 8
	stride = 4
	grid   = (size-patch)/stride + 1 // 6
	cells  = grid * grid             // 36 patches per image
	feat   = 128                     // the patch encoder's output
)

// extract writes the cells patches of each of the n images of x (n×1×28×28)
// into p (n·cells × 1×8×8), patch (r, c) of image b at row b·cells + r·grid + c.
func extract(p, x []float32, n int) {
	for b := range n {
		img := x[b*size*size:]
		for r := range grid {
			for c := range grid {
				dst := p[((b*cells)+r*grid+c)*patch*patch:]
				for i := range patch {
					copy(dst[i*patch:(i+1)*patch], img[(r*stride+i)*size+c*stride:])
				}
			}
		}
	}
}

// fold adds the gradient of every patch back into the image it came from
// (overlapping patches add up): the adjoint of extract.
func fold(dx, dp []float32, n int) {
	clear(dx[:n*size*size])
	for b := range n {
		img := dx[b*size*size:]
		for r := range grid {
			for c := range grid {
				src := dp[((b*cells)+r*grid+c)*patch*patch:]
				for i := range patch {
					row := img[(r*stride+i)*size+c*stride:]
					for j := range patch {
						row[j] += src[i*patch+j]
					}
				}
			}
		}
	}
}

// pooled is the network the evaluation reads: the patch encoder applied to
// every patch of the grid and its outputs averaged over the grid, a 128-d
// feature per image. Training uses the per-patch outputs directly; pooled
// only serves the protocol's evaluation (and trains like any layer if asked).
type pooled struct {
	enc *backbone.ConvNet3
}

func (l *pooled) Params() []*backbone.Param  { return l.enc.Params() }
func (l *pooled) Buffers() []*backbone.Param { return l.enc.Buffers() }

func (l *pooled) OutShape(in []int) ([]int, error) {
	if len(in) != 4 || in[0] < 1 || in[1] != 1 || in[2] != size || in[3] != size {
		return nil, fmt.Errorf("cpc: pooled: input must be N×1×%d×%d (shape=%v): %w", size, size, in, ssl.ErrShape)
	}
	return []int{in[0], feat}, nil
}

func (l *pooled) Forward(ws *backbone.Workspace, dst, x ssl.Tensor, train bool) error {
	shape, xd, err := ssl.View(x)
	if err != nil {
		return err
	}
	if _, err := l.OutShape(shape); err != nil {
		return err
	}
	n := shape[0]
	out, err := ssl.ViewOf(dst, n, feat)
	if err != nil {
		return err
	}
	ws.Save(l, x)
	pd, fd := ws.Scratch(0, n*cells*patch*patch), ws.Scratch(1, n*cells*feat)
	extract(pd, xd, n)
	if err := l.enc.Forward(ws.Child(0), ssl.FromSlice(fd, n*cells, feat), ssl.FromSlice(pd, n*cells, 1, patch, patch), train); err != nil {
		return err
	}
	clear(out)
	for i := range n * cells {
		o := out[(i/cells)*feat : (i/cells+1)*feat]
		for j, v := range fd[i*feat : (i+1)*feat] {
			o[j] += v / cells
		}
	}
	return nil
}

func (l *pooled) Backward(ws *backbone.Workspace, dx, dy ssl.Tensor) error {
	saved, err := ws.Saved(l)
	if err != nil {
		return err
	}
	n := saved[0].Shape()[0]
	g, err := ssl.ViewOf(dy, n, feat)
	if err != nil {
		return err
	}
	df := ws.Scratch(2, n*cells*feat)
	for i := range n * cells {
		for j, v := range g[(i/cells)*feat : (i/cells+1)*feat] {
			df[i*feat+j] = v / cells
		}
	}
	if dx == nil {
		return l.enc.Backward(ws.Child(0), nil, ssl.FromSlice(df, n*cells, feat))
	}
	dxd, err := ssl.ViewOf(dx, n, 1, size, size)
	if err != nil {
		return err
	}
	dp := ws.Scratch(3, n*cells*patch*patch)
	if err := l.enc.Backward(ws.Child(0), ssl.FromSlice(dp, n*cells, 1, patch, patch), ssl.FromSlice(df, n*cells, feat)); err != nil {
		return err
	}
	fold(dxd, dp, n)
	return nil
}

// The masked context network's plumbing. The per-patch features z
// (n·cells × 128, rows (b, r, c)) become a feature map of grid+2 rows whose
// first two rows are zero (shiftDown); a 3×3 convolution with padding 1 then
// gives at its output row r+1 a function of z's rows r−2, r−1 and r only
// (cropUp reads those rows back): the context of row r sees no row below it.

// shiftDown writes z (n·cells × 128) into m (n × 128 × (grid+2) × grid),
// row r of the grid at row r+2, rows 0 and 1 zero.
func shiftDown(m, z []float32, n int) {
	clear(m[:n*feat*(grid+2)*grid])
	for b := range n {
		for r := range grid {
			for c := range grid {
				src := z[(b*cells+r*grid+c)*feat:]
				for ch := range feat {
					m[((b*feat+ch)*(grid+2)+r+2)*grid+c] = src[ch]
				}
			}
		}
	}
}

// shiftDownAdjoint adds the gradient dm of the shifted map back into dz.
func shiftDownAdjoint(dz, dm []float32, n int) {
	for b := range n {
		for r := range grid {
			for c := range grid {
				dst := dz[(b*cells+r*grid+c)*feat:]
				for ch := range feat {
					dst[ch] += dm[((b*feat+ch)*(grid+2)+r+2)*grid+c]
				}
			}
		}
	}
}

// cropUp reads the context of grid row r from row r+1 of the convolution's
// output m (n × 128 × (grid+2) × grid) into c (n·cells × 128).
func cropUp(c, m []float32, n int) {
	for b := range n {
		for r := range grid {
			for col := range grid {
				dst := c[(b*cells+r*grid+col)*feat:]
				for ch := range feat {
					dst[ch] = m[((b*feat+ch)*(grid+2)+r+1)*grid+col]
				}
			}
		}
	}
}

// cropUpAdjoint writes the gradient of the map from the context's gradient
// dc: zero on the rows cropUp does not read.
func cropUpAdjoint(dm, dc []float32, n int) {
	clear(dm[:n*feat*(grid+2)*grid])
	for b := range n {
		for r := range grid {
			for col := range grid {
				src := dc[(b*cells+r*grid+col)*feat:]
				for ch := range feat {
					dm[((b*feat+ch)*(grid+2)+r+1)*grid+col] = src[ch]
				}
			}
		}
	}
}

// gather copies rows idx of src (rows of width w) into dst, in order.
func gather(dst, src []float32, idx []int, w int) {
	for i, j := range idx {
		copy(dst[i*w:(i+1)*w], src[j*w:(j+1)*w])
	}
}

// scatterAdd adds row i of src, times s, into row idx[i] of dst.
func scatterAdd(dst, src []float32, idx []int, w int, s float32) {
	for i, j := range idx {
		d := dst[j*w : (j+1)*w]
		for k, v := range src[i*w : (i+1)*w] {
			d[k] += s * v
		}
	}
}
