package run

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"ssl/backbone"
)

// CheckpointName is the checkpoint's file name inside -out.
const CheckpointName = "checkpoint.safetensors"

// statePrefix begins the names of the method's state in a checkpoint.
const statePrefix = "state."

// params returns every float32 tensor of the state under a unique name:
// the network's own names, "opt." + the optimizer's, "state." + the
// method's.
func (t *Trainer) params() []*backbone.Param {
	var ps []*backbone.Param
	ps = append(ps, t.state.Params...)
	ps = append(ps, t.state.Buffers...)
	if t.state.Opt != nil {
		for _, p := range t.state.Opt.State() {
			ps = append(ps, &backbone.Param{Name: "opt." + p.Name, Value: p.Value})
		}
	}
	for _, p := range t.state.Extra {
		ps = append(ps, &backbone.Param{Name: statePrefix + p.Name, Value: p.Value})
	}
	return ps
}

// record is an EpochRecord that survives JSON (no NaN there).
type record struct {
	Epoch int      `json:"epoch"`
	Loss  *float64 `json:"loss"`
	KNN   *float64 `json:"knn"`
}

func finite(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

func value(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}

// save writes the checkpoint atomically (see writeAtomic); in a -dist job
// rank 0 alone writes it.
func (t *Trainer) save() error {
	if !t.cfg.root() {
		return nil
	}
	recs := make([]record, len(t.records))
	for i, r := range t.records {
		recs[i] = record{r.Epoch, finite(r.Loss), finite(r.KNNTop1)}
	}
	rj, err := json.Marshal(recs)
	if err != nil {
		return err
	}
	meta := map[string]string{
		"method":        t.cfg.Method,
		"seed":          strconv.FormatUint(t.cfg.Seed, 10),
		"batch":         strconv.Itoa(t.cfg.Batch),
		"epochs":        strconv.Itoa(t.cfg.Epochs),
		"train_images":  strconv.Itoa(t.data.Train.N),
		"epoch":         strconv.Itoa(t.epoch),
		"step":          strconv.Itoa(t.step),
		"loss_sum":      strconv.FormatFloat(t.lossSum, 'g', -1, 64),
		"loss_n":        strconv.Itoa(t.lossN),
		"train_seconds": strconv.FormatFloat(t.trained.Seconds(), 'g', -1, 64),
		"images":        strconv.FormatInt(t.images, 10),
		"records":       string(rj),
	}
	if n := t.cfg.Ranks(); n > 1 {
		meta["ranks"] = strconv.Itoa(n) // absent: one rank
	}
	c, err := t.checkpoint(meta)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		return err
	}
	return writeAtomic(filepath.Join(t.cfg.Out, CheckpointName), buf.Bytes())
}

// checkpoint returns the state as a checkpoint with metadata meta.
func (t *Trainer) checkpoint(meta map[string]string) (*backbone.Checkpoint, error) {
	c := backbone.NewCheckpoint()
	c.Metadata = meta
	if err := c.SetParams(t.params()); err != nil {
		return nil, err
	}
	for _, st := range t.state.Saved {
		if err := st.Save(c, statePrefix); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// restore loads the checkpoint of cfg.Out into the state and the loop's
// position. The run's seed, batch, epochs and data must match.
func (t *Trainer) restore() error {
	path := filepath.Join(t.cfg.Out, CheckpointName)
	c, err := readFile(path)
	if err != nil {
		return fmt.Errorf("%s: -resume: %w", t.cfg.Method, err)
	}
	meta := c.Metadata
	want := map[string]string{
		"method":       t.cfg.Method,
		"seed":         strconv.FormatUint(t.cfg.Seed, 10),
		"batch":        strconv.Itoa(t.cfg.Batch),
		"epochs":       strconv.Itoa(t.cfg.Epochs),
		"train_images": strconv.Itoa(t.data.Train.N),
		"ranks":        strconv.Itoa(t.cfg.Ranks()),
	}
	for k, v := range want {
		got := meta[k]
		if k == "ranks" && got == "" {
			got = "1" // save writes ranks only for a job of more than one
		}
		if got != v {
			return fmt.Errorf("%s: -resume: the checkpoint has %s=%s, this run %s=%s", t.cfg.Method, k, got, k, v)
		}
	}
	if err := c.LoadParams(t.params()); err != nil {
		return fmt.Errorf("%s: -resume: %s: %w", t.cfg.Method, path, err)
	}
	for _, st := range t.state.Saved {
		if err := st.Load(c, statePrefix); err != nil {
			return fmt.Errorf("%s: -resume: %s: %w", t.cfg.Method, path, err)
		}
	}
	ints := map[string]*int{"epoch": &t.epoch, "step": &t.step, "loss_n": &t.lossN}
	for k, p := range ints {
		if *p, err = strconv.Atoi(meta[k]); err != nil {
			return fmt.Errorf("%s: -resume: %s: %w", t.cfg.Method, k, err)
		}
	}
	if t.lossSum, err = strconv.ParseFloat(meta["loss_sum"], 64); err != nil {
		return err
	}
	secs, err := strconv.ParseFloat(meta["train_seconds"], 64)
	if err != nil {
		return err
	}
	t.trained = time.Duration(secs * float64(time.Second))
	if t.images, err = strconv.ParseInt(meta["images"], 10, 64); err != nil {
		return err
	}
	var recs []record
	if err := json.Unmarshal([]byte(meta["records"]), &recs); err != nil {
		return err
	}
	t.records = t.records[:0]
	for _, r := range recs {
		t.records = append(t.records, EpochRecord{Epoch: r.Epoch, Loss: value(r.Loss), KNNTop1: value(r.KNN)})
	}
	t.cfg.logf("%s: resumed from %s at epoch %d step %d\n", t.cfg.Method, path, t.epoch+1, t.step)
	return nil
}

// LoadWeights copies into ps the tensors of the same name from the
// checkpoint at path (another example's checkpoint.safetensors, for a
// method that starts from a pretext run); tensors the file holds beyond ps
// are ignored.
func LoadWeights(path string, ps []*backbone.Param) error {
	c, err := readFile(path)
	if err != nil {
		return err
	}
	if err := c.LoadParams(ps); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// writeAtomic replaces the file at path with data so that a reader, or a
// run killed at any instant (SIGKILL, power loss), finds either the old file
// or the new one whole: a temporary file in the same folder, synced, renamed
// over path, and the folder synced so that the rename itself is durable.
func writeAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// readFile reads the checkpoint at path; its errors name the file.
func readFile(path string) (*backbone.Checkpoint, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err // *PathError: names the file
	}
	defer f.Close()
	c, err := backbone.ReadCheckpoint(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}
