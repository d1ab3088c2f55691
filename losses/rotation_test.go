package losses

import (
	"fmt"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

func TestRotationTargets(t *testing.T) {
	got, err := RotationTargets(nil, 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[0 0 0 1 1 1 2 2 2 3 3 3]"; fmt.Sprint(got) != want {
		t.Errorf("RotationTargets(3, 4) = %v, want %s", got, want)
	}
	rep, err := RepeatLabels(nil, []int{5, 2, 7}, 4)
	if err != nil {
		t.Fatal(err)
	}
	if want := "[5 2 7 5 2 7 5 2 7 5 2 7]"; fmt.Sprint(rep) != want {
		t.Errorf("RepeatLabels = %v, want %s", rep, want)
	}
	for _, tc := range []struct {
		name string
		err  error
		s    error
		want string
	}{
		{"batch0", second(RotationTargets(nil, 0, 4)), ssl.ErrParam, "batch=0"},
		{"rot0", second(RotationTargets(nil, 2, 0)), ssl.ErrParam, "rotations=0"},
		{"dst_len", second(RotationTargets(make([]int, 3), 2, 4)), ssl.ErrShape, "len(dst)"},
		{"repeat_empty", second(RepeatLabels(nil, nil, 4)), ssl.ErrParam, "len(labels)=0"},
		{"repeat_dst", second(RepeatLabels(make([]int, 2), []int{1}, 4)), ssl.ErrShape, "len(dst)"},
	} {
		t.Run(tc.name, func(t *testing.T) { cltWantErr(t, tc.err, tc.s, tc.want) })
	}
}

func second(_ []int, err error) error { return err }

func TestRotationClusterTargets(t *testing.T) {
	rot := []int{0, 3, 1, 2, 0}
	clu := []int{2, 0, 1, 1, 0}
	got, err := RotationClusterTargets(nil, rot, clu, 4, 3)
	if err != nil {
		t.Fatal(err)
	}
	// super-class = 4·cluster + rotation, as DeeperCluster numbers them.
	if want := "[8 3 5 6 0]"; fmt.Sprint(got) != want {
		t.Errorf("RotationClusterTargets = %v, want %s", got, want)
	}
	// Every (rotation, cluster) pair maps to a distinct class in [0, r·k),
	// and back: rotation = y mod r, cluster = y div r.
	const r, k = 4, 5
	var rs, cs []int
	for c := range k {
		for q := range r {
			rs, cs = append(rs, q), append(cs, c)
		}
	}
	y, err := RotationClusterTargets(nil, rs, cs, r, k)
	if err != nil {
		t.Fatal(err)
	}
	seen := make([]bool, r*k)
	for i, v := range y {
		if v < 0 || v >= r*k || seen[v] || v%r != rs[i] || v/r != cs[i] {
			t.Fatalf("pair (%d, %d) -> %d", rs[i], cs[i], v)
		}
		seen[v] = true
	}
	for _, tc := range []struct {
		name      string
		rot, clu  []int
		r, k      int
		dst       []int
		sentinel  error
		wantInMsg string
	}{
		{"r0", rot, clu, 0, 3, nil, ssl.ErrParam, "r=0"},
		{"rotation_range", []int{4, 0, 0, 0, 0}, clu, 4, 3, nil, ssl.ErrParam, "rotations[0]=4"},
		{"cluster_range", rot, []int{0, 0, 3, 0, 0}, 4, 3, nil, ssl.ErrParam, "clusters[2]=3"},
		{"lengths", rot[:2], clu, 4, 3, nil, ssl.ErrShape, "len(rotations)"},
		{"dst", rot, clu, 4, 3, make([]int, 2), ssl.ErrShape, "len(dst)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := RotationClusterTargets(tc.dst, tc.rot, tc.clu, tc.r, tc.k)
			cltWantErr(t, err, tc.sentinel, "losses: RotationClusterTargets", tc.wantInMsg)
		})
	}
}

// TestS4LComposition composes S4L-Rotation's objective from the targets:
// the supervised cross-entropy on every rotated copy of the labelled
// images plus w times the rotation cross-entropy, and checks it against
// the float64 oracle and finite differences.
func TestS4LComposition(t *testing.T) {
	const b, classes, rots, w = 3, 5, 4, 0.5
	rnd := testutil.Rand(21)
	sup := testutil.RandN(rnd, 1, rots*b, classes)
	rot := testutil.RandN(rnd, 1, rots*b, rots)
	labels := []int{4, 0, 2}
	ySup, err := RepeatLabels(nil, labels, rots)
	if err != nil {
		t.Fatal(err)
	}
	yRot, err := RotationTargets(nil, b, rots)
	if err != nil {
		t.Fatal(err)
	}
	gs, gr := testutil.NaNs(rots*b, classes), testutil.NaNs(rots*b, rots)
	ls, err := PseudoLabelCE(gs, sup, ySup, nil)
	if err != nil {
		t.Fatal(err)
	}
	lr, err := PseudoLabelCE(gr, rot, yRot, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := ls + w*lr
	want := func(xs, xr []float64) float64 {
		var l float64
		for i := range rots * b {
			l += cltLSE64(xs[i*classes:(i+1)*classes]) - xs[i*classes+labels[i%b]]
			l += w * (cltLSE64(xr[i*rots:(i+1)*rots]) - xr[i*rots+i/b])
		}
		return l / (rots * b)
	}
	xs, xr := testutil.F64(sup), testutil.F64(rot)
	if wl := want(xs, xr); !testutil.Close(got, wl, 1e-9, 1e-6) {
		t.Errorf("S4L loss = %.9g, want %.9g", got, wl)
	}
	cltGrad(t, "dsup", testutil.Data(gs), func(x []float64) float64 { return want(x, xr) }, xs, 1e-6)
	gr32 := testutil.Data(gr)
	for i := range gr32 {
		gr32[i] *= w
	}
	cltGrad(t, "drot", gr32, func(x []float64) float64 { return want(xs, x) }, xr, 1e-6)
}

func ExampleRotationClusterTargets() {
	// DeeperCluster: four images, their rotation (0–3) and super-cluster
	// (0–1); the super-class target is 4·super-cluster + rotation.
	y, err := RotationClusterTargets(nil, []int{0, 1, 2, 3}, []int{1, 1, 0, 0}, 4, 2)
	if err != nil {
		panic(err)
	}
	fmt.Println(y)
	// Output:
	// [4 5 2 3]
}
