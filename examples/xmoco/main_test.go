package main

import (
	"testing"

	"ssl/examples/internal/runtest"
)

func TestSmoke(t *testing.T) { runtest.Smoke(t, "xmoco", xmoco) }

func TestSmokePlainMoCo(t *testing.T) { runtest.Smoke(t, "xmoco", xmoco, "-regularizer=false") }

func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, xmoco, "-queue", "200") }
