package dataset

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ssl"
)

// cifarRecords builds n CIFAR records by hand: labels then the pixel planes,
// pixel k of record i being byte(i*7+k).
func cifarRecords(n int, labels func(i int) []byte) []byte {
	var b []byte
	for i := 0; i < n; i++ {
		b = append(b, labels(i)...)
		for k := 0; k < cifarPixels; k++ {
			b = append(b, byte(i*7+k))
		}
	}
	return b
}

func TestCIFAR10(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin", "data_batch_5.bin"} {
		os.WriteFile(filepath.Join(dir, f), cifarRecords(2, func(i int) []byte { return []byte{byte(i + len(f)%3)} }), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "test_batch.bin"), gz(cifarRecords(3, func(i int) []byte { return []byte{byte(9 - i)} })), 0o644)
	train, err := CIFAR10(dir, Train)
	if err != nil {
		t.Fatal(err)
	}
	if train.N != 10 || train.C != 3 || train.H != 32 || train.W != 32 || train.Classes != 10 || len(train.ClassNames) != 10 {
		t.Fatalf("CIFAR10(train): N=%d C=%d H=%d W=%d", train.N, train.C, train.H, train.W)
	}
	test, err := CIFAR10(dir, Test)
	if err != nil {
		t.Fatal(err)
	}
	if test.N != 3 || test.Labels[0] != 9 || test.Labels[2] != 7 {
		t.Fatalf("CIFAR10(test): N=%d labels %v", test.N, test.Labels)
	}
	// Record 1's red plane starts at byte 7, its blue plane at 7+2048.
	img := test.Image(1)
	if img[0] != 7 || img[2048] != byte((7+2048)%256) || img[3071] != byte((7+3071)%256) {
		t.Errorf("CIFAR10(test) image 1: got %d %d %d", img[0], img[2048], img[3071])
	}
	if _, err := CIFAR10(dir, Split(5)); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("CIFAR10(split 5) = %v, want ErrParam", err)
	}
	if _, err := CIFAR100(dir, Split(-1), true); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("CIFAR100(split -1) = %v, want ErrParam", err)
	}
	if _, err := CIFAR10(t.TempDir(), Test); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("CIFAR10(empty dir) = %v, want fs.ErrNotExist", err)
	}
}

func TestCIFAR100(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "test.bin"), cifarRecords(4, func(i int) []byte { return []byte{byte(19 - i), byte(99 - i)} }), 0o644)
	names := make([]string, 100)
	for i := range names {
		names[i] = "c" + string(rune('a'+i%26)) + string(rune('a'+i/26))
	}
	os.WriteFile(filepath.Join(dir, "fine_label_names.txt"), []byte(strings.Join(names, "\n")+"\n"), 0o644)
	fine, err := CIFAR100(dir, Test, true)
	if err != nil {
		t.Fatal(err)
	}
	if fine.N != 4 || fine.Classes != 100 || fine.Labels[3] != 96 || len(fine.ClassNames) != 100 || fine.ClassNames[1] != "cba" {
		t.Fatalf("CIFAR100(fine): N=%d classes=%d labels %v", fine.N, fine.Classes, fine.Labels)
	}
	coarse, err := CIFAR100(dir, Test, false)
	if err != nil {
		t.Fatal(err)
	}
	if coarse.Classes != 20 || coarse.Labels[0] != 19 || coarse.ClassNames != nil {
		t.Fatalf("CIFAR100(coarse): classes=%d labels %v", coarse.Classes, coarse.Labels)
	}
	if img := fine.Image(2); img[0] != 14 {
		t.Errorf("CIFAR100 image 2 first pixel %d, want 14", img[0])
	}
}

func TestCIFARErrors(t *testing.T) {
	good := cifarRecords(2, func(int) []byte { return []byte{3} })
	zgood := gz(good)
	corrupt := append([]byte(nil), zgood...)
	corrupt[len(corrupt)-6] ^= 0xff
	for _, tc := range []struct {
		name, want string
		data       []byte
		c100       bool
	}{
		{"empty", "no records", nil, false},
		{"partial", "truncated record 1", good[:len(good)-5], false},
		{"label10", "label 10", cifarRecords(1, func(int) []byte { return []byte{10} }), false},
		{"fine100", "label 100", cifarRecords(1, func(int) []byte { return []byte{1, 100} }), true},
		{"coarse20", "label 20", cifarRecords(1, func(int) []byte { return []byte{20, 1} }), true},
		{"gzip_truncated", "truncated", zgood[:len(zgood)-9], false},
		{"gzip_checksum", "gzip", corrupt, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.c100 {
				_, err = ReadCIFAR100(bytes.NewReader(tc.data), "f_"+tc.name, tc.name == "fine100")
			} else {
				_, err = ReadCIFAR10(bytes.NewReader(tc.data), "f_"+tc.name)
			}
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("%s: %v, want ErrFormat", tc.name, err)
			}
			if msg := err.Error(); !strings.Contains(msg, "f_"+tc.name) || !strings.Contains(msg, "offset") || !strings.Contains(msg, tc.want) {
				t.Errorf("%s: error %q does not name the file, the offset and %q", tc.name, msg, tc.want)
			}
		})
	}
}

func FuzzReadCIFAR(f *testing.F) {
	f.Add(cifarRecords(1, func(int) []byte { return []byte{3, 4} }), true)
	f.Add(gz(cifarRecords(2, func(int) []byte { return []byte{1} })), false)
	f.Add([]byte{1, 2, 3}, false)
	f.Fuzz(func(t *testing.T, b []byte, c100 bool) {
		var s *Set
		var err error
		if c100 {
			s, err = ReadCIFAR100(bytes.NewReader(b), "fuzz", true)
		} else {
			s, err = ReadCIFAR10(bytes.NewReader(b), "fuzz")
		}
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v does not wrap ErrFormat", err)
			}
			return
		}
		if len(s.Pix) != s.N*cifarPixels || len(s.Labels) != s.N {
			t.Fatalf("N=%d but %d pixels, %d labels", s.N, len(s.Pix), len(s.Labels))
		}
		for _, l := range s.Labels {
			if l < 0 || l >= s.Classes {
				t.Fatalf("label %d outside [0, %d)", l, s.Classes)
			}
		}
	})
}
