package ssl_test

import (
	"errors"
	"testing"

	"ssl"
	"ssl/assign"
	"ssl/backbone"
	"ssl/cuda"
	"ssl/dataset"
	"ssl/probe"
	"ssl/sinkhorn"
)

// TestSentinelsWrapRoot checks that every package's own sentinel wraps the
// root's, so one errors.Is test covers every package.
func TestSentinelsWrapRoot(t *testing.T) {
	for _, tc := range []struct {
		name      string
		err, root error
	}{
		{"sinkhorn.ErrNotConverged", sinkhorn.ErrNotConverged, ssl.ErrNotConverged},
		{"assign.ErrNotConverged", assign.ErrNotConverged, ssl.ErrNotConverged},
		{"probe.ErrNotConverged", probe.ErrNotConverged, ssl.ErrNotConverged},
		{"cuda.ErrNotConverged", cuda.ErrNotConverged, ssl.ErrNotConverged},
		{"backbone.ErrFormat", backbone.ErrFormat, ssl.ErrFormat},
		{"dataset.ErrFormat", dataset.ErrFormat, ssl.ErrFormat},
	} {
		if !errors.Is(tc.err, tc.root) {
			t.Errorf("errors.Is(%s, %v) = false", tc.name, tc.root)
		}
		for _, other := range []error{ssl.ErrShape, ssl.ErrParam, ssl.ErrNotFinite} {
			if errors.Is(tc.err, other) {
				t.Errorf("%s also wraps %v: a usable result or a bad file is not bad input", tc.name, other)
			}
		}
	}
}
