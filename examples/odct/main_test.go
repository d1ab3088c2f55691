package main

import (
	"testing"

	"ssl/examples/internal/runtest"
)

func TestSmoke(t *testing.T) { runtest.Smoke(t, "odct", odct) }

// The per-frame k-means labels survive a resume.
func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, odct) }

// Every frame's box stays inside the image and moves smoothly along its
// track.
func TestTrajectory(t *testing.T) {
	for id := range 200 {
		pt, pl, ps := trajectory(1, id, 0)
		for f := range frames {
			top, left, side := trajectory(1, id, f)
			if top < 0 || left < 0 || side < 8 || top+side > size || left+side > size {
				t.Fatalf("track %d frame %d: box top %d left %d side %d outside the image", id, f, top, left, side)
			}
			if abs(top-pt) > 3 || abs(left-pl) > 3 || abs(side-ps) > 3 {
				t.Errorf("track %d frame %d: box jumps from (%d,%d,%d) to (%d,%d,%d)", id, f, pt, pl, ps, top, left, side)
			}
			pt, pl, ps = top, left, side
		}
	}
}

func abs(x int) int { return max(x, -x) }
