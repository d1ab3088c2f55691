package backbone_test

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"ssl"
	"ssl/backbone"
	"ssl/internal/testutil"
)

func TestSafetensorsRoundTrip(t *testing.T) {
	src, err := backbone.NewConvNet3(testutil.Rand(1), &backbone.ConvNet3Options{Widths: [3]int{4, 8, 16}, ConvBias: true})
	if err != nil {
		t.Fatal(err)
	}
	// Make the running statistics non-trivial.
	ws := backbone.NewWorkspace()
	if err := src.Forward(ws, ssl.New(3, 16), testutil.RandN(testutil.Rand(2), 1, 3, 1, 28, 28), true); err != nil {
		t.Fatal(err)
	}
	all := append(src.Params(), src.Buffers()...)
	var buf bytes.Buffer
	meta := map[string]string{"format": "pt", "protocol": "fmnist-ssl-v1"}
	if err := backbone.SaveSafetensors(&buf, all, meta); err != nil {
		t.Fatal(err)
	}
	if hl := binary.LittleEndian.Uint64(buf.Bytes()); hl%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", hl)
	}
	dst, err := backbone.NewConvNet3(testutil.Rand(99), &backbone.ConvNet3Options{Widths: [3]int{4, 8, 16}, ConvBias: true})
	if err != nil {
		t.Fatal(err)
	}
	got, err := backbone.LoadSafetensors(bytes.NewReader(buf.Bytes()), append(dst.Params(), dst.Buffers()...))
	if err != nil {
		t.Fatal(err)
	}
	if got["protocol"] != "fmnist-ssl-v1" || got["format"] != "pt" {
		t.Errorf("metadata = %v, want %v", got, meta)
	}
	for i, p := range append(dst.Params(), dst.Buffers()...) {
		testutil.Unchanged(t, "loaded "+p.Name, p.Value, all[i].Value)
	}
}

func TestSafetensorsReference(t *testing.T) {
	// testdata/reference.safetensors was written by
	// testdata/gen_reference_safetensors.py, an independent writer that
	// lays the file out as huggingface/safetensors does.
	file, err := os.ReadFile("testdata/reference.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	conv, err := backbone.NewConv2D("conv1", 1, 2, 3, 1, 1, false, testutil.Rand(1))
	if err != nil {
		t.Fatal(err)
	}
	bn, err := backbone.NewBatchNorm("bn1", 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	ps := []*backbone.Param{conv.Weight, bn.Weight, bn.RunningVar}
	meta, err := backbone.LoadSafetensors(bytes.NewReader(file), ps)
	if err != nil {
		t.Fatal(err)
	}
	if meta["format"] != "pt" {
		t.Errorf("metadata = %v", meta)
	}
	for i, v := range conv.Weight.Data() {
		if want := float32(0.25*float64(i) - 2); v != want {
			t.Fatalf("conv1.weight[%d] = %v, want %v", i, v, want)
		}
	}
	if d := bn.Weight.Data(); d[0] != 1.5 || d[1] != -0.5 {
		t.Errorf("bn1.weight = %v, want [1.5 -0.5]", d)
	}
	if d := bn.RunningVar.Data(); d[0] != 0.75 || d[1] != 2 {
		t.Errorf("bn1.running_var = %v, want [0.75 2]", d)
	}
	f, err := backbone.ReadCheckpoint(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	dtype, shape, raw, ok := f.Raw("bn1.num_batches_tracked")
	if !ok || dtype != "I64" || len(shape) != 0 || binary.LittleEndian.Uint64(raw) != 7 {
		t.Errorf("num_batches_tracked = %v %v %v %v, want I64 [] 7", ok, dtype, shape, raw)
	}
	// The I64 counter cannot load into a float32 tensor.
	counter := &backbone.Param{Name: "bn1.num_batches_tracked", Value: ssl.New(1)}
	if _, err := backbone.LoadSafetensors(bytes.NewReader(file), []*backbone.Param{counter}); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("loading an I64 tensor into F32: err = %v, want ErrShape", err)
	}
}

func TestSafetensorsErrors(t *testing.T) {
	p := &backbone.Param{Name: "w", Value: testutil.RandN(testutil.Rand(3), 1, 2, 3)}
	var buf bytes.Buffer
	if err := backbone.SaveSafetensors(&buf, []*backbone.Param{p}, nil); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	header := func(js string, data int) []byte {
		b := binary.LittleEndian.AppendUint64(nil, uint64(len(js)))
		return append(append(b, js...), make([]byte, data)...)
	}
	for _, tc := range []struct {
		name string
		file []byte
	}{
		{"empty", nil},
		{"short_length", good[:5]},
		{"truncated_header", good[:20]},
		{"truncated_data", good[:len(good)-1]},
		{"header_too_long", binary.LittleEndian.AppendUint64(nil, 1<<40)},
		{"not_json", header("{nope}  ", 24)},
		{"not_object", header("[1,2,3] ", 0)},
		{"unknown_dtype", header(`{"w":{"dtype":"F31","shape":[2,3],"data_offsets":[0,24]}}`, 24)},
		{"offsets_mismatch", header(`{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,20]}}`, 24)},
		{"offsets_past_end", header(`{"w":{"dtype":"F32","shape":[2,3],"data_offsets":[8,32]}}`, 24)},
		{"gap", header(`{"w":{"dtype":"F32","shape":[2,2],"data_offsets":[8,24]}}`, 24)},
		{"overlap", header(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}`, 24)},
		{"negative_dim", header(`{"w":{"dtype":"F32","shape":[-2,-3],"data_offsets":[0,24]}}`, 24)},
		{"bad_metadata", header(`{"__metadata__":{"a":1}}`, 0)},
		{"trailing", header(`{} {}`, 0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := &backbone.Param{Name: "w", Value: ssl.New(2, 3)}
			before := testutil.Clone(dst.Value)
			_, err := backbone.LoadSafetensors(bytes.NewReader(tc.file), []*backbone.Param{dst})
			if !errors.Is(err, backbone.ErrFormat) || !errors.Is(err, ssl.ErrFormat) {
				t.Errorf("err = %v, want backbone.ErrFormat and ssl.ErrFormat", err)
			}
			testutil.Unchanged(t, "w", dst.Value, before)
		})
	}
	// Every proper prefix of a valid file is rejected.
	for n := range len(good) {
		if _, err := backbone.ReadCheckpoint(bytes.NewReader(good[:n])); err == nil {
			t.Fatalf("ReadCheckpoint accepted a file truncated to %d of %d bytes", n, len(good))
		}
	}
	// Missing tensors and wrong shapes name the tensor; nothing is written.
	a := &backbone.Param{Name: "w", Value: ssl.New(2, 3)}
	b := &backbone.Param{Name: "v", Value: ssl.New(1)}
	_, err := backbone.LoadSafetensors(bytes.NewReader(good), []*backbone.Param{a, b})
	if !errors.Is(err, ssl.ErrShape) || !bytes.Contains([]byte(err.Error()), []byte(`"v"`)) {
		t.Errorf("missing tensor: err = %v, want ErrShape naming v", err)
	}
	for _, v := range a.Data() {
		if v != 0 {
			t.Fatal("a failed load wrote into w")
		}
	}
	if _, err := backbone.LoadSafetensors(bytes.NewReader(good), []*backbone.Param{{Name: "w", Value: ssl.New(3, 2)}}); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("wrong shape: err = %v, want ErrShape", err)
	}
	if err := backbone.SaveSafetensors(&buf, []*backbone.Param{p, p}, nil); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("duplicate names: err = %v, want ErrParam", err)
	}
}

func FuzzReadCheckpoint(f *testing.F) {
	var buf bytes.Buffer
	p := &backbone.Param{Name: "w", Value: testutil.RandN(testutil.Rand(3), 1, 2, 3)}
	if err := backbone.SaveSafetensors(&buf, []*backbone.Param{p}, map[string]string{"k": "v"}); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	if ref, err := os.ReadFile("testdata/reference.safetensors"); err == nil {
		f.Add(ref)
	}
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, file []byte) {
		st, err := backbone.ReadCheckpoint(bytes.NewReader(file))
		if err != nil {
			if !errors.Is(err, backbone.ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		size := map[string]int{"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
		for _, name := range st.Names() {
			dtype, shape, raw, ok := st.Raw(name)
			n := size[dtype]
			for _, d := range shape {
				n *= d
			}
			if !ok || n != len(raw) {
				t.Fatalf("tensor %s: %s%v has %d bytes", name, dtype, shape, len(raw))
			}
			if dtype == "F32" {
				q := &backbone.Param{Name: name, Value: ssl.New(append([]int{1}, shape...)...)}
				if len(shape) > 0 {
					q.Value = ssl.New(shape...)
				}
				if len(shape) > 0 && n > 0 {
					if _, err := backbone.LoadSafetensors(bytes.NewReader(file), []*backbone.Param{q}); err != nil {
						t.Fatalf("valid F32 tensor %s does not load: %v", name, err)
					}
					for i, v := range q.Data() {
						if math.Float32bits(v) != binary.LittleEndian.Uint32(raw[4*i:]) {
							t.Fatalf("tensor %s[%d] loaded as %v", name, i, v)
						}
					}
				}
			}
		}
	})
}

// TestCheckpointRoundTrip writes float32 and integer state (a memory bank
// with special values, pseudo-labels, a neighbor list, int32 counts) and
// reads it back bit for bit, with every tensor aligned to its element size.
func TestCheckpointRoundTrip(t *testing.T) {
	bank := testutil.RandN(testutil.Rand(4), 1, 5, 3)
	d := testutil.Data(bank)
	d[0], d[1], d[2] = float32(math.Copysign(0, -1)), float32(math.Inf(-1)), math.Float32frombits(0x7fc00001) // -0, -Inf, a NaN payload
	d[3] = math.Float32frombits(1)                                                                            // the smallest subnormal
	labels := []int{3, 0, -1, math.MaxInt32 + 5, math.MinInt64}
	neighbors := []int{1, 2, 0, 2, 1, 0}
	big := []int64{math.MaxInt64, -2, 1 << 40}
	counts := []int32{math.MinInt32, 0, 7}

	c := backbone.NewCheckpoint()
	c.Metadata = map[string]string{"epoch": "3", "note": "ü ∑"}
	for _, err := range []error{
		c.SetFloat32("state.bank", bank),
		c.SetInts("state.labels", labels),
		c.SetInt32("state.counts", counts),
		c.SetInts("state.neighbors", neighbors, 3, 2),
		c.SetInt64("state.big", big),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	d[4] = 42 // the checkpoint holds a copy
	var buf bytes.Buffer
	n, err := c.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo = %d, %v; wrote %d bytes", n, err, buf.Len())
	}
	file := buf.Bytes()

	// Alignment: each tensor starts at a multiple of its element size.
	hl := binary.LittleEndian.Uint64(file)
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(file[8:8+hl], &hdr); err != nil {
		t.Fatal(err)
	}
	for name, msg := range hdr {
		if name == "__metadata__" {
			continue
		}
		var e struct {
			Dtype   string    `json:"dtype"`
			Offsets [2]uint64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(msg, &e); err != nil {
			t.Fatal(err)
		}
		size := map[string]uint64{"F32": 4, "I32": 4, "I64": 8}[e.Dtype]
		if (8+hl+e.Offsets[0])%size != 0 {
			t.Errorf("%s (%s) starts at byte %d, not aligned", name, e.Dtype, 8+hl+e.Offsets[0])
		}
	}

	got, err := backbone.ReadCheckpoint(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if got.Metadata["epoch"] != "3" || got.Metadata["note"] != "ü ∑" {
		t.Errorf("metadata = %v", got.Metadata)
	}
	if names := got.Names(); len(names) != 5 || names[0] != "state.bank" || names[4] != "state.neighbors" {
		t.Errorf("Names = %v", names)
	}
	if dtype, shape, ok := got.Info("state.neighbors"); !ok || dtype != "I64" || len(shape) != 2 || shape[0] != 3 || shape[1] != 2 {
		t.Errorf("Info(state.neighbors) = %s %v %v", dtype, shape, ok)
	}
	dst := ssl.New(5, 3)
	if err := got.Float32(dst, "state.bank"); err != nil {
		t.Fatal(err)
	}
	for i, v := range testutil.Data(dst) {
		want := d[i]
		if i == 4 {
			want = testutil.Data(testutil.RandN(testutil.Rand(4), 1, 5, 3))[4]
		}
		if math.Float32bits(v) != math.Float32bits(want) {
			t.Errorf("bank[%d] = %#x, want %#x", i, math.Float32bits(v), math.Float32bits(want))
		}
	}
	if v, err := got.Ints("state.labels", 5); err != nil || !slicesEqual(v, labels) {
		t.Errorf("Ints(labels) = %v, %v; want %v", v, err, labels)
	}
	if v, err := got.Ints("state.neighbors", 3, 2); err != nil || !slicesEqual(v, neighbors) {
		t.Errorf("Ints(neighbors) = %v, %v; want %v", v, err, neighbors)
	}
	if v, err := got.Int64s("state.big"); err != nil || !slicesEqual(v, big) {
		t.Errorf("Int64s(big) = %v, %v; want %v", v, err, big)
	}
	if v, err := got.Int32s("state.counts", 3); err != nil || !slicesEqual(v, counts) {
		t.Errorf("Int32s(counts) = %v, %v; want %v", v, err, counts)
	}
	if v, err := got.Ints("state.counts"); err != nil || v[0] != math.MinInt32 {
		t.Errorf("Ints of an I32 tensor = %v, %v", v, err)
	}
	// Writing what was read gives the same bytes.
	var again bytes.Buffer
	if _, err := got.WriteTo(&again); err != nil || !bytes.Equal(again.Bytes(), file) {
		t.Errorf("rewriting a read checkpoint changed its bytes (err %v)", err)
	}
}

func slicesEqual[T comparable](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestCheckpointErrors(t *testing.T) {
	c := backbone.NewCheckpoint()
	if err := c.SetFloat32("bank", ssl.New(2, 3)); err != nil {
		t.Fatal(err)
	}
	if err := c.SetInts("labels", []int{1, 2}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		err  error
		want error
		text string
	}{
		{"missing", func() error { _, err := c.Ints("nope"); return err }(), ssl.ErrShape, `"nope" is missing`},
		{"int_of_float", func() error { _, err := c.Ints("bank"); return err }(), ssl.ErrShape, "dtype F32, want I64 or I32"},
		{"int32_of_int64", func() error { _, err := c.Int32s("labels"); return err }(), ssl.ErrShape, "dtype I64, want I32"},
		{"int_shape", func() error { _, err := c.Ints("labels", 3); return err }(), ssl.ErrShape, "shape [2] in the checkpoint, want [3]"},
		{"float_of_int", c.Float32(ssl.New(2), "labels"), ssl.ErrShape, "dtype I64, want F32"},
		{"float_shape", c.Float32(ssl.New(3, 2), "bank"), ssl.ErrShape, "shape [2 3]"},
		{"load_missing", c.LoadParams([]*backbone.Param{{Name: "w", Value: ssl.New(1)}}), ssl.ErrShape, `"w" is missing`},
		{"reserved", c.SetInts("__metadata__", []int{1}), ssl.ErrParam, "reserved"},
		{"empty_name", c.SetFloat32("", ssl.New(1)), ssl.ErrParam, "reserved or empty"},
		{"set_shape", c.SetInts("nbrs", []int{1, 2, 3}, 2, 2), ssl.ErrShape, "holds 4 values, got 3"},
		{"set_not_float", c.SetFloat32("x", tensor.New(tensor.WithShape(2), tensor.Of(tensor.Float64))), ssl.ErrShape, "float32"},
		{"dup_params", c.SetParams([]*backbone.Param{{Name: "a", Value: ssl.New(1)}, {Name: "a", Value: ssl.New(1)}}), ssl.ErrParam, "twice"},
	} {
		if !errors.Is(tc.err, tc.want) || !strings.Contains(fmt.Sprint(tc.err), tc.text) {
			t.Errorf("%s: err = %v, want %v containing %q", tc.name, tc.err, tc.want, tc.text)
		}
	}
	if _, _, ok := c.Info("nbrs"); ok {
		t.Error("a failed Set stored a tensor")
	}
	if _, _, ok := c.Info("a"); ok {
		t.Error("a failed SetParams stored a tensor")
	}
	if !errors.Is(backbone.ErrFormat, ssl.ErrFormat) {
		t.Error("backbone.ErrFormat does not wrap ssl.ErrFormat")
	}
}

// TestCheckpointCorrupt: a truncated or corrupt file names the byte or the
// field at fault.
func TestCheckpointCorrupt(t *testing.T) {
	c := backbone.NewCheckpoint()
	if err := c.SetInts("labels", []int{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	good := buf.Bytes()
	hl := int(binary.LittleEndian.Uint64(good))
	badJSON := append([]byte(nil), good...)
	badJSON[8+1] = '#'
	unknown := bytes.Replace(append([]byte(nil), good...), []byte(`"I64"`), []byte(`"I65"`), 1)
	for _, tc := range []struct {
		name string
		file []byte
		text string
	}{
		{"truncated_length", good[:3], "byte 0"},
		{"truncated_header", good[:8+hl/2], fmt.Sprintf("bytes 8 to %d", 8+hl)},
		{"truncated_data", good[:len(good)-4], fmt.Sprintf("data ends at byte %d of the file, which has %d bytes", len(good), len(good)-4)},
		{"corrupt_json", badJSON, "at byte 9 "},
		{"unknown_dtype", unknown, `tensor "labels": unknown dtype "I65"`},
		{"trailing_bytes", append(append([]byte(nil), good...), 0, 0, 0, 0), fmt.Sprintf("the tensors end at byte %d", len(good))},
	} {
		_, err := backbone.ReadCheckpoint(bytes.NewReader(tc.file))
		if !errors.Is(err, ssl.ErrFormat) || !strings.Contains(fmt.Sprint(err), tc.text) {
			t.Errorf("%s: err = %v, want ssl.ErrFormat naming %q", tc.name, err, tc.text)
		}
	}
}

// TestCheckpointReference reads the integer tensors of the independently
// written testdata/reference.safetensors, and compares them, bit for bit,
// with the same state written by Checkpoint.
func TestCheckpointReference(t *testing.T) {
	file, err := os.ReadFile("testdata/reference.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := backbone.ReadCheckpoint(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	nbrs := []int64{1, 2, 0, 2, -1, 1 << 40}
	if v, err := ref.Int64s("state.neighbors", 3, 2); err != nil || !slicesEqual(v, nbrs) {
		t.Errorf("state.neighbors = %v, %v; want %v", v, err, nbrs)
	}
	labels := []int32{3, 0, -7, math.MaxInt32}
	if v, err := ref.Int32s("state.labels", 4); err != nil || !slicesEqual(v, labels) {
		t.Errorf("state.labels = %v, %v; want %v", v, err, labels)
	}
	c := backbone.NewCheckpoint()
	if err := c.SetInt64("state.neighbors", nbrs, 3, 2); err != nil {
		t.Fatal(err)
	}
	if err := c.SetInt32("state.labels", labels); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := c.WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	mine, err := backbone.ReadCheckpoint(&buf)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range mine.Names() {
		d1, s1, r1, _ := mine.Raw(name)
		d2, s2, r2, ok := ref.Raw(name)
		if !ok || d1 != d2 || !slicesEqual(s1, s2) || !bytes.Equal(r1, r2) {
			t.Errorf("%s: written %s%v %x, reference %s%v %x", name, d1, s1, r1, d2, s2, r2)
		}
	}
}
