package dataset

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"ssl"
	"ssl/internal/check"
)

//go:generate go run gen_fashionmnist.go -src /usr/share/datasets/fashion-mnist -dst fashionmnist -train 600 -test 100

// DebianFashionMNISTDir is where Debian's dataset-fashion-mnist package
// installs the full Fashion-MNIST: the four original gzipped IDX files.
const DebianFashionMNISTDir = "/usr/share/datasets/fashion-mnist"

// FashionMNISTClasses are the names of Fashion-MNIST's ten classes, by label
// (Xiao et al. 2017, Table 1).
var FashionMNISTClasses = []string{"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
	"Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"}

// Split names one side of a train/test set.
type Split int

// The two splits.
const (
	Train Split = iota
	Test
)

func (sp Split) String() string {
	switch sp {
	case Train:
		return "train"
	case Test:
		return "test"
	}
	return fmt.Sprintf("Split(%d)", int(sp))
}

// prefix is the file-name prefix of the split in the MNIST layout.
func (sp Split) prefix() string {
	if sp == Test {
		return "t10k"
	}
	return "train"
}

// The embedded subset: the first 600 training and the first 100 test images
// of each class of Fashion-MNIST, in file order, as gzipped IDX files written
// by gen_fashionmnist.go; the MIT licence notice is in fashionmnist/LICENSE.
//
//go:embed fashionmnist/*.gz fashionmnist/LICENSE
var fashionFS embed.FS

// Sizes of the embedded subset.
const (
	EmbeddedTrainPerClass = 600
	EmbeddedTestPerClass  = 100
)

// EmbeddedFashionMNIST returns the embedded class-balanced subset of
// Fashion-MNIST: 6,000 training images (the first 600 of each class in the
// original training file) or 1,000 test images (the first 100 of each class
// in the original test file), 1×28×28, labels 0–9 named by
// [FashionMNISTClasses]. Each call decodes a fresh copy. It returns an error
// wrapping ssl.ErrParam for an unknown split.
func EmbeddedFashionMNIST(split Split) (*Set, error) {
	if split != Train && split != Test {
		return nil, check.Errorf("dataset: EmbeddedFashionMNIST", ssl.ErrParam, "unknown split (split=%v)", split)
	}
	s, err := readFashion(fashionFS, "fashionmnist", split)
	if err != nil {
		return nil, err
	}
	s.Name = "fashion-mnist/" + split.String() + " (embedded subset)"
	return s, nil
}

// FashionMNISTLicense returns the MIT licence notice of Fashion-MNIST that
// accompanies the embedded subset.
func FashionMNISTLicense() string {
	b, err := fashionFS.ReadFile("fashionmnist/LICENSE")
	if err != nil {
		panic("dataset: embedded LICENSE missing: " + err.Error()) // the go:embed pattern guarantees it
	}
	return string(b)
}

// FashionMNIST reads the full Fashion-MNIST split from dir, which holds the
// original files train-images-idx3-ubyte, train-labels-idx1-ubyte,
// t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each with or without a
// .gz suffix (the compressed one is tried first). An empty dir means
// [DebianFashionMNISTDir]. It returns the I/O error (errors.Is(err,
// fs.ErrNotExist) when the files are absent) or one wrapping [ErrFormat] for
// a malformed file.
func FashionMNIST(dir string, split Split) (*Set, error) {
	if split != Train && split != Test {
		return nil, check.Errorf("dataset: FashionMNIST", ssl.ErrParam, "unknown split (split=%v)", split)
	}
	if dir == "" {
		dir = DebianFashionMNISTDir
	}
	return readFashion(os.DirFS(dir), ".", split, dir)
}

// LoadFashionMNIST returns the Fashion-MNIST split from dir if dir is not
// empty; otherwise the full set at [DebianFashionMNISTDir] if it is
// installed there; otherwise the embedded subset ([EmbeddedFashionMNIST]).
// Set.Name says which was used.
func LoadFashionMNIST(dir string, split Split) (*Set, error) {
	if dir != "" {
		return FashionMNIST(dir, split)
	}
	s, err := FashionMNIST(DebianFashionMNISTDir, split)
	if errors.Is(err, fs.ErrNotExist) {
		return EmbeddedFashionMNIST(split)
	}
	return s, err
}

// readFashion reads a split from fsys/dir; shown is the directory as named
// in messages.
func readFashion(fsys fs.FS, dir string, split Split, shown ...string) (*Set, error) {
	show := dir
	if len(shown) > 0 {
		show = shown[0]
	}
	read := func(base string) (*IDX, string, error) {
		for _, ext := range []string{".gz", ""} {
			p := filepath.ToSlash(filepath.Join(dir, base+ext))
			b, err := fs.ReadFile(fsys, p)
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			name := filepath.Join(show, base+ext)
			if err != nil {
				return nil, name, fmt.Errorf("dataset: FashionMNIST: %w", err)
			}
			x, err := ReadIDX(bytes.NewReader(b), name)
			return x, name, err
		}
		return nil, "", fmt.Errorf("dataset: FashionMNIST: %s: no %s or %s.gz: %w", show, base, base, fs.ErrNotExist)
	}
	images, imagesName, err := read(split.prefix() + "-images-idx3-ubyte")
	if err != nil {
		return nil, err
	}
	labels, labelsName, err := read(split.prefix() + "-labels-idx1-ubyte")
	if err != nil {
		return nil, err
	}
	s, err := IDXSet(images, labels, len(FashionMNISTClasses), imagesName, labelsName)
	if err != nil {
		return nil, err
	}
	if s.H != 28 || s.W != 28 {
		return nil, fmt.Errorf("dataset: FashionMNIST: %s: offset 8: images are %d×%d, want 28×28: %w", imagesName, s.H, s.W, ErrFormat)
	}
	s.ClassNames = FashionMNISTClasses
	s.Name = "fashion-mnist/" + split.String() + " (" + show + ")"
	return s, nil
}
