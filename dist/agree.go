package dist

import (
	"errors"
	"fmt"

	"ssl"
)

// sentinels are the errors Agree carries from rank to rank, by index.
var sentinels = []error{nil, ssl.ErrShape, ssl.ErrParam, ssl.ErrNotFinite, ssl.ErrFormat, ErrComm}

// Agree makes the outcome of each rank's own argument checks known to
// every rank before the first collective of a distributed call, so that a
// rank whose arguments are bad does not leave the others waiting: every
// rank calls it with its checks' error (nil if they passed), with one
// all-reduce of two integers. It returns the rank's own error if it has
// one; else, if another rank failed, an error naming the lowest failing
// rank that wraps the same ssl sentinel as that rank's error (ErrComm if
// it wraps none); else the all-reduce's error, or nil.
func Agree(c Comm, err error) error {
	size := int64(c.Size())
	v := []int64{0}
	if err != nil {
		code := int64(len(sentinels) - 1)
		for i, s := range sentinels[1:] {
			if errors.Is(err, s) {
				code = int64(i + 1)
				break
			}
		}
		// The lowest failing rank has the largest value.
		v[0] = (size-int64(c.Rank()))*int64(len(sentinels)) + code
	}
	if rerr := c.AllReduceInt64(v, Max); rerr != nil {
		if err != nil {
			return err
		}
		return rerr
	}
	if err != nil {
		return err
	}
	if v[0] == 0 {
		return nil
	}
	rank := size - v[0]/int64(len(sentinels))
	return fmt.Errorf("dist: rank %d of %d rejected its arguments: %w", rank, size, sentinels[v[0]%int64(len(sentinels))])
}
