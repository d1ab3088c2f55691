package augment

import (
	"fmt"
	"math/rand/v2"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// mix is SplitMix64's output function (Steele, Lea and Flood 2014, as in
// java.util.SplittableRandom): a bijection of uint64 with full avalanche.
func mix(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// golden is SplitMix64's increment, 2⁶⁴/φ.
const golden = 0x9e3779b97f4a7c15

// StreamSeeds returns the two PCG seeds of [Stream]: the chain
// h ← mix(h + golden + x) over (seed, epoch, index, view), finished twice
// with different constants.
func StreamSeeds(seed, epoch uint64, index, view int) (uint64, uint64) {
	h := mix(seed + golden)
	h = mix(h + golden + epoch)
	h = mix(h + golden + uint64(int64(index)))
	h = mix(h + golden + uint64(int64(view)))
	return mix(h + 1), mix(h + 2)
}

// Stream returns the random source of one augmented view: view number view
// of the image whose identity (dataset index) is index, in epoch epoch of a
// run seeded with seed. The batch functions draw each view's parameters
// from it, so a result depends only on (seed, epoch, index, view) and the
// image, never on the batch it came in, the goroutine that computed it or
// GOMAXPROCS. It is rand.New(rand.NewPCG(StreamSeeds(seed, epoch, index,
// view))).
func Stream(seed, epoch uint64, index, view int) *rand.Rand {
	return rand.New(rand.NewPCG(StreamSeeds(seed, epoch, index, view)))
}

// CropGroup is N views made by one transform, e.g. SwAV's two global crops.
type CropGroup struct {
	// N is the number of views, at least 1.
	N int
	// T makes one view from an image; usually a [Compose] that starts with a
	// [RandomResizedCrop].
	T Transform
}

// MultiCrop is SwAV's multi-crop (Caron et al. 2020, §3.2): from each image
// of a batch it makes Groups[0].N views with Groups[0].T, then Groups[1].N
// views with Groups[1].T, and so on; view v of the batch is one tensor
// [B, C_v, S_v, S_v]. Two views of one group ([NewMultiCrop] with one size
// and count 2) are the SimCLR/BYOL/MoCo two-view pipeline.
//
// View v of the image with identity id (ids[i], see [MultiCrop.Apply]) is
// drawn from Stream(seed, epoch, id, v), so results are the same whatever
// the batch composition, the schedule or GOMAXPROCS. Images are processed
// in parallel on all cores.
//
// Reference: SwAV's src/multicropdataset.py, MultiCropDataset
// (github.com/facebookresearch/swav).
type MultiCrop struct {
	Groups []CropGroup
}

// NewMultiCrop builds SwAV's multi-crop from MultiCropDataset's arguments:
// for each group g, counts[g] crops RandomResizedCrop{sizes[g], (minScale[g],
// maxScale[g])} (default ratio 3/4–4/3), each followed by the transforms
// post (e.g. flip, color distortion, normalization). It returns an error
// wrapping ssl.ErrParam if the slices differ in length or are empty, a size
// or count is below 1, or a scale range is outside (0, 1].
func NewMultiCrop(sizes, counts []int, minScale, maxScale []float64, post ...Transform) (*MultiCrop, error) {
	n := len(sizes)
	if n == 0 || len(counts) != n || len(minScale) != n || len(maxScale) != n {
		return nil, check.Errorf("augment: NewMultiCrop", ssl.ErrParam, "sizes, counts, minScale and maxScale need one equal, non-zero length (have %d, %d, %d, %d)",
			len(sizes), len(counts), len(minScale), len(maxScale))
	}
	m := &MultiCrop{}
	for g := range sizes {
		crop := RandomResizedCrop{Size: sizes[g], Scale: [2]float64{minScale[g], maxScale[g]}}
		if err := crop.check(); err != nil {
			return nil, fmt.Errorf("augment: NewMultiCrop: group %d: %w", g, err)
		}
		if counts[g] < 1 {
			return nil, check.Errorf("augment: NewMultiCrop", ssl.ErrParam, "group %d: count must be ≥ 1 (counts[%d]=%d)", g, g, counts[g])
		}
		m.Groups = append(m.Groups, CropGroup{N: counts[g], T: append(Compose{crop}, post...)})
	}
	return m, nil
}

// Views returns the number of views per image, the sum of the groups' N.
func (m *MultiCrop) Views() int {
	n := 0
	for _, g := range m.Groups {
		n += g.N
	}
	return n
}

// Shapes returns the shape [B, C_v, H_v, W_v] of each view for a batch of
// shape [b, c, h, w]. It returns the first group's error from Shape, or one
// wrapping ssl.ErrParam for a group with N < 1 or no groups.
func (m *MultiCrop) Shapes(b, c, h, w int) ([][]int, error) {
	if len(m.Groups) == 0 {
		return nil, check.Errorf("augment: MultiCrop", ssl.ErrParam, "no groups")
	}
	var out [][]int
	for g, grp := range m.Groups {
		if grp.N < 1 || grp.T == nil {
			return nil, check.Errorf("augment: MultiCrop", ssl.ErrParam, "group %d: want N ≥ 1 and a transform (N=%d, T=%v)", g, grp.N, grp.T)
		}
		oc, oh, ow, err := grp.T.Shape(c, h, w)
		if err != nil {
			return nil, fmt.Errorf("augment: MultiCrop: group %d: %w", g, err)
		}
		for range grp.N {
			out = append(out, []int{b, oc, oh, ow})
		}
	}
	return out, nil
}

// Apply makes every view of every image of src [B, C, H, W] and writes view
// v into dst[v], of shape Shapes(B, C, H, W)[v]. ids[i] is the identity of
// image i (its index in the dataset), which seeds its randomness with seed
// and epoch (see [Stream]); nil ids means 0, 1, …, B−1. A nil dst, or a nil
// dst[v], is allocated; dst is returned.
//
// It returns an error wrapping ssl.ErrShape if src is not a non-empty rank-4
// tensor, len(ids) is not B, dst has the wrong length, a dst[v] has the
// wrong shape or overlaps src or another view; and the transforms' own
// errors (ssl.ErrParam, ssl.ErrShape) for invalid settings. Nothing is
// written then.
func (m *MultiCrop) Apply(dst []ssl.Tensor, src ssl.Tensor, ids []int, seed, epoch uint64) ([]ssl.Tensor, error) {
	shape, in, err := ssl.View(src)
	if err != nil {
		return dst, fmt.Errorf("augment: MultiCrop.Apply: src: %w", err)
	}
	if len(shape) != 4 || shape[0] < 1 || shape[1] < 1 || shape[2] < 1 || shape[3] < 1 {
		return dst, check.Errorf("augment: MultiCrop.Apply", ssl.ErrShape, "src shape %v, want a non-empty [B, C, H, W]", shape)
	}
	b := shape[0]
	if ids != nil && len(ids) != b {
		return dst, check.Errorf("augment: MultiCrop.Apply", ssl.ErrShape, "%d ids for a batch of %d", len(ids), b)
	}
	shapes, err := m.Shapes(b, shape[1], shape[2], shape[3])
	if err != nil {
		return dst, err
	}
	if dst != nil && len(dst) != len(shapes) {
		return dst, check.Errorf("augment: MultiCrop.Apply", ssl.ErrShape, "%d destinations for %d views", len(dst), len(shapes))
	}
	outs := make([][]float32, len(shapes))
	for v, s := range shapes {
		if dst == nil || check.IsNil(dst[v]) {
			continue
		}
		d, err := ssl.ViewOf(dst[v], s...)
		if err != nil {
			return dst, fmt.Errorf("augment: MultiCrop.Apply: dst[%d]: %w", v, err)
		}
		if kernel.Overlaps(d, in) {
			return dst, check.Errorf("augment: MultiCrop.Apply", ssl.ErrShape, "dst[%d] overlaps src", v)
		}
		for u := range v {
			if kernel.Overlaps(d, outs[u]) {
				return dst, check.Errorf("augment: MultiCrop.Apply", ssl.ErrShape, "dst[%d] overlaps dst[%d]", v, u)
			}
		}
		outs[v] = d
	}
	if dst == nil {
		dst = make([]ssl.Tensor, len(shapes))
	}
	for v, s := range shapes {
		if outs[v] == nil {
			t := ssl.New(s...)
			dst[v], outs[v] = t, t.Float32s()
		}
	}
	m.run(outs, shapes, in, shape, ids, seed, epoch)
	return dst, nil
}

// NewViews allocates the destinations of [MultiCrop.Apply] for a batch of
// shape [b, c, h, w]. Errors as [MultiCrop.Shapes].
func (m *MultiCrop) NewViews(b, c, h, w int) ([]ssl.Tensor, error) {
	shapes, err := m.Shapes(b, c, h, w)
	if err != nil {
		return nil, err
	}
	out := make([]ssl.Tensor, len(shapes))
	for v, s := range shapes {
		out[v] = ssl.New(s...)
	}
	return out, nil
}

// minBlockWork is the least work per parallel block, in output pixels × 16
// (about the operations per output pixel of the protocol's pipeline). With
// it a block of a 28×28 two-global, four-local multi-crop batch holds 7
// images (tens of microseconds), enough to amortize the block's scratch buffers and the
// goroutine hand-off, while a 256-image batch still splits into 37 blocks
// for the cores to share.
const minBlockWork = 1 << 18

// run is the unchecked kernel of Apply.
func (m *MultiCrop) run(outs [][]float32, shapes [][]int, in []float32, shape []int, ids []int, seed, epoch uint64) {
	b, c, h, w := shape[0], shape[1], shape[2], shape[3]
	inSize := c * h * w
	work := 0
	for _, s := range shapes {
		work += s[1] * s[2] * s[3] * 16
	}
	type view struct {
		t       Transform
		c, h, w int
	}
	var views []view
	for _, grp := range m.Groups {
		for range grp.N {
			s := shapes[len(views)]
			views = append(views, view{grp.T, s[1], s[2], s[3]})
		}
	}
	kernel.ParallelFor(b, kernel.Grain(b, work, minBlockWork), func(lo, hi int) {
		ws := new(workspace)
		pcg := rand.NewPCG(0, 0)
		r := rand.New(pcg)
		for i := lo; i < hi; i++ {
			id := i
			if ids != nil {
				id = ids[i]
			}
			src := Image{C: c, H: h, W: w, Pix: in[i*inSize : (i+1)*inSize]}
			for v, vw := range views {
				n := vw.c * vw.h * vw.w
				dst := Image{C: vw.c, H: vw.h, W: vw.w, Pix: outs[v][i*n : (i+1)*n]}
				pcg.Seed(StreamSeeds(seed, epoch, id, v))
				applyWS(vw.t, dst, src, r, ws)
			}
		}
	})
}

// Batch applies t to every image of src [B, C, H, W] and writes the results
// into dst [B, C', H', W'] (the shape t.Shape gives), drawing image i's
// randomness from Stream(seed, epoch, ids[i], view) (nil ids means 0 … B−1),
// in parallel. A nil dst is allocated; dst is returned. Errors as
// [MultiCrop.Apply].
func Batch(dst, src ssl.Tensor, t Transform, ids []int, seed, epoch uint64, view int) (ssl.Tensor, error) {
	if t == nil {
		return dst, check.Errorf("augment: Batch", ssl.ErrParam, "transform is nil")
	}
	shape, in, err := ssl.View(src)
	if err != nil {
		return dst, fmt.Errorf("augment: Batch: src: %w", err)
	}
	if len(shape) != 4 || shape[0] < 1 || shape[1] < 1 || shape[2] < 1 || shape[3] < 1 {
		return dst, check.Errorf("augment: Batch", ssl.ErrShape, "src shape %v, want a non-empty [B, C, H, W]", shape)
	}
	b := shape[0]
	if ids != nil && len(ids) != b {
		return dst, check.Errorf("augment: Batch", ssl.ErrShape, "%d ids for a batch of %d", len(ids), b)
	}
	oc, oh, ow, err := t.Shape(shape[1], shape[2], shape[3])
	if err != nil {
		return dst, fmt.Errorf("augment: Batch: %w", err)
	}
	out, err := check.Dst("augment: Batch", "dst", dst, check.Shape4(b, oc, oh, ow), in)
	if err != nil {
		return dst, err
	}
	if out == nil {
		d := ssl.New(b, oc, oh, ow)
		dst, out = d, d.Float32s()
	}
	inSize, outSize := shape[1]*shape[2]*shape[3], oc*oh*ow
	kernel.ParallelFor(b, kernel.Grain(b, outSize*16, minBlockWork), func(lo, hi int) {
		ws := new(workspace)
		pcg := rand.NewPCG(0, 0)
		r := rand.New(pcg)
		for i := lo; i < hi; i++ {
			id := i
			if ids != nil {
				id = ids[i]
			}
			pcg.Seed(StreamSeeds(seed, epoch, id, view))
			applyWS(t, Image{C: oc, H: oh, W: ow, Pix: out[i*outSize : (i+1)*outSize]},
				Image{C: shape[1], H: shape[2], W: shape[3], Pix: in[i*inSize : (i+1)*inSize]}, r, ws)
		}
	})
	return dst, nil
}

// Rotations writes the four rotations of every image of src [B, C, H, W]
// (square, H = W) into dst [4B, C, H, W]: dst[4i+k] = Rotate90(src[i], k),
// and labels[4i+k] = k, RotNet's rotation-prediction batch (Gidaris et al.
// 2018) as S4L uses it (Zhai et al. 2019, §3.1: all four rotations of each
// image). A nil dst or labels is allocated; both are returned. It returns an
// error wrapping ssl.ErrShape for a non-square or non-rank-4 src, a dst of
// another shape or overlapping src, or labels of a length other than 4B.
func Rotations(dst ssl.Tensor, labels []int, src ssl.Tensor) (ssl.Tensor, []int, error) {
	shape, in, err := ssl.View(src)
	if err != nil {
		return dst, labels, fmt.Errorf("augment: Rotations: src: %w", err)
	}
	if len(shape) != 4 || shape[0] < 1 || shape[1] < 1 || shape[2] < 1 || shape[2] != shape[3] {
		return dst, labels, check.Errorf("augment: Rotations", ssl.ErrShape, "src shape %v, want a non-empty [B, C, H, H] (square images)", shape)
	}
	b, c, h := shape[0], shape[1], shape[2]
	if labels != nil && len(labels) != 4*b {
		return dst, labels, check.Errorf("augment: Rotations", ssl.ErrShape, "%d labels, want 4·B = %d", len(labels), 4*b)
	}
	out, err := check.Dst("augment: Rotations", "dst", dst, check.Shape4(4*b, c, h, h), in)
	if err != nil {
		return dst, labels, err
	}
	if out == nil {
		d := ssl.New(4*b, c, h, h)
		dst, out = d, d.Float32s()
	}
	if labels == nil {
		labels = make([]int, 4*b)
	}
	n := c * h * h
	for i := 0; i < b; i++ {
		s := Image{C: c, H: h, W: h, Pix: in[i*n : (i+1)*n]}
		for k := 0; k < 4; k++ {
			rotate90(Image{C: c, H: h, W: h, Pix: out[(4*i+k)*n : (4*i+k+1)*n]}, s, k)
			labels[4*i+k] = k
		}
	}
	return dst, labels, nil
}
