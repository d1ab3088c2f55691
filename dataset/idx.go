package dataset

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// IDX element types, the third byte of the magic number (LeCun's MNIST page,
// "THE IDX FILE FORMAT").
const (
	IDXUint8   = 0x08
	IDXInt8    = 0x09
	IDXInt16   = 0x0B
	IDXInt32   = 0x0C
	IDXFloat32 = 0x0D
	IDXFloat64 = 0x0E
)

// idxElemSize is the size in bytes of each IDX element type.
var idxElemSize = map[byte]int{IDXUint8: 1, IDXInt8: 1, IDXInt16: 2, IDXInt32: 4, IDXFloat32: 4, IDXFloat64: 8}

// maxIDXElems bounds the element count an IDX header may declare (2^34
// bytes of float64 data), so that size arithmetic cannot overflow.
const maxIDXElems = 1 << 31

// IDX is one IDX file: an n-dimensional array of one element type.
type IDX struct {
	// Type is the element type, one of IDXUint8 … IDXFloat64.
	Type byte
	// Dims holds the size of each dimension, outermost first.
	Dims []int
	// Data holds the elements in row-major order, as stored: big-endian.
	Data []byte
}

// Len returns the number of elements, the product of Dims.
func (x *IDX) Len() int {
	n := 1
	for _, d := range x.Dims {
		n *= d
	}
	return n
}

// Float64s returns the elements converted to float64.
func (x *IDX) Float64s() []float64 {
	out := make([]float64, x.Len())
	d := x.Data
	for i := range out {
		switch x.Type {
		case IDXUint8:
			out[i] = float64(d[i])
		case IDXInt8:
			out[i] = float64(int8(d[i]))
		case IDXInt16:
			out[i] = float64(int16(binary.BigEndian.Uint16(d[2*i:])))
		case IDXInt32:
			out[i] = float64(int32(binary.BigEndian.Uint32(d[4*i:])))
		case IDXFloat32:
			out[i] = float64(math.Float32frombits(binary.BigEndian.Uint32(d[4*i:])))
		case IDXFloat64:
			out[i] = math.Float64frombits(binary.BigEndian.Uint64(d[8*i:]))
		}
	}
	return out
}

// ReadIDX reads one IDX file from r, gzip-compressed or not (detected by its
// magic bytes); name is used in error messages. The format is a 4-byte magic
// number (two zero bytes, the element type, the number of dimensions), one
// big-endian uint32 per dimension, then the elements, big-endian, row-major.
// It returns an error wrapping [ErrFormat], naming the file and offset, for
// a bad magic number, an unknown type, zero dimensions, a truncated or
// over-long payload, or a corrupt gzip stream.
func ReadIDX(r io.Reader, name string) (*IDX, error) {
	s, err := newStream("ReadIDX", name, r)
	if err != nil {
		return nil, err
	}
	return readIDX(s)
}

// ReadIDXFile is [ReadIDX] on the file at path.
func ReadIDXFile(path string) (*IDX, error) {
	f, s, err := openFile("ReadIDX", path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readIDX(s)
}

func readIDX(s *stream) (*IDX, error) {
	var magic [4]byte
	if err := s.full(magic[:], "magic number"); err != nil {
		return nil, err
	}
	if magic[0] != 0 || magic[1] != 0 {
		s.off = 0
		return nil, s.errorf("bad magic number %02x%02x%02x%02x: want 0000 then type and rank", magic[0], magic[1], magic[2], magic[3])
	}
	size, ok := idxElemSize[magic[2]]
	if !ok {
		s.off = 2
		return nil, s.errorf("unknown element type 0x%02x", magic[2])
	}
	rank := int(magic[3])
	if rank == 0 {
		s.off = 3
		return nil, s.errorf("rank 0")
	}
	hdr := make([]byte, 4*rank)
	if err := s.full(hdr, "dimension sizes"); err != nil {
		return nil, err
	}
	x := &IDX{Type: magic[2], Dims: make([]int, rank)}
	n := int64(1)
	for i := range x.Dims {
		d := int64(binary.BigEndian.Uint32(hdr[4*i:]))
		x.Dims[i] = int(d)
		n *= d
		if n > maxIDXElems {
			return nil, s.errorf("dimensions %v… declare more than %d elements", x.Dims[:i+1], maxIDXElems)
		}
	}
	data, err := s.payload(n*int64(size), fmt.Sprintf("data of shape %v", x.Dims))
	if err != nil {
		return nil, err
	}
	x.Data = data
	if err := s.end(); err != nil {
		return nil, err
	}
	return x, nil
}

// IDXSet pairs an IDX image file (type uint8, shape [N, H, W]) with an IDX
// label file (type uint8, shape [N]) into a one-channel [Set]. Classes is
// classes if positive, else the largest label plus one. It returns an error
// wrapping [ErrFormat] if either file is malformed, has the wrong type or
// rank, if the counts differ, or if a label is not below a positive classes.
func IDXSet(images, labels *IDX, classes int, imagesName, labelsName string) (*Set, error) {
	if images.Type != IDXUint8 || len(images.Dims) != 3 {
		return nil, fmt.Errorf("dataset: IDXSet: %s: offset 2: type 0x%02x rank %d, want 0x08 (uint8) rank 3: %w", imagesName, images.Type, len(images.Dims), ErrFormat)
	}
	if labels.Type != IDXUint8 || len(labels.Dims) != 1 {
		return nil, fmt.Errorf("dataset: IDXSet: %s: offset 2: type 0x%02x rank %d, want 0x08 (uint8) rank 1: %w", labelsName, labels.Type, len(labels.Dims), ErrFormat)
	}
	if images.Dims[0] != labels.Dims[0] {
		return nil, fmt.Errorf("dataset: IDXSet: %s: offset 4: %d labels, but %s has %d images: %w", labelsName, labels.Dims[0], imagesName, images.Dims[0], ErrFormat)
	}
	s := &Set{Name: imagesName, N: images.Dims[0], C: 1, H: images.Dims[1], W: images.Dims[2],
		Pix: images.Data, Labels: make([]int, labels.Dims[0]), Classes: classes}
	top := 0
	for i, l := range labels.Data {
		if classes > 0 && int(l) >= classes {
			return nil, fmt.Errorf("dataset: IDXSet: %s: offset %d: label %d, want < %d: %w", labelsName, 8+i, l, classes, ErrFormat)
		}
		s.Labels[i] = int(l)
		top = max(top, int(l))
	}
	if classes <= 0 {
		s.Classes = top + 1
	}
	return s, nil
}

// ReadIDXSet reads an IDX image file and an IDX label file (gzipped or not)
// and pairs them with [IDXSet].
func ReadIDXSet(imagesPath, labelsPath string, classes int) (*Set, error) {
	images, err := ReadIDXFile(imagesPath)
	if err != nil {
		return nil, err
	}
	labels, err := ReadIDXFile(labelsPath)
	if err != nil {
		return nil, err
	}
	return IDXSet(images, labels, classes, imagesPath, labelsPath)
}
