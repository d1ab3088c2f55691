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
	"strings"

	"ssl"
)

// ErrFormat is wrapped by the errors of [ReadCheckpoint] and
// [LoadSafetensors] for a file that is not valid safetensors (truncated,
// corrupt, or against the specification). It wraps ssl.ErrFormat.
var ErrFormat = fmt.Errorf("backbone: %w", ssl.ErrFormat)

// maxHeader bounds the JSON header as the reference implementation
// (huggingface/safetensors, MAX_HEADER_SIZE) does: 100 MB.
const maxHeader = 100 << 20

// stDtypeSize holds the element size of every dtype of the safetensors
// specification.
var stDtypeSize = map[string]int{
	"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
	"I16": 2, "U16": 2, "F16": 2, "BF16": 2,
	"I32": 4, "U32": 4, "F32": 4,
	"I64": 8, "U64": 8, "F64": 8,
}

// stEntry is one tensor of the JSON header.
type stEntry struct {
	Dtype       string    `json:"dtype"`
	Shape       []int     `json:"shape"`
	DataOffsets [2]uint64 `json:"data_offsets"`
}

// stTensor is one tensor of a checkpoint: its dtype, shape and
// little-endian bytes.
type stTensor struct {
	dtype string
	shape []int
	raw   []byte
}

// Checkpoint is a set of named tensors and string metadata, read from and
// written to a file in the safetensors format (huggingface/safetensors):
// the state of a training run beyond its parameters, such as a queue or a
// memory bank (float32 N×D), pseudo-labels ([]int of N, stored as I64),
// neighbor lists (N×k ints), the optimizer's state and the position of the
// loop in the metadata. The zero value is an empty checkpoint ready to use.
//
// The Set methods copy their data into the checkpoint (replacing a tensor
// of the same name) and the getters copy it out, so the checkpoint is a
// snapshot that later changes to the program's buffers do not touch.
// Float32 tensors are "F32", Go ints and int64 "I64", int32 "I32"; a file
// may hold any dtype of the specification, which [Checkpoint.Raw] returns
// as bytes. Getters check the dtype and shape and return an error wrapping
// ssl.ErrShape, naming the tensor, for a missing name or a tensor of
// another dtype or shape. A Checkpoint is not safe for concurrent use.
type Checkpoint struct {
	// Metadata is the file's "__metadata__": free-form strings.
	Metadata map[string]string

	tensors map[string]*stTensor
	order   []string // the order of first Set, or of the file's data
}

// NewCheckpoint returns an empty checkpoint; new(Checkpoint) is the same.
func NewCheckpoint() *Checkpoint { return new(Checkpoint) }

// checkName returns an error wrapping ssl.ErrParam for a name the format
// reserves.
func checkName(fn, name string) error {
	if name == "" || name == "__metadata__" {
		return fmt.Errorf("backbone: %s: reserved or empty tensor name %q: %w", fn, name, ssl.ErrParam)
	}
	return nil
}

// shapeFor returns shape, or [n] if shape is empty, after checking that it
// holds n elements.
func shapeFor(fn, name string, n int, shape []int) ([]int, error) {
	if len(shape) == 0 {
		return []int{n}, nil
	}
	m := 1
	for _, d := range shape {
		if d < 0 {
			return nil, fmt.Errorf("backbone: %s: tensor %q: negative dimension in shape %v: %w", fn, name, shape, ssl.ErrShape)
		}
		m *= d
	}
	if m != n {
		return nil, fmt.Errorf("backbone: %s: tensor %q: shape %v holds %d values, got %d: %w", fn, name, shape, m, n, ssl.ErrShape)
	}
	return append([]int(nil), shape...), nil
}

func (c *Checkpoint) put(name, dtype string, shape []int, raw []byte) {
	if c.tensors == nil {
		c.tensors = map[string]*stTensor{}
	}
	if _, ok := c.tensors[name]; !ok {
		c.order = append(c.order, name)
	}
	c.tensors[name] = &stTensor{dtype: dtype, shape: shape, raw: raw}
}

func f32Bytes(x []float32) []byte {
	raw := make([]byte, 0, 4*len(x))
	for _, v := range x {
		raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(v))
	}
	return raw
}

// SetFloat32 stores a copy of t, with its shape, as the float32 tensor
// name. It returns an error wrapping ssl.ErrParam for a reserved name ("",
// "__metadata__") and ssl.ErrShape for a tensor that is not a contiguous
// float32 one.
func (c *Checkpoint) SetFloat32(name string, t ssl.Tensor) error {
	const fn = "Checkpoint.SetFloat32"
	if err := checkName(fn, name); err != nil {
		return err
	}
	shape, data, err := ssl.View(t)
	if err != nil {
		return fmt.Errorf("backbone: %s: tensor %q: %w", fn, name, err)
	}
	c.put(name, "F32", shape, f32Bytes(data))
	return nil
}

// SetParams stores a copy of the value of every tensor of ps (a network's
// Params and Buffers, an optimizer's State) under its name, as
// [Checkpoint.SetFloat32] does; gradients are not stored. It checks ps
// first and returns an error wrapping ssl.ErrParam, storing nothing, for a
// nil tensor, a reserved name or a name that appears twice in ps.
func (c *Checkpoint) SetParams(ps []*Param) error {
	const fn = "Checkpoint.SetParams"
	seen := make(map[string]bool, len(ps))
	for i, p := range ps {
		if p == nil || p.Value == nil {
			return fmt.Errorf("backbone: %s: tensor %d is nil: %w", fn, i, ssl.ErrParam)
		}
		if err := checkName(fn, p.Name); err != nil {
			return err
		}
		if seen[p.Name] {
			return fmt.Errorf("backbone: %s: name %q appears twice: %w", fn, p.Name, ssl.ErrParam)
		}
		seen[p.Name] = true
	}
	for _, p := range ps {
		shape := p.Shape()
		if shape == nil {
			shape = []int{}
		}
		c.put(p.Name, "F32", shape, f32Bytes(p.Data()))
	}
	return nil
}

// SetInt64 stores a copy of v as the I64 tensor name of the given shape
// (default: a vector of len(v)). It returns an error wrapping ssl.ErrParam
// for a reserved name and ssl.ErrShape for a shape that does not hold
// len(v) values.
func (c *Checkpoint) SetInt64(name string, v []int64, shape ...int) error {
	return setInts(c, "Checkpoint.SetInt64", name, "I64", v, shape)
}

// SetInts stores a copy of v as the I64 tensor name of the given shape
// (default: a vector of len(v)): pseudo-labels, cluster assignments, an
// N×k neighbor list in row-major order. Errors are those of
// [Checkpoint.SetInt64].
func (c *Checkpoint) SetInts(name string, v []int, shape ...int) error {
	return setInts(c, "Checkpoint.SetInts", name, "I64", v, shape)
}

// SetInt32 stores a copy of v as the I32 tensor name of the given shape
// (default: a vector of len(v)). Errors are those of [Checkpoint.SetInt64].
func (c *Checkpoint) SetInt32(name string, v []int32, shape ...int) error {
	return setInts(c, "Checkpoint.SetInt32", name, "I32", v, shape)
}

// setInts stores a little-endian copy of v as the integer tensor name of
// dtype I64 (8 bytes an element) or I32 (4 bytes).
func setInts[T int | int64 | int32](c *Checkpoint, fn, name, dtype string, v []T, shape []int) error {
	if err := checkName(fn, name); err != nil {
		return err
	}
	s, err := shapeFor(fn, name, len(v), shape)
	if err != nil {
		return err
	}
	var raw []byte
	if dtype == "I32" {
		raw = make([]byte, 0, 4*len(v))
		for _, x := range v {
			raw = binary.LittleEndian.AppendUint32(raw, uint32(int32(x)))
		}
	} else {
		raw = make([]byte, 0, 8*len(v))
		for _, x := range v {
			raw = binary.LittleEndian.AppendUint64(raw, uint64(int64(x)))
		}
	}
	c.put(name, dtype, s, raw)
	return nil
}

// Names returns the names of the tensors, sorted.
func (c *Checkpoint) Names() []string {
	names := append([]string(nil), c.order...)
	sort.Strings(names)
	return names
}

// Info returns the dtype ("F32", "I64", …) and shape of the tensor name,
// and whether it exists.
func (c *Checkpoint) Info(name string) (dtype string, shape []int, ok bool) {
	t, ok := c.tensors[name]
	if !ok {
		return "", nil, false
	}
	return t.dtype, append([]int(nil), t.shape...), true
}

// Raw returns the dtype, shape and little-endian bytes of the tensor name,
// of any dtype, and whether it exists. The bytes are the checkpoint's own:
// read them, do not modify them.
func (c *Checkpoint) Raw(name string) (dtype string, shape []int, raw []byte, ok bool) {
	t, ok := c.tensors[name]
	if !ok {
		return "", nil, nil, false
	}
	return t.dtype, append([]int(nil), t.shape...), t.raw, true
}

// lookup returns the tensor name after checking its dtype (one of dtypes)
// and, if shape is not empty, its shape.
func (c *Checkpoint) lookup(fn, name string, shape []int, dtypes ...string) (*stTensor, error) {
	t, ok := c.tensors[name]
	if !ok {
		return nil, fmt.Errorf("backbone: %s: tensor %q is missing from the checkpoint: %w", fn, name, ssl.ErrShape)
	}
	found := false
	for _, d := range dtypes {
		found = found || t.dtype == d
	}
	if !found {
		return nil, fmt.Errorf("backbone: %s: tensor %q has dtype %s, want %s: %w", fn, name, t.dtype, strings.Join(dtypes, " or "), ssl.ErrShape)
	}
	if len(shape) > 0 && !sameInts(t.shape, shape) {
		return nil, fmt.Errorf("backbone: %s: tensor %q has shape %v in the checkpoint, want %v: %w", fn, name, t.shape, shape, ssl.ErrShape)
	}
	return t, nil
}

// Float32 copies the F32 tensor name into dst, which must have its shape.
// It returns an error wrapping ssl.ErrShape, and writes nothing, for a
// missing tensor, another dtype or another shape.
func (c *Checkpoint) Float32(dst ssl.Tensor, name string) error {
	const fn = "Checkpoint.Float32"
	shape, d, err := ssl.View(dst)
	if err != nil {
		return fmt.Errorf("backbone: %s: dst: %w", fn, err)
	}
	t, err := c.lookup(fn, name, nil, "F32")
	if err != nil {
		return err
	}
	if !sameInts(t.shape, shape) {
		return fmt.Errorf("backbone: %s: tensor %q has shape %v in the checkpoint, dst has %v: %w", fn, name, t.shape, shape, ssl.ErrShape)
	}
	for i := range d {
		d[i] = math.Float32frombits(binary.LittleEndian.Uint32(t.raw[4*i:]))
	}
	return nil
}

// LoadParams copies into the value of every tensor of ps the F32 tensor of
// the same name and shape. Tensors of the checkpoint that ps does not name
// are ignored (so a PyTorch state_dict with num_batches_tracked loads). It
// checks every tensor of ps before writing any and returns an error
// wrapping ssl.ErrShape, naming the tensor, for a missing one or one of
// another dtype or shape.
func (c *Checkpoint) LoadParams(ps []*Param) error {
	const fn = "Checkpoint.LoadParams"
	for i, p := range ps {
		if p == nil || p.Value == nil {
			return fmt.Errorf("backbone: %s: tensor %d is nil: %w", fn, i, ssl.ErrParam)
		}
		if _, err := c.lookup(fn, p.Name, nil, "F32"); err != nil {
			return err
		}
		if t, want := c.tensors[p.Name], p.Shape(); !sameInts(t.shape, want) {
			return fmt.Errorf("backbone: %s: tensor %q has shape %v in the checkpoint, want %v: %w", fn, p.Name, t.shape, want, ssl.ErrShape)
		}
	}
	for _, p := range ps {
		raw, d := c.tensors[p.Name].raw, p.Data()
		for i := range d {
			d[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	}
	return nil
}

// Int64s returns a copy of the I64 tensor name, in row-major order. If
// shape is given, the tensor must have that shape. It returns an error
// wrapping ssl.ErrShape for a missing tensor, another dtype or another
// shape.
func (c *Checkpoint) Int64s(name string, shape ...int) ([]int64, error) {
	t, err := c.lookup("Checkpoint.Int64s", name, shape, "I64")
	if err != nil {
		return nil, err
	}
	v := make([]int64, len(t.raw)/8)
	for i := range v {
		v[i] = int64(binary.LittleEndian.Uint64(t.raw[8*i:]))
	}
	return v, nil
}

// Int32s returns a copy of the I32 tensor name; see [Checkpoint.Int64s].
func (c *Checkpoint) Int32s(name string, shape ...int) ([]int32, error) {
	t, err := c.lookup("Checkpoint.Int32s", name, shape, "I32")
	if err != nil {
		return nil, err
	}
	v := make([]int32, len(t.raw)/4)
	for i := range v {
		v[i] = int32(binary.LittleEndian.Uint32(t.raw[4*i:]))
	}
	return v, nil
}

// Ints returns a copy of the integer tensor name, I64 or I32, as Go ints:
// pseudo-labels = c.Ints("labels", n), neighbors = c.Ints("neighbors", n,
// k). If shape is given, the tensor must have that shape. It returns an
// error wrapping ssl.ErrShape for a missing tensor, another dtype or
// another shape, and one wrapping [ErrFormat] for a value that does not fit
// an int.
func (c *Checkpoint) Ints(name string, shape ...int) ([]int, error) {
	const fn = "Checkpoint.Ints"
	t, err := c.lookup(fn, name, shape, "I64", "I32")
	if err != nil {
		return nil, err
	}
	if t.dtype == "I32" {
		v := make([]int, len(t.raw)/4)
		for i := range v {
			v[i] = int(int32(binary.LittleEndian.Uint32(t.raw[4*i:])))
		}
		return v, nil
	}
	v := make([]int, len(t.raw)/8)
	for i := range v {
		x := int64(binary.LittleEndian.Uint64(t.raw[8*i:]))
		if int64(int(x)) != x {
			return nil, fmt.Errorf("backbone: %s: tensor %q: value %d at index %d does not fit an int: %w", fn, name, x, i, ErrFormat)
		}
		v[i] = int(x)
	}
	return v, nil
}

// WriteTo writes the checkpoint to w in the safetensors format: an 8-byte
// little-endian header length, a JSON header {"name": {"dtype", "shape",
// "data_offsets"}, "__metadata__": {…}} padded with spaces to a multiple
// of 8 bytes, then the little-endian data. Tensors of 8-byte dtypes come
// first, then 4-byte ones, each group in the order of first Set (as
// huggingface/safetensors orders by alignment), so every tensor is aligned
// to its element size. A file of float32 tensors loads with
// safetensors.torch.load_file, integer tensors as torch.int64 (I64) or
// torch.int32 (I32). It returns the number of bytes written and the
// writer's error.
func (c *Checkpoint) WriteTo(w io.Writer) (int64, error) {
	order := append([]string(nil), c.order...)
	sort.SliceStable(order, func(i, j int) bool {
		return stDtypeSize[c.tensors[order[i]].dtype] > stDtypeSize[c.tensors[order[j]].dtype]
	})
	header := make(map[string]any, len(order)+1)
	var off uint64
	for _, name := range order {
		t := c.tensors[name]
		n := uint64(len(t.raw))
		header[name] = stEntry{Dtype: t.dtype, Shape: t.shape, DataOffsets: [2]uint64{off, off + n}}
		off += n
	}
	if len(c.Metadata) > 0 {
		header["__metadata__"] = c.Metadata
	}
	js, err := json.Marshal(header)
	if err != nil {
		return 0, fmt.Errorf("backbone: Checkpoint.WriteTo: header: %w", err)
	}
	for len(js)%8 != 0 {
		js = append(js, ' ')
	}
	buf := make([]byte, 8, 8+len(js)+int(off))
	binary.LittleEndian.PutUint64(buf, uint64(len(js)))
	buf = append(buf, js...)
	for _, name := range order {
		buf = append(buf, c.tensors[name].raw...)
	}
	n, err := w.Write(buf)
	if err != nil {
		return int64(n), fmt.Errorf("backbone: Checkpoint.WriteTo: %w", err)
	}
	return int64(n), nil
}

func formatErr(format string, args ...any) error {
	return fmt.Errorf("backbone: ReadCheckpoint: %s: %w", fmt.Sprintf(format, args...), ErrFormat)
}

// ReadCheckpoint reads a whole safetensors file from r and validates it:
// the header length fits the file and the 100 MB limit, the header is a
// JSON object of tensors with known dtypes, non-negative shapes and
// offsets that match them, and the tensors tile the data section without
// gaps or overlaps, as the specification requires. A truncated or
// malformed file returns an error wrapping [ErrFormat] that names the byte
// offset in the file or the header field at fault; the reader's error is
// returned as it is.
func ReadCheckpoint(r io.Reader) (*Checkpoint, error) {
	file, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("backbone: ReadCheckpoint: %w", err)
	}
	return parseCheckpoint(file)
}

func parseCheckpoint(file []byte) (*Checkpoint, error) {
	size := uint64(len(file))
	if size < 8 {
		return nil, formatErr("file of %d bytes ends before the 8-byte header length at byte 0 (truncated?)", size)
	}
	n := binary.LittleEndian.Uint64(file)
	if n > maxHeader {
		return nil, formatErr("header length %d (bytes 0 to 7) exceeds the 100 MB limit", n)
	}
	if n > size-8 {
		return nil, formatErr("file of %d bytes ends inside the header, which bytes 8 to %d should hold (truncated?)", size, 8+n)
	}
	base := 8 + n // file offset of the data section
	hdr := file[8:base]
	if len(hdr) == 0 || hdr[0] != '{' {
		return nil, formatErr("header at byte 8 does not start with '{'")
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(hdr))
	if err := dec.Decode(&raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			at := 8 + se.Offset // the byte after the one at fault
			if se.Offset > 0 {
				at--
			}
			return nil, formatErr("header is not valid JSON at byte %d (%v)", at, err)
		}
		return nil, formatErr("header is not a JSON object (%v)", err)
	}
	if dec.More() {
		return nil, formatErr("trailing data after the header object at byte %d", 8+dec.InputOffset())
	}
	data := file[base:]
	c := &Checkpoint{tensors: make(map[string]*stTensor, len(raw))}
	type span struct {
		b, e uint64
		name string
	}
	var spans []span
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &c.Metadata); err != nil {
				return nil, formatErr("header field __metadata__ is not a map of strings (%v)", err)
			}
			continue
		}
		if name == "" {
			return nil, formatErr("header has a tensor with an empty name")
		}
		var e stEntry
		d := json.NewDecoder(bytes.NewReader(msg))
		d.DisallowUnknownFields()
		if err := d.Decode(&e); err != nil {
			return nil, formatErr("tensor %q: bad header entry (%v)", name, err)
		}
		esize, ok := stDtypeSize[e.Dtype]
		if !ok {
			return nil, formatErr("tensor %q: unknown dtype %q", name, e.Dtype)
		}
		if e.Shape == nil {
			return nil, formatErr("tensor %q: header entry has no shape", name)
		}
		elems := uint64(1)
		for _, s := range e.Shape {
			if s < 0 {
				return nil, formatErr("tensor %q: negative dimension in shape %v", name, e.Shape)
			}
			if s != 0 && elems > math.MaxUint64/8/uint64(s) {
				return nil, formatErr("tensor %q: shape %v overflows", name, e.Shape)
			}
			elems *= uint64(s)
		}
		b, end := e.DataOffsets[0], e.DataOffsets[1]
		if b > end || end-b != elems*uint64(esize) {
			return nil, formatErr("tensor %q: data_offsets [%d, %d] do not hold %v×%s (%d bytes)", name, b, end, e.Shape, e.Dtype, elems*uint64(esize))
		}
		if end > uint64(len(data)) {
			return nil, formatErr("tensor %q: data ends at byte %d of the file, which has %d bytes (truncated?)", name, base+end, size)
		}
		c.tensors[name] = &stTensor{dtype: e.Dtype, shape: e.Shape, raw: data[b:end:end]}
		spans = append(spans, span{b, end, name})
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
			return nil, formatErr("data section has a gap or an overlap at byte %d of the file (tensor %q starts at byte %d)", base+at, s.name, base+s.b)
		}
		at = s.e
		c.order = append(c.order, s.name)
	}
	if at != uint64(len(data)) {
		return nil, formatErr("the tensors end at byte %d, the file has %d bytes", base+at, size)
	}
	return c, nil
}

// SaveSafetensors writes the tensors ps (typically a network's Params and
// Buffers; gradients are not written) to w as a [Checkpoint] of float32
// ("F32") tensors in the order of ps, with the optional metadata strings.
// A file saved from a ConvNet3's Params and Buffers loads into the same
// PyTorch network with safetensors.torch.load_file and
// model.load_state_dict(…, strict=True): batch normalization's
// num_batches_tracked, which is not kept here, is filled in by PyTorch's
// BatchNorm when a state_dict lacks it. It returns an error wrapping
// ssl.ErrParam for a nil tensor or a duplicate or reserved name, and the
// writer's error.
func SaveSafetensors(w io.Writer, ps []*Param, metadata map[string]string) error {
	c := &Checkpoint{Metadata: metadata}
	if err := c.SetParams(ps); err != nil {
		return err
	}
	_, err := c.WriteTo(w)
	return err
}

// LoadSafetensors reads a safetensors file from r and copies into every
// tensor of ps (a network's Params and Buffers, or an optimizer's State)
// the file's tensor of the same name, as [Checkpoint.LoadParams] does. It
// returns the file's metadata. It reads and checks the whole file, and every
// tensor of ps, before writing anything: a truncated or malformed file
// returns an error wrapping [ErrFormat], and a missing tensor or one of
// another dtype or shape an error wrapping ssl.ErrShape that names it.
func LoadSafetensors(r io.Reader, ps []*Param) (map[string]string, error) {
	c, err := ReadCheckpoint(r)
	if err != nil {
		return nil, err
	}
	if err := c.LoadParams(ps); err != nil {
		return nil, err
	}
	return c.Metadata, nil
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
