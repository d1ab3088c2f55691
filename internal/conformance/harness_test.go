package conformance_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"ssl/internal/conformance"
)

// recorder is a testing.TB that records failures and skips instead of
// acting on them, so the harness's own verdicts can be tested.
type recorder struct {
	testing.TB
	failed, skipped bool
	msgs            []string
}

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.failed = true
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	runtime.Goexit()
}
func (r *recorder) Skipf(format string, args ...any) {
	r.skipped = true
	r.msgs = append(r.msgs, fmt.Sprintf(format, args...))
	runtime.Goexit()
}

// record runs fn against a fresh recorder on its own goroutine, so Fatalf
// and Skipf can end it as they end a test.
func record(t *testing.T, fn func(tb testing.TB)) *recorder {
	r := &recorder{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(r)
	}()
	<-done
	return r
}

const caseJSON = `{
  "kind": "test.scale", "case": "n3", "method": "test",
  "params": {"alpha": 2, "name": "x", "flag": true},
  "inputs": {"x": {"shape": [3], "data": [1, -2, 3]}},
  "outputs": {"y": {"shape": [3], "data": [2, -4, 6]}},
  "tolerance": {"rtol": 1e-6, "atol": 1e-9}
}`

func writeCase(t *testing.T, dir, name, body string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func scaleRunner(wrong bool) conformance.Runner {
	return func(t testing.TB, c *conformance.Case) {
		x := c.In(t, "x").Data
		alpha := c.Float(t, "alpha")
		y := make([]float64, len(x))
		for i, v := range x {
			y[i] = alpha * v
		}
		if wrong {
			y[1] += 0.5
		}
		c.Check(t, "y", y)
	}
}

func TestHarnessRightRunnerPasses(t *testing.T) {
	c, err := conformance.Load(writeCase(t, t.TempDir(), "scale__n3.json", caseJSON))
	if err != nil {
		t.Fatal(err)
	}
	r := record(t, func(tb testing.TB) {
		conformance.RunCase(tb, map[string]conformance.Runner{"test.scale": scaleRunner(false)}, c)
	})
	if r.failed || r.skipped {
		t.Errorf("correct runner: failed=%v skipped=%v %v", r.failed, r.skipped, r.msgs)
	}
}

func TestHarnessWrongRunnerFails(t *testing.T) {
	c, err := conformance.Load(writeCase(t, t.TempDir(), "scale__n3.json", caseJSON))
	if err != nil {
		t.Fatal(err)
	}
	r := record(t, func(tb testing.TB) {
		conformance.RunCase(tb, map[string]conformance.Runner{"test.scale": scaleRunner(true)}, c)
	})
	if !r.failed {
		t.Fatal("a runner with a wrong output passed")
	}
	msg := strings.Join(r.msgs, "\n")
	for _, want := range []string{"output y", "[1]", "abs err", "rel err"} {
		if !strings.Contains(msg, want) {
			t.Errorf("failure message %q does not name %q", msg, want)
		}
	}
}

func TestHarnessMissingKindSkips(t *testing.T) {
	c, err := conformance.Load(writeCase(t, t.TempDir(), "scale__n3.json", caseJSON))
	if err != nil {
		t.Fatal(err)
	}
	r := record(t, func(tb testing.TB) { conformance.RunCase(tb, nil, c) })
	if !r.skipped || r.failed {
		t.Fatalf("missing kind: skipped=%v failed=%v", r.skipped, r.failed)
	}
	if !strings.Contains(strings.Join(r.msgs, ""), "test.scale") {
		t.Errorf("skip message %q does not name the kind", r.msgs)
	}
}

func TestHarnessMalformed(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"syntax.json":   `{"kind": "test.scale", `,
		"shape.json":    strings.Replace(caseJSON, `"shape": [3], "data": [1, -2, 3]`, `"shape": [4], "data": [1, -2, 3]`, 1),
		"nokind.json":   strings.Replace(caseJSON, `"kind": "test.scale",`, ``, 1),
		"nooutput.json": strings.Replace(caseJSON, `"y": {"shape": [3], "data": [2, -4, 6]}`, ``, 1),
	} {
		path := writeCase(t, dir, name, body)
		_, err := conformance.Load(path)
		if err == nil {
			t.Errorf("Load(%s) accepted a malformed case", name)
			continue
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("Load(%s) error %q does not name the path", name, err)
		}
	}
}

func TestCompare(t *testing.T) {
	if err := conformance.Compare([]float64{1, 2}, []float64{1, 2 + 1e-9}, 0, 1e-6); err != nil {
		t.Errorf("Compare within tolerance: %v", err)
	}
	nan := []float64{0}
	nan[0] = nan[0] / nan[0]
	if err := conformance.Compare(nan, []float64{0}, 1, 1); !errors.Is(err, conformance.ErrMismatch) {
		t.Errorf("Compare(NaN) = %v, want ErrMismatch", err)
	}
	if err := conformance.Compare([]float64{1}, []float64{1, 2}, 1, 1); !errors.Is(err, conformance.ErrMismatch) {
		t.Errorf("Compare(length mismatch) = %v, want ErrMismatch", err)
	}
	err := conformance.Compare([]float64{1, 5, 3.1}, []float64{1, 2, 3}, 0, 0.01)
	if err == nil || !strings.Contains(err.Error(), "[1]") {
		t.Errorf("Compare worst element: %v, want index [1]", err)
	}
}

func TestDirsFromEnv(t *testing.T) {
	t.Setenv("SSL_VECTORS", "/a:/b::")
	got := conformance.Dirs("def")
	if strings.Join(got, ",") != "def,/a,/b" {
		t.Errorf("Dirs = %v, want [def /a /b]", got)
	}
}

// TestVectorsCopy checks that the testdata copy holds every area and its
// KINDS files, and that every case in it loads.
func TestVectorsCopy(t *testing.T) {
	for _, f := range []string{"FORMAT.md", "sinkhorn/KINDS.md", "assign/KINDS.md", "augment/KINDS.md", "backbone/KINDS.md", "probe/KINDS.md"} {
		if _, err := os.Stat(filepath.Join("testdata/vectors", f)); err != nil {
			t.Errorf("testdata copy lacks %s: %v", f, err)
		}
	}
	files, err := conformance.Files("testdata/vectors")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 100 {
		t.Errorf("testdata copy has %d cases, want the full set", len(files))
	}
	for _, f := range files {
		if _, err := conformance.Load(f); err != nil {
			t.Error(err)
		}
	}
}
