package backbone

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"

	"ssl"
)

// ErrFormat is wrapped, together with ssl.ErrShape, by the errors that
// [LoadSafetensors] returns for a file that is not valid safetensors.
var ErrFormat = errors.New("backbone: malformed safetensors file")

// maxHeader bounds the JSON header as the reference implementation
// (huggingface/safetensors, MAX_HEADER_SIZE) does: 100 MB.
const maxHeader = 100 << 20

// stDtypeSize holds the element size of every dtype of the safetensors
// specification.
var stDtypeSize = map[string]uint64{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

type stEntry struct {
	Dtype       string    `json:"dtype"`
	Shape       []int     `json:"shape"`
	DataOffsets [2]uint64 `json:"data_offsets"`
}

// SaveSafetensors writes the tensors ps (typically a network's Params and
// Buffers; gradients are not written) to w in the safetensors format, as
// float32 ("F32") with their names and shapes, followed by the optional
// metadata strings. The layout is the specification's
// (huggingface/safetensors): an 8-byte little-endian header length, a JSON
// header {"name": {"dtype", "shape", "data_offsets"}, "__metadata__": {…}}
// padded with spaces to a multiple of 8 bytes, then the little-endian data
// in the order of ps. A file saved from a ConvNet3's Params and Buffers
// loads into the same PyTorch network with safetensors.torch.load_file and
// model.load_state_dict(…, strict=True): batch normalization's
// num_batches_tracked, which is not kept here, is filled in by PyTorch's
// BatchNorm when a state_dict lacks it. It returns an error wrapping ssl.ErrParam for duplicate or reserved
// names, and the writer's error.
func SaveSafetensors(w io.Writer, ps []*Param, metadata map[string]string) error {
	header := make(map[string]any, len(ps)+1)
	var off uint64
	for _, p := range ps {
		if p == nil || p.Value == nil {
			return fmt.Errorf("backbone: SaveSafetensors: nil tensor: %w", ssl.ErrParam)
		}
		if p.Name == "__metadata__" || p.Name == "" {
			return fmt.Errorf("backbone: SaveSafetensors: reserved or empty name %q: %w", p.Name, ssl.ErrParam)
		}
		if _, dup := header[p.Name]; dup {
			return fmt.Errorf("backbone: SaveSafetensors: name %q appears twice: %w", p.Name, ssl.ErrParam)
		}
		n := uint64(len(p.Data())) * 4
		shape := p.Shape()
		if shape == nil {
			shape = []int{}
		}
		header[p.Name] = stEntry{Dtype: "F32", Shape: shape, DataOffsets: [2]uint64{off, off + n}}
		off += n
	}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	js, err := json.Marshal(header)
	if err != nil {
		return fmt.Errorf("backbone: SaveSafetensors: header: %w", err)
	}
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	buf := make([]byte, 8, 8+len(js)+int(off))
	binary.LittleEndian.PutUint64(buf, uint64(len(js)))
	buf = append(buf, js...)
	for _, p := range ps {
		for _, v := range p.Data() {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
	}
	if _, err := w.Write(buf); err != nil {
		return fmt.Errorf("backbone: SaveSafetensors: %w", err)
	}
	return nil
}

// SafetensorsFile is a parsed and validated safetensors file.
type SafetensorsFile struct {
	Metadata map[string]string
	entries  map[string]stEntry
	data     []byte
}

// Names returns the names of the tensors in the file, sorted.
func (f *SafetensorsFile) Names() []string {
	names := make([]string, 0, len(f.entries))
	for n := range f.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Tensor returns the dtype, shape and raw little-endian bytes of the
// tensor called name, and whether it exists.
func (f *SafetensorsFile) Tensor(name string) (dtype string, shape []int, raw []byte, ok bool) {
	e, ok := f.entries[name]
	if !ok {
		return "", nil, nil, false
	}
	return e.Dtype, append([]int(nil), e.Shape...), f.data[e.DataOffsets[0]:e.DataOffsets[1]], true
}

func formatErr(fn, format string, args ...any) error {
	return fmt.Errorf("backbone: %s: %s: %w: %w", fn, fmt.Sprintf(format, args...), ErrFormat, ssl.ErrShape)
}

// ParseSafetensors parses and validates a whole safetensors file: the
// header length fits the file and the 100 MB limit, the header is a JSON
// object of tensors with known dtypes, non-negative shapes and offsets that
// match them, and the tensors tile the data section without gaps or
// overlaps, as the specification requires. Errors wrap [ErrFormat] and
// ssl.ErrShape.
func ParseSafetensors(file []byte) (*SafetensorsFile, error) {
	const fn = "ParseSafetensors"
	if len(file) < 8 {
		return nil, formatErr(fn, "file of %d bytes has no header length", len(file))
	}
	n := binary.LittleEndian.Uint64(file)
	if n > maxHeader || n > uint64(len(file)-8) {
		return nil, formatErr(fn, "header length %d exceeds the file (%d bytes) or the 100 MB limit", n, len(file))
	}
	hdr := file[8 : 8+n]
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, formatErr(fn, "header does not start with '{'")
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if err := dec.Decode(&raw); err != nil {
		return nil, formatErr(fn, "header is not a JSON object (%v)", err)
	}
	if dec.More() {
		return nil, formatErr(fn, "trailing data after the header object")
	}
	f := &SafetensorsFile{entries: make(map[string]stEntry, len(raw)), data: file[8+n:]}
	type span struct{ b, e uint64 }
	var spans []span
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return nil, formatErr(fn, "__metadata__ is not a map of strings (%v)", err)
			}
			continue
		}
		var e stEntry
		d := json.NewDecoder(bytes.NewReader(msg))
		d.DisallowUnknownFields()
		if err := d.Decode(&e); err != nil {
			return nil, formatErr(fn, "tensor %q: bad entry (%v)", name, err)
		}
		size, ok := stDtypeSize[e.Dtype]
		if !ok {
			return nil, formatErr(fn, "tensor %q: unknown dtype %q", name, e.Dtype)
		}
		if e.Shape == nil {
			return nil, formatErr(fn, "tensor %q: no shape", name)
		}
		elems := uint64(1)
		for _, s := range e.Shape {
			if s < 0 {
				return nil, formatErr(fn, "tensor %q: negative dimension in shape %v", name, e.Shape)
			}
			if s != 0 && elems > math.MaxUint64/8/uint64(s) {
				return nil, formatErr(fn, "tensor %q: shape %v overflows", name, e.Shape)
			}
			elems *= uint64(s)
		}
		b, end := e.DataOffsets[0], e.DataOffsets[1]
		if b > end || end > uint64(len(f.data)) || end-b != elems*size {
			return nil, formatErr(fn, "tensor %q: data_offsets [%d, %d] do not hold %v×%s in a data section of %d bytes", name, b, end, e.Shape, e.Dtype, len(f.data))
		}
		f.entries[name] = e
		spans = append(spans, span{b, end})
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].b != spans[j].b {
			return spans[i].b < spans[j].b
		}
		return spans[i].e < spans[j].e
	})
	var at uint64
	for _, s := range spans {
		if s.b != at {
			return nil, formatErr(fn, "data section has a gap or an overlap at byte %d", at)
		}
		at = s.e
	}
	if at != uint64(len(f.data)) {
		return nil, formatErr(fn, "data section has %d bytes, the tensors cover %d", len(f.data), at)
	}
	return f, nil
}

// LoadSafetensors reads a safetensors file from r and copies into every
// tensor of ps (a network's Params and Buffers, or an optimizer's State)
// the file's tensor of the same name, which must be float32 ("F32") of the
// same shape; tensors of the file that ps does not name are ignored (so a
// PyTorch state_dict with num_batches_tracked loads). It returns the file's
// metadata. It reads and checks the whole file, and every tensor of ps,
// before writing anything: a truncated or malformed file returns an error
// wrapping [ErrFormat] and ssl.ErrShape, and a missing tensor or one of
// another dtype or shape an error wrapping ssl.ErrShape that names it.
func LoadSafetensors(r io.Reader, ps []*Param) (map[string]string, error) {
	file, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("backbone: LoadSafetensors: %w", err)
	}
	f, err := ParseSafetensors(file)
	if err != nil {
		return nil, err
	}
	for _, p := range ps {
		e, ok := f.entries[p.Name]
		if !ok {
			return nil, fmt.Errorf("backbone: LoadSafetensors: tensor %q is missing from the file: %w", p.Name, ssl.ErrShape)
		}
		if e.Dtype != "F32" {
			return nil, fmt.Errorf("backbone: LoadSafetensors: tensor %q has dtype %s, want F32: %w", p.Name, e.Dtype, ssl.ErrShape)
		}
		if want := p.Shape(); !sameInts(e.Shape, want) {
			return nil, fmt.Errorf("backbone: LoadSafetensors: tensor %q has shape %v in the file, want %v: %w", p.Name, e.Shape, want, ssl.ErrShape)
		}
	}
	for _, p := range ps {
		e := f.entries[p.Name]
		raw := f.data[e.DataOffsets[0]:e.DataOffsets[1]]
		d := p.Data()
		for i := range d {
			d[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	}
	return f.Metadata, nil
}

func sameInts(a, b []int) bool {
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
