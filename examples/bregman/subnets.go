package main

import (
	"fmt"
	"math"
	"math/rand/v2"

	"ssl"
	"ssl/backbone"
)

// newSubnetworks returns the functional Bregman network of BeCLR: K
// sub-networks f_k(x) = w_k·ReLU(A_k x + a_k) + c_k, each a two-layer MLP
// d→hidden→1, evaluated side by side as one layer:
//
//	L2Normalize → Linear(d, K·hidden) → ReLU → SubnetOutputs(K, hidden)
//
// The first Linear stacks the K first layers A_k (rows k·hidden …
// (k+1)·hidden−1 are sub-network k's), which is exactly K separate
// nn.Linear(d, hidden); SubnetOutputs gives each sub-network its own output
// unit over its own hidden units. Its output (N×K) is f(x) = [f_1(x) … f_K(x)],
// whose row maximum is the convex generator φ(x) = max_k f_k(x).
func newSubnetworks(name string, d, k, hidden int, rng *rand.Rand) (*backbone.Sequential, error) {
	first, err := backbone.NewLinear(name+".hidden", d, k*hidden, true, rng)
	if err != nil {
		return nil, err
	}
	out, err := NewSubnetOutputs(name+".out", k, hidden, rng)
	if err != nil {
		return nil, err
	}
	return backbone.NewSequential(name, backbone.NewL2Normalize(name+".normalize"), first, backbone.NewReLU(name+".relu"), out), nil
}

// SubnetOutputs is the last layer of K parallel sub-networks: on an
// N×(K·H) input whose columns k·H … (k+1)·H−1 are sub-network k's hidden
// units,
//
//	out[n,k] = Σ_h x[n,k·H+h]·W[k,h] + b[k]
//	∂L/∂W[k,h] = Σ_n dy[n,k]·x[n,k·H+h],  ∂L/∂b[k] = Σ_n dy[n,k],  ∂L/∂x[n,k·H+h] = dy[n,k]·W[k,h]
//
// that is, K separate nn.Linear(H, 1) — a block-diagonal linear map. It
// implements backbone.Layer (see "Writing a layer" in package backbone).
type SubnetOutputs struct {
	K, H         int
	Weight, Bias *backbone.Param
}

// NewSubnetOutputs returns K output units of H inputs each, initialized as
// nn.Linear(H, 1) is (uniform in ±1/√H) from rng, with parameters
// name+".weight" (K×H) and name+".bias" (K).
func NewSubnetOutputs(name string, k, h int, rng *rand.Rand) (*SubnetOutputs, error) {
	if k < 1 || h < 1 || rng == nil {
		return nil, fmt.Errorf("SubnetOutputs: k %d and h %d must be ≥ 1 and rng not nil: %w", k, h, ssl.ErrParam)
	}
	s := &SubnetOutputs{
		K: k, H: h,
		Weight: &backbone.Param{Name: name + ".weight", Value: ssl.New(k, h), Grad: ssl.New(k, h)},
		Bias:   &backbone.Param{Name: name + ".bias", Value: ssl.New(k), Grad: ssl.New(k)},
	}
	bound := 1 / math.Sqrt(float64(h))
	for _, p := range []*backbone.Param{s.Weight, s.Bias} {
		for i := range p.Data() {
			p.Data()[i] = float32((2*rng.Float64() - 1) * bound)
		}
	}
	return s, nil
}

// Params returns the weight and the bias.
func (s *SubnetOutputs) Params() []*backbone.Param { return []*backbone.Param{s.Weight, s.Bias} }

// Buffers returns nil.
func (s *SubnetOutputs) Buffers() []*backbone.Param { return nil }

// OutShape returns N×K for an input N×(K·H).
func (s *SubnetOutputs) OutShape(in []int) ([]int, error) {
	if len(in) != 2 || in[0] < 1 || in[1] != s.K*s.H {
		return nil, fmt.Errorf("SubnetOutputs: input shape %v, want N×%d: %w", in, s.K*s.H, ssl.ErrShape)
	}
	return []int{in[0], s.K}, nil
}

// Forward writes each sub-network's output into dst and saves x.
func (s *SubnetOutputs) Forward(ws *backbone.Workspace, dst, x ssl.Tensor, train bool) error {
	shape, xv, err := ssl.View(x)
	if err != nil {
		return fmt.Errorf("SubnetOutputs.Forward: x: %w", err)
	}
	os, err := s.OutShape(shape)
	if err != nil {
		return err
	}
	out, err := ssl.ViewOf(dst, os...)
	if err != nil {
		return fmt.Errorf("SubnetOutputs.Forward: dst: %w", err)
	}
	w, b := s.Weight.Data(), s.Bias.Data()
	for n := range shape[0] {
		row := xv[n*s.K*s.H : (n+1)*s.K*s.H]
		for k := range s.K {
			acc := b[k]
			for h, v := range row[k*s.H : (k+1)*s.H] {
				acc += v * w[k*s.H+h]
			}
			out[n*s.K+k] = acc
		}
	}
	ws.Save(s, x)
	return nil
}

// Backward adds the parameters' gradients and writes ∂L/∂x into dx
// (skipped when dx is nil).
func (s *SubnetOutputs) Backward(ws *backbone.Workspace, dx, dy ssl.Tensor) error {
	saved, err := ws.Saved(s)
	if err != nil {
		return err
	}
	shape, xv, err := ssl.View(saved[0])
	if err != nil {
		return err
	}
	dyv, err := ssl.ViewOf(dy, shape[0], s.K)
	if err != nil {
		return fmt.Errorf("SubnetOutputs.Backward: dy: %w", err)
	}
	var dxv []float32
	if dx != nil {
		if dxv, err = ssl.ViewOf(dx, shape...); err != nil {
			return fmt.Errorf("SubnetOutputs.Backward: dx: %w", err)
		}
	}
	w, gw, gb := s.Weight.Data(), s.Weight.GradData(), s.Bias.GradData()
	kh := s.K * s.H
	for n := range shape[0] {
		for k := range s.K {
			g := dyv[n*s.K+k]
			gb[k] += g
			for h := range s.H {
				i := k*s.H + h
				gw[i] += g * xv[n*kh+i]
				if dxv != nil {
					dxv[n*kh+i] = g * w[i]
				}
			}
		}
	}
	return nil
}
