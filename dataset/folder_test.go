package dataset

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"ssl"
)

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	os.MkdirAll(filepath.Dir(path), 0o755)
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, buf.Bytes(), 0o644)
}

// grayImage returns image i of s as an image.Gray.
func grayImage(s *Set, i int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, s.W, s.H))
	copy(g.Pix, s.Image(i))
	return g
}

func TestImageFolderGray(t *testing.T) {
	fm, err := EmbeddedFashionMNIST(Test)
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	// Two classes named out of order; class folders are sorted, files too,
	// sub-folders are walked, other files skipped.
	writePNG(t, filepath.Join(root, "b_trouser", "02.png"), grayImage(fm, 2))
	writePNG(t, filepath.Join(root, "b_trouser", "01.PNG"), grayImage(fm, 1))
	writePNG(t, filepath.Join(root, "a_boot", "deep", "x.png"), grayImage(fm, 0))
	os.WriteFile(filepath.Join(root, "a_boot", "notes.txt"), []byte("skip me"), 0o644)
	s, err := ImageFolder(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.N != 3 || s.C != 1 || s.H != 28 || s.W != 28 || s.Classes != 2 || s.ClassNames[0] != "a_boot" {
		t.Fatalf("ImageFolder: N=%d C=%d H=%d W=%d classes %v", s.N, s.C, s.H, s.W, s.ClassNames)
	}
	for k, want := range []int{0, 1, 2} {
		if !bytes.Equal(s.Image(k), fm.Image(want)) {
			t.Errorf("ImageFolder image %d differs from Fashion-MNIST test image %d", k, want)
		}
	}
	if s.Labels[0] != 0 || s.Labels[1] != 1 || s.Labels[2] != 1 {
		t.Errorf("labels %v, want [0 1 1]", s.Labels)
	}
	rgb, err := ImageFolder(root, &FolderOptions{Channels: 3})
	if err != nil {
		t.Fatal(err)
	}
	if img := rgb.Image(1); rgb.C != 3 || !bytes.Equal(img[:784], fm.Image(1)) || !bytes.Equal(img[784*2:], fm.Image(1)) {
		t.Errorf("ImageFolder(Channels 3) does not repeat the gray plane")
	}
}

func TestImageFolderColour(t *testing.T) {
	root := t.TempDir()
	img := image.NewNRGBA(image.Rect(0, 0, 3, 2))
	for i := 0; i < 6; i++ {
		img.Set(i%3, i/3, color.NRGBA{R: uint8(40 * i), G: uint8(255 - 30*i), B: uint8(7 * i), A: uint8(100 + i)})
	}
	writePNG(t, filepath.Join(root, "c", "a.png"), img)
	var buf bytes.Buffer
	jimg := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for i := range jimg.Pix {
		jimg.Pix[i] = 128
	}
	jpeg.Encode(&buf, jimg, &jpeg.Options{Quality: 100})
	os.WriteFile(filepath.Join(root, "c", "b.jpg"), buf.Bytes(), 0o644)
	s, err := ImageFolder(root, nil)
	if err != nil {
		t.Fatal(err)
	}
	if s.C != 3 || s.N != 2 {
		t.Fatalf("ImageFolder(colour): C=%d N=%d", s.C, s.N)
	}
	p := s.Image(0)
	for i := 0; i < 6; i++ {
		if p[i] != uint8(40*i) || p[6+i] != uint8(255-30*i) || p[12+i] != uint8(7*i) {
			t.Fatalf("pixel %d: RGB %d %d %d, want %d %d %d (alpha dropped)", i, p[i], p[6+i], p[12+i], 40*i, 255-30*i, 7*i)
		}
	}
	for i, v := range s.Image(1) {
		if v < 126 || v > 130 {
			t.Fatalf("JPEG pixel %d = %d, want about 128", i, v)
		}
	}
	g, err := ImageFolder(root, &FolderOptions{Channels: 1})
	if err != nil {
		t.Fatal(err)
	}
	// Pillow's L for (40, 225, 7): (19595·40 + 38470·225 + 7471·7 + 32768) >> 16 = 145.
	if g.Image(0)[1] != 145 {
		t.Errorf("luma of (40,225,7) = %d, want 145", g.Image(0)[1])
	}
}

func TestImageFolderErrors(t *testing.T) {
	if _, err := ImageFolder(t.TempDir(), &FolderOptions{Channels: 2}); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("Channels 2: %v, want ErrParam", err)
	}
	if _, err := ImageFolder(t.TempDir(), nil); !errors.Is(err, ErrFormat) {
		t.Errorf("no classes: %v, want ErrFormat", err)
	}
	root := t.TempDir()
	writePNG(t, filepath.Join(root, "a", "1.png"), image.NewGray(image.Rect(0, 0, 4, 4)))
	bad := filepath.Join(root, "a", "2.png")
	os.WriteFile(bad, []byte("\x89PNG\r\n\x1a\nnot really"), 0o644)
	if _, err := ImageFolder(root, nil); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), bad) {
		t.Errorf("corrupt PNG: %v, want ErrFormat naming %s", err, bad)
	}
	writePNG(t, bad, image.NewGray(image.Rect(0, 0, 5, 4)))
	if _, err := ImageFolder(root, nil); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "5×4") {
		t.Errorf("size mismatch: %v, want ErrFormat naming the size", err)
	}
	os.Remove(bad)
	os.MkdirAll(filepath.Join(root, "empty"), 0o755)
	if _, err := ImageFolder(root, nil); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty class: %v, want ErrFormat naming it", err)
	}
}
