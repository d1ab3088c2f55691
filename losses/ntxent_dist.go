package losses

import (
	"fmt"

	"ssl"
	"ssl/dist"
	"ssl/internal/check"
)

// ntxentGathered is NTXent with opts.Comm: the views of every rank are
// gathered, the global loss and gradients computed, and this rank's rows of
// the gradients, times Size, written out.
func ntxentGathered(dz1, dz2, z1, z2 ssl.Tensor, tau float64, opts *NTXentOptions) (float64, error) {
	const fn = "losses: NTXent"
	c := opts.Comm
	b, d, z1v, z2v, g1, g2, err := func() (b, d int, z1v, z2v, g1, g2 []float32, err error) {
		if b, d, z1v, err = check.Matrix(fn, "z1", z1); err != nil {
			return
		}
		if err = check.AtLeast(fn, "batch size B", b, 1); err != nil {
			return
		}
		if z2v, err = check.MatrixOf(fn, "z2", z2, b, d); err != nil {
			return
		}
		if g1, err = check.Dst(fn, "dz1", dz1, check.Shape2(b, d), z1v, z2v); err != nil {
			return
		}
		if g2, err = check.Dst(fn, "dz2", dz2, check.Shape2(b, d), z1v, z2v); err != nil {
			return
		}
		if err = check.Distinct(fn, []string{"dz1", "dz2"}, g1, g2); err != nil {
			return
		}
		_, err = positive32(fn, "tau", tau)
		return
	}()
	if err := dist.Agree(c, err); err != nil {
		return 0, err
	}
	size, rank := c.Size(), c.Rank()
	all1, all2 := make([]float32, size*b*d), make([]float32, size*b*d)
	if err := c.AllGather(all1, z1v); err != nil {
		return 0, fmt.Errorf("%s: gathering z1: %w", fn, err)
	}
	if err := c.AllGather(all2, z2v); err != nil {
		return 0, fmt.Errorf("%s: gathering z2: %w", fn, err)
	}
	var gd1, gd2 ssl.Tensor
	if g1 != nil {
		gd1 = ssl.New(size*b, d)
	}
	if g2 != nil {
		gd2 = ssl.New(size*b, d)
	}
	loss, err := NTXent(gd1, gd2, ssl.FromSlice(all1, size*b, d), ssl.FromSlice(all2, size*b, d), tau,
		&NTXentOptions{Workspace: opts.Workspace})
	if err != nil {
		return loss, err
	}
	scale := float32(size)
	for _, pair := range []struct {
		dst []float32
		all ssl.Tensor
	}{{g1, gd1}, {g2, gd2}} {
		if pair.dst == nil {
			continue
		}
		for i, v := range pair.all.Data().([]float32)[rank*b*d : (rank+1)*b*d] {
			pair.dst[i] = v * scale
		}
	}
	return loss, nil
}
