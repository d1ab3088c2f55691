package backbone

import (
	"fmt"
	"math"

	"ssl/dist"
	"ssl/internal/kernel"
)

// SyncBatchNorm sets comm as the communicator of every [BatchNorm] among
// layers and inside them (Sequential, ConvNet3, ResNet-18 and their
// blocks), so that their training-mode statistics are those of the global
// batch, as torch.nn.SyncBatchNorm.convert_sync_batchnorm does; a nil comm
// turns it off. It returns the number of distinct BatchNorm layers set (a
// layer reached twice, as a backbone passed beside the model holding it,
// counts once).
func SyncBatchNorm(comm dist.Comm, layers ...Layer) int {
	seen := map[*BatchNorm]bool{}
	for _, l := range layers {
		walkLayers(l, func(l Layer) {
			if bn, ok := l.(*BatchNorm); ok {
				bn.Comm = comm
				seen[bn] = true
			}
		})
	}
	return len(seen)
}

// forwardSync is the training-mode forward pass over every rank's batch:
// each rank's per-channel count, mean and centred sum of squares (from the
// shifted one-pass sums of channelStats) are all-gathered and combined in
// rank order (Chan, Golub and LeVeque's pairwise update), so every rank
// normalizes with the same global μ and σ² and updates its running
// statistics with them (the unbiased correction uses the global count).
func (bn *BatchNorm) forwardSync(ws *Workspace, dst, x []float32, n, c, hw int) error {
	cnt := n * hw
	ld := c * hw
	local := make([]float64, 3*c) // count, mean, M2 per channel
	kernel.ParallelFor(c, bnGrain(c, cnt), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			mu, v := channelStats(x[ch*hw:], n, hw, ld)
			local[3*ch], local[3*ch+1], local[3*ch+2] = float64(cnt), mu, v*float64(cnt)
		}
	})
	size := bn.Comm.Size()
	all := make([]float64, size*3*c)
	if err := bn.Comm.AllGather(all, local); err != nil {
		return fmt.Errorf("backbone: %s.Forward: gathering the statistics: %w", bn.label(), err)
	}
	mean, inv := ws.vec(0, c), ws.vec(1, c)
	gamma, beta := bn.Weight.Data(), bn.Bias.Data()
	rm, rv := bn.RunningMean.Data(), bn.RunningVar.Data()
	m := bn.Momentum
	var total float64
	for ch := range c {
		var na, mu, m2 float64
		for r := range size {
			s := all[r*3*c+3*ch:]
			nb, mb, m2b := s[0], s[1], s[2]
			nab := na + nb
			d := mb - mu
			mu += d * nb / nab
			m2 += m2b + d*d*na*nb/nab
			na = nab
		}
		v := m2 / na
		total = na
		mean[ch] = float32(mu)
		inv[ch] = float32(1 / math.Sqrt(v+bn.Eps))
		rm[ch] = float32((1-m)*float64(rm[ch]) + m*mu)
		rv[ch] = float32((1-m)*float64(rv[ch]) + m*v*na/(na-1))
	}
	ws.count = total
	kernel.ParallelFor(c, bnGrain(c, cnt), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			a := gamma[ch] * inv[ch]
			b := beta[ch] - mean[ch]*a
			kernel.BNAffine(dst[ch*hw:], x[ch*hw:], n, hw, ld, a, b, bn.relu)
		}
	})
	return nil
}

// backwardSync is the training-mode backward pass over every rank's batch:
// the per-channel sums Σg and Σg·x̂ are all-reduced, so that ∂L/∂x is the
// gradient of the sum of every rank's loss, as torch.nn.SyncBatchNorm's;
// ∂L/∂γ and ∂L/∂β take this rank's own sums, which the data-parallel
// gradient average then combines.
func (bn *BatchNorm) backwardSync(ws *Workspace, dx, dy []float32) error {
	n, c, hw := bnGeom(ws.shape)
	cnt := n * hw
	x := ws.x
	mean, inv := ws.saved[0][:c], ws.saved[1][:c]
	gamma, beta := bn.Weight.Data(), bn.Bias.Data()
	gg, gb := bn.Weight.GradData(), bn.Bias.GradData()
	relu := bn.relu
	ld := c * hw
	sums := make([]float64, 2*c)
	kernel.ParallelFor(c, bnGrain(c, cnt), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			ga := gamma[ch] * inv[ch]
			gbias := beta[ch] - mean[ch]*ga
			sg, sgx := kernel.BNGradSums(x[ch*hw:], dy[ch*hw:], n, hw, ld, mean[ch], ga, gbias, relu)
			sgx *= float64(inv[ch])
			gg[ch] += float32(sgx)
			gb[ch] += float32(sg)
			sums[ch], sums[c+ch] = sg, sgx
		}
	})
	if err := bn.Comm.AllReduce(sums, dist.Sum); err != nil {
		return fmt.Errorf("backbone: %s.Backward: summing the gradient: %w", bn.label(), err)
	}
	if dx == nil {
		return nil
	}
	total := ws.count
	kernel.ParallelFor(c, bnGrain(c, cnt), func(lo, hi int) {
		for ch := lo; ch < hi; ch++ {
			is := inv[ch]
			ga := gamma[ch] * is
			gbias := beta[ch] - mean[ch]*ga
			c0 := float32(sums[ch] / total)
			c1 := float32(sums[c+ch]/total) * is
			kernel.BNGrad(dx[ch*hw:], x[ch*hw:], dy[ch*hw:], n, hw, ld, mean[ch], ga, gbias, ga, c0, c1, relu, true)
		}
	})
	return nil
}

// walkLayers calls f on l and on every layer of the package's containers
// inside it.
func walkLayers(l Layer, f func(Layer)) {
	f(l)
	switch v := l.(type) {
	case *Sequential:
		for _, c := range v.Layers {
			walkLayers(c, f)
		}
	case *ConvNet3:
		walkLayers(v.Sequential, f)
	case *MLP:
		walkLayers(v.Sequential, f)
	case *ResNet18:
		walkLayers(v.Sequential, f)
	case *BasicBlock:
		for _, bn := range []*BatchNorm{v.BN1, v.BN2, v.DownBN} {
			if bn != nil {
				f(bn)
			}
		}
	}
}
