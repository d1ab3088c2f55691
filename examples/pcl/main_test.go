package main

import (
	"testing"

	"ssl/examples/internal/runtest"
)

func TestSmoke(t *testing.T) { runtest.Smoke(t, "pcl", pcl) }

// The prototypes join from the first epoch.
func TestSmokePrototypes(t *testing.T) { runtest.Smoke(t, "pcl", pcl, "-instance-epochs", "0") }

// The key encoder, the queue, the centroids, concentrations and labels are
// part of the state (the second epoch uses the prototypes).
func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, pcl) }
