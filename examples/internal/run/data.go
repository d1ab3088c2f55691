package run

import (
	"fmt"

	"ssl"
	"ssl/dataset"
)

// Normalization of the fmnist-ssl-v1 protocol (examples/PROTOCOL.md).
const (
	Mean = 0.2860
	Std  = 0.3530
)

// Data is the training and test split of a run.
type Data struct {
	Train, Test *dataset.Set
	// Full reports whether the full 60,000-image set is used.
	Full bool
}

// LoadData loads Fashion-MNIST as the config says and settles the default
// number of epochs for it.
func LoadData(c *Config) (*Data, error) {
	var train, test *dataset.Set
	var err error
	if c.Embedded {
		train, err = dataset.EmbeddedFashionMNIST(dataset.Train)
		if err == nil {
			test, err = dataset.EmbeddedFashionMNIST(dataset.Test)
		}
	} else {
		train, err = dataset.LoadFashionMNIST(c.Data, dataset.Train)
		if err == nil {
			test, err = dataset.LoadFashionMNIST(c.Data, dataset.Test)
		}
	}
	if err != nil {
		return nil, err
	}
	d := &Data{Train: train, Test: test, Full: train.N >= 60000}
	if c.Limit > 0 {
		if d.Train, err = firstN(train, c.Limit); err != nil {
			return nil, err
		}
		if d.Test, err = firstN(test, max(c.Limit/6, 50)); err != nil {
			return nil, err
		}
		d.Full = false
	}
	if d.Train.N < c.Batch {
		return nil, fmt.Errorf("%s: %d training images is fewer than one batch of %d", c.Method, d.Train.N, c.Batch)
	}
	if c.Epochs == 0 {
		c.Epochs = c.defEmbedded
		if d.Full {
			c.Epochs = c.defFull
		}
		c.Epochs = max(c.Epochs, 1)
	}
	if c.Calibrate > 0 {
		// A calibration pass needs its steps, whatever the epochs' length;
		// timed by duration, as many as it may take.
		spe := d.Train.N / c.Batch
		steps := c.Calibrate
		if c.CalibrateTime > 0 {
			steps = max(steps, calibrationMaxSteps)
		}
		c.Epochs = max(c.Epochs, (steps+spe-1)/spe)
	}
	return d, nil
}

func firstN(s *dataset.Set, n int) (*dataset.Set, error) {
	n = min(n, s.N)
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return s.Subset(idx)
}

// Normalized returns images ids of s as a normalized [len(ids), 1, 28, 28]
// tensor (into dst when it is not nil), as the evaluation feeds them.
func Normalized(dst ssl.Tensor, s *dataset.Set, ids []int) (ssl.Tensor, error) {
	if dst == nil {
		dst = ssl.New(len(ids), s.C, s.H, s.W)
	}
	if _, err := s.Batch(dst, ids); err != nil {
		return nil, err
	}
	_, d, err := ssl.View(dst)
	if err != nil {
		return nil, err
	}
	for i, v := range d {
		d[i] = (v - Mean) / Std
	}
	return dst, nil
}
