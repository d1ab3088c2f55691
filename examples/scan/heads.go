package main

import (
	"fmt"
	"io"
	"math/rand/v2"
	"strings"

	"ssl"
	"ssl/backbone"
	"ssl/dataset"
	"ssl/examples/internal/run"
	"ssl/losses"
	"ssl/probe"
)

// multiHead views the rows of one linear layer as n clustering heads of
// K = clusters outputs each: head h is outputs h·K … h·K+K−1.
type multiHead struct {
	all *backbone.Linear
	n   int
}

// gather copies head h's columns of the B×(n·K) scores into the B×K dst.
func (m *multiHead) gather(dst, src ssl.Tensor, h int) {
	d, s := dense(dst), dense(src)
	w := m.n * clusters
	for i := range len(d) / clusters {
		copy(d[i*clusters:(i+1)*clusters], s[i*w+h*clusters:i*w+(h+1)*clusters])
	}
}

// scatter copies the B×K src into head h's columns of the B×(n·K) dst.
func (m *multiHead) scatter(dst, src ssl.Tensor, h int) {
	d, s := dense(dst), dense(src)
	w := m.n * clusters
	for i := range len(s) / clusters {
		copy(d[i*w+h*clusters:i*w+(h+1)*clusters], s[i*clusters:(i+1)*clusters])
	}
}

// scores runs every head on the N×128 features: N×(n·K).
func (m *multiHead) scores(feats ssl.Tensor) (ssl.Tensor, error) {
	out := ssl.New(feats.Shape()[0], m.n*clusters)
	return out, m.all.Forward(backbone.NewWorkspace(), out, feats, false)
}

// losses returns each head's SCAN loss over the whole set: anchors are
// the images, and the consistency term is averaged over every entry of
// their mined lists (SCAN's scan_evaluate ranks its heads by this total).
func (m *multiHead) losses(feats ssl.Tensor, nb *run.Neighbors) ([]float64, error) {
	all, err := m.scores(feats)
	if err != nil {
		return nil, err
	}
	n := feats.Shape()[0]
	anchors, nbScores := ssl.New(n, clusters), ssl.New(n, clusters)
	da, dn := ssl.New(n, clusters), ssl.New(n, clusters) // gradients, unused
	a, ns := dense(anchors), dense(nbScores)
	slots := len(nb.Of(0))
	ws := losses.NewWorkspace()
	out := make([]float64, m.n)
	for h := range m.n {
		m.gather(anchors, all, h)
		for s := range slots {
			for i := range n {
				j := nb.Of(i)[s]
				copy(ns[i*clusters:(i+1)*clusters], a[j*clusters:(j+1)*clusters])
			}
			res, err := losses.SCAN(da, dn, anchors, nbScores, entropyWeight, &losses.SCANOptions{Workspace: ws})
			if err != nil {
				return nil, err
			}
			out[h] += res.Loss / float64(slots)
		}
	}
	return out, nil
}

// agreement returns, for each head, how far its clusters keep the mined
// neighborhoods together, label-free: Cohen's κ between the label of an
// image and the label of each of its mined neighbors (itself excluded),
// (a − e)/(1 − e) with a the share of such pairs that agree and e = Σ p_k²
// the agreement two independent draws from the head's cluster sizes p_k
// reach by chance, so that merging clusters does not raise it.
func (m *multiHead) agreement(feats ssl.Tensor, nb *run.Neighbors) ([]float64, error) {
	all, err := m.scores(feats)
	if err != nil {
		return nil, err
	}
	out := make([]float64, m.n)
	for h := range m.n {
		pred, err := m.predictions(all, h)
		if err != nil {
			return nil, err
		}
		var same, pairs int
		sizes := make([]float64, clusters)
		for i, p := range pred {
			sizes[p]++
			for _, j := range nb.Of(i) {
				if j == i {
					continue
				}
				pairs++
				if pred[j] == p {
					same++
				}
			}
		}
		var chance float64
		for _, c := range sizes {
			chance += (c / float64(len(pred))) * (c / float64(len(pred)))
		}
		if pairs == 0 || chance == 1 {
			continue // no neighbor, or one cluster: κ 0
		}
		out[h] = (float64(same)/float64(pairs) - chance) / (1 - chance)
	}
	return out, nil
}

// confident counts, per cluster of head h, the images of feats whose
// softmax confidence exceeds threshold.
func (m *multiHead) confident(feats ssl.Tensor, h int, threshold float64) ([]int, error) {
	all, err := m.scores(feats)
	if err != nil {
		return nil, err
	}
	p := ssl.New(feats.Shape()[0], clusters)
	m.gather(p, all, h)
	if _, err = ssl.SoftmaxRows(p, p, 1); err != nil {
		return nil, err
	}
	counts := make([]int, clusters)
	pd := dense(p)
	for i := range len(pd) / clusters {
		row := pd[i*clusters : (i+1)*clusters]
		c := argmax32(row)
		if float64(row[c]) > threshold {
			counts[c]++
		}
	}
	return counts, nil
}

// predictions returns head h's argmax on every row of the n·K scores.
func (m *multiHead) predictions(all ssl.Tensor, h int) ([]int, error) {
	p := ssl.New(all.Shape()[0], clusters)
	m.gather(p, all, h)
	return ssl.ArgmaxRows(nil, p)
}

// report prints, after a SCAN epoch, the kept head's ACC/NMI/ARI and
// cluster sizes on set s, every head's ACC, SCAN loss and neighbor κ
// (agreement), and how far the heads agree with the kept one (NMI between
// their clusterings): the diagnostics for merged or empty clusters. The
// labels serve the printout only.
func (m *multiHead) report(log io.Writer, epoch int, net backbone.Layer, s *dataset.Set, trainLoss, kappa []float64, kept int) error {
	feats, err := run.Features(net, s)
	if err != nil {
		return err
	}
	all, err := m.scores(feats)
	if err != nil {
		return err
	}
	keptPred, err := m.predictions(all, kept)
	if err != nil {
		return err
	}
	ks, err := probe.EvaluateClusters(keptPred, s.Labels, clusters, s.Classes, nil)
	if err != nil {
		return err
	}
	sizes := make([]int, clusters)
	for _, c := range keptPred {
		sizes[c]++
	}
	var accs, agree strings.Builder
	for h := range m.n {
		pred, err := m.predictions(all, h)
		if err != nil {
			return err
		}
		hs, err := probe.EvaluateClusters(pred, s.Labels, clusters, s.Classes, nil)
		if err != nil {
			return err
		}
		same, err := probe.EvaluateClusters(pred, keptPred, clusters, clusters, nil)
		if err != nil {
			return err
		}
		fmt.Fprintf(&accs, " %.3f(%.3f, %.3f)", hs.ACC, trainLoss[h], kappa[h])
		fmt.Fprintf(&agree, " %.2f", same.NMI)
	}
	fmt.Fprintf(log, "after epoch %d: kept head %d on the test set: ACC %.4f NMI %.4f ARI %.4f, cluster sizes %v\n", epoch, kept, ks.ACC, ks.NMI, ks.ARI, sizes)
	fmt.Fprintf(log, "  every head's test ACC (training SCAN loss, neighbor κ):%s\n  NMI of each head with the kept one:%s\n", accs.String(), agree.String())
	return nil
}

// head returns head h as a 128→K layer of its own, for the evaluation.
func (m *multiHead) head(h int) (*backbone.Linear, error) {
	l, err := backbone.NewLinear("head", m.all.In, clusters, true, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, err
	}
	in := m.all.In
	copy(l.Weight.Data(), m.all.Weight.Data()[h*clusters*in:(h+1)*clusters*in])
	copy(l.Bias.Data(), m.all.Bias.Data()[h*clusters:(h+1)*clusters])
	return l, nil
}

// Self-labelling decision, taken when the SCAN epochs end.
const (
	undecided = iota
	selfLabelling
	noSelfLabelling
)

// scanState is the run's clustering state beyond the weights, in the
// checkpoint: the kept head and the self-labelling decision.
type scanState struct {
	kept, self int
}

func (s *scanState) Save(c *backbone.Checkpoint, prefix string) error {
	return c.SetInts(prefix+"scan.state", []int{s.kept, s.self}, 2)
}

func (s *scanState) Load(c *backbone.Checkpoint, prefix string) error {
	v, err := c.Ints(prefix+"scan.state", 2)
	if err != nil {
		return err
	}
	if v[0] < 0 || v[1] < undecided || v[1] > noSelfLabelling {
		return fmt.Errorf("scan: checkpoint's scan.state %v is not a head and a decision: %w", v, ssl.ErrFormat)
	}
	s.kept, s.self = v[0], v[1]
	return nil
}

// argmax returns the index of the largest entry of v (the first of ties).
func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

func argmin(v []float64) int {
	best := 0
	for i, x := range v {
		if x < v[best] {
			best = i
		}
	}
	return best
}

func argmax32(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}

// dense is the float32 storage of one of the example's own tensors.
func dense(t ssl.Tensor) []float32 {
	_, d, err := ssl.View(t)
	if err != nil {
		panic(err) // the example's own contiguous tensors
	}
	return d
}
