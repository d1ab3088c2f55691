package run

import (
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"ssl"
	"ssl/augment"
)

// TestCropMin checks -crop-min: it sets the 28×28 views' crop scale (the
// local crops keep theirs) and is refused outside (0, 1].
func TestCropMin(t *testing.T) {
	scales := func(args ...string) [][2]float64 {
		c, err := Parse("test", Defaults{EpochsEmbedded: 1}, args, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		m, err := c.MultiCrop(2)
		if err != nil {
			t.Fatal(err)
		}
		var s [][2]float64
		for _, g := range m.Groups {
			s = append(s, g.T.(augment.Compose)[0].(augment.RandomResizedCrop).Scale)
		}
		return s
	}
	if got := scales(); got[0] != [2]float64{0.25, 1} || got[1] != [2]float64{0.08, 0.25} {
		t.Errorf("default scales %v, want the protocol's [0.25 1] [0.08 0.25]", got)
	}
	if got := scales("-crop-min", "0.5"); got[0] != [2]float64{0.5, 1} || got[1] != [2]float64{0.08, 0.25} {
		t.Errorf("-crop-min 0.5: scales %v, want [0.5 1] [0.08 0.25]", got)
	}
	for _, v := range []string{"0", "-0.1", "1.5", "NaN"} {
		if _, err := Parse("test", Defaults{}, []string{"-crop-min", v}, io.Discard); err == nil || !strings.Contains(err.Error(), "-crop-min") {
			t.Errorf("-crop-min %s: err = %v, want one naming -crop-min", v, err)
		}
	}
}

// TestMultiCropLocalScale checks that the local crops take the given scale
// range, the global ones keeping -crop-min's, and that a range outside
// 0 < min ≤ max ≤ 1 is refused.
func TestMultiCropLocalScale(t *testing.T) {
	c, err := Parse("test", Defaults{EpochsEmbedded: 1}, []string{"-crop-min", "0.5"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	m, err := c.MultiCropLocalScale(3, [2]float64{0.2, 0.5})
	if err != nil {
		t.Fatal(err)
	}
	g, l := m.Groups[0], m.Groups[1]
	if s := g.T.(augment.Compose)[0].(augment.RandomResizedCrop).Scale; s != [2]float64{0.5, 1} || g.N != 2 {
		t.Errorf("global crops: %d with scale %v, want 2 with [0.5 1]", g.N, s)
	}
	if s := l.T.(augment.Compose)[0].(augment.RandomResizedCrop).Scale; s != [2]float64{0.2, 0.5} || l.N != 3 {
		t.Errorf("local crops: %d with scale %v, want 3 with [0.2 0.5]", l.N, s)
	}
	for _, bad := range [][2]float64{{0, 0.25}, {0.3, 0.2}, {0.1, 1.5}, {math.NaN(), 0.25}} {
		if _, err := c.MultiCropLocalScale(4, bad); !errors.Is(err, ssl.ErrParam) {
			t.Errorf("scale %v: err = %v, want ssl.ErrParam", bad, err)
		}
	}
}

// TestMultiCropBlur checks Config.Blur: none by default; a p > 0 adds a
// 3×3 Gaussian blur with σ in [0.1, 2], applied with probability p just
// before the normalization of every crop, which smooths the same crops
// (fewer and smaller steps between neighbouring pixels); a p outside
// [0, 1] is refused by name.
func TestMultiCropBlur(t *testing.T) {
	c, err := Parse("test", Defaults{EpochsEmbedded: 1}, nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := c.MultiCrop(2)
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range plain.Groups {
		for _, tr := range g.T.(augment.Compose) {
			if a, ok := tr.(augment.RandomApply); ok {
				if _, ok := a.T.(augment.RandomGaussianBlur); ok {
					t.Fatalf("Blur 0: the crops of group %d are blurred", i)
				}
			}
		}
	}
	c.Blur = 1
	blurred, err := c.MultiCrop(2)
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range blurred.Groups {
		tr := g.T.(augment.Compose)
		a, ok := tr[len(tr)-2].(augment.RandomApply)
		if !ok || a.P != 1 || a.T != (augment.RandomGaussianBlur{KernelSize: 3, Sigma: [2]float64{0.1, 2}}) {
			t.Fatalf("Blur 1: the crops of group %d end %#v, want a 3×3 blur with p 1 before the normalization", i, tr[len(tr)-2:])
		}
	}
	src := ssl.New(4, 1, 28, 28)
	x := src.Float32s()
	for i := range x {
		x[i] = float32((i*7919)%256) / 255
	}
	a, err := plain.Apply(nil, src, nil, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := blurred.Apply(nil, src, nil, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	tv := func(v ssl.Tensor) float64 {
		s, x, err := ssl.View(v)
		if err != nil {
			t.Fatal(err)
		}
		w := s[3]
		var sum float64
		for i := 1; i < len(x); i++ {
			if i%w != 0 {
				sum += math.Abs(float64(x[i] - x[i-1]))
			}
		}
		return sum
	}
	for v := range a {
		if ta, tb := tv(a[v]), tv(b[v]); !(tb < ta) {
			t.Errorf("view %d: total variation %g blurred, %g not, want less", v, tb, ta)
		}
	}
	for _, p := range []float64{-0.1, 1.5, math.NaN()} {
		c.Blur = p
		if _, err := c.MultiCrop(0); !errors.Is(err, ssl.ErrParam) || !strings.Contains(err.Error(), "-blur") {
			t.Errorf("Blur %g: err = %v, want ssl.ErrParam naming -blur", p, err)
		}
	}
}
