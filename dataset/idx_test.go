package dataset

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// idxBytes builds an IDX file by hand (the oracle for the reader).
func idxBytes(typ byte, dims []int, data []byte) []byte {
	b := []byte{0, 0, typ, byte(len(dims))}
	for _, d := range dims {
		b = binary.BigEndian.AppendUint32(b, uint32(d))
	}
	return append(b, data...)
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func TestReadIDXTypes(t *testing.T) {
	var i16, i32, f32, f64 []byte
	vals := []float64{-3, 0, 2, 7.5, -1e3, 12}
	for _, v := range vals {
		i16 = binary.BigEndian.AppendUint16(i16, uint16(int16(v)))
		i32 = binary.BigEndian.AppendUint32(i32, uint32(int32(v)))
		f32 = binary.BigEndian.AppendUint32(f32, math.Float32bits(float32(v)))
		f64 = binary.BigEndian.AppendUint64(f64, math.Float64bits(v))
	}
	for _, tc := range []struct {
		name string
		typ  byte
		data []byte
		want []float64
	}{
		{"uint8", IDXUint8, []byte{0, 1, 2, 128, 254, 255}, []float64{0, 1, 2, 128, 254, 255}},
		{"int8", IDXInt8, []byte{0, 1, 2, 128, 254, 255}, []float64{0, 1, 2, -128, -2, -1}},
		{"int16", IDXInt16, i16, []float64{-3, 0, 2, 7, -1000, 12}},
		{"int32", IDXInt32, i32, []float64{-3, 0, 2, 7, -1000, 12}},
		{"float32", IDXFloat32, f32, vals},
		{"float64", IDXFloat64, f64, vals},
	} {
		for _, z := range []bool{false, true} {
			raw := idxBytes(tc.typ, []int{2, 3}, tc.data)
			if z {
				raw = gz(raw)
			}
			x, err := ReadIDX(bytes.NewReader(raw), tc.name)
			if err != nil {
				t.Fatalf("ReadIDX(%s, gzip=%v): %v", tc.name, z, err)
			}
			if x.Type != tc.typ || len(x.Dims) != 2 || x.Dims[0] != 2 || x.Dims[1] != 3 || x.Len() != 6 {
				t.Fatalf("ReadIDX(%s, gzip=%v): type %x dims %v", tc.name, z, x.Type, x.Dims)
			}
			testutil.AllClose(t, tc.name, x.Float64s(), tc.want, 0, 0)
		}
	}
}

func TestReadIDXErrors(t *testing.T) {
	good := idxBytes(IDXUint8, []int{2, 2, 2}, []byte{1, 2, 3, 4, 5, 6, 7, 8})
	zgood := gz(good)
	corrupt := append([]byte(nil), zgood...)
	corrupt[len(corrupt)-6] ^= 0xff // CRC-32 in the trailer
	for _, tc := range []struct {
		name, want string
		data       []byte
	}{
		{"empty", "truncated", nil},
		{"bad_magic", "bad magic", append([]byte{1}, good[1:]...)},
		{"bad_type", "unknown element type", append([]byte{0, 0, 0x07}, good[3:]...)},
		{"rank0", "rank 0", []byte{0, 0, 8, 0}},
		{"short_header", "truncated", good[:9]},
		{"short_data", "truncated", good[:len(good)-1]},
		{"trailing", "trailing data", append(append([]byte(nil), good...), 0)},
		{"huge_dims", "declare more than", idxBytes(IDXUint8, []int{1 << 20, 1 << 20}, nil)},
		{"huge_but_short", "truncated", idxBytes(IDXUint8, []int{1 << 30}, []byte{1, 2})},
		{"gzip_truncated", "truncated", zgood[:len(zgood)-10]},
		{"gzip_checksum", "gzip", corrupt},
		{"gzip_header", "gzip header", []byte{0x1f, 0x8b, 0, 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadIDX(bytes.NewReader(tc.data), "f_"+tc.name)
			if !errors.Is(err, ErrFormat) || !errors.Is(err, ssl.ErrFormat) {
				t.Fatalf("ReadIDX(%s) = %v, want ErrFormat (and ssl.ErrFormat)", tc.name, err)
			}
			msg := err.Error()
			if !strings.Contains(msg, "f_"+tc.name) || !strings.Contains(msg, "offset") || !strings.Contains(msg, tc.want) {
				t.Errorf("ReadIDX(%s) error %q does not name the file, the offset and %q", tc.name, msg, tc.want)
			}
		})
	}
	if _, err := ReadIDXFile(filepath.Join(t.TempDir(), "missing")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadIDXFile(missing) = %v, want fs.ErrNotExist", err)
	}
}

func TestIDXSet(t *testing.T) {
	dir := t.TempDir()
	pix := make([]byte, 3*2*4)
	for i := range pix {
		pix[i] = byte(i * 10)
	}
	imgPath, labPath := filepath.Join(dir, "img.gz"), filepath.Join(dir, "lab")
	os.WriteFile(imgPath, gz(idxBytes(IDXUint8, []int{3, 2, 4}, pix)), 0o644)
	os.WriteFile(labPath, idxBytes(IDXUint8, []int{3}, []byte{2, 0, 1}), 0o644)
	s, err := ReadIDXSet(imgPath, labPath, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s.N != 3 || s.C != 1 || s.H != 2 || s.W != 4 || s.Classes != 3 || !bytes.Equal(s.Pix, pix) {
		t.Fatalf("ReadIDXSet: got N=%d C=%d H=%d W=%d classes=%d", s.N, s.C, s.H, s.W, s.Classes)
	}
	if s.Labels[0] != 2 || s.Labels[1] != 0 || s.Labels[2] != 1 {
		t.Errorf("labels %v, want [2 0 1]", s.Labels)
	}
	if _, err := ReadIDXSet(imgPath, labPath, 2); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), labPath) {
		t.Errorf("label 2 with 2 classes: %v, want ErrFormat naming %s", err, labPath)
	}
	os.WriteFile(labPath, idxBytes(IDXUint8, []int{2}, []byte{0, 1}), 0o644)
	if _, err := ReadIDXSet(imgPath, labPath, 0); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), labPath+": offset 4") {
		t.Errorf("count mismatch: %v, want ErrFormat naming %s and offset 4", err, labPath)
	}
	if _, err := ReadIDXSet(labPath, labPath, 0); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "offset 2") {
		t.Errorf("rank-1 images: %v, want ErrFormat naming offset 2", err)
	}
}

// TestErrFormatWrapsRoot: the package's sentinel is the root's, so callers
// can test any malformed file with errors.Is(err, ssl.ErrFormat).
func TestErrFormatWrapsRoot(t *testing.T) {
	if !errors.Is(ErrFormat, ssl.ErrFormat) {
		t.Errorf("errors.Is(ErrFormat, ssl.ErrFormat) is false")
	}
}

func TestSetBatch(t *testing.T) {
	s := &Set{N: 3, C: 1, H: 1, W: 2, Pix: []uint8{0, 255, 51, 102, 1, 2}, Labels: []int{0, 1, 0}, Classes: 2}
	dst := testutil.NaNs(2, 1, 1, 2)
	if _, err := s.Batch(dst, []int{2, 0}); err != nil {
		t.Fatal(err)
	}
	testutil.AllClose32(t, "Batch", testutil.Data(dst), []float64{1. / 255, 2. / 255, 0, 1}, 0, 1e-7)
	before := testutil.Clone(dst)
	if _, err := s.Batch(dst, []int{3, 0}); !errors.Is(err, ssl.ErrParam) || !strings.Contains(err.Error(), "idx[0]=3") {
		t.Errorf("Batch(idx 3) = %v, want ErrParam naming idx[0]=3", err)
	}
	if _, err := s.Subset([]int{0, -1}); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("Subset(idx -1) = %v, want ErrParam", err)
	}
	if _, err := s.Batch(ssl.New(2, 1, 2, 1), []int{1, 0}); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("Batch(wrong dst) = %v, want ErrShape", err)
	}
	testutil.Unchanged(t, "dst", dst, before)
	sub, err := s.Subset([]int{1})
	if err != nil || sub.N != 1 || sub.Labels[0] != 1 || sub.Pix[0] != 51 {
		t.Errorf("Subset = %+v, %v", sub, err)
	}
	if c := s.ClassCounts(); c[0] != 2 || c[1] != 1 {
		t.Errorf("ClassCounts = %v", c)
	}
	if all := s.Tensor(); testutil.Data(all)[1] != 1 {
		t.Errorf("Tensor()[1] = %v, want 1", testutil.Data(all)[1])
	}
}

func FuzzReadIDX(f *testing.F) {
	f.Add(idxBytes(IDXUint8, []int{2, 2}, []byte{1, 2, 3, 4}))
	f.Add(gz(idxBytes(IDXFloat32, []int{1}, []byte{0, 0, 0x80, 0x3f})))
	f.Add(idxBytes(IDXInt16, []int{1, 1, 1}, []byte{1, 2}))
	f.Add([]byte{0, 0, 8, 1, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := ReadIDX(bytes.NewReader(b), "fuzz")
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		if len(x.Data) != x.Len()*idxElemSize[x.Type] {
			t.Fatalf("data %d bytes for dims %v type %x", len(x.Data), x.Dims, x.Type)
		}
		_ = x.Float64s()
	})
}
