package augment

import (
	"fmt"
	"math/rand/v2"

	"ssl"
	"ssl/internal/check"
)

// Transform is one augmentation step on a single image.
//
// Shape validates the step's settings and the input shape c×h×w and returns
// the output shape; its errors wrap ssl.ErrParam (invalid settings) or
// ssl.ErrShape (an input the step cannot take). Apply draws the step's
// random parameters from r, in a fixed order, and writes the result for src
// into dst. Apply is called only after Shape accepted src's shape, with dst
// of the shape Shape returned and not overlapping src; it never fails, and
// given the same r state it writes the same result. Implementations must be
// safe for concurrent use (the batch functions call Apply from several
// goroutines, each with its own r).
type Transform interface {
	Shape(c, h, w int) (oc, oh, ow int, err error)
	Apply(dst, src Image, r *rand.Rand)
}

// workspace is a stack of reusable float32 buffers for the intermediate
// images of a composition; one per goroutine.
type workspace struct {
	bufs [][]float32
	top  int
}

func (ws *workspace) get(n int) []float32 {
	if ws.top == len(ws.bufs) {
		ws.bufs = append(ws.bufs, nil)
	}
	b := ws.bufs[ws.top]
	if cap(b) < n {
		b = make([]float32, n)
		ws.bufs[ws.top] = b
	}
	ws.top++
	return b[:n]
}

func (ws *workspace) put(k int) { ws.top -= k }

// wsApplier is implemented by transforms that need intermediate buffers;
// the batch functions pass each goroutine's workspace.
type wsApplier interface {
	applyWS(dst, src Image, r *rand.Rand, ws *workspace)
}

func applyWS(t Transform, dst, src Image, r *rand.Rand, ws *workspace) {
	if a, ok := t.(wsApplier); ok {
		a.applyWS(dst, src, r, ws)
		return
	}
	t.Apply(dst, src, r)
}

// Compose applies its transforms in order, as torchvision's Compose: the
// output of each is the input of the next. An empty Compose copies. Inside
// the batch functions the intermediate images live in per-goroutine buffers
// reused from image to image.
type Compose []Transform

// Shape implements [Transform]: it chains the steps' shapes; an error names
// the failing step's index.
func (c Compose) Shape(ch, h, w int) (int, int, int, error) {
	for i, t := range c {
		if t == nil {
			return 0, 0, 0, check.Errorf("augment: Compose", ssl.ErrParam, "step %d is nil", i)
		}
		var err error
		if ch, h, w, err = t.Shape(ch, h, w); err != nil {
			return 0, 0, 0, fmt.Errorf("augment: Compose: step %d (%T): %w", i, t, err)
		}
	}
	return ch, h, w, nil
}

// Apply implements [Transform]. Used directly it allocates its intermediate
// images; the batch functions do not.
func (c Compose) Apply(dst, src Image, r *rand.Rand) {
	c.applyWS(dst, src, r, new(workspace))
}

func (c Compose) applyWS(dst, src Image, r *rand.Rand, ws *workspace) {
	if len(c) == 0 {
		copyImage(dst, src)
		return
	}
	if len(c) == 1 {
		applyWS(c[0], dst, src, r, ws)
		return
	}
	var shapeBuf [16][3]int
	shapes := shapeBuf[:0]
	ch, h, w, biggest := src.C, src.H, src.W, 0
	for _, t := range c[:len(c)-1] {
		ch, h, w, _ = t.Shape(ch, h, w)
		shapes = append(shapes, [3]int{ch, h, w})
		biggest = max(biggest, ch*h*w)
	}
	bufs := [2][]float32{ws.get(biggest), ws.get(biggest)}
	cur := src
	for i, t := range c {
		out := dst
		if i < len(c)-1 {
			s := shapes[i]
			out = Image{C: s[0], H: s[1], W: s[2], Pix: bufs[i%2][:s[0]*s[1]*s[2]]}
		}
		applyWS(t, out, cur, r, ws)
		cur = out
	}
	ws.put(2)
}

// RandomApply is torchvision's RandomApply([T], P): it applies T with
// probability P (unless P < a float32 uniform draw) and copies otherwise.
// A grayscale color distortion, for example, is
// RandomApply{ColorJitter{Brightness: 0.4, Contrast: 0.4}, 0.8}.
type RandomApply struct {
	T Transform
	// P is the probability, in [0, 1].
	P float64
}

// Shape implements [Transform]. T must keep the shape (a skipped step
// copies).
func (t RandomApply) Shape(c, h, w int) (int, int, int, error) {
	if t.T == nil {
		return 0, 0, 0, check.Errorf("augment: RandomApply", ssl.ErrParam, "T is nil")
	}
	if err := check.Within("augment: RandomApply", "P", t.P, 0, 1); err != nil {
		return 0, 0, 0, err
	}
	oc, oh, ow, err := t.T.Shape(c, h, w)
	if err != nil {
		return 0, 0, 0, err
	}
	if oc != c || oh != h || ow != w {
		return 0, 0, 0, check.Errorf("augment: RandomApply", ssl.ErrParam, "%T changes the shape %d×%d×%d to %d×%d×%d", t.T, c, h, w, oc, oh, ow)
	}
	return c, h, w, nil
}

// Apply implements [Transform].
func (t RandomApply) Apply(dst, src Image, r *rand.Rand) { t.applyWS(dst, src, r, new(workspace)) }

func (t RandomApply) applyWS(dst, src Image, r *rand.Rand, ws *workspace) {
	if float32(t.P) < r.Float32() {
		copyImage(dst, src)
		return
	}
	applyWS(t.T, dst, src, r, ws)
}
