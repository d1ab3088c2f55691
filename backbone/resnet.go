package backbone

import (
	"fmt"
	"math/rand/v2"

	"ssl"
	"ssl/internal/kernel"
)

// BasicBlock is ResNet's basic residual block (He et al., Deep Residual
// Learning for Image Recognition, CVPR 2016, Fig. 2; torchvision's
// BasicBlock):
//
//	out = ReLU(bn2(conv2(ReLU(bn1(conv1(x))))) + shortcut(x))
//
// with 3×3 convolutions without bias (conv1 carries the stride) and a
// shortcut that is the identity, or a 1×1 strided convolution and batch
// normalization (torchvision's "downsample") when the stride or the width
// changes. BN1 applies the first ReLU itself (fused). Tensors are named <name>.conv1.weight, <name>.bn1.*, …,
// <name>.downsample.0.weight, <name>.downsample.1.*.
type BasicBlock struct {
	Conv1, Conv2 *Conv2D
	BN1, BN2     *BatchNorm
	DownConv     *Conv2D    // nil for the identity shortcut
	DownBN       *BatchNorm // nil for the identity shortcut
	name         string
}

// NewBasicBlock returns a basic block from in to out channels whose first
// convolution has the given stride. It returns an error wrapping
// ssl.ErrParam for non-positive sizes or a nil rng.
func NewBasicBlock(name string, in, out, stride int, bn *BatchNormOptions, rng *rand.Rand) (*BasicBlock, error) {
	b := &BasicBlock{name: name}
	var err error
	if b.Conv1, err = NewConv2D(join(name, "conv1"), in, out, 3, stride, 1, false, rng); err != nil {
		return nil, err
	}
	if b.BN1, err = newBNReLU(join(name, "bn1"), out, bn); err != nil {
		return nil, err
	}
	if b.Conv2, err = NewConv2D(join(name, "conv2"), out, out, 3, 1, 1, false, rng); err != nil {
		return nil, err
	}
	if b.BN2, err = NewBatchNorm(join(name, "bn2"), out, bn); err != nil {
		return nil, err
	}
	if stride != 1 || in != out {
		if b.DownConv, err = NewConv2D(join(name, "downsample.0"), in, out, 1, stride, 0, false, rng); err != nil {
			return nil, err
		}
		if b.DownBN, err = NewBatchNorm(join(name, "downsample.1"), out, bn); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func (b *BasicBlock) label() string { return "BasicBlock(" + b.name + ")" }

// Params returns the parameters of the block, main path first.
func (b *BasicBlock) Params() []*Param {
	ps := append(b.Conv1.Params(), b.BN1.Params()...)
	ps = append(ps, b.Conv2.Params()...)
	ps = append(ps, b.BN2.Params()...)
	if b.DownConv != nil {
		ps = append(ps, b.DownConv.Params()...)
		ps = append(ps, b.DownBN.Params()...)
	}
	return ps
}

// Buffers returns the running statistics of the block.
func (b *BasicBlock) Buffers() []*Param {
	ps := append(b.BN1.Buffers(), b.BN2.Buffers()...)
	if b.DownBN != nil {
		ps = append(ps, b.DownBN.Buffers()...)
	}
	return ps
}

// OutShape returns N×out×Ho×Wo for an input N×in×H×W.
func (b *BasicBlock) OutShape(in []int) ([]int, error) { return b.Conv1.OutShape(in) }

// Forward runs the block; see [Layer].
func (b *BasicBlock) Forward(ws *Workspace, dst, x ssl.Tensor, train bool) error {
	return runForward(b, ws, dst, x, train)
}

// Backward carries dy back through the block; see [Layer].
func (b *BasicBlock) Backward(ws *Workspace, dx, dy ssl.Tensor) error {
	return runBackward(b, ws, dx, dy)
}

// Activation slots of a block's workspace.
const (
	bbC1  = iota // conv1 out
	bbB1         // bn1 out
	bbR1         // relu out
	bbC2         // conv2 out
	bbSum        // bn2 out + shortcut (before the last ReLU)
	bbDC         // downsample conv out
	bbDB         // downsample bn out
	bbSlots
)

// sub runs layer l (child workspace i) on x into out.
func sub(ws *Workspace, i int, l builtin, out, x []float32, shape []int, train bool) ([]int, error) {
	os, err := l.OutShape(shape)
	if err != nil {
		return nil, err
	}
	kid := ws.kid(i)
	kid.begin(l, x, shape, os, train)
	return os, l.forward(kid, out, x, shape, train)
}

func (ws *Workspace) slot(i, n int) []float32 {
	for len(ws.acts) <= i {
		ws.acts = append(ws.acts, nil)
	}
	ws.acts[i] = grow(ws.acts[i], n)
	return ws.acts[i]
}

func (b *BasicBlock) forward(ws *Workspace, dst, x []float32, shape []int, train bool) error {
	out, _ := b.Conv1.OutShape(shape)
	n := numel(out)
	c1, r1, c2, sum := ws.slot(bbC1, n), ws.slot(bbR1, n), ws.slot(bbC2, n), ws.slot(bbSum, n)
	if _, err := sub(ws, 0, b.Conv1, c1, x, shape, train); err != nil {
		return err
	}
	if _, err := sub(ws, 1, b.BN1, r1, c1, out, train); err != nil { // bn1 + fused ReLU
		return err
	}
	if _, err := sub(ws, 2, b.Conv2, c2, r1, out, train); err != nil {
		return err
	}
	if _, err := sub(ws, 3, b.BN2, sum, c2, out, train); err != nil {
		return err
	}
	if b.DownConv != nil {
		dc, db := ws.slot(bbDC, n), ws.slot(bbDB, n)
		if _, err := sub(ws, 4, b.DownConv, dc, x, shape, train); err != nil {
			return err
		}
		if _, err := sub(ws, 5, b.DownBN, db, dc, out, train); err != nil {
			return err
		}
		addReLU(dst, sum, db)
	} else {
		addReLU(dst, sum, x)
	}
	return nil
}

// addReLU computes sum += short and dst = max(sum, 0), in parallel blocks.
func addReLU(dst, sum, short []float32) {
	kernel.ParallelFor(len(sum), elemGrain, func(lo, hi int) {
		s, d, r := sum[lo:hi], dst[lo:hi], short[lo:hi]
		for i := range s {
			v := s[i] + r[i]
			s[i] = v
			d[i] = max(v, 0)
		}
	})
}

// addTo computes y += x in parallel blocks.
func addTo(y, x []float32) {
	kernel.ParallelFor(len(x), elemGrain, func(lo, hi int) { kernel.Axpy(1, x[lo:hi], y[lo:hi]) })
}

// Gradient slots of a block's workspace (after the activation slots).
const (
	bbG0 = bbSlots + iota
	bbG1
	bbG2
)

func (b *BasicBlock) backward(ws *Workspace, dx, dy []float32) error {
	n := len(dy)
	sum := ws.acts[bbSum][:n]
	dz, g1, g2 := ws.slot(bbG0, n), ws.slot(bbG1, n), ws.slot(bbG2, n)
	kernel.ParallelFor(n, elemGrain, func(lo, hi int) {
		d, g := dz[lo:hi], dy[lo:hi]
		for i, v := range sum[lo:hi] {
			if v > 0 {
				d[i] = g[i]
			} else {
				d[i] = 0
			}
		}
	})
	if err := b.BN2.backward(ws.kids[3], g1, dz); err != nil {
		return err
	}
	if err := b.Conv2.backward(ws.kids[2], g2, g1); err != nil {
		return err
	}
	if err := b.BN1.backward(ws.kids[1], g1, g2); err != nil {
		return err
	}
	if err := b.Conv1.backward(ws.kids[0], dx, g1); err != nil {
		return err
	}
	if b.DownConv == nil {
		if dx != nil {
			addTo(dx, dz)
		}
		return nil
	}
	if err := b.DownBN.backward(ws.kids[5], g1, dz); err != nil {
		return err
	}
	var tmp []float32
	if dx != nil {
		tmp = ws.slot(bbG2+1, len(dx))
	}
	if err := b.DownConv.backward(ws.kids[4], tmp, g1); err != nil {
		return err
	}
	if dx != nil {
		addTo(dx, tmp)
	}
	return nil
}

// ResNet18 is the CIFAR form of ResNet-18 (He et al., CVPR 2016, §4.2;
// the variant SimCLR, MoCo and solo-learn use on 32×32 images): a 3×3
// stride-1 stem convolution without max-pool, then four stages of two
// [BasicBlock]s with widths w, 2w, 4w, 8w (w = 64 by default; the first
// block of stages 2–4 has stride 2), and a global average pool to an 8w
// (512-d) feature. There is no classifier: the heads are the method's.
// Tensor names follow torchvision's resnet18 (conv1, bn1, layer1.0.conv1,
// …, layer4.1.bn2), so weights move to and from PyTorch by name.
type ResNet18 struct {
	*Sequential
	Width int
}

// ResNet18Options holds the optional settings of [NewResNet18].
type ResNet18Options struct {
	// Width of the first stage; ≥ 1, default 64.
	Width int
	// InChannels of the images; ≥ 1, default 3.
	InChannels int
	// BatchNorm sets eps and momentum of every batch normalization; nil
	// means PyTorch's defaults.
	BatchNorm *BatchNormOptions
}

// NewResNet18 returns a CIFAR ResNet-18 initialized as PyTorch initializes
// its layers, drawing from rng. It returns an error wrapping ssl.ErrParam
// for a width or channel count below 1 or a nil rng.
func NewResNet18(rng *rand.Rand, opts *ResNet18Options) (*ResNet18, error) {
	var o ResNet18Options
	if opts != nil {
		o = *opts
	}
	if o.Width == 0 {
		o.Width = 64
	}
	if o.InChannels == 0 {
		o.InChannels = 3
	}
	conv, err := NewConv2D("conv1", o.InChannels, o.Width, 3, 1, 1, false, rng)
	if err != nil {
		return nil, fmt.Errorf("backbone: NewResNet18: %w", err)
	}
	bn, err := newBNReLU("bn1", o.Width, o.BatchNorm)
	if err != nil {
		return nil, fmt.Errorf("backbone: NewResNet18: %w", err)
	}
	layers := []Layer{conv, bn} // bn1 applies the stem's ReLU (fused)
	in := o.Width
	for s := range 4 {
		w := o.Width << s
		for i := range 2 {
			stride := 1
			if s > 0 && i == 0 {
				stride = 2
			}
			blk, err := NewBasicBlock(fmt.Sprintf("layer%d.%d", s+1, i), in, w, stride, o.BatchNorm, rng)
			if err != nil {
				return nil, fmt.Errorf("backbone: NewResNet18: %w", err)
			}
			layers = append(layers, blk)
			in = w
		}
	}
	layers = append(layers, NewGlobalAvgPool("avgpool"))
	return &ResNet18{Sequential: NewSequential("ResNet18", layers...), Width: o.Width}, nil
}
