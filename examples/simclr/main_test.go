package main

import (
	"testing"

	"ssl/examples/internal/runtest"
)

func TestSmoke(t *testing.T) { runtest.Smoke(t, "simclr", simclr) }

func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, simclr) }

func TestBudget(t *testing.T) { runtest.Budget(t, "simclr", simclr) }
