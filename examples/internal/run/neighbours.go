package run

import (
	"ssl"
	"ssl/assign"
	"ssl/augment"
	"ssl/backbone"
)

// Neighbours holds SCAN's mined neighbour lists as checkpointable state:
// for each training image, the indices of its K nearest neighbours
// (itself among them, normally first), one float32 each (exact below 2^24).
type Neighbours struct {
	P *backbone.Param
	K int
}

// NewNeighbours returns lists of k+1 entries for n images, saved under
// name.
func NewNeighbours(name string, n, k int) *Neighbours {
	return &Neighbours{P: &backbone.Param{Name: name, Value: ssl.New(n, k+1)}, K: k}
}

// Mine fills the lists with the K nearest neighbours in cosine similarity
// of every row of feats (assign.MineNeighbors, SCAN's mining, the row itself
// included) and returns the fraction of neighbours whose label equals
// their image's: SCAN's purity diagnostic (labels are used for nothing
// else).
func (nb *Neighbours) Mine(feats ssl.Tensor, labels []int) (float64, error) {
	idx, _, err := assign.MineNeighbors(nil, nil, feats, nb.K, &assign.MineOptions{AllowZero: true})
	if err != nil {
		return 0, err
	}
	d, m, same := nb.P.Data(), nb.K+1, 0
	for i, j := range idx {
		d[i] = float32(j)
		if labels[i/m] == labels[j] {
			same++
		}
	}
	return float64(same) / float64(len(idx)), nil
}

// Draw returns in dst, for each image ids[i], one entry of its list drawn
// uniformly (SCAN's NeighborsDataset) from augment's stream of (seed,
// epoch, ids[i], view), so that a resumed run draws the same.
func (nb *Neighbours) Draw(dst, ids []int, seed, epoch uint64, view int) []int {
	d, m := nb.P.Data(), nb.K+1
	dst = dst[:0]
	for _, id := range ids {
		dst = append(dst, int(d[id*m+augment.Stream(seed, epoch, id, view).IntN(m)]))
	}
	return dst
}
