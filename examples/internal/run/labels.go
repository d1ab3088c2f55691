package run

import (
	"ssl"
	"ssl/backbone"
	"ssl/internal/kernel"
)

// Labels holds a method's pseudo-labels as checkpointable state: one
// float32 per training image (exact for any label below 2^24).
type Labels struct {
	P *backbone.Param
}

// NewLabels returns n labels, all 0, saved under name.
func NewLabels(name string, n int) *Labels {
	return &Labels{P: &backbone.Param{Name: name, Value: ssl.New(n)}}
}

// Set stores labels.
func (l *Labels) Set(labels []int) {
	d := l.P.Data()
	for i, v := range labels {
		d[i] = float32(v)
	}
}

// Gather returns the labels of the images ids into dst.
func (l *Labels) Gather(dst []int, ids []int) []int {
	d := l.P.Data()
	dst = dst[:0]
	for _, i := range ids {
		dst = append(dst, int(d[i]))
	}
	return dst
}

// All returns every label.
func (l *Labels) All() []int {
	d := l.P.Data()
	out := make([]int, len(d))
	for i, v := range d {
		out[i] = int(v)
	}
	return out
}

// Used returns the number of distinct labels in use.
func (l *Labels) Used() int {
	seen := map[float32]bool{}
	for _, v := range l.P.Data() {
		seen[v] = true
	}
	return len(seen)
}

// SoftmaxRows replaces each row of the matrix t by its softmax.
func SoftmaxRows(t ssl.Tensor) error {
	rows, cols, d, err := ssl.Matrix(t)
	if err != nil {
		return err
	}
	kernel.SoftmaxRows(d, d, rows, cols)
	return nil
}
