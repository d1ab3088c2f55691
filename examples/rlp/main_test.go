package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"ssl/examples/internal/run"
	"ssl/examples/internal/runtest"
)

func TestSmoke(t *testing.T) { runtest.Smoke(t, "rlp", rlp) }

// A tiny trained run, then -pretrained on its checkpoint: both write the
// table of 3 representations × 3 concept sets into result.json.
func TestTableAndPretrained(t *testing.T) {
	trained, probed := t.TempDir(), t.TempDir()
	tiny := append(append([]string(nil), runtest.Tiny...), "-epochs", "1", "-clusters", "8")
	if err := rlp(append(tiny, "-out", trained), io.Discard); err != nil {
		t.Fatal(err)
	}
	checkTable(t, trained, "")
	ckpt := filepath.Join(trained, run.CheckpointName)
	if err := rlp(append(tiny, "-out", probed, "-pretrained", ckpt, "-dress-with-tops"), io.Discard); err != nil {
		t.Fatal(err)
	}
	r := checkTable(t, probed, ckpt)
	if !r.RLP.DressWithTops || r.RLP.Rows[1].NumConcepts != 4 || r.RLP.Rows[2].NumConcepts != 14 {
		t.Errorf("-dress-with-tops: rows %+v", r.RLP.Rows[:3])
	}
}

func checkTable(t *testing.T, dir, pretrained string) Report {
	t.Helper()
	js, err := os.ReadFile(filepath.Join(dir, "result.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r Report
	if err := json.Unmarshal(js, &r); err != nil {
		t.Fatal(err)
	}
	if r.Result == nil || r.Method != "rlp" || r.RLP.Clusters != 8 || r.RLP.Pretrained != pretrained || len(r.RLP.Rows) != 9 {
		t.Fatalf("result.json: %s", js)
	}
	for _, row := range r.RLP.Rows {
		if !(row.NMI >= 0 && row.NMI <= 1) || !(row.Accuracy > 0 && row.Accuracy <= 1) || !(row.MIBound <= row.EntropyY) {
			t.Errorf("row %+v out of range", row)
		}
	}
	// Super-categories are a function of the classes: they cannot explain more.
	for i := 0; i < 9; i += 3 {
		if c, s := r.RLP.Rows[i], r.RLP.Rows[i+1]; s.MIBound > c.MIBound+1e-3 {
			t.Errorf("%s: super-categories bound %g above the classes' %g", c.Representation, s.MIBound, c.MIBound)
		}
	}
	return r
}

func TestResumeBitIdentical(t *testing.T) { runtest.Resume(t, rlp) }
