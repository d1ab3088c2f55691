package check

import (
	"errors"
	"math"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"ssl"
)

func TestChecks(t *testing.T) {
	const fn = "pkg: F"
	x := ssl.New(2, 3)
	xv, _ := ssl.MatrixOf(x, 2, 3)
	other := ssl.New(2, 3)
	ov, _ := ssl.MatrixOf(other, 2, 3)
	nan := ssl.FromSlice([]float32{0, 1, float32(math.NaN()), 2}, 2, 2)
	nv, _ := ssl.MatrixOf(nan, 2, 2)
	var typedNil *tensor.Dense

	tests := []struct {
		name string
		err  error
		want error  // sentinel, nil for success
		text string // substring of the message
	}{
		{"matrix_ok", second(Matrix(fn, "x", x)), nil, ""},
		{"matrix_nil", second(Matrix(fn, "x", nil)), ssl.ErrShape, "pkg: F: x is nil"},
		{"matrix_typed_nil", second(Matrix(fn, "x", typedNil)), ssl.ErrShape, "x is nil"},
		{"matrix_rank", second(Matrix(fn, "v", ssl.New(4))), ssl.ErrShape, "pkg: F: v: "},
		{"nonempty", second(NonEmptyMatrix(fn, "x", ssl.New(0, 3))), ssl.ErrShape, "x is empty (shape (0, 3))"},
		{"matrixof", errOf(MatrixOf(fn, "y", x, 3, 2)), ssl.ErrShape, "pkg: F: y: "},
		{"vectorof", errOf(VectorOf(fn, "v", ssl.New(4), 5)), ssl.ErrShape, "v: "},
		{"dst_nil", errOf(Dst(fn, "dx", nil, Shape2(2, 3))), nil, ""},
		{"dst_typed_nil", errOf(Dst(fn, "dx", typedNil, Shape2(2, 3))), nil, ""},
		{"dst_ok", errOf(Dst(fn, "dx", other, Shape2(2, 3), xv)), nil, ""},
		{"dst_shape", errOf(Dst(fn, "dx", other, Shape3(1, 2, 3))), ssl.ErrShape, "dx: shape [2 3], want [1 2 3]"},
		{"dst_alias", errOf(Dst(fn, "dx", x, Shape2(2, 3), xv)), ssl.ErrShape, "dx overlaps an input"},
		{"distinct_ok", Distinct(fn, []string{"a", "b"}, xv, ov), nil, ""},
		{"distinct", Distinct(fn, []string{"a", "b"}, xv, xv[2:]), ssl.ErrShape, "a and b overlap"},
		{"positive", Positive(fn, "tau", 0), ssl.ErrParam, "tau must be finite and > 0 (tau=0)"},
		{"positive_inf", Positive(fn, "tau", math.Inf(1)), ssl.ErrParam, "tau=+Inf"},
		{"positive_nan", Positive(fn, "tau", math.NaN()), ssl.ErrParam, "tau=NaN"},
		{"nonnegative", NonNegative(fn, "w", -1), ssl.ErrParam, "w must be finite and ≥ 0 (w=-1)"},
		{"nonnegative_ok", NonNegative(fn, "w", 0), nil, ""},
		{"finite", Finite(fn, "m", math.NaN()), ssl.ErrParam, "m must be finite"},
		{"within", Within(fn, "p", 1.5, 0, 1), ssl.ErrParam, "p must be in [0, 1] (p=1.5)"},
		{"within_nan", Within(fn, "p", math.NaN(), 0, 1), ssl.ErrParam, "p=NaN"},
		{"count", Count(fn, "k", 0, 1), ssl.ErrParam, "k must be ≥ 1 (k=0)"},
		{"atleast", AtLeast(fn, "batch size", 1, 2), ssl.ErrShape, "batch size is 1, want ≥ 2"},
		{"result", Result(fn, math.Inf(1), "logits"), ssl.ErrNotFinite, "result is +Inf (non-finite values in logits?)"},
		{"result_ok", Result(fn, 1, "logits"), nil, ""},
		{"finitedata", FiniteData(fn, "x", nv, 2, 2), ssl.ErrNotFinite, "x[1,0] is NaN"},
		{"labels_len", Labels(fn, "labels", []int{0, 1}, 3, 2), ssl.ErrShape, "len(labels) is 2, want 3"},
		{"labels_range", Labels(fn, "labels", []int{0, 2}, 2, 2), ssl.ErrParam, "labels[1] is out of range [0, 2) (labels[1]=2)"},
		{"labels_ok", Labels(fn, "labels", []int{0, 1}, 2, 2), nil, ""},
		{"rand", Rand(fn, nil), ssl.ErrParam, "rng is nil"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.want == nil {
				if tc.err != nil {
					t.Fatalf("error %v, want nil", tc.err)
				}
				return
			}
			if !errors.Is(tc.err, tc.want) {
				t.Fatalf("error %v, want one wrapping %v", tc.err, tc.want)
			}
			if !strings.HasPrefix(tc.err.Error(), fn+": ") || !strings.Contains(tc.err.Error(), tc.text) {
				t.Errorf("error %q, want it to start with %q and contain %q", tc.err, fn+": ", tc.text)
			}
		})
	}
}

// TestDstAllocs checks that checking a destination allocates nothing, so
// the objectives' hot paths stay allocation-free.
func TestDstAllocs(t *testing.T) {
	x, dx := ssl.New(4, 8), ssl.New(4, 8)
	xv, _ := ssl.MatrixOf(x, 4, 8)
	if n := testing.AllocsPerRun(100, func() {
		if _, err := Dst("pkg: F", "dx", dx, Shape2(4, 8), xv); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("Dst allocates %v times per call, want 0", n)
	}
}

func second(_, _ int, _ []float32, err error) error { return err }

func errOf[T any](_ T, err error) error { return err }
