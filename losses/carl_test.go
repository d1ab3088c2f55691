package losses

import (
	"fmt"
	"math"
	"testing"

	"ssl"
	"ssl/internal/testutil"
)

// carlNaive is CARPLoss.forward over RandomPartition's blocks transcribed
// in float64; it returns the total, the consistency and the entropy.
func carlNaive(st, te []float64, views, b, k int, part []int, psize int) (total, cons, ent float64) {
	const eps = 2.220446049250313e-16
	clamp := func(x float64) float64 { return math.Min(math.Max(x, eps), 1-eps) }
	nb := len(part) / psize
	block := func(x []float64, r, j int) []float64 {
		row := make([]float64, psize)
		for c := range psize {
			row[c] = x[r*k+part[j*psize+c]]
		}
		return cltSoftmax64(row)
	}
	npairs := 0
	for i := range views {
		for t := range 2 {
			if i == t {
				continue
			}
			npairs++
			var pair float64
			for j := range nb {
				for r := range b {
					p, q := block(st, i*b+r, j), block(te, t*b+r, j)
					var s float64
					for c := range psize {
						s += p[c] * q[c]
					}
					pair -= math.Log(clamp(s))
				}
			}
			cons += pair / float64(nb*b)
		}
	}
	cons /= float64(npairs)
	for j := range nb {
		mean := make([]float64, psize)
		for r := range views * b {
			for c, v := range block(st, r, j) {
				mean[c] += v
			}
		}
		for r := range 2 * b {
			for c, v := range block(te, r, j) {
				mean[c] += v
			}
		}
		e := math.Log(float64(psize))
		for _, v := range mean {
			v /= float64((views + 2) * b)
			e += v * math.Log(clamp(v))
		}
		ent += e
	}
	ent /= float64(nb)
	return cons + ent, cons, ent
}

func TestCARL(t *testing.T) {
	for _, tc := range []struct {
		name     string
		views, b int
		k        int
		part     []int // nil: all K in order
		psize    int
		scale    float64
	}{
		{"v2_b8_k6_full", 2, 8, 6, nil, 0, 1},
		{"v4_b4_k10_full", 4, 4, 10, nil, 0, 1},
		{"v2_b2_k5", 2, 2, 5, nil, 0, 1},
		{"v3_b4_k12_partition4", 3, 4, 12, []int{3, 7, 0, 11, 5, 1, 9, 2, 10, 4, 8, 6}, 4, 1},
		{"v2_b3_k10_psize3_leftover", 2, 3, 10, []int{9, 2, 5, 0, 7, 1, 4, 8, 3}, 3, 1},
		{"v2_b1_k4_batch1", 2, 1, 4, nil, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rnd := testutil.Rand(uint64(tc.views*100 + tc.b*10 + tc.k))
			st := testutil.RandN(rnd, tc.scale, tc.views*tc.b, tc.k)
			te := testutil.RandN(rnd, tc.scale, 2*tc.b, tc.k)
			sb, tb := testutil.Clone(st), testutil.Clone(te)
			g := testutil.NaNs(tc.views*tc.b, tc.k)
			opts := &CARLOptions{Partition: tc.part, PartitionSize: tc.psize}
			res, err := CARL(g, st, te, tc.views, opts)
			total, cons, ent := res.Loss, res.Consistency, res.Entropy
			if err != nil {
				t.Fatalf("CARL: %v", err)
			}
			testutil.Unchanged(t, "student", st, sb)
			testutil.Unchanged(t, "teacher", te, tb)
			part, psize := tc.part, tc.psize
			if part == nil {
				part, psize = make([]int, tc.k), tc.k
				for i := range part {
					part[i] = i
				}
			}
			xs, xt := testutil.F64(st), testutil.F64(te)
			wt, wc, we := carlNaive(xs, xt, tc.views, tc.b, tc.k, part, psize)
			if !testutil.Close(total, wt, 1e-9, 1e-6) || !testutil.Close(cons, wc, 1e-9, 1e-6) || !testutil.Close(ent, we, 1e-9, 1e-6) {
				t.Errorf("CARL = %.10g %.10g %.10g, want %.10g %.10g %.10g", total, cons, ent, wt, wc, we)
			}
			f := func(x []float64) float64 { v, _, _ := carlNaive(x, xt, tc.views, tc.b, tc.k, part, psize); return v }
			cltGrad(t, "dstudent", testutil.Data(g), f, xs, 1e-6)
		})
	}
}

// TestCARLSaturated covers logits ×40: dot products saturate at 0 and 1
// and the clamp to [ε, 1−ε] is active (no gradient through it).
func TestCARLSaturated(t *testing.T) {
	const views, b, k = 2, 3, 4
	rnd := testutil.Rand(40)
	st, te := testutil.RandN(rnd, 40, views*b, k), testutil.RandN(rnd, 40, 2*b, k)
	g := testutil.NaNs(views*b, k)
	res, err := CARL(g, st, te, views, nil)
	total := res.Loss
	if err != nil {
		t.Fatal(err)
	}
	part := []int{0, 1, 2, 3}
	xs, xt := testutil.F64(st), testutil.F64(te)
	want, _, _ := carlNaive(xs, xt, views, b, k, part, k)
	if !testutil.Close(total, want, 1e-9, 1e-6) {
		t.Errorf("CARL = %.10g, want %.10g", total, want)
	}
	cltFinite(t, "dstudent", testutil.Data(g))
	f := func(x []float64) float64 { v, _, _ := carlNaive(x, xt, views, b, k, part, k); return v }
	cltGrad(t, "dstudent", testutil.Data(g), f, xs, 1e-7)
}

func TestCARLErrors(t *testing.T) {
	const views, b, k = 2, 3, 4
	st := testutil.RandN(testutil.Rand(1), 1, views*b, k)
	te := testutil.RandN(testutil.Rand(2), 1, 2*b, k)
	nan := testutil.Clone(st)
	testutil.Data(nan)[0] = float32(math.NaN())
	for _, tc := range []struct {
		name     string
		g        ssl.Tensor
		st, te   ssl.Tensor
		views    int
		opts     *CARLOptions
		sentinel error
		want     string
	}{
		{"nil_student", nil, nil, te, views, nil, ssl.ErrShape, "student"},
		{"one_view", nil, st, te, 1, nil, ssl.ErrParam, "views=1"},
		{"rows", nil, st, te, 4, nil, ssl.ErrShape, "multiple of views=4"},
		{"teacher_shape", nil, st, ssl.New(b, k), views, nil, ssl.ErrShape, "teacher"},
		{"dst_shape", testutil.NaNs(views*b, k+1), st, te, views, nil, ssl.ErrShape, "dstudent"},
		{"dst_alias", te, st, te, views, nil, ssl.ErrShape, "dstudent overlaps"},
		{"partition_range", testutil.NaNs(views*b, k), st, te, views, &CARLOptions{Partition: []int{0, 4}}, ssl.ErrParam, "Partition[1]=4"},
		{"partition_repeat", testutil.NaNs(views*b, k), st, te, views, &CARLOptions{Partition: []int{1, 1}}, ssl.ErrParam, "repeats column 1"},
		{"partition_empty", testutil.NaNs(views*b, k), st, te, views, &CARLOptions{Partition: []int{}}, ssl.ErrParam, "Partition is empty"},
		{"psize", testutil.NaNs(views*b, k), st, te, views, &CARLOptions{Partition: []int{0, 1, 2}, PartitionSize: 2}, ssl.ErrParam, "PartitionSize=2"},
		{"psize_negative", testutil.NaNs(views*b, k), st, te, views, &CARLOptions{PartitionSize: -1}, ssl.ErrParam, "PartitionSize=-1"},
		{"nan", testutil.NaNs(views*b, k), nan, te, views, nil, ssl.ErrNotFinite, "result is NaN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CARL(tc.g, tc.st, tc.te, tc.views, tc.opts)
			cltWantErr(t, err, tc.sentinel, "losses: CARL", tc.want)
			if tc.g != nil && tc.g != te {
				cltAllNaN(t, "dstudent", tc.g)
			}
		})
	}
}

func ExampleCARL() {
	// Two views of two images over three prototypes, and the target
	// network's scores of the two global views.
	student := ssl.FromSlice([]float32{2, 0, 0, 0, 2, 0, 1.5, 0, 0, 0, 1, 0.5}, 4, 3)
	teacher := ssl.FromSlice([]float32{2, 0, 0, 0, 2, 0, 2, 0, 0, 0, 2, 0}, 4, 3)
	d := ssl.New(4, 3)
	res, err := CARL(d, student, teacher, 2, nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("total %.4f consistency %.4f entropy %.4f\n", res.Loss, res.Consistency, res.Entropy)
	// Output:
	// total 0.6587 consistency 0.5580 entropy 0.1007
}
