package run

import (
	"io"
	"strings"
	"testing"

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
