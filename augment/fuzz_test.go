package augment

import (
	"testing"

	"ssl/internal/testutil"
)

// FuzzResizedCrop compares ResizedCrop with its naive oracle on arbitrary
// boxes (inside, across or outside the image) and sizes, and checks that
// bad arguments give errors, never panics.
func FuzzResizedCrop(f *testing.F) {
	f.Add(uint8(1), uint8(28), uint8(28), int8(3), int8(5), uint8(20), uint8(17), uint8(28), uint8(28))
	f.Add(uint8(3), uint8(9), uint8(4), int8(-2), int8(1), uint8(12), uint8(1), uint8(5), uint8(16))
	f.Add(uint8(2), uint8(1), uint8(1), int8(0), int8(0), uint8(0), uint8(1), uint8(1), uint8(1))
	f.Fuzz(func(t *testing.T, c, h, w uint8, top, left int8, ch, cw, sh, sw uint8) {
		C, H, W := int(c%4)+1, int(h%40)+1, int(w%40)+1
		S, T := int(sh%40)+1, int(sw%40)+1
		img := testutil.RandU(testutil.Rand(uint64(h)<<8|uint64(w)), -1, 2, C, H, W)
		dst := testutil.NaNs(C, S, T)
		_, err := ResizedCrop(dst, img, int(top), int(left), int(ch), int(cw))
		if ch == 0 || cw == 0 {
			if err == nil {
				t.Fatalf("empty box %d×%d accepted", ch, cw)
			}
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		want := cropNaive(testutil.F64(img), C, H, W, int(top), int(left), int(ch), int(cw), S, T)
		if i := testutil.Worst(testutil.F64(dst), want, 1e-5*max(testutil.MaxAbs(want), 1), 1e-4); i >= 0 {
			t.Fatalf("[%d] = %v, want %v", i, testutil.Data(dst)[i], want[i])
		}
	})
}

// TestApplyAllocs checks that transforms allocate nothing per image once a
// workspace is warm (the batch functions' inner loop).
func TestApplyAllocs(t *testing.T) {
	mc, err := protocolCrops(4)
	if err != nil {
		t.Fatal(err)
	}
	src := Image{C: 1, H: 28, W: 28, Pix: testutil.Data(testutil.RandU(testutil.Rand(1), 0, 1, 1, 28, 28))}
	ws := new(workspace)
	r := Stream(1, 0, 0, 0)
	for _, g := range mc.Groups {
		c, h, w, _ := g.T.Shape(1, 28, 28)
		dst := Image{C: c, H: h, W: w, Pix: make([]float32, c*h*w)}
		applyWS(g.T, dst, src, r, ws)
		if n := testing.AllocsPerRun(50, func() { applyWS(g.T, dst, src, r, ws) }); n != 0 {
			t.Errorf("%dx%d view: %v allocations per image, want 0", h, w, n)
		}
	}
	var blur Transform = Compose{RandomGaussianBlur{KernelSize: 5}, RandomGrayscale{P: 0.5}, RandomSolarize{Threshold: 0.5, P: 0.5}}
	dst := Image{C: 1, H: 28, W: 28, Pix: make([]float32, 784)}
	applyWS(blur, dst, src, r, ws)
	if n := testing.AllocsPerRun(50, func() { applyWS(blur, dst, src, r, ws) }); n != 0 {
		t.Errorf("blur pipeline: %v allocations per image, want 0", n)
	}
}
