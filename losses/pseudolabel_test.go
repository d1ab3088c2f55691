package losses

import (
	"fmt"
	"math"
	"testing"

	"gorgonia.org/tensor"

	"ssl"
	"ssl/internal/testutil"
)

// pseudoLabelCENaive is torch.nn.CrossEntropyLoss (mean reduction)
// transcribed in float64.
func pseudoLabelCENaive(x []float64, labels []int, b, k int) float64 {
	var sum float64
	for i := range b {
		row := x[i*k : (i+1)*k]
		m := math.Inf(-1)
		for _, v := range row {
			m = math.Max(m, v)
		}
		var s float64
		for _, v := range row {
			s += math.Exp(v - m)
		}
		sum += m + math.Log(s) - row[labels[i]]
	}
	return sum / float64(b)
}

func TestPseudoLabelCE(t *testing.T) {
	for _, tc := range []struct {
		name  string
		b, k  int
		scale float64
	}{
		{"b1_k5", 1, 5, 1},
		{"b2_k3", 2, 3, 1},
		{"b8_k16", 8, 16, 1},
		{"b16_k4_K<B", 16, 4, 1},
		{"b4_k10_x30", 4, 10, 30},
		{"b3_k6_x1000", 3, 6, 1000},
		{"b5_k1", 5, 1, 1}, // one class: loss and gradient are 0
	} {
		t.Run(tc.name, func(t *testing.T) {
			rnd := testutil.Rand(uint64(tc.b*100 + tc.k))
			logits := testutil.RandN(rnd, tc.scale, tc.b, tc.k)
			labels := cltRandLabels(rnd, tc.b, tc.k)
			before := testutil.Clone(logits)
			g := testutil.NaNs(tc.b, tc.k)
			got, err := PseudoLabelCE(g, logits, labels, nil)
			if err != nil {
				t.Fatalf("PseudoLabelCE: %v", err)
			}
			testutil.Unchanged(t, "logits", logits, before)
			x := testutil.F64(logits)
			want := pseudoLabelCENaive(x, labels, tc.b, tc.k)
			if !testutil.Close(got, want, 1e-9, 1e-6) {
				t.Errorf("PseudoLabelCE = %.12g, want %.12g", got, want)
			}
			f := func(x []float64) float64 { return pseudoLabelCENaive(x, labels, tc.b, tc.k) }
			cltGrad(t, "dlogits", testutil.Data(g), f, x, 1e-6*tc.scale)
		})
	}
}

// TestPseudoLabelCETypedNil checks that a typed nil *tensor.Dense
// destination skips the gradient like an untyped nil.
func TestPseudoLabelCETypedNil(t *testing.T) {
	logits := testutil.RandN(testutil.Rand(2), 1, 3, 4)
	var g *tensor.Dense
	l, err := PseudoLabelCE(g, logits, []int{0, 1, 2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := pseudoLabelCENaive(testutil.F64(logits), []int{0, 1, 2}, 3, 4); !testutil.Close(l, want, 1e-9, 1e-6) {
		t.Errorf("PseudoLabelCE = %v, want %v", l, want)
	}
}

// TestPseudoLabelCEConfident checks the relative precision of tiny
// per-row losses (confident, correct rows), where lse − x_y cancels.
func TestPseudoLabelCEConfident(t *testing.T) {
	logits := ssl.FromSlice([]float32{500, 480, 470, -100, 0, 490}, 2, 3)
	labels := []int{0, 2}
	got, err := PseudoLabelCE(nil, logits, labels, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := pseudoLabelCENaive(testutil.F64(logits), labels, 2, 3)
	// Relative precision of the loss itself (the float32 softmax sets it),
	// far inside the float32 tolerance although lse − x_y cancels 20 digits.
	if !testutil.Close(got, want, 0, 1e-5) {
		t.Errorf("PseudoLabelCE = %.12g, want %.12g", got, want)
	}
}

func TestPseudoLabelCEErrors(t *testing.T) {
	const b, k = 4, 3
	logits := testutil.RandN(testutil.Rand(1), 1, b, k)
	nan := testutil.Clone(logits)
	testutil.Data(nan)[4] = float32(math.NaN())
	for _, tc := range []struct {
		name     string
		g, x     ssl.Tensor
		labels   []int
		sentinel error
		want     string
	}{
		{"nil_logits", nil, nil, []int{0}, ssl.ErrShape, "logits"},
		{"empty", nil, ssl.New(0, k), nil, ssl.ErrShape, "logits"},
		{"rank1", nil, ssl.New(k), []int{0}, ssl.ErrShape, "logits"},
		{"labels_len", testutil.NaNs(b, k), logits, []int{0, 1}, ssl.ErrShape, "len(labels)"},
		{"label_high", testutil.NaNs(b, k), logits, []int{0, 1, 3, 2}, ssl.ErrParam, "labels[2]=3"},
		{"label_negative", testutil.NaNs(b, k), logits, []int{0, -1, 1, 2}, ssl.ErrParam, "labels[1]=-1"},
		{"dlogits_shape", testutil.NaNs(b, k+1), logits, []int{0, 1, 2, 0}, ssl.ErrShape, "dlogits"},
		{"dlogits_alias", logits, logits, []int{0, 1, 2, 0}, ssl.ErrShape, "dlogits overlaps"},
		{"nan_logit", nil, nan, []int{0, 1, 2, 0}, ssl.ErrNotFinite, "loss"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := PseudoLabelCE(tc.g, tc.x, tc.labels, nil)
			cltWantErr(t, err, tc.sentinel, "losses: PseudoLabelCE", tc.want)
			if tc.g != nil && tc.g != ssl.Tensor(logits) {
				cltAllNaN(t, "dlogits", tc.g)
			}
		})
	}
}

func ExamplePseudoLabelCE() {
	// DeepCluster: the classifier's logits for three images and their
	// k-means cluster labels.
	logits := ssl.FromSlice([]float32{2, 0.5, -1, 0, 1.5, 0.2, -0.3, 0.1, 1.2}, 3, 3)
	labels := []int{0, 1, 2}
	dlogits := ssl.New(3, 3)
	loss, err := PseudoLabelCE(dlogits, logits, labels, nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("loss %.4f\n", loss)
	// Output:
	// loss 0.3620
}
