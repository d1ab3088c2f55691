package probe

import (
	"cmp"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"math"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"ssl"
)

// Defaults of the pictures.
const (
	// DefaultGridScale is the default pixel replication of image grids:
	// 28×28 Fashion-MNIST images become 56×56 cells.
	DefaultGridScale = 2
	// DefaultGridPad is the default gap, in pixels, between grid cells and
	// around the grid.
	DefaultGridPad = 2
	// plotDPI is the resolution of the plots, vgimg's default (96 dpi), so
	// a plot of Width×Height pixels is Width/96 × Height/96 inches.
	plotDPI = vgimg.DefaultDPI
)

// gridBackground is the colour of the gaps between grid cells and of empty
// cells: a light grey that separates both black and white images.
var gridBackground = color.RGBA{0xdd, 0xdd, 0xdd, 0xff}

// GridOptions holds the optional settings of [Grid] and [ClusterGrid].
// A nil *GridOptions and zero fields mean the defaults.
type GridOptions struct {
	// Scale is the pixel replication factor, ≥ 1. Zero means
	// DefaultGridScale (2).
	Scale int
	// Pad is the gap between cells and around the grid in pixels, ≥ 1.
	// Zero means DefaultGridPad (2).
	Pad int
	// Lo and Hi are the values shown as black and white; values outside
	// are clamped. Both zero means [0, 1], the range of ToTensor-scaled
	// images. Lo < Hi is required otherwise.
	Lo, Hi float32
}

// Grid draws images as a grid and writes it to w as a PNG. images is N×H×W
// (grey), or N×C×H×W with C = 1 (grey) or C = 3 (RGB, CHW order as
// ToTensor gives). rows lists, row by row, the indices of the images to
// show; −1 leaves a cell empty, and short rows are padded with empty
// cells. The picture is
//
//	width  = cols·W·Scale + (cols+1)·Pad,   cols = the longest row
//	height = len(rows)·H·Scale + (len(rows)+1)·Pad
//
// pixels. [ClusterGrid] fills the rows with the images nearest each cluster
// centre; rows from [NearestNeighbours] (a query's image followed by its
// neighbours) give a nearest-image grid.
//
// It returns an error wrapping ssl.ErrShape if images has another rank or
// channel count or rows is empty or all its rows are; ssl.ErrParam if an
// index is outside [−1, N) or an option is invalid; ssl.ErrNotFinite if a
// shown image holds a NaN or infinite value; and the writer's error.
func Grid(w io.Writer, images ssl.Tensor, rows [][]int, opts *GridOptions) error {
	img, err := gridImage("Grid", images, rows, opts)
	if err != nil {
		return err
	}
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("probe: Grid: %w", err)
	}
	return nil
}

// GridImage is [Grid] returning the picture instead of encoding it.
func GridImage(images ssl.Tensor, rows [][]int, opts *GridOptions) (*image.RGBA, error) {
	return gridImage("GridImage", images, rows, opts)
}

func gridImage(fn string, images ssl.Tensor, rows [][]int, opts *GridOptions) (*image.RGBA, error) {
	scale, pad, lo, hi := DefaultGridScale, DefaultGridPad, float32(0), float32(1)
	if opts != nil {
		if opts.Scale < 0 || opts.Pad < 0 {
			return nil, fmt.Errorf("probe: %s: Scale and Pad must be positive (Scale=%d, Pad=%d): %w", fn, opts.Scale, opts.Pad, ssl.ErrParam)
		}
		if opts.Scale != 0 {
			scale = opts.Scale
		}
		if opts.Pad != 0 {
			pad = opts.Pad
		}
		if opts.Lo != 0 || opts.Hi != 0 {
			lo, hi = opts.Lo, opts.Hi
			if !(lo < hi) || math.IsInf(float64(hi-lo), 0) {
				return nil, fmt.Errorf("probe: %s: Lo must be below Hi, both finite (Lo=%v, Hi=%v): %w", fn, lo, hi, ssl.ErrParam)
			}
		}
	}
	shape, pix, err := ssl.View(images)
	if err != nil {
		return nil, fmt.Errorf("probe: %s: images: %w", fn, err)
	}
	var n, c, h, wd int
	switch {
	case len(shape) == 3:
		n, c, h, wd = shape[0], 1, shape[1], shape[2]
	case len(shape) == 4 && (shape[1] == 1 || shape[1] == 3):
		n, c, h, wd = shape[0], shape[1], shape[2], shape[3]
	default:
		return nil, fmt.Errorf("probe: %s: images has shape %v, want N×H×W or N×C×H×W with C = 1 or 3: %w", fn, shape, ssl.ErrShape)
	}
	if h == 0 || wd == 0 {
		return nil, fmt.Errorf("probe: %s: images are empty (shape %v): %w", fn, shape, ssl.ErrShape)
	}
	cols := 0
	for r, row := range rows {
		cols = max(cols, len(row))
		for j, i := range row {
			if i < -1 || i >= n {
				return nil, fmt.Errorf("probe: %s: rows[%d][%d]=%d is outside [-1, %d): %w", fn, r, j, i, n, ssl.ErrParam)
			}
		}
	}
	if cols == 0 {
		return nil, fmt.Errorf("probe: %s: no cells (%d rows, all empty): %w", fn, len(rows), ssl.ErrShape)
	}
	size := c * h * wd
	for r, row := range rows {
		for _, i := range row {
			if i < 0 {
				continue
			}
			if k := firstNonFinite(pix[i*size : (i+1)*size]); k >= 0 {
				return nil, fmt.Errorf("probe: %s: image %d (rows[%d]) holds %v: %w", fn, i, r, pix[i*size+k], ssl.ErrNotFinite)
			}
		}
	}
	cw, ch := wd*scale, h*scale
	out := image.NewRGBA(image.Rect(0, 0, cols*cw+(cols+1)*pad, len(rows)*ch+(len(rows)+1)*pad))
	for p := 0; p < len(out.Pix); p += 4 {
		out.Pix[p], out.Pix[p+1], out.Pix[p+2], out.Pix[p+3] = gridBackground.R, gridBackground.G, gridBackground.B, 0xff
	}
	level := func(v float32) uint8 {
		t := (v - lo) / (hi - lo)
		return uint8(math.Round(float64(min(max(t, 0), 1)) * 255))
	}
	plane := h * wd
	for r, row := range rows {
		for j, i := range row {
			if i < 0 {
				continue
			}
			im := pix[i*size : (i+1)*size]
			x0, y0 := pad+j*(cw+pad), pad+r*(ch+pad)
			for y := range h {
				for x := range wd {
					var px color.RGBA
					if c == 1 {
						g := level(im[y*wd+x])
						px = color.RGBA{g, g, g, 0xff}
					} else {
						px = color.RGBA{level(im[y*wd+x]), level(im[plane+y*wd+x]), level(im[2*plane+y*wd+x]), 0xff}
					}
					for dy := range scale {
						for dx := range scale {
							out.SetRGBA(x0+x*scale+dx, y0+y*scale+dy, px)
						}
					}
				}
			}
		}
	}
	return out, nil
}

// NearestToCentres returns, for each cluster k < numClusters, the indices
// of up to perCluster of its members (assignments[i] = k) nearest its
// centre, nearest first:
//
//	f_i = x_i / max(‖x_i‖, 1e-12),   μ_k = mean_{i: a_i = k} f_i
//	rank the members of k by ⟨f_i, μ_k⟩ decreasing (ties: lower index first)
//
// (cosine similarity to the spherical centre, the geometry of the kNN
// evaluation). An empty cluster gives an empty row. The rows feed [Grid].
//
// It returns an error wrapping ssl.ErrShape if features is not a non-empty
// matrix or len(assignments) ≠ N; ssl.ErrParam if numClusters or
// perCluster is < 1 or an assignment is outside [0, numClusters);
// ssl.ErrNotFinite for a NaN or infinite feature.
func NearestToCentres(features ssl.Tensor, assignments []int, numClusters, perCluster int) ([][]int, error) {
	return nearestToCentres("NearestToCentres", features, assignments, numClusters, perCluster)
}

func nearestToCentres(fn string, features ssl.Tensor, assignments []int, numClusters, perCluster int) ([][]int, error) {
	n, d, xv, err := checkFeatures(fn, "features", features)
	if err != nil {
		return nil, err
	}
	if len(assignments) != n {
		return nil, fmt.Errorf("probe: %s: assignments has %d entries, features has %d rows: %w", fn, len(assignments), n, ssl.ErrShape)
	}
	if numClusters < 1 || perCluster < 1 {
		return nil, fmt.Errorf("probe: %s: numClusters and perCluster must be at least 1 (numClusters=%d, perCluster=%d): %w", fn, numClusters, perCluster, ssl.ErrParam)
	}
	if err := checkLabels(fn, "assignments", assignments, numClusters); err != nil {
		return nil, err
	}
	f := make([]float64, n*d)
	for i := range n {
		row := xv[i*d : (i+1)*d]
		inv := 1 / math.Max(normF32(row), normEps)
		for j, v := range row {
			f[i*d+j] = float64(v) * inv
		}
	}
	mu := make([]float64, numClusters*d)
	count := make([]int, numClusters)
	for i, k := range assignments {
		count[k]++
		axpy64(1, f[i*d:(i+1)*d], mu[k*d:(k+1)*d])
	}
	type member struct {
		s float64
		i int
	}
	members := make([][]member, numClusters)
	for i, k := range assignments {
		s := dot64(f[i*d:(i+1)*d], mu[k*d:(k+1)*d]) / float64(count[k])
		members[k] = append(members[k], member{s, i})
	}
	out := make([][]int, numClusters)
	for k, m := range members {
		slices.SortFunc(m, func(a, b member) int {
			if c := cmp.Compare(b.s, a.s); c != 0 {
				return c
			}
			return cmp.Compare(a.i, b.i)
		})
		out[k] = make([]int, 0, min(perCluster, len(m)))
		for _, e := range m[:min(perCluster, len(m))] {
			out[k] = append(out[k], e.i)
		}
	}
	return out, nil
}

// normF32 is the Euclidean norm accumulated in float64.
func normF32(x []float32) float64 {
	s := 0.0
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

// ClusterGrid writes a PNG with one row per cluster showing the perCluster
// images nearest the cluster's centre in feature space ([NearestToCentres],
// then [Grid]): the picture that shows what each cluster has learned.
// images and features describe the same N samples; empty clusters give
// empty rows. It returns the errors of NearestToCentres and Grid.
func ClusterGrid(w io.Writer, images, features ssl.Tensor, assignments []int, numClusters, perCluster int, opts *GridOptions) error {
	shape, _, err := ssl.View(images)
	if err != nil {
		return fmt.Errorf("probe: ClusterGrid: images: %w", err)
	}
	if len(assignments) != shape[0] {
		return fmt.Errorf("probe: ClusterGrid: assignments has %d entries, images has %d: %w", len(assignments), shape[0], ssl.ErrShape)
	}
	rows, err := nearestToCentres("ClusterGrid", features, assignments, numClusters, perCluster)
	if err != nil {
		return err
	}
	img, err := gridImage("ClusterGrid", images, rows, opts)
	if err != nil {
		return err
	}
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("probe: ClusterGrid: %w", err)
	}
	return nil
}

// PlotOptions holds the optional settings of [ConfusionHeatmap] and
// [TrainingCurves]. A nil *PlotOptions and zero fields mean the defaults.
type PlotOptions struct {
	// Width and Height are the picture's size in pixels, ≥ 64 each. Zero
	// means 640×480 for TrainingCurves and 560×480 for ConfusionHeatmap.
	Width, Height int
	// Title is printed above the plot. Empty means a default title.
	Title string
	// RowNames and ColNames name the rows (clusters or predictions) and the
	// columns (classes) of a heat map; nil means their indices.
	RowNames, ColNames []string
	// RowLabel and ColLabel are the heat map's axis titles; empty means
	// "cluster" and "class".
	RowLabel, ColLabel string
}

func plotSize(fn string, opts *PlotOptions, w, h int) (int, int, error) {
	if opts == nil {
		return w, h, nil
	}
	if opts.Width != 0 {
		w = opts.Width
	}
	if opts.Height != 0 {
		h = opts.Height
	}
	if w < 64 || h < 64 || w > 1<<14 || h > 1<<14 {
		return 0, 0, fmt.Errorf("probe: %s: Width and Height must be in [64, 16384] pixels (Width=%d, Height=%d): %w", fn, w, h, ssl.ErrParam)
	}
	return w, h, nil
}

// newCanvas returns a white image canvas of exactly w×h pixels.
func newCanvas(w, h int) *vgimg.Canvas {
	px := vg.Inch / vg.Length(plotDPI)
	return vgimg.NewWith(vgimg.UseWH(vg.Length(w)*px, vg.Length(h)*px), vgimg.UseDPI(plotDPI))
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
// as [Confusion] returns it: clusters or predictions down, classes across)
// as a heat map (Moreland's Kindlmann palette, darkest for zero) and writes
// it to w as a PNG of opts.Width×opts.Height pixels (default 560×480).
// Tables of up to 400 cells carry their counts as text.
//
// It returns an error wrapping ssl.ErrShape if rows or cols is < 1,
// len(confusion) ≠ rows·cols or a name list has the wrong length;
// ssl.ErrParam for a negative count or an invalid size; and the writer's
// error.
func ConfusionHeatmap(w io.Writer, confusion []int, rows, cols int, opts *PlotOptions) error {
	const fn = "ConfusionHeatmap"
	pw, ph, err := plotSize(fn, opts, 560, 480)
	if err != nil {
		return err
	}
	if rows < 1 || cols < 1 || len(confusion) != rows*cols {
		return fmt.Errorf("probe: %s: confusion has %d entries, want rows·cols with rows, cols ≥ 1 (rows=%d, cols=%d): %w", fn, len(confusion), rows, cols, ssl.ErrShape)
	}
	for i, v := range confusion {
		if v < 0 {
			return fmt.Errorf("probe: %s: confusion[%d][%d]=%d is negative: %w", fn, i/cols, i%cols, v, ssl.ErrParam)
		}
	}
	var o PlotOptions
	if opts != nil {
		o = *opts
	}
	if o.RowNames != nil && len(o.RowNames) != rows || o.ColNames != nil && len(o.ColNames) != cols {
		return fmt.Errorf("probe: %s: %d RowNames and %d ColNames for a %d×%d table: %w", fn, len(o.RowNames), len(o.ColNames), rows, cols, ssl.ErrShape)
	}
	title, rowLabel, colLabel := cmp.Or(o.Title, "confusion"), cmp.Or(o.RowLabel, "cluster"), cmp.Or(o.ColLabel, "class")

	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text, p.Y.Label.Text = colLabel, rowLabel
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
					Font: font.From(plot.DefaultFont, vg.Points(8)), Handler: p.Title.TextStyle.Handler}
				if (float64(v)-hm.Min)/(hm.Max-hm.Min) < 0.6 { // Kindlmann is dark below ~60%
					st.Color = color.White
				}
				styles = append(styles, st)
			}
		}
		lb, err := plotter.NewLabels(labels)
		if err != nil {
			return fmt.Errorf("probe: %s: %v: %w", fn, err, ssl.ErrParam)
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
	return writePlot(fn, w, pw, ph, func(dc draw.Canvas) { p.Draw(dc) })
}

// namedTicks puts a tick at every index (every ⌈n/20⌉-th one for long
// axes) labelled with its name or number; flipped axes count from the top.
func namedTicks(n int, names []string, flipped bool) plot.ConstantTicks {
	step := (n + 19) / 20
	var t []plot.Tick
	for i := 0; i < n; i += step {
		label := strconv.Itoa(i)
		if names != nil {
			label = names[i]
		}
		v := float64(i)
		if flipped {
			v = float64(n - 1 - i)
		}
		t = append(t, plot.Tick{Value: v, Label: label})
	}
	return plot.ConstantTicks(t)
}

func writePlot(fn string, w io.Writer, pw, ph int, drawFn func(draw.Canvas)) error {
	c := newCanvas(pw, ph)
	drawFn(draw.New(c))
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(w); err != nil {
		return fmt.Errorf("probe: %s: %w", fn, err)
	}
	return nil
}

// EpochRecord is one point of the training curves: the epoch, the mean
// training loss over it and the kNN top-1 accuracy ([KNN], [Accuracy]) at
// its end. A NaN KNNTop1 (or Loss) marks an epoch without that
// evaluation; the curve skips it.
type EpochRecord struct {
	Epoch   int
	Loss    float64
	KNNTop1 float64 // in [0, 1]
}

// TrainingCurves plots the training loss and the kNN top-1 accuracy (in
// percent) against the epoch, in two panels one above the other sharing
// the epoch axis, and writes the PNG, opts.Width×opts.Height pixels
// (default 640×480), to w.
//
// It returns an error wrapping ssl.ErrShape if records is empty;
// ssl.ErrParam if the epochs do not increase strictly or the size is
// invalid; ssl.ErrNotFinite if a value is infinite (NaN means missing);
// and the writer's error.
func TrainingCurves(w io.Writer, records []EpochRecord, opts *PlotOptions) error {
	const fn = "TrainingCurves"
	pw, ph, err := plotSize(fn, opts, 640, 480)
	if err != nil {
		return err
	}
	if len(records) == 0 {
		return fmt.Errorf("probe: %s: no records: %w", fn, ssl.ErrShape)
	}
	var loss, knn plotter.XYs
	for i, r := range records {
		if i > 0 && r.Epoch <= records[i-1].Epoch {
			return fmt.Errorf("probe: %s: records[%d].Epoch=%d does not follow %d: %w", fn, i, r.Epoch, records[i-1].Epoch, ssl.ErrParam)
		}
		if math.IsInf(r.Loss, 0) || math.IsInf(r.KNNTop1, 0) {
			return fmt.Errorf("probe: %s: records[%d] (epoch %d) has an infinite value (Loss=%v, KNNTop1=%v): %w", fn, i, r.Epoch, r.Loss, r.KNNTop1, ssl.ErrNotFinite)
		}
		if !math.IsNaN(r.Loss) {
			loss = append(loss, plotter.XY{X: float64(r.Epoch), Y: r.Loss})
		}
		if !math.IsNaN(r.KNNTop1) {
			knn = append(knn, plotter.XY{X: float64(r.Epoch), Y: 100 * r.KNNTop1})
		}
	}
	title := "training"
	if opts != nil && opts.Title != "" {
		title = opts.Title
	}
	top, bottom := plot.New(), plot.New()
	top.Title.Text = title
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
			return fmt.Errorf("probe: %s: %v: %w", fn, err, ssl.ErrParam)
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
	return writePlot(fn, w, pw, ph, func(dc draw.Canvas) {
		tiles := draw.Tiles{Rows: 2, Cols: 1, PadX: vg.Millimeter, PadY: 2 * vg.Millimeter,
			PadTop: vg.Millimeter, PadBottom: vg.Millimeter, PadLeft: vg.Millimeter, PadRight: 2 * vg.Millimeter}
		plots := [][]*plot.Plot{{top}, {bottom}}
		cs := plot.Align(plots, tiles, dc)
		top.Draw(cs[0][0])
		bottom.Draw(cs[1][0])
	})
}
