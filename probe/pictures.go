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

	"ssl"
	"ssl/internal/check"
)

// Defaults of the pictures.
const (
	// DefaultGridScale is the default pixel replication of image grids:
	// 28×28 Fashion-MNIST images become 56×56 cells.
	DefaultGridScale = 2
	// DefaultGridPad is the default gap, in pixels, between grid cells and
	// around the grid.
	DefaultGridPad = 2
)

// gridBackground is the color of the gaps between grid cells and of empty
// cells: a light gray that separates both black and white images.
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
	// images. Otherwise both must be finite with Lo < Hi.
	Lo, Hi float64
}

// Grid draws images as a grid and writes it to w as a PNG. images is N×H×W
// (gray), or N×C×H×W with C = 1 (gray) or C = 3 (RGB, CHW order as
// ToTensor gives). rows lists, row by row, the indices of the images to
// show; −1 leaves a cell empty, and short rows are padded with empty
// cells. The picture is
//
//	width  = cols·W·Scale + (cols+1)·Pad,   cols = the longest row
//	height = len(rows)·H·Scale + (len(rows)+1)·Pad
//
// pixels. [ClusterGrid] fills the rows with the images nearest each cluster
// center; rows of nearest-neighbor indices (a query's image followed by its
// neighbors) give a nearest-image grid.
//
// It returns an error wrapping ssl.ErrShape if images has another rank or
// channel count or rows is empty or all its rows are; ssl.ErrParam if an
// index is outside [−1, N) or an option is invalid; ssl.ErrNotFinite if a
// shown image holds a NaN or infinite value; and the writer's error.
// Nothing is written then.
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
	fn = "probe: " + fn
	var o GridOptions
	if opts != nil {
		o = *opts
	}
	if err := check.Count(fn, "Scale", o.Scale, 0); err != nil {
		return nil, err
	}
	if err := check.Count(fn, "Pad", o.Pad, 0); err != nil {
		return nil, err
	}
	scale, pad, lo, hi := cmp.Or(o.Scale, DefaultGridScale), cmp.Or(o.Pad, DefaultGridPad), 0.0, 1.0
	if o.Lo != 0 || o.Hi != 0 {
		if err := check.Finite(fn, "Lo", o.Lo); err != nil {
			return nil, err
		}
		if err := check.Finite(fn, "Hi", o.Hi); err != nil {
			return nil, err
		}
		if !(o.Lo < o.Hi) {
			return nil, check.Errorf(fn, ssl.ErrParam, "Lo must be below Hi (Lo=%v, Hi=%v)", o.Lo, o.Hi)
		}
		lo, hi = o.Lo, o.Hi
	}
	if check.IsNil(images) {
		return nil, check.Errorf(fn, ssl.ErrShape, "images is nil")
	}
	shape, pix, err := ssl.View(images)
	if err != nil {
		return nil, fmt.Errorf("%s: images: %w", fn, err)
	}
	var n, c, h, wd int
	switch {
	case len(shape) == 3:
		n, c, h, wd = shape[0], 1, shape[1], shape[2]
	case len(shape) == 4 && (shape[1] == 1 || shape[1] == 3):
		n, c, h, wd = shape[0], shape[1], shape[2], shape[3]
	default:
		return nil, check.Errorf(fn, ssl.ErrShape, "images has shape %v, want N×H×W or N×C×H×W with C = 1 or 3", shape)
	}
	if h == 0 || wd == 0 {
		return nil, check.Errorf(fn, ssl.ErrShape, "images are empty (shape %v)", shape)
	}
	cols := 0
	for r, row := range rows {
		cols = max(cols, len(row))
		for j, i := range row {
			if i < -1 || i >= n {
				return nil, check.Errorf(fn, ssl.ErrParam, "rows[%d][%d] is outside [-1, %d) (rows[%d][%d]=%d)", r, j, n, r, j, i)
			}
		}
	}
	if cols == 0 {
		return nil, check.Errorf(fn, ssl.ErrShape, "no cells (%d rows, all empty)", len(rows))
	}
	size := c * h * wd
	for r, row := range rows {
		for _, i := range row {
			if i < 0 {
				continue
			}
			if err := check.FiniteData(fn, fmt.Sprintf("images[%d] (rows[%d])", i, r), pix[i*size:(i+1)*size], 1, size); err != nil {
				return nil, err
			}
		}
	}
	cw, ch := wd*scale, h*scale
	out := image.NewRGBA(image.Rect(0, 0, cols*cw+(cols+1)*pad, len(rows)*ch+(len(rows)+1)*pad))
	for p := 0; p < len(out.Pix); p += 4 {
		out.Pix[p], out.Pix[p+1], out.Pix[p+2], out.Pix[p+3] = gridBackground.R, gridBackground.G, gridBackground.B, 0xff
	}
	level := func(v float32) uint8 {
		t := (float64(v) - lo) / (hi - lo)
		return uint8(math.Round(min(max(t, 0), 1) * 255))
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

// NearestToCenters returns, for each cluster k < numClusters, the indices
// of up to perCluster of its members (assignments[i] = k) nearest its
// center, nearest first:
//
//	f_i = x_i / max(‖x_i‖, 1e-12),   μ_k = mean_{i: a_i = k} f_i
//	rank the members of k by ⟨f_i, μ_k⟩ decreasing (ties: lower index first)
//
// (cosine similarity to the spherical center, the geometry of the kNN
// evaluation). An empty cluster gives an empty row. The rows feed [Grid].
//
// It returns an error wrapping ssl.ErrShape if features is not a non-empty
// matrix or len(assignments) ≠ N; ssl.ErrParam if numClusters or
// perCluster is < 1 or an assignment is outside [0, numClusters);
// ssl.ErrNotFinite for a NaN or infinite feature.
func NearestToCenters(features ssl.Tensor, assignments []int, numClusters, perCluster int) ([][]int, error) {
	return nearestToCenters("probe: NearestToCenters", features, assignments, numClusters, perCluster)
}

func nearestToCenters(fn string, features ssl.Tensor, assignments []int, numClusters, perCluster int) ([][]int, error) {
	n, d, xv, err := checkFeatures(fn, "features", features)
	if err != nil {
		return nil, err
	}
	if err := check.Count(fn, "numClusters", numClusters, 1); err != nil {
		return nil, err
	}
	if err := check.Count(fn, "perCluster", perCluster, 1); err != nil {
		return nil, err
	}
	if err := check.Labels(fn, "assignments", assignments, n, numClusters); err != nil {
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
// images nearest the cluster's center in feature space ([NearestToCenters],
// then [Grid]): the picture that shows what each cluster has learned.
// images and features describe the same N samples; empty clusters give
// empty rows. It returns the errors of NearestToCenters and Grid, and one
// wrapping ssl.ErrShape if images does not hold N images.
func ClusterGrid(w io.Writer, images, features ssl.Tensor, assignments []int, numClusters, perCluster int, opts *GridOptions) error {
	const fn = "probe: ClusterGrid"
	if check.IsNil(images) {
		return check.Errorf(fn, ssl.ErrShape, "images is nil")
	}
	shape, _, err := ssl.View(images)
	if err != nil {
		return fmt.Errorf("%s: images: %w", fn, err)
	}
	if len(shape) == 0 || len(assignments) != shape[0] {
		return check.Errorf(fn, ssl.ErrShape, "len(assignments) is %d, images has shape %v", len(assignments), shape)
	}
	rows, err := nearestToCenters(fn, features, assignments, numClusters, perCluster)
	if err != nil {
		return err
	}
	img, err := gridImage("ClusterGrid", images, rows, opts)
	if err != nil {
		return err
	}
	if err := png.Encode(w, img); err != nil {
		return fmt.Errorf("%s: %w", fn, err)
	}
	return nil
}
