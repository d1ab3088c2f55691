package run

import (
	"bytes"
	"image/png"
	"math"
	"testing"
)

func TestTrainingCurves(t *testing.T) {
	records := []EpochRecord{
		{Epoch: 1, Loss: 5.1, KNNTop1: 0.42},
		{Epoch: 2, Loss: 4.7, KNNTop1: math.NaN()}, // no kNN evaluation this epoch
		{Epoch: 3, Loss: 4.4, KNNTop1: 0.61},
	}
	for _, tc := range []struct {
		recs []EpochRecord
		opts *CurvesOptions
		w, h int
	}{
		{records, nil, 640, 480},
		{records[:1], &CurvesOptions{Width: 400, Height: 300, Title: "one epoch"}, 400, 300},
	} {
		var buf bytes.Buffer
		if err := TrainingCurves(&buf, tc.recs, tc.opts); err != nil {
			t.Fatal(err)
		}
		cfg, err := png.DecodeConfig(&buf)
		if err != nil || cfg.Width != tc.w || cfg.Height != tc.h {
			t.Errorf("TrainingCurves: %d×%d (%v), want %d×%d", cfg.Width, cfg.Height, err, tc.w, tc.h)
		}
	}
	for name, recs := range map[string][]EpochRecord{
		"empty": nil,
		"order": {{Epoch: 2}, {Epoch: 2}},
		"inf":   {{Epoch: 1, Loss: math.Inf(1)}},
	} {
		var buf bytes.Buffer
		if err := TrainingCurves(&buf, recs, nil); err == nil || buf.Len() != 0 {
			t.Errorf("TrainingCurves(%s) error = %v (%d bytes written)", name, err, buf.Len())
		}
	}
}
