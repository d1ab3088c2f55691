package plot

import (
	"cmp"
	"fmt"
	"image/color"
	"io"
	"math"
	"strconv"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"ssl"
	"ssl/internal/check"
)

// Default size of a heat map in pixels.
const (
	DefaultWidth  = 560
	DefaultHeight = 480
)

// plotDPI is the resolution of the plots, vgimg's default (96 dpi), so a
// plot of Width×Height pixels is Width/96 × Height/96 inches.
const plotDPI = vgimg.DefaultDPI

// ConfusionHeatmapOptions holds the optional settings of
// [ConfusionHeatmap]. A nil *ConfusionHeatmapOptions and zero fields mean
// the defaults.
type ConfusionHeatmapOptions struct {
	// Width and Height are the picture's size in pixels, in [64, 16384]
	// each. Zero means DefaultWidth×DefaultHeight (560×480).
	Width, Height int
	// Title is printed above the plot. Empty means "confusion".
	Title string
	// RowNames and ColNames name the rows (clusters or predictions) and the
	// columns (classes); nil means their indices.
	RowNames, ColNames []string
	// RowLabel and ColLabel are the axis titles; empty means "cluster" and
	// "class".
	RowLabel, ColLabel string
}

// confusionGrid shows a rows×cols count table with row 0 at the top.
type confusionGrid struct {
	w          []int
	rows, cols int
}

func (g confusionGrid) Dims() (c, r int)   { return g.cols, g.rows }
func (g confusionGrid) Z(c, r int) float64 { return float64(g.w[(g.rows-1-r)*g.cols+c]) }
func (g confusionGrid) X(c int) float64    { return float64(c) }
func (g confusionGrid) Y(r int) float64    { return float64(r) }

// ConfusionHeatmap draws the rows×cols count table confusion (row-major,
// as probe.Confusion returns it: clusters or predictions down, classes
// across) as a heat map (Moreland's Kindlmann palette, darkest for zero)
// and writes it to w as a PNG of opts.Width×opts.Height pixels (default
// 560×480). Tables of up to 400 cells carry their counts as text.
//
// It returns an error wrapping ssl.ErrShape if rows or cols is < 1,
// len(confusion) ≠ rows·cols or a name list has the wrong length;
// ssl.ErrParam for a negative count or an invalid size; and the writer's
// error. Nothing is written then.
func ConfusionHeatmap(w io.Writer, confusion []int, rows, cols int, opts *ConfusionHeatmapOptions) error {
	const fn = "plot: ConfusionHeatmap"
	var o ConfusionHeatmapOptions
	if opts != nil {
		o = *opts
	}
	pw, ph := cmp.Or(o.Width, DefaultWidth), cmp.Or(o.Height, DefaultHeight)
	if err := check.Within(fn, "Width", float64(pw), 64, 1<<14); err != nil {
		return err
	}
	if err := check.Within(fn, "Height", float64(ph), 64, 1<<14); err != nil {
		return err
	}
	if err := check.AtLeast(fn, "rows", rows, 1); err != nil {
		return err
	}
	if err := check.AtLeast(fn, "cols", cols, 1); err != nil {
		return err
	}
	if len(confusion) != rows*cols {
		return check.Errorf(fn, ssl.ErrShape, "len(confusion) is %d, want rows·cols=%d", len(confusion), rows*cols)
	}
	for i, v := range confusion {
		if v < 0 {
			return check.Errorf(fn, ssl.ErrParam, "confusion[%d][%d] is negative (confusion[%d][%d]=%d)", i/cols, i%cols, i/cols, i%cols, v)
		}
	}
	if o.RowNames != nil && len(o.RowNames) != rows {
		return check.Errorf(fn, ssl.ErrShape, "len(RowNames) is %d, want rows=%d", len(o.RowNames), rows)
	}
	if o.ColNames != nil && len(o.ColNames) != cols {
		return check.Errorf(fn, ssl.ErrShape, "len(ColNames) is %d, want cols=%d", len(o.ColNames), cols)
	}

	p := gplot.New()
	p.Title.Text = cmp.Or(o.Title, "confusion")
	p.X.Label.Text, p.Y.Label.Text = cmp.Or(o.ColLabel, "class"), cmp.Or(o.RowLabel, "cluster")
	hm := plotter.NewHeatMap(confusionGrid{confusion, rows, cols}, moreland.Kindlmann().Palette(256))
	if hm.Max <= hm.Min {
		hm.Max = hm.Min + 1 // a constant table: one colour, not NaN
	}
	p.Add(hm)
	if rows*cols <= 400 {
		labels := plotter.XYLabels{XYs: make(plotter.XYs, 0, rows*cols)}
		var styles []text.Style
		for r := range rows {
			for c := range cols {
				v := confusion[r*cols+c]
				labels.XYs = append(labels.XYs, plotter.XY{X: float64(c), Y: float64(rows - 1 - r)})
				labels.Labels = append(labels.Labels, strconv.Itoa(v))
				st := text.Style{Color: color.Black, XAlign: draw.XCenter, YAlign: draw.YCenter,
					Font: font.From(gplot.DefaultFont, vg.Points(8)), Handler: p.Title.TextStyle.Handler}
				if (float64(v)-hm.Min)/(hm.Max-hm.Min) < 0.6 { // Kindlmann is dark below ~60%
					st.Color = color.White
				}
				styles = append(styles, st)
			}
		}
		lb, err := plotter.NewLabels(labels)
		if err != nil {
			return check.Errorf(fn, ssl.ErrParam, "%v", err)
		}
		lb.TextStyle = styles
		p.Add(lb)
	}
	p.X.Tick.Marker = namedTicks(cols, o.ColNames, false)
	p.Y.Tick.Marker = namedTicks(rows, o.RowNames, true)
	p.X.Min, p.X.Max = -0.5, float64(cols)-0.5
	p.Y.Min, p.Y.Max = -0.5, float64(rows)-0.5
	if o.ColNames != nil {
		p.X.Tick.Label.Rotation = math.Pi / 4
		p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
	}
	c := newCanvas(pw, ph)
	p.Draw(draw.New(c))
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(w); err != nil {
		return fmt.Errorf("%s: %w", fn, err)
	}
	return nil
}

// newCanvas returns a white image canvas of exactly width×height pixels at
// 96 dpi.
func newCanvas(width, height int) *vgimg.Canvas {
	px := vg.Inch / vg.Length(plotDPI)
	return vgimg.NewWith(vgimg.UseWH(vg.Length(width)*px, vg.Length(height)*px), vgimg.UseDPI(plotDPI))
}

// namedTicks puts a tick at every index (every ⌈n/20⌉-th one for long
// axes) labelled with its name or number; flipped axes count from the top.
func namedTicks(n int, names []string, flipped bool) gplot.ConstantTicks {
	step := (n + 19) / 20
	var t []gplot.Tick
	for i := 0; i < n; i += step {
		label := strconv.Itoa(i)
		if names != nil {
			label = names[i]
		}
		v := float64(i)
		if flipped {
			v = float64(n - 1 - i)
		}
		t = append(t, gplot.Tick{Value: v, Label: label})
	}
	return gplot.ConstantTicks(t)
}
