package dataset

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
)

// maxAlloc bounds how much a header may make a reader allocate up front;
// beyond it the buffer grows only as data actually arrives, so a corrupt
// header claiming terabytes fails with "truncated" instead of exhausting
// memory. It is small (a 15-byte file claiming 822 MB made every fuzz
// execution allocate the whole bound): a real 47 MB file grows past it in a
// few doublings.
const maxAlloc = 4 << 20

// stream reads a possibly gzip-compressed file and counts the uncompressed
// bytes consumed, so errors can name the offset.
type stream struct {
	name string // file name for messages
	fn   string // reading function for messages
	r    io.Reader
	off  int64
	gz   bool
}

// newStream wraps r, detecting gzip by its magic bytes 1f 8b (not by the file
// extension).
func newStream(fn, name string, r io.Reader) (*stream, error) {
	br := bufio.NewReaderSize(r, 1<<16)
	s := &stream{name: name, fn: fn, r: br}
	magic, err := br.Peek(2)
	if err == nil && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, s.errorf("gzip header: %v", err)
		}
		s.r, s.gz = zr, true
	}
	return s, nil
}

// errorf returns an error wrapping ErrFormat that names the function, the
// file and the current uncompressed offset.
func (s *stream) errorf(format string, args ...any) error {
	where := "offset"
	if s.gz {
		where = "uncompressed offset"
	}
	return fmt.Errorf("dataset: %s: %s: %s %d: %s: %w", s.fn, s.name, where, s.off, fmt.Sprintf(format, args...), ErrFormat)
}

// readErr turns an error from the underlying reader into one naming the file
// and offset; a premature end becomes "truncated".
func (s *stream) readErr(what string, want int64, got int, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return s.errorf("truncated: %s needs %d bytes, file has %d", what, want, got)
	}
	if s.gz && !isPathError(err) {
		// gzip.ErrChecksum, gzip.ErrHeader, flate.CorruptInputError.
		return s.errorf("gzip: %v", err)
	}
	return fmt.Errorf("dataset: %s: %s: offset %d: %w", s.fn, s.name, s.off, err)
}

func isPathError(err error) bool {
	var pe *os.PathError
	return errors.As(err, &pe)
}

// full reads exactly len(p) bytes.
func (s *stream) full(p []byte, what string) error {
	n, err := io.ReadFull(s.r, p)
	if err != nil {
		e := s.readErr(what, int64(len(p)), n, err)
		s.off += int64(n)
		return e
	}
	s.off += int64(n)
	return nil
}

// payload reads exactly n bytes without trusting n for the allocation.
func (s *stream) payload(n int64, what string) ([]byte, error) {
	var buf bytes.Buffer
	buf.Grow(int(min(n, maxAlloc)))
	got, err := buf.ReadFrom(io.LimitReader(s.r, n))
	s.off += got
	if err != nil {
		return nil, s.readErr(what, n, int(got), err)
	}
	if got < n {
		return nil, s.errorf("truncated: %s needs %d bytes, file has %d", what, n, got)
	}
	return buf.Bytes(), nil
}

// end checks that the stream holds nothing more (for gzip: that the checksum
// matches, which the gzip reader verifies at the end).
func (s *stream) end() error {
	var b [1]byte
	n, err := io.ReadFull(s.r, b[:])
	if n > 0 {
		return s.errorf("trailing data after the last record")
	}
	if err != nil && !errors.Is(err, io.EOF) {
		return s.readErr("end of file", 0, 0, err)
	}
	return nil
}

// openFile opens path for a reader function and returns the file and its
// stream.
func openFile(fn, path string) (*os.File, *stream, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("dataset: %s: %w", fn, err)
	}
	s, err := newStream(fn, path, f)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, s, nil
}
