package losses

import (
	"fmt"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// trackLabelsNaive gives every patch of a track (id ≥ 0) the most frequent
// label of the track, the smallest on a tie.
func trackLabelsNaive(labels, tracks []int, k int) []int {
	out := append([]int(nil), labels...)
	votes := map[int][]int{}
	for i, tr := range tracks {
		if tr < 0 {
			continue
		}
		if votes[tr] == nil {
			votes[tr] = make([]int, k)
		}
		votes[tr][labels[i]]++
	}
	for i, tr := range tracks {
		if tr < 0 {
			continue
		}
		best := 0
		for c, n := range votes[tr] {
			if n > votes[tr][best] {
				best = c
			}
		}
		out[i] = best
	}
	return out
}

func TestTrackLabels(t *testing.T) {
	for _, tc := range []struct {
		name           string
		labels, tracks []int
		k              int
		want           []int
	}{
		{"majority", []int{1, 1, 2, 0, 0}, []int{7, 7, 7, 3, 3}, 3, []int{1, 1, 1, 0, 0}},
		{"tie_smallest", []int{2, 1, 0}, []int{4, 4, -1}, 3, []int{1, 1, 0}},
		{"untracked_keep", []int{2, 1, 0}, []int{-1, -1, -1}, 3, []int{2, 1, 0}},
		{"interleaved", []int{0, 2, 2, 1, 2, 1}, []int{1, 0, 1, 0, 1, 0}, 3, []int{2, 1, 2, 1, 2, 1}},
		{"single", []int{4}, []int{0}, 5, []int{4}},
		{"empty", []int{}, []int{}, 2, []int{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := append([]int(nil), tc.labels...)
			got, err := TrackLabels(nil, tc.labels, tc.tracks, tc.k)
			if err != nil {
				t.Fatalf("TrackLabels: %v", err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("TrackLabels = %v, want %v", got, tc.want)
			}
			if fmt.Sprint(tc.labels) != fmt.Sprint(before) {
				t.Errorf("labels modified: %v, was %v", tc.labels, before)
			}
			if n := trackLabelsNaive(tc.labels, tc.tracks, tc.k); fmt.Sprint(n) != fmt.Sprint(tc.want) {
				t.Fatalf("oracle = %v, want %v", n, tc.want)
			}
			// In place.
			in := append([]int(nil), tc.labels...)
			if _, err := TrackLabels(in, in, tc.tracks, tc.k); err != nil || fmt.Sprint(in) != fmt.Sprint(tc.want) {
				t.Errorf("TrackLabels in place = %v, %v; want %v", in, err, tc.want)
			}
		})
	}
	// Random: against the oracle, and every track ends with one label.
	rnd := testutil.Rand(3)
	for trial := range 50 {
		n, k := 1+rnd.IntN(60), 1+rnd.IntN(6)
		labels, tracks := cltRandLabels(rnd, n, k), make([]int, n)
		for i := range tracks {
			tracks[i] = rnd.IntN(8) - 2
		}
		got, err := TrackLabels(nil, labels, tracks, k)
		if err != nil {
			t.Fatal(err)
		}
		if want := trackLabelsNaive(labels, tracks, k); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("trial %d: TrackLabels(%v, %v) = %v, want %v", trial, labels, tracks, got, want)
		}
	}
}

func TestTrackLabelsErrors(t *testing.T) {
	for _, tc := range []struct {
		name                string
		dst, labels, tracks []int
		k                   int
		sentinel            error
		want                string
	}{
		{"k_zero", nil, []int{0}, []int{0}, 0, ssl.ErrParam, "k=0"},
		{"lengths", nil, []int{0, 1}, []int{0}, 2, ssl.ErrShape, "len(tracks)"},
		{"label_range", nil, []int{0, 2}, []int{0, 0}, 2, ssl.ErrParam, "labels[1]=2"},
		{"dst_len", []int{9}, []int{0, 1}, []int{0, 0}, 2, ssl.ErrShape, "len(dst)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := TrackLabels(tc.dst, tc.labels, tc.tracks, tc.k)
			cltWantErr(t, err, tc.sentinel, "losses: TrackLabels", tc.want)
			if tc.dst != nil && tc.dst[0] != 9 {
				t.Errorf("dst written on error: %v", tc.dst)
			}
		})
	}
}

func TestODCT(t *testing.T) {
	const b, k = 6, 4
	rnd := testutil.Rand(8)
	logits := testutil.RandN(rnd, 2, b, k)
	labels := []int{0, 1, 1, 3, 2, 3}
	tracks := []int{5, 5, 5, -1, 2, 2}
	g := testutil.NaNs(b, k)
	got, err := ODCT(g, logits, labels, tracks, nil)
	if err != nil {
		t.Fatal(err)
	}
	y := trackLabelsNaive(labels, tracks, k)
	x := testutil.F64(logits)
	want := pseudoLabelCENaive(x, y, b, k)
	if !testutil.Close(got, want, 1e-9, 1e-6) {
		t.Errorf("ODCT = %.9g, want %.9g", got, want)
	}
	f := func(x []float64) float64 { return pseudoLabelCENaive(x, y, b, k) }
	cltGrad(t, "dlogits", testutil.Data(g), f, x, 1e-6)
	_, err = ODCT(nil, logits, labels[:3], tracks, nil)
	cltWantErr(t, err, ssl.ErrShape, "losses: ODCT", "len(labels)")
	_, err = ODCT(nil, logits, labels, tracks[:3], nil)
	cltWantErr(t, err, ssl.ErrShape, "TrackLabels", "len(tracks)")
}

func ExampleTrackLabels() {
	// Five patches: three of track 7, two of track 3; their k-means labels
	// disagree inside track 7.
	labels := []int{1, 1, 2, 0, 0}
	tracks := []int{7, 7, 7, 3, 3}
	y, err := TrackLabels(nil, labels, tracks, 3)
	if err != nil {
		panic(err)
	}
	fmt.Println(y)
	// Output:
	// [1 1 1 0 0]
}
