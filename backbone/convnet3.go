package backbone

import (
	"fmt"
	"math/rand/v2"
)

// ConvNet3 is the backbone of the fmnist-ssl-v1 protocol
// (examples/PROTOCOL.md in the repository), three convolutional blocks on 1×28×28 images:
//
//	conv1 3×3, 1→c1, pad 1 → bn1 → ReLU → max-pool 2  (→ c1×14×14)
//	conv2 3×3, c1→c2, pad 1 → bn2 → ReLU → max-pool 2 (→ c2×7×7)
//	conv3 3×3, c2→c3, pad 1 → bn3 → ReLU → global average pool (→ c3)
//
// with (c1, c2, c3) = (32, 64, 128) by default (about 92k parameters, 15
// MFLOP per image forward) and convolutions without bias, as the protocol's
// reference settings say (batch normalization follows each one). Any input
// of at least 4×4 works (the 16×16 multi-crops give 4×4 maps before the
// average pool). Tensors are named conv{i}.weight (conv{i}.bias with
// ConvBias), bn{i}.weight, bn{i}.bias, bn{i}.running_mean, bn{i}.running_var.
//
// The ReLU of each block is fused into its batch normalization (one pass
// over the activations instead of two): BN[i] computes max(γ·x̂ + β, 0).
type ConvNet3 struct {
	*Sequential
	Widths [3]int
	Conv   [3]*Conv2D
	BN     [3]*BatchNorm
}

// ConvNet3Options holds the optional settings of [NewConvNet3].
type ConvNet3Options struct {
	// Widths are the channels of the three blocks; each ≥ 1, default
	// (32, 64, 128). A zero array means the default.
	Widths [3]int
	// InChannels of the images; ≥ 1, default 1 (Fashion-MNIST).
	InChannels int
	// ConvBias adds a bias to each convolution; default false (the
	// protocol's setting: batch normalization subtracts it again).
	ConvBias bool
	// BatchNorm sets eps and momentum of the three batch normalizations;
	// nil means PyTorch's defaults (1e-5, 0.1).
	BatchNorm *BatchNormOptions
}

// NewConvNet3 returns a ConvNet3 initialized as PyTorch initializes its
// layers, drawing from rng. It returns an error wrapping ssl.ErrParam for
// a width or channel count below 1 or a nil rng.
func NewConvNet3(rng *rand.Rand, opts *ConvNet3Options) (*ConvNet3, error) {
	var o ConvNet3Options
	if opts != nil {
		o = *opts
	}
	if o.Widths == [3]int{} {
		o.Widths = [3]int{32, 64, 128}
	}
	if o.InChannels == 0 {
		o.InChannels = 1
	}
	net := &ConvNet3{Widths: o.Widths}
	var layers []Layer
	in := o.InChannels
	for i, w := range o.Widths {
		conv, err := NewConv2D(fmt.Sprintf("conv%d", i+1), in, w, 3, 1, 1, o.ConvBias, rng)
		if err != nil {
			return nil, fmt.Errorf("backbone: NewConvNet3: %w", err)
		}
		bn, err := newBNReLU(fmt.Sprintf("bn%d", i+1), w, o.BatchNorm)
		if err != nil {
			return nil, fmt.Errorf("backbone: NewConvNet3: %w", err)
		}
		net.Conv[i], net.BN[i] = conv, bn
		layers = append(layers, conv, bn)
		if i < 2 {
			pool, _ := NewMaxPool2D(fmt.Sprintf("pool%d", i+1), 2, 2)
			layers = append(layers, pool)
		}
		in = w
	}
	layers = append(layers, NewGlobalAvgPool("avgpool"))
	net.Sequential = NewSequential("ConvNet3", layers...)
	return net, nil
}
