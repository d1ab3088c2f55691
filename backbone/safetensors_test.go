package backbone_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"testing"

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
	f, err := backbone.ParseSafetensors(file)
	if err != nil {
		t.Fatal(err)
	}
	dtype, shape, raw, ok := f.Tensor("bn1.num_batches_tracked")
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
			if !errors.Is(err, backbone.ErrFormat) || !errors.Is(err, ssl.ErrShape) {
				t.Errorf("err = %v, want ErrFormat and ErrShape", err)
			}
			testutil.Unchanged(t, "w", dst.Value, before)
		})
	}
	// Every proper prefix of a valid file is rejected.
	for n := range len(good) {
		if _, err := backbone.ParseSafetensors(good[:n]); err == nil {
			t.Fatalf("ParseSafetensors accepted a file truncated to %d of %d bytes", n, len(good))
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

func FuzzParseSafetensors(f *testing.F) {
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
		st, err := backbone.ParseSafetensors(file)
		if err != nil {
			if !errors.Is(err, backbone.ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		size := map[string]int{"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2, "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8}
		for _, name := range st.Names() {
			dtype, shape, raw, ok := st.Tensor(name)
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
