package dataset

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"ssl"
	"ssl/internal/check"
)

// CIFAR binary record layout (Krizhevsky 2009, "CIFAR-10 and CIFAR-100
// datasets", binary version): each record is the label byte(s) followed by a
// 32×32 colour image as 1024 red, 1024 green, then 1024 blue bytes, each
// plane row-major, which is already CHW.
const (
	cifarSide   = 32
	cifarPixels = 3 * cifarSide * cifarSide
)

// CIFAR10Classes are CIFAR-10's class names by label, as its
// batches.meta.txt lists them.
var CIFAR10Classes = []string{"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"}

// ReadCIFAR10 reads CIFAR-10 binary records (one label byte 0–9, then 3072
// pixel bytes) from r, gzip-compressed or not; name is used in messages. It
// returns a 3×32×32 [Set] with 10 classes named by [CIFAR10Classes]. It
// returns an error wrapping [ErrFormat], naming the file and offset, for a
// partial record or a label out of range.
func ReadCIFAR10(r io.Reader, name string) (*Set, error) {
	s, err := newStream("ReadCIFAR10", name, r)
	if err != nil {
		return nil, err
	}
	set := &Set{Name: name, C: 3, H: cifarSide, W: cifarSide, Classes: 10, ClassNames: CIFAR10Classes}
	return set, readCIFAR(s, set, 1, 0, 10)
}

// ReadCIFAR100 reads CIFAR-100 binary records (a coarse label byte 0–19, a
// fine label byte 0–99, then 3072 pixel bytes) from r, gzip-compressed or
// not. The set's labels are the fine labels (100 classes) if fine is true,
// else the coarse ones (20 superclasses). Errors as [ReadCIFAR10].
func ReadCIFAR100(r io.Reader, name string, fine bool) (*Set, error) {
	s, err := newStream("ReadCIFAR100", name, r)
	if err != nil {
		return nil, err
	}
	set := &Set{Name: name, C: 3, H: cifarSide, W: cifarSide, Classes: 20}
	which, limit := 0, 20
	if fine {
		set.Classes, which, limit = 100, 1, 100
	}
	return set, readCIFAR(s, set, 2, which, limit)
}

// readCIFAR appends the records of s to set: nlab label bytes per record, of
// which the one at which is kept and must be below limit.
func readCIFAR(s *stream, set *Set, nlab, which, limit int) error {
	rec := make([]byte, nlab+cifarPixels)
	br := bufio.NewReaderSize(s.r, 1<<16)
	for {
		start := s.off
		n, err := io.ReadFull(br, rec)
		if err == io.EOF {
			break
		}
		if err != nil {
			s.off = start
			if err == io.ErrUnexpectedEOF {
				return s.errorf("truncated record %d: %d of %d bytes", set.N, n, len(rec))
			}
			return s.readErr("record", int64(len(rec)), n, err)
		}
		l := int(rec[which])
		if l >= limit {
			s.off = start + int64(which)
			return s.errorf("record %d: label %d, want < %d", set.N, l, limit)
		}
		s.off += int64(n)
		set.Labels = append(set.Labels, l)
		set.Pix = append(set.Pix, rec[nlab:]...)
		set.N++
	}
	if set.N == 0 {
		return s.errorf("no records")
	}
	return nil
}

// CIFAR10 reads the CIFAR-10 binary version from dir (the folder
// cifar-10-batches-bin of the official archive): data_batch_1.bin …
// data_batch_5.bin for the training split (50,000 images), test_batch.bin for
// the test split (10,000).
func CIFAR10(dir string, split Split) (*Set, error) {
	if split != Train && split != Test {
		return nil, check.Errorf("dataset: CIFAR10", ssl.ErrParam, "unknown split (split=%v)", split)
	}
	files := []string{"test_batch.bin"}
	if split == Train {
		files = []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"}
	}
	var all *Set
	for _, f := range files {
		s, err := readCIFARFile("ReadCIFAR10", filepath.Join(dir, f), func(r io.Reader, name string) (*Set, error) { return ReadCIFAR10(r, name) })
		if err != nil {
			return nil, err
		}
		all = concat(all, s)
	}
	all.Name = "cifar-10/" + split.String() + " (" + dir + ")"
	return all, nil
}

// CIFAR100 reads the CIFAR-100 binary version from dir (the folder
// cifar-100-binary of the official archive): train.bin (50,000 images) or
// test.bin (10,000), with fine (100-class) or coarse (20-class) labels. The
// class names are read from fine_label_names.txt or coarse_label_names.txt
// when present.
func CIFAR100(dir string, split Split, fine bool) (*Set, error) {
	if split != Train && split != Test {
		return nil, check.Errorf("dataset: CIFAR100", ssl.ErrParam, "unknown split (split=%v)", split)
	}
	s, err := readCIFARFile("ReadCIFAR100", filepath.Join(dir, split.String()+".bin"), func(r io.Reader, name string) (*Set, error) { return ReadCIFAR100(r, name, fine) })
	if err != nil {
		return nil, err
	}
	names := "coarse_label_names.txt"
	if fine {
		names = "fine_label_names.txt"
	}
	if b, err := os.ReadFile(filepath.Join(dir, names)); err == nil {
		if lines := strings.Fields(string(b)); len(lines) == s.Classes {
			s.ClassNames = lines
		}
	}
	s.Name = "cifar-100/" + split.String() + " (" + dir + ")"
	return s, nil
}

func readCIFARFile(fn, path string, read func(io.Reader, string) (*Set, error)) (*Set, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", fn, err)
	}
	defer f.Close()
	return read(f, path)
}

// concat appends b's images to a (a may be nil).
func concat(a, b *Set) *Set {
	if a == nil {
		return b
	}
	a.Pix = append(a.Pix, b.Pix...)
	a.Labels = append(a.Labels, b.Labels...)
	a.N += b.N
	return a
}
