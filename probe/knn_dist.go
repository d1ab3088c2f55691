package probe

import (
	"fmt"

	"ssl"
	sslassign "ssl/assign"
	"ssl/dist"
	"ssl/internal/check"
)

// knnSharded is KNN with opts.Comm: the bank is sharded over the ranks.
func knnSharded(dst []int, bank ssl.Tensor, bankLabels []int, queries ssl.Tensor, numClasses, k int, tau float64, c dist.Comm) ([]int, error) {
	const fn = "probe: KNN"
	var n, m, d int
	err := func() error {
		var err error
		if n, d, _, err = checkFeatures(fn, "bank", bank); err != nil {
			return err
		}
		var dq int
		if m, dq, _, err = checkFeatures(fn, "queries", queries); err != nil {
			return err
		}
		if dq != d {
			return check.Errorf(fn, ssl.ErrShape, "queries have %d features, bank has %d", dq, d)
		}
		if k < 1 {
			return check.Errorf(fn, ssl.ErrParam, "k must be ≥ 1 (k=%d)", k)
		}
		return checkVote(fn, dst, bankLabels, n, m, numClasses, tau)
	}()
	if err := dist.Agree(c, err); err != nil {
		return nil, err
	}
	size, rank := c.Size(), c.Rank()
	// Every rank learns every shard's size and the others' arguments.
	const nv = 5
	mine := []int64{int64(n), int64(m), int64(d), int64(k), int64(numClasses)}
	all := make([]int64, nv*size)
	if err := c.AllGather(all, mine); err != nil {
		return nil, fmt.Errorf("%s: gathering the shard sizes: %w", fn, err)
	}
	var total, offset int
	for r := range size {
		v := all[r*nv : (r+1)*nv]
		for i, name := range []string{"queries' rows", "features", "K", "numClasses"} {
			if v[1+i] != all[1+i] {
				sentinel := ssl.ErrShape
				if i >= 2 {
					sentinel = ssl.ErrParam
				}
				return nil, check.Errorf(fn, sentinel, "%s differ across ranks (rank 0: %d, rank %d: %d)", name, all[1+i], r, v[1+i])
			}
		}
		if r < rank {
			offset += int(v[0])
		}
		total += int(v[0])
	}
	if k > total {
		return nil, check.Errorf(fn, ssl.ErrParam, "k must be in [1, bank size %d] (k=%d)", total, k)
	}

	// This shard's candidates: the nearest min(k, n) rows, padded to k with
	// entries that sort after every real one.
	kl := min(k, n)
	idx, sims, err := sslassign.Search(nil, nil, queries, bank, kl, &sslassign.SearchOptions{Normalize: true})
	if err := dist.Agree(c, err); err != nil {
		return nil, fmt.Errorf("%s: %w", fn, err)
	}
	const pad = int64(1) << 62
	candS := make([]float32, m*k)
	candI := make([]int64, 2*m*k) // global index, label
	for q := range m {
		for j := range k {
			t := q*k + j
			if j < kl {
				l := idx[q*kl+j]
				candS[t] = sims[q*kl+j]
				candI[2*t], candI[2*t+1] = int64(offset+l), int64(bankLabels[l])
			} else {
				candS[t] = -2 // below every cosine similarity
				candI[2*t], candI[2*t+1] = pad, 0
			}
		}
	}
	allS := make([]float32, size*m*k)
	allI := make([]int64, size*2*m*k)
	if err := c.AllGather(allS, candS); err != nil {
		return nil, fmt.Errorf("%s: gathering the candidates: %w", fn, err)
	}
	if err := c.AllGather(allI, candI); err != nil {
		return nil, fmt.Errorf("%s: gathering the candidates: %w", fn, err)
	}

	// Merge the ranks' sorted lists of each query into its global K
	// nearest: larger similarity first, then lower global index.
	nnS := make([]float32, m*k)
	nnL := make([]int, m*k)
	head := make([]int, size)
	for q := range m {
		clear(head)
		for j := range k {
			best := -1
			var bs float32
			var bi int64
			for r := range size {
				if head[r] == k {
					continue
				}
				t := r*m*k + q*k + head[r]
				s, i := allS[t], allI[2*t]
				if best < 0 || s > bs || (s == bs && i < bi) {
					best, bs, bi = r, s, i
				}
			}
			t := best*m*k + q*k + head[best]
			head[best]++
			nnS[q*k+j], nnL[q*k+j] = bs, int(allI[2*t+1])
		}
	}
	if dst == nil {
		dst = make([]int, m)
	}
	vote(dst, nnS, func(q, j int) int { return nnL[q*k+j] }, m, k, numClasses, tau)
	return dst, nil
}
