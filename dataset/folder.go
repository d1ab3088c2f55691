package dataset

import (
	"fmt"
	"image"
	"image/color"
	_ "image/jpeg" // register the JPEG decoder
	_ "image/png"  // register the PNG decoder
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"ssl"
	"ssl/internal/check"
)

// FolderOptions are the optional settings of [ImageFolder].
type FolderOptions struct {
	// Channels is 1 (grayscale) or 3 (RGB). Zero means: 1 if the first image
	// decodes as grayscale (8- or 16-bit gray), else 3.
	Channels int
}

// ImageFolder reads a folder laid out as torchvision's ImageFolder expects:
// one sub-folder per class, classes sorted by name and labelled 0, 1, … in
// that order, and in each the PNG and JPEG files (.png, .jpg, .jpeg, any
// case) of any depth, sorted by path. Other files are skipped. Every image
// must have the size of the first one.
//
// Colour images become RGB (alpha is dropped, as PIL's convert("RGB") does);
// with Channels 1 they become luma by Pillow's integer rule
// L = (19595·R + 38470·G + 7471·B + 2¹⁵) >> 16 (libImaging/Convert.c), and
// gray images become RGB by repetition. JPEG's YCbCr to RGB conversion is Go's
// image/color, which can differ from libjpeg's by one level.
//
// It returns the I/O error for a missing folder, one wrapping ssl.ErrParam
// for invalid options, and one wrapping [ErrFormat] that names the file for a
// file that does not decode, an image of another size, or a class folder
// without images.
func ImageFolder(root string, opts *FolderOptions) (*Set, error) {
	var o FolderOptions
	if opts != nil {
		o = *opts
	}
	if o.Channels != 0 && o.Channels != 1 && o.Channels != 3 {
		return nil, check.Errorf("dataset: ImageFolder", ssl.ErrParam, "Channels must be 0, 1 or 3 (Channels=%d)", o.Channels)
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, fmt.Errorf("dataset: ImageFolder: %w", err)
	}
	var classes []string
	for _, e := range entries {
		if e.IsDir() {
			classes = append(classes, e.Name())
		}
	}
	sort.Strings(classes)
	if len(classes) == 0 {
		return nil, fmt.Errorf("dataset: ImageFolder: %s: no class folders: %w", root, ErrFormat)
	}
	set := &Set{Name: root, C: o.Channels, Classes: len(classes), ClassNames: classes}
	for label, class := range classes {
		var files []string
		err := filepath.WalkDir(filepath.Join(root, class), func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			switch strings.ToLower(filepath.Ext(p)) {
			case ".png", ".jpg", ".jpeg":
				if !d.IsDir() {
					files = append(files, p)
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("dataset: ImageFolder: %w", err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("dataset: ImageFolder: %s: class folder has no PNG or JPEG files: %w", filepath.Join(root, class), ErrFormat)
		}
		sort.Strings(files)
		for _, p := range files {
			if err := set.appendImage(p, label); err != nil {
				return nil, err
			}
		}
	}
	return set, nil
}

// appendImage decodes the file at p and appends it with its label.
func (s *Set) appendImage(p string, label int) error {
	f, err := os.Open(p)
	if err != nil {
		return fmt.Errorf("dataset: ImageFolder: %w", err)
	}
	img, _, err := image.Decode(f)
	f.Close()
	if err != nil {
		return fmt.Errorf("dataset: ImageFolder: %s: %v: %w", p, err, ErrFormat)
	}
	b := img.Bounds()
	h, w := b.Dy(), b.Dx()
	if s.N == 0 {
		s.H, s.W = h, w
		if s.C == 0 {
			s.C = 3
			switch img.(type) {
			case *image.Gray, *image.Gray16:
				s.C = 1
			}
		}
	}
	if h != s.H || w != s.W {
		return fmt.Errorf("dataset: ImageFolder: %s: image is %d×%d (width×height), the first was %d×%d: %w", p, w, h, s.W, s.H, ErrFormat)
	}
	hw := h * w
	start := len(s.Pix)
	s.Pix = append(s.Pix, make([]uint8, s.C*hw)...)
	out := s.Pix[start:]
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, bl, gray := pixel(img, b.Min.X+x, b.Min.Y+y)
			i := y*w + x
			if s.C == 1 {
				out[i] = gray
			} else {
				out[i], out[hw+i], out[2*hw+i] = r, g, bl
			}
		}
	}
	s.Labels = append(s.Labels, label)
	s.N++
	return nil
}

// pixel returns the 8-bit RGB of img at (x, y) with alpha dropped, and its
// gray level: the stored one for gray images, else Pillow's luma.
func pixel(img image.Image, x, y int) (r, g, b, gray uint8) {
	switch m := img.(type) {
	case *image.Gray:
		v := m.GrayAt(x, y).Y
		return v, v, v, v
	case *image.Gray16:
		v := uint8(m.Gray16At(x, y).Y >> 8)
		return v, v, v, v
	case *image.NRGBA:
		c := m.NRGBAAt(x, y)
		r, g, b = c.R, c.G, c.B
	default:
		c := color.NRGBAModel.Convert(img.At(x, y)).(color.NRGBA)
		r, g, b = c.R, c.G, c.B
	}
	// Pillow's L24 rule, libImaging/Convert.c.
	gray = uint8((19595*uint32(r) + 38470*uint32(g) + 7471*uint32(b) + 0x8000) >> 16)
	return r, g, b, gray
}
