package run

import (
	"fmt"

	"ssl"
	"ssl/backbone"
)

// Labels holds a method's pseudo-labels, one in [0, K) per training image,
// as checkpointable state (an integer tensor of the checkpoint).
type Labels struct {
	name string
	k    int
	v    []int
}

// NewLabels returns n labels in [0, k), all 0, saved under name.
func NewLabels(name string, n, k int) *Labels {
	return &Labels{name: name, k: k, v: make([]int, n)}
}

// Set stores labels (one per image).
func (l *Labels) Set(labels []int) { copy(l.v, labels) }

// Gather returns the labels of the images ids into dst.
func (l *Labels) Gather(dst []int, ids []int) []int {
	dst = dst[:0]
	for _, i := range ids {
		dst = append(dst, l.v[i])
	}
	return dst
}

// All returns every label; the caller must not modify them.
func (l *Labels) All() []int { return l.v }

// Used returns the number of distinct labels in use.
func (l *Labels) Used() int {
	seen := make([]bool, l.k)
	used := 0
	for _, v := range l.v {
		if !seen[v] {
			seen[v], used = true, used+1
		}
	}
	return used
}

// Save stores the labels in c.
func (l *Labels) Save(c *backbone.Checkpoint, prefix string) error {
	return c.SetInts(prefix+l.name, l.v)
}

// Load restores the labels from c; each must be in [0, K).
func (l *Labels) Load(c *backbone.Checkpoint, prefix string) error {
	v, err := c.Ints(prefix+l.name, len(l.v))
	if err != nil {
		return err
	}
	for i, y := range v {
		if y < 0 || y >= l.k {
			return fmt.Errorf("run: Labels.Load: %s[%d] is out of range [0, %d) (%s[%d]=%d): %w", prefix+l.name, i, l.k, prefix+l.name, i, y, ssl.ErrFormat)
		}
	}
	copy(l.v, v)
	return nil
}
