package run

import (
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"ssl"
	"ssl/backbone"
)

// writerEnv names the folder a re-executed test binary writes checkpoints
// into, in a loop, until it is killed (TestCheckpointSurvivesSIGKILL).
const writerEnv = "SSL_RUN_CHECKPOINT_WRITER"

// checkpointGeneration returns a checkpoint of a 1 M-element tensor whose
// every element, and whose metadata, hold the generation g: a file torn
// between two generations is visible.
func checkpointGeneration(t testing.TB, g int) []byte {
	v := make([]float32, 1<<20)
	for i := range v {
		v[i] = float32(g)
	}
	c := backbone.NewCheckpoint()
	c.Metadata = map[string]string{"generation": strconv.Itoa(g)}
	if err := c.SetFloat32("w", ssl.FromSlice(v, len(v))); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if _, err := c.WriteTo(&b); err != nil {
		t.Fatal(err)
	}
	return []byte(b.String())
}

// TestCheckpointWriter is the child of TestCheckpointSurvivesSIGKILL: it
// runs only when re-executed with writerEnv set.
func TestCheckpointWriter(t *testing.T) {
	dir := os.Getenv(writerEnv)
	if dir == "" {
		t.Skip("the child process of TestCheckpointSurvivesSIGKILL")
	}
	path := filepath.Join(dir, CheckpointName)
	for g := 1; ; g++ {
		if err := writeAtomic(path, checkpointGeneration(t, g)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCheckpointSurvivesSIGKILL kills a process that rewrites its
// checkpoint in a loop at several instants and checks that the checkpoint
// left behind is always one whole generation.
func TestCheckpointSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("starts child processes")
	}
	for i, wait := range []time.Duration{0, 3 * time.Millisecond, 17 * time.Millisecond, 41 * time.Millisecond} {
		dir := t.TempDir()
		cmd := exec.Command(os.Args[0], "-test.run=^TestCheckpointWriter$")
		cmd.Env = append(os.Environ(), writerEnv+"="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, CheckpointName)
		deadline := time.Now().Add(30 * time.Second)
		for {
			if _, err := os.Stat(path); err == nil || time.Now().After(deadline) {
				break
			}
			time.Sleep(time.Millisecond)
		}
		time.Sleep(wait)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		c, err := readFile(path)
		if err != nil {
			t.Fatalf("kill %d (after %v): the checkpoint left behind does not load: %v", i, wait, err)
		}
		g, err := strconv.Atoi(c.Metadata["generation"])
		if err != nil || g < 1 {
			t.Fatalf("kill %d: generation %q", i, c.Metadata["generation"])
		}
		w := ssl.New(1 << 20)
		if err := c.Float32(w, "w"); err != nil {
			t.Fatal(err)
		}
		wv, _ := ssl.Vector(w)
		for j, v := range wv {
			if v != float32(g) {
				t.Fatalf("kill %d: generation %d holds w[%d] = %v: a torn file", i, g, j, v)
			}
		}
	}
}

// tinyTrainer returns a trainer of method on 128 embedded images whose
// state is one d×3 parameter, writing into out.
func tinyTrainer(t *testing.T, method, out string, d int, resume bool) (*Trainer, error) {
	t.Helper()
	args := []string{"-embedded", "-limit", "128", "-batch", "64", "-quiet", "-out", out, "-epochs", "1"}
	if resume {
		args = append(args, "-resume")
	}
	cfg, err := Parse(method, Defaults{EpochsEmbedded: 1, EpochsFull: 1}, args, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	data, err := LoadData(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p := &backbone.Param{Name: "w", Value: ssl.New(d, 3), Grad: ssl.New(d, 3)}
	return NewTrainer(cfg, data, nil, State{Params: []*backbone.Param{p}})
}

func TestResumeRefusesForeignCheckpoints(t *testing.T) {
	out := t.TempDir()
	tr, err := tinyTrainer(t, "simclr", out, 2, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.save(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(out, CheckpointName)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	// Another example's checkpoint.
	if _, err := tinyTrainer(t, "swav", out, 2, true); err == nil || !strings.Contains(err.Error(), "method=simclr") {
		t.Errorf("resume of a simclr checkpoint as swav: %v, want an error naming method=simclr", err)
	}
	// Another shape.
	if _, err := tinyTrainer(t, "simclr", out, 5, true); !errors.Is(err, ssl.ErrShape) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), `"w"`) && !strings.Contains(err.Error(), "w:") {
		t.Errorf("resume into a 5×3 parameter from a 2×3 one: %v, want ErrShape naming the file and tensor w", err)
	}
	// Truncated and corrupt files.
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"truncated", good[:len(good)-7]},
		{"header_cut", good[:12]},
		{"corrupt_header", append(append([]byte(nil), good[:8]...), append([]byte("{\"w\":{\"dtype\":"), good[22:]...)...)},
	} {
		if err := os.WriteFile(path, tc.data, 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := tinyTrainer(t, "simclr", out, 2, true)
		if !errors.Is(err, ssl.ErrFormat) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "byte") && !strings.Contains(err.Error(), "offset") && !strings.Contains(err.Error(), "header") {
			t.Errorf("%s checkpoint: %v, want ErrFormat naming %s and the offset or header field", tc.name, err, path)
		}
	}
	// The intact file still resumes.
	if err := os.WriteFile(path, good, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := tinyTrainer(t, "simclr", out, 2, true); err != nil {
		t.Errorf("resume of the intact checkpoint: %v", err)
	}
}
