package augment

import (
	"errors"
	"math/rand/v2"
	"testing"

	"ssl"
)

func TestCutoutShapeErrors(t *testing.T) {
	for _, c := range []Cutout{{Size: 0, P: 1}, {Size: 4, P: 1.5}, {Size: 4, P: -0.1}, {Size: 4, P: 1, Value: float32(nan())}} {
		if _, _, _, err := c.Shape(1, 28, 28); !errors.Is(err, ssl.ErrParam) {
			t.Errorf("%+v: err %v, want ErrParam", c, err)
		}
	}
	if c, h, w, err := (Cutout{Size: 8, P: 1}).Shape(3, 5, 7); err != nil || c != 3 || h != 5 || w != 7 {
		t.Errorf("Shape(3, 5, 7) = %d, %d, %d, %v", c, h, w, err)
	}
}

func nan() float64 { z := 0.0; return z / z }

// TestCutoutBox replays the draws of Apply and checks that exactly the
// reference's box (rows and columns [center − ⌊s/2⌋, center + ⌊s/2⌋),
// clipped) holds Value in every channel and every other pixel is the input.
func TestCutoutBox(t *testing.T) {
	const ch, h, w = 2, 9, 13
	src := Image{C: ch, H: h, W: w, Pix: make([]float32, ch*h*w)}
	for i := range src.Pix {
		src.Pix[i] = float32(i%17) + 0.5
	}
	orig := append([]float32(nil), src.Pix...)
	for _, tc := range []Cutout{{Size: 5, P: 1, Value: -1}, {Size: 4, P: 1}, {Size: 16, P: 1, Value: 2}, {Size: 6, RandomSize: true, P: 0.7, Value: 3}} {
		sides := map[int]bool{}
		masked := 0
		for seed := range uint64(300) {
			dst := Image{C: ch, H: h, W: w, Pix: make([]float32, ch*h*w)}
			tc.Apply(dst, src, rand.New(rand.NewPCG(seed, 1)))
			r := rand.New(rand.NewPCG(seed, 1))
			apply := true
			if tc.P < 1 {
				apply = r.Float32() < float32(tc.P)
			}
			y0, y1, x0, x1 := 0, 0, 0, 0
			if apply {
				masked++
				s := tc.Size
				if tc.RandomSize {
					s = 1 + r.IntN(tc.Size)
					if s < 1 || s > tc.Size {
						t.Fatalf("side %d outside [1, %d]", s, tc.Size)
					}
					sides[s] = true
				}
				y, x := r.IntN(h), r.IntN(w)
				y0, y1 = max(y-s/2, 0), min(y+s/2, h)
				x0, x1 = max(x-s/2, 0), min(x+s/2, w)
			}
			for c := range ch {
				for i := range h {
					for j := range w {
						k := (c*h+i)*w + j
						want := orig[k]
						if i >= y0 && i < y1 && j >= x0 && j < x1 {
							want = tc.Value
						}
						if dst.Pix[k] != want {
							t.Fatalf("%+v seed %d: pixel (%d,%d,%d) = %v, want %v", tc, seed, c, i, j, dst.Pix[k], want)
						}
					}
				}
			}
		}
		for i := range src.Pix {
			if src.Pix[i] != orig[i] {
				t.Fatalf("%+v modified its input", tc)
			}
		}
		if tc.P < 1 && (masked < 150 || masked > 270) {
			t.Errorf("%+v: masked %d of 300 images, want about %.0f", tc, masked, 300*tc.P)
		}
		if tc.RandomSize && len(sides) != tc.Size {
			t.Errorf("%+v: drew sides %v, want every side in [1, %d]", tc, sides, tc.Size)
		}
	}
}

// TestCutoutInBatch runs Cutout in a pipeline: a masked image has a
// Value-filled square, the others are untouched, and the result does not
// depend on the number of goroutines (the batch functions' contract).
func TestCutoutInBatch(t *testing.T) {
	const b = 16
	src := ssl.New(b, 1, 28, 28)
	_, data, _ := ssl.View(src)
	for i := range data {
		data[i] = 0.25 + float32(i%7)/10
	}
	tr := Compose{Normalization{Mean: []float64{0.5}, Std: []float64{0.25}}, Cutout{Size: 10, P: 1}}
	out, err := Batch(nil, src, tr, nil, 7, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, od, _ := ssl.View(out)
	for i := range b {
		zeros := 0
		for _, v := range od[i*784 : (i+1)*784] {
			if v == 0 {
				zeros++
			}
		}
		// 0.5 never occurs in the input, so every 0 is the mask; a clipped
		// 10×10 box keeps at least 5×5 pixels.
		if zeros < 25 || zeros > 100 {
			t.Errorf("image %d: %d masked pixels, want a 10×10 box clipped to at least 5×5", i, zeros)
		}
	}
}
