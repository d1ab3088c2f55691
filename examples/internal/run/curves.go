package run

import (
	"cmp"
	"fmt"
	"image/color"
	"io"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// EpochRecord is one point of the training curves: the epoch, the mean
// training loss over it and the kNN top-1 accuracy (probe.KNN,
// probe.Accuracy) at its end. A NaN KNNTop1 (or Loss) marks an epoch
// without that evaluation; the curve skips it.
type EpochRecord struct {
	Epoch   int
	Loss    float64
	KNNTop1 float64 // in [0, 1]
}

// CurvesOptions holds the optional settings of [TrainingCurves]; a nil
// pointer and zero fields mean 640×480 pixels and the title "training".
type CurvesOptions struct {
	Width, Height int
	Title         string
}

// TrainingCurves plots the training loss and the kNN top-1 accuracy (in
// percent) against the epoch, in two panels one above the other sharing
// the epoch axis, and writes the PNG (96 dpi, Width×Height pixels) to w.
// It returns an error if records is empty, the epochs do not increase
// strictly, a value is infinite (NaN means missing) or the size is outside
// [64, 16384] pixels, and the writer's error.
func TrainingCurves(w io.Writer, records []EpochRecord, opts *CurvesOptions) error {
	var o CurvesOptions
	if opts != nil {
		o = *opts
	}
	pw, ph := cmp.Or(o.Width, 640), cmp.Or(o.Height, 480)
	if pw < 64 || ph < 64 || pw > 1<<14 || ph > 1<<14 {
		return fmt.Errorf("TrainingCurves: size %d×%d outside [64, 16384] pixels", pw, ph)
	}
	if len(records) == 0 {
		return fmt.Errorf("TrainingCurves: no records")
	}
	var loss, knn plotter.XYs
	for i, r := range records {
		if i > 0 && r.Epoch <= records[i-1].Epoch {
			return fmt.Errorf("TrainingCurves: records[%d].Epoch=%d does not follow %d", i, r.Epoch, records[i-1].Epoch)
		}
		if math.IsInf(r.Loss, 0) || math.IsInf(r.KNNTop1, 0) {
			return fmt.Errorf("TrainingCurves: records[%d] (epoch %d) has an infinite value (Loss=%v, KNNTop1=%v)", i, r.Epoch, r.Loss, r.KNNTop1)
		}
		if !math.IsNaN(r.Loss) {
			loss = append(loss, plotter.XY{X: float64(r.Epoch), Y: r.Loss})
		}
		if !math.IsNaN(r.KNNTop1) {
			knn = append(knn, plotter.XY{X: float64(r.Epoch), Y: 100 * r.KNNTop1})
		}
	}
	top, bottom := plot.New(), plot.New()
	top.Title.Text = cmp.Or(o.Title, "training")
	top.Y.Label.Text = "loss"
	bottom.Y.Label.Text = "kNN top-1 (%)"
	bottom.X.Label.Text = "epoch"
	for _, s := range []struct {
		p   *plot.Plot
		xys plotter.XYs
		c   color.Color
	}{
		{top, loss, color.RGBA{0x1f, 0x77, 0xb4, 0xff}},
		{bottom, knn, color.RGBA{0xd6, 0x27, 0x28, 0xff}},
	} {
		if len(s.xys) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(s.xys)
		if err != nil {
			return fmt.Errorf("TrainingCurves: %w", err)
		}
		l.Color, pts.Color = s.c, s.c
		l.Width = vg.Points(1.5)
		pts.Shape = draw.CircleGlyph{}
		pts.Radius = vg.Points(2)
		s.p.Add(plotter.NewGrid(), l, pts)
	}
	lo, hi := float64(records[0].Epoch), float64(records[len(records)-1].Epoch)
	if hi == lo {
		lo, hi = lo-1, hi+1
	}
	for _, p := range []*plot.Plot{top, bottom} {
		p.X.Min, p.X.Max = lo, hi
	}
	px := vg.Inch / vg.Length(vgimg.DefaultDPI)
	c := vgimg.NewWith(vgimg.UseWH(vg.Length(pw)*px, vg.Length(ph)*px), vgimg.UseDPI(vgimg.DefaultDPI))
	tiles := draw.Tiles{Rows: 2, Cols: 1, PadX: vg.Millimeter, PadY: 2 * vg.Millimeter,
		PadTop: vg.Millimeter, PadBottom: vg.Millimeter, PadLeft: vg.Millimeter, PadRight: 2 * vg.Millimeter}
	cs := plot.Align([][]*plot.Plot{{top}, {bottom}}, tiles, draw.New(c))
	top.Draw(cs[0][0])
	bottom.Draw(cs[1][0])
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(w); err != nil {
		return fmt.Errorf("TrainingCurves: %w", err)
	}
	return nil
}
