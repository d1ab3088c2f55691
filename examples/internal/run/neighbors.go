package run

import (
	"fmt"

	"ssl"
	"ssl/assign"
	"ssl/augment"
	"ssl/backbone"
)

// Neighbors holds SCAN's mined neighbor lists as checkpointable state (an
// N×(K+1) integer tensor of the checkpoint): for each training image, the
// indices of its K nearest neighbors and itself (normally first).
type Neighbors struct {
	name string
	n, k int
	idx  []int // n×(k+1)
}

// NewNeighbors returns lists of k+1 entries for n images, saved under
// name.
func NewNeighbors(name string, n, k int) *Neighbors {
	return &Neighbors{name: name, n: n, k: k, idx: make([]int, n*(k+1))}
}

// Mine fills the lists with the K nearest neighbors in cosine similarity
// of every row of feats (assign.MineNeighbors, SCAN's mining, the row itself
// included) and returns the fraction of neighbors whose label equals
// their image's: SCAN's purity diagnostic (labels are used for nothing
// else).
func (nb *Neighbors) Mine(feats ssl.Tensor, labels []int) (float64, error) {
	idx, _, err := assign.MineNeighbors(nb.idx, nil, feats, nb.k, &assign.MineNeighborsOptions{AllowZero: true})
	if err != nil {
		return 0, err
	}
	m, same := nb.k+1, 0
	for i, j := range idx {
		if labels[i/m] == labels[j] {
			same++
		}
	}
	return float64(same) / float64(len(idx)), nil
}

// Draw returns in dst, for each image ids[i], one entry of its list drawn
// uniformly (SCAN's NeighborsDataset) from augment's stream of (seed,
// epoch, ids[i], view), so that a resumed run draws the same.
func (nb *Neighbors) Draw(dst, ids []int, seed, epoch uint64, view int) []int {
	m := nb.k + 1
	dst = dst[:0]
	for _, id := range ids {
		dst = append(dst, nb.idx[id*m+augment.Stream(seed, epoch, id, view).IntN(m)])
	}
	return dst
}

// Of returns image i's list (its K neighbors and itself), a view.
func (nb *Neighbors) Of(i int) []int {
	m := nb.k + 1
	return nb.idx[i*m : (i+1)*m : (i+1)*m]
}

// Save stores the lists in c.
func (nb *Neighbors) Save(c *backbone.Checkpoint, prefix string) error {
	return c.SetInts(prefix+nb.name, nb.idx, nb.n, nb.k+1)
}

// Load restores the lists from c; each entry must be an image index.
func (nb *Neighbors) Load(c *backbone.Checkpoint, prefix string) error {
	name := prefix + nb.name
	v, err := c.Ints(name, nb.n, nb.k+1)
	if err != nil {
		return err
	}
	for i, j := range v {
		if j < 0 || j >= nb.n {
			return fmt.Errorf("run: Neighbors.Load: %s[%d,%d] is out of range [0, %d) (%s[%d,%d]=%d): %w",
				name, i/(nb.k+1), i%(nb.k+1), nb.n, name, i/(nb.k+1), i%(nb.k+1), j, ssl.ErrFormat)
		}
	}
	copy(nb.idx, v)
	return nil
}
