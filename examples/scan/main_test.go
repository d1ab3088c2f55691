package main

import (
	"bytes"
	"io"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"ssl"
	"ssl/examples/internal/run"
	"ssl/examples/internal/runtest"
)

// One pretext epoch.
func TestSmoke(t *testing.T) {
	r := runtest.Smoke(t, "scan", scan)
	if r.HeadACC <= 0 {
		t.Errorf("scan: the cluster head was not evaluated: %+v", r)
	}
	if r.RefitImages < 20 || r.RefitRounds < 1 || r.RefitRounds > 10 || r.ReliableImages < 20 || r.PropagatedACC <= 0 {
		t.Errorf("scan: the head was not refitted to its reliable pseudo-labels or they were not propagated: %+v", r)
	}
}

// The default pretext is SwAV: its prototypes are trained and saved
// with unit rows; -pretext-method simclr has none.
func TestPretextMethods(t *testing.T) {
	for _, method := range []string{"swav", "simclr"} {
		out := t.TempDir()
		args := append(append([]string(nil), runtest.Tiny...), "-epochs", "1", "-out", out, "-pretext-method", method)
		if err := scan(args, io.Discard); err != nil {
			t.Fatalf("scan -pretext-method %s: %v", method, err)
		}
		ckpt := runtest.ReadCheckpoint(t, out)
		_, shape, ok := ckpt.Info("prototypes.weight")
		if method == "simclr" {
			if ok {
				t.Errorf("-pretext-method simclr: the checkpoint holds prototypes %v", shape)
			}
			continue
		}
		if !ok {
			t.Fatalf("-pretext-method swav: no prototypes in the checkpoint (%v)", ckpt.Names())
		}
		w := ssl.New(prototypes, 64)
		if err := ckpt.Float32(w, "prototypes.weight"); err != nil {
			t.Fatal(err)
		}
		_, d, _ := ssl.View(w)
		for k := range prototypes {
			var n float64
			for _, v := range d[k*64 : (k+1)*64] {
				n += float64(v) * float64(v)
			}
			if math.Abs(n-1) > 1e-4 {
				t.Errorf("prototype %d: squared norm %g, want 1", k, n)
			}
		}
	}
}

// The clustering takes the last -cluster-epochs, at most half the run
// after a pretext; -pretext, when set, and -pretrained decide instead.
func TestPhases(t *testing.T) {
	for _, c := range []struct {
		epochs, cluster int
		frac            float64
		pretrained      bool
		want            int
	}{
		{53, 12, -1, false, 41}, {10, 12, -1, false, 5}, {10, 3, -1, false, 7}, {2, 12, -1, false, 1},
		{1, 12, -1, false, 1}, {10, 12, 0, false, 0}, {10, 12, 0.7, false, 7}, {12, 12, -1, true, 0}, {12, 1, 0.5, true, 0},
	} {
		if got := phases(c.epochs, c.cluster, c.frac, c.pretrained); got != c.want {
			t.Errorf("phases(%d epochs, -cluster-epochs %d, -pretext %g, pretrained %t) = %d, want %d", c.epochs, c.cluster, c.frac, c.pretrained, got, c.want)
		}
	}
}

// Neighbor mining and the SCAN loss from the first epoch, the head kept
// by either rule.
func TestSmokeClustering(t *testing.T) {
	runtest.Smoke(t, "scan", scan, "-pretext", "0", "-selflabel", "0")
	runtest.Smoke(t, "scan", scan, "-pretext", "0", "-selflabel", "0", "-choose", "agreement")
}

// Self-labelling (a threshold the tiny run's head reaches).
func TestSmokeSelfLabel(t *testing.T) {
	runtest.Smoke(t, "scan", scan, "-pretext", "0", "-selflabel", "1", "-threshold", "0.2")
}

// Pretext, then SCAN from mined neighbors: the neighbors are state.
func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, scan) }

// Pretext, then self-labelling.
func TestResumeSelfLabel(t *testing.T) {
	runtest.Resume(t, scan, "-selflabel", "0.5", "-threshold", "0.2")
}

// -pretrained starts from another run's ConvNet3: with the clustering
// rates at 0 the backbone's weights stay those of the file.
func TestPretrained(t *testing.T) {
	first := pretrain(t)
	ckpt := filepath.Join(first, run.CheckpointName)
	second := t.TempDir()
	args := append(append([]string(nil), runtest.Tiny...), "-epochs", "1", "-out", second,
		"-pretrained", ckpt, "-cluster-lr", "0", "-backbone-ratio", "0")
	if err := scan(args, io.Discard); err != nil {
		t.Fatal(err)
	}
	if moved := backboneMoved(t, first, second); moved != "" {
		t.Errorf("%s differs from the pretrained checkpoint's", moved)
	}
	bad := append(append([]string(nil), runtest.Tiny...), "-epochs", "1", "-out", t.TempDir(), "-pretrained", filepath.Join(first, "missing.safetensors"))
	if err := scan(bad, io.Discard); err == nil || !strings.Contains(err.Error(), "missing.safetensors") {
		t.Errorf("scan with a missing -pretrained file: err = %v, want one naming the file", err)
	}
}

// -selflabel-lr trains the backbone while self-labelling although the
// clustering phase kept it frozen (-backbone-ratio 0); without it the
// backbone stays the pretrained one.
// (1024 images and 3 SCAN epochs: the fewest after which every cluster of
// the kept head holds an image, so that self-labelling starts.)
func TestSelfLabelLR(t *testing.T) {
	first := pretrain(t, "-limit", "1024", "-epochs", "2")
	for _, lr := range []string{"0", "1e-3"} {
		out := t.TempDir()
		args := append(append([]string(nil), runtest.Tiny...), "-limit", "1024", "-epochs", "4", "-out", out,
			"-pretrained", filepath.Join(first, run.CheckpointName), "-backbone-ratio", "0",
			"-selflabel", "0.25", "-threshold", "0", "-selflabel-lr", lr)
		if err := scan(args, io.Discard); err != nil {
			t.Fatal(err)
		}
		if moved, want := backboneMoved(t, first, out), lr != "0"; (moved != "") != want {
			t.Errorf("-selflabel-lr %s: backbone weight changed: %q, want a change: %v", lr, moved, want)
		}
	}
	bad := append(append([]string(nil), runtest.Tiny...), "-epochs", "1", "-out", t.TempDir(), "-selflabel-lr", "-1")
	if err := scan(bad, io.Discard); err == nil || !strings.Contains(err.Error(), "-selflabel-lr -1") {
		t.Errorf("scan -selflabel-lr -1: err = %v, want one naming the flag", err)
	}
}

// pretrain runs a tiny pretext (one epoch unless extra says) and returns
// its -out folder.
func pretrain(t *testing.T, extra ...string) string {
	t.Helper()
	out := t.TempDir()
	args := append(append(append([]string(nil), runtest.Tiny...), "-epochs", "1", "-out", out), extra...)
	if err := scan(args, io.Discard); err != nil {
		t.Fatal(err)
	}
	return out
}

// backboneMoved returns the first ConvNet3 weight whose bytes differ
// between the checkpoints of the two -out folders ("" if none).
func backboneMoved(t *testing.T, a, b string) string {
	t.Helper()
	ca, cb := runtest.ReadCheckpoint(t, a), runtest.ReadCheckpoint(t, b)
	for _, name := range []string{"conv1.weight", "conv2.weight", "conv3.weight"} {
		_, _, x, okA := ca.Raw(name)
		_, _, y, okB := cb.Raw(name)
		if !okA || !okB || !bytes.Equal(x, y) {
			return name
		}
	}
	return ""
}

// Each bad setting is an error that names its flag and value.
func TestBadFlags(t *testing.T) {
	for _, c := range [][2]string{
		{"-reliable", "1.5"}, {"-reliable", "0"}, {"-reliable", "-0.1"}, {"-neighbors", "0"}, {"-heads", "0"}, {"-threshold", "1"},
		{"-pretext-method", "byol"}, {"-local", "-1"}, {"-cluster-epochs", "0"}, {"-pretext", "1.5"}, {"-pretext", "-0.5"}, {"-selflabel", "2"}, {"-refit-rounds", "0"}, {"-choose", "best"},
	} {
		args := append(append([]string(nil), runtest.Tiny...), "-epochs", "1", "-out", t.TempDir(), c[0], c[1])
		if err := scan(args, io.Discard); err == nil || !strings.Contains(err.Error(), c[0]+" "+c[1]) {
			t.Errorf("scan %s %s: err = %v, want one naming the flag", c[0], c[1], err)
		}
	}
}
