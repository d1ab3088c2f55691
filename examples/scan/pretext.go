package main

import (
	"math"

	"ssl"
	"ssl/backbone"
	"ssl/examples/internal/run"
	"ssl/losses"
)

// The SwAV pretext, as examples/swav trains it.
const (
	prototypes = 30   // K
	tau        = 0.1  // temperature of the swapped prediction
	epsilon    = 0.05 // Sinkhorn's entropic regularization
	iterations = 3    // Sinkhorn's iterations
)

// phases returns the epoch at which the pretext ends: none after
// -pretrained; the fraction -pretext of the epochs when it is set (≥ 0);
// otherwise every epoch but the last clusterEpochs, of which at most half
// the run goes to clustering.
func phases(epochs, clusterEpochs int, pretextFrac float64, pretrained bool) int {
	switch {
	case pretrained:
		return 0
	case pretextFrac >= 0:
		return int(math.Round(pretextFrac * float64(epochs)))
	default:
		return epochs - min(clusterEpochs, epochs/2)
	}
}

// swavStep holds the buffers of one SwAV step over n crops of a batch of b
// images: the scores of all crops stacked, rows v·b … v·b+b−1 from crop v.
type swavStep struct {
	scores, dscores ssl.Tensor
	sv, dv          []ssl.Tensor
	ws              []*backbone.Workspace
	opts            *losses.SwAVOptions
}

func newSwAVStep(b, n int) (*swavStep, error) {
	s := &swavStep{
		scores: ssl.New(n*b, prototypes), dscores: ssl.New(n*b, prototypes),
		sv: make([]ssl.Tensor, n), dv: make([]ssl.Tensor, n), ws: run.Workspaces(n),
		opts: &losses.SwAVOptions{Epsilon: epsilon, Iterations: iterations, Workspace: losses.NewWorkspace()},
	}
	var err error
	for v := range n {
		if s.sv[v], err = ssl.Rows(s.scores, v*b, (v+1)*b); err != nil {
			return nil, err
		}
		if s.dv[v], err = ssl.Rows(s.dscores, v*b, (v+1)*b); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// step runs model (ConvNet3 → projection → L2-normalize → prototypes) on
// every crop, takes the swapped-prediction loss with the Sinkhorn codes of
// the two global crops (crops 0 and 1) and carries its gradient back
// through every crop, accumulating the parameters' gradients.
func (s *swavStep) step(model backbone.Layer, crops []ssl.Tensor) (float64, error) {
	n := len(s.sv)
	for v := range n {
		if err := model.Forward(s.ws[v], s.sv[v], crops[v], true); err != nil {
			return 0, err
		}
	}
	loss, err := losses.SwAV(nil, s.dscores, s.scores, n, []int{0, 1}, tau, s.opts)
	if err != nil {
		return 0, err
	}
	for v := range n {
		if err := model.Backward(s.ws[v], nil, s.dv[v]); err != nil {
			return 0, err
		}
	}
	return loss, nil
}
