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

func TestEmbeddedFashionMNIST(t *testing.T) {
	for _, tc := range []struct {
		split    Split
		perClass int
	}{{Train, EmbeddedTrainPerClass}, {Test, EmbeddedTestPerClass}} {
		s, err := EmbeddedFashionMNIST(tc.split)
		if err != nil {
			t.Fatalf("EmbeddedFashionMNIST(%v): %v", tc.split, err)
		}
		if s.N != 10*tc.perClass || s.C != 1 || s.H != 28 || s.W != 28 || s.Classes != 10 || len(s.ClassNames) != 10 {
			t.Fatalf("EmbeddedFashionMNIST(%v): N=%d C=%d H=%d W=%d classes=%d", tc.split, s.N, s.C, s.H, s.W, s.Classes)
		}
		for c, n := range s.ClassCounts() {
			if n != tc.perClass {
				t.Errorf("EmbeddedFashionMNIST(%v): class %d has %d images, want %d", tc.split, c, n, tc.perClass)
			}
		}
		// Fashion-MNIST's pixel mean is 0.2860 (the protocol's normalisation);
		// a class-balanced subset lands close to it.
		sum := 0.0
		for _, p := range s.Pix {
			sum += float64(p) / 255
		}
		if m := sum / float64(len(s.Pix)); m < 0.27 || m > 0.30 {
			t.Errorf("EmbeddedFashionMNIST(%v): pixel mean %.4f, want about 0.286", tc.split, m)
		}
	}
	if _, err := EmbeddedFashionMNIST(Split(7)); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("EmbeddedFashionMNIST(7) = %v, want ErrParam", err)
	}
	if l := FashionMNISTLicense(); !strings.Contains(l, "MIT") || !strings.Contains(l, "Zalando SE") {
		t.Errorf("FashionMNISTLicense() lacks the MIT notice: %q", l)
	}
}

// TestEmbeddedMatchesFull checks the embedded subset against the full set,
// when installed: it must be the first images of each class, in file order.
func TestEmbeddedMatchesFull(t *testing.T) {
	if _, err := os.Stat(filepath.Join(DebianFashionMNISTDir, "t10k-images-idx3-ubyte.gz")); err != nil {
		t.Skipf("full Fashion-MNIST not installed: %v", err)
	}
	splits := []Split{Test, Train}
	if testing.Short() {
		splits = splits[:1]
	}
	for _, sp := range splits {
		full, err := FashionMNIST("", sp)
		if err != nil {
			t.Fatal(err)
		}
		want := map[Split]int{Train: 60000, Test: 10000}[sp]
		if full.N != want {
			t.Fatalf("FashionMNIST(%v).N = %d, want %d", sp, full.N, want)
		}
		emb, _ := EmbeddedFashionMNIST(sp)
		per := emb.N / 10
		count := make([]int, 10)
		k := 0
		for i := 0; i < full.N && k < emb.N; i++ {
			l := full.Labels[i]
			if count[l] == per {
				continue
			}
			count[l]++
			if emb.Labels[k] != l || !bytes.Equal(emb.Image(k), full.Image(i)) {
				t.Fatalf("%v: embedded image %d is not full image %d", sp, k, i)
			}
			k++
		}
		if k != emb.N {
			t.Fatalf("%v: matched %d of %d embedded images", sp, k, emb.N)
		}
	}
}

func TestLoadFashionMNIST(t *testing.T) {
	dir := t.TempDir()
	if _, err := FashionMNIST(dir, Test); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("FashionMNIST(empty dir) = %v, want fs.ErrNotExist", err)
	}
	// A folder holding uncompressed copies of the embedded files.
	for _, name := range []string{"t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"} {
		x, err := ReadIDX(mustOpen(t, "fashionmnist/"+name+".gz"), name)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, name), idxBytes(x.Type, x.Dims, x.Data), 0o644)
	}
	s, err := LoadFashionMNIST(dir, Test)
	if err != nil {
		t.Fatal(err)
	}
	emb, _ := EmbeddedFashionMNIST(Test)
	if s.N != emb.N || !bytes.Equal(s.Pix, emb.Pix) || !strings.Contains(s.Name, dir) {
		t.Errorf("LoadFashionMNIST(dir): N=%d name %q", s.N, s.Name)
	}
	// Corrupt labels: the error names the file.
	lab := filepath.Join(dir, "t10k-labels-idx1-ubyte")
	os.WriteFile(lab, idxBytes(IDXUint8, []int{2}, []byte{0, 10}), 0o644)
	if _, err := FashionMNIST(dir, Test); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), lab) {
		t.Errorf("FashionMNIST(bad labels) = %v, want ErrFormat naming %s", err, lab)
	}
	def, err := LoadFashionMNIST("", Test)
	if err != nil {
		t.Fatal(err)
	}
	if def.N != 10000 && def.N != 1000 {
		t.Errorf("LoadFashionMNIST(\"\").N = %d", def.N)
	}
}

func mustOpen(t *testing.T, name string) *bytes.Reader {
	t.Helper()
	b, err := fashionFS.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(b)
}
