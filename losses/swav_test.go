package losses

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"

	"ssl"
	"ssl/internal/testutil"
	"ssl/sinkhorn"
)

// swavCodesNaive is distributed_sinkhorn (world size 1) transcribed in
// float64: Q = exp(S/ε)ᵀ without max subtraction, normalised, then
// iters rounds of row (prototype) and column (sample) normalisation.
func swavCodesNaive(s []float64, b, k int, eps float64, iters int) []float64 {
	q := make([]float64, k*b) // K×B
	var sum float64
	for i := range b {
		for j := range k {
			q[j*b+i] = math.Exp(s[i*k+j] / eps)
			sum += q[j*b+i]
		}
	}
	for i := range q {
		q[i] /= sum
	}
	for range iters {
		for j := range k {
			var r float64
			for i := range b {
				r += q[j*b+i]
			}
			for i := range b {
				q[j*b+i] /= r * float64(k)
			}
		}
		for i := range b {
			var c float64
			for j := range k {
				c += q[j*b+i]
			}
			for j := range k {
				q[j*b+i] /= c * float64(b)
			}
		}
	}
	out := make([]float64, b*k)
	for i := range b {
		for j := range k {
			out[i*k+j] = q[j*b+i] * float64(b)
		}
	}
	return out
}

// swavNaive is the loss of SwAV's train() with the codes given (|A|×B×K):
// for every assigned crop c and every other crop v, the mean over the
// batch of −Σ_k q_c·log_softmax(S_v/τ), averaged over v and then over c.
func swavNaive(s, codes []float64, n, b, k int, assign []int, tau float64) float64 {
	var loss float64
	for ci, c := range assign {
		var sub float64
		for v := range n {
			if v == c {
				continue
			}
			var l float64
			for i := range b {
				x := make([]float64, k)
				m := math.Inf(-1)
				for j := range k {
					x[j] = s[(v*b+i)*k+j] / tau
					m = math.Max(m, x[j])
				}
				var z float64
				for j := range k {
					z += math.Exp(x[j] - m)
				}
				lse := m + math.Log(z)
				for j := range k {
					l -= codes[(ci*b+i)*k+j] * (x[j] - lse)
				}
			}
			sub += l / float64(b)
		}
		loss += sub / float64(n-1)
	}
	return loss / float64(len(assign))
}

func TestSwAV(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n, b, k int
		assign  []int
		tau     float64
		eps     float64
		iters   int
		scale   float64 // scores uniform in [−scale, scale]
	}{
		{"n2_b4_k3", 2, 4, 3, []int{0, 1}, 0.1, 0.05, 3, 1},
		{"n2_b2_k5", 2, 2, 5, []int{0, 1}, 0.1, 0.05, 3, 1},
		{"n8_b6_k10_multicrop", 8, 6, 10, []int{0, 1}, 0.1, 0.05, 3, 1},
		{"n4_b5_k3_assign0", 4, 5, 3, []int{0}, 0.2, 0.05, 3, 1},
		{"n3_b4_k6_assign02", 3, 4, 6, []int{0, 2}, 0.1, 0.03, 5, 1},
		{"n3_b1_k4_batch1", 3, 1, 4, []int{1, 0}, 0.1, 0.05, 3, 1},
		{"n2_b8_k4_tau0.01", 2, 8, 4, []int{0, 1}, 0.01, 0.05, 3, 1},
		{"n2_b4_k3_tau1e-3", 2, 4, 3, []int{0, 1}, 1e-3, 0.05, 3, 1},
		{"n2_b6_k4_scoresx4_eps0.02", 2, 6, 4, []int{0, 1}, 0.1, 0.02, 3, 4},
		{"n2_b3_k8_allassigned", 2, 3, 8, []int{1, 0}, 0.5, 0.1, 1, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rnd := testutil.Rand(uint64(tc.n*1000 + tc.b*10 + tc.k))
			scores := testutil.RandU(rnd, -tc.scale, tc.scale, tc.n*tc.b, tc.k)
			before := testutil.Clone(scores)
			g := testutil.NaNs(tc.n*tc.b, tc.k)
			codes := testutil.NaNs(len(tc.assign), tc.b, tc.k)
			opts := &SwAVOptions{Epsilon: tc.eps, Iterations: tc.iters}
			got, err := SwAV(codes, g, scores, tc.n, tc.assign, tc.tau, opts)
			if err != nil {
				t.Fatalf("SwAV: %v", err)
			}
			testutil.Unchanged(t, "scores", scores, before)
			s := testutil.F64(scores)
			// Codes: the float64 transcription of distributed_sinkhorn.
			bk := tc.b * tc.k
			want := make([]float64, 0, len(tc.assign)*bk)
			for _, c := range tc.assign {
				want = append(want, swavCodesNaive(s[c*bk:(c+1)*bk], tc.b, tc.k, tc.eps, tc.iters)...)
			}
			testutil.AllClose32(t, "codes", testutil.Data(codes), want, 1e-6, 1e-4)
			wantLoss := swavNaive(s, want, tc.n, tc.b, tc.k, tc.assign, tc.tau)
			if !testutil.Close(got, wantLoss, 1e-7, 1e-5) {
				t.Errorf("SwAV = %.9g, want %.9g", got, wantLoss)
			}
			// The gradient with the codes held fixed (they are detached).
			q := testutil.F64(codes)
			f := func(x []float64) float64 { return swavNaive(x, q, tc.n, tc.b, tc.k, tc.assign, tc.tau) }
			cltGrad(t, "dscores", testutil.Data(g), f, s, 1e-6*tc.tau)
			// Without destinations: the same loss; from the codes: the same
			// loss and gradient.
			l2, err := SwAV(nil, nil, scores, tc.n, tc.assign, tc.tau, opts)
			if err != nil || l2 != got {
				t.Errorf("SwAV without destinations = %v, %v; want %v", l2, err, got)
			}
			g3 := testutil.NaNs(tc.n*tc.b, tc.k)
			l3, err := SwAVFromCodes(g3, scores, codes, tc.n, tc.assign, tc.tau, nil)
			if err != nil || l3 != got {
				t.Errorf("SwAVFromCodes = %v, %v; want %v", l3, err, got)
			}
			testutil.AllClose32(t, "SwAVFromCodes dscores", testutil.Data(g3), testutil.F64(g), 0, 0)
		})
	}
}

// TestSwAVPermutation checks that permuting the batch (the same way in
// every crop) permutes the gradient rows and leaves the loss unchanged.
func TestSwAVPermutation(t *testing.T) {
	const n, b, k = 3, 7, 5
	rnd := testutil.Rand(11)
	scores := testutil.RandU(rnd, -1, 1, n*b, k)
	perm := rnd.Perm(b)
	permuted := ssl.New(n*b, k)
	src, dst := testutil.Data(scores), testutil.Data(permuted)
	for v := range n {
		for i, p := range perm {
			copy(dst[(v*b+i)*k:(v*b+i+1)*k], src[(v*b+p)*k:(v*b+p+1)*k])
		}
	}
	g1, g2 := ssl.New(n*b, k), ssl.New(n*b, k)
	l1, err1 := SwAV(nil, g1, scores, n, []int{0, 1}, 0.1, nil)
	l2, err2 := SwAV(nil, g2, permuted, n, []int{0, 1}, 0.1, nil)
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if !testutil.Close(l2, l1, 0, 1e-6) {
		t.Errorf("loss after permutation = %.9g, want %.9g", l2, l1)
	}
	a, c := testutil.Data(g1), testutil.Data(g2)
	for v := range n {
		for i, p := range perm {
			testutil.AllClose32(t, fmt.Sprintf("crop %d row %d", v, i), c[(v*b+i)*k:(v*b+i+1)*k], testutil.F64s(a[(v*b+p)*k:(v*b+p+1)*k]), 1e-6, 1e-4)
		}
	}
}

// TestSwAVDeterministic checks that results are the same bits whatever
// GOMAXPROCS is.
func TestSwAVDeterministic(t *testing.T) {
	const n, b, k = 4, 64, 300
	scores := testutil.RandU(testutil.Rand(2), -1, 1, n*b, k)
	run := func() (float64, []float32) {
		g := ssl.New(n*b, k)
		l, err := SwAV(nil, g, scores, n, []int{0, 1}, 0.1, nil)
		if err != nil {
			t.Fatal(err)
		}
		return l, testutil.Data(g)
	}
	prev := runtime.GOMAXPROCS(1)
	l1, g1 := run()
	runtime.GOMAXPROCS(4)
	l2, g2 := run()
	runtime.GOMAXPROCS(prev)
	if l1 != l2 {
		t.Errorf("loss with 1 and 4 threads: %v, %v", l1, l2)
	}
	for i := range g1 {
		if g1[i] != g2[i] {
			t.Fatalf("dscores[%d] with 1 and 4 threads: %v, %v", i, g1[i], g2[i])
		}
	}
}

func TestSwAVErrors(t *testing.T) {
	const n, b, k = 3, 4, 5
	scores := testutil.RandU(testutil.Rand(1), -1, 1, n*b, k)
	nanScores := testutil.Clone(scores)
	testutil.Data(nanScores)[7] = float32(math.NaN())
	for _, tc := range []struct {
		name     string
		g, codes ssl.Tensor
		scores   ssl.Tensor
		n        int
		assign   []int
		tau      float64
		opts     *SwAVOptions
		sentinel error
		want     string
	}{
		{"nil_scores", nil, nil, nil, n, []int{0}, 0.1, nil, ssl.ErrShape, "scores"},
		{"rank3_scores", nil, nil, ssl.New(n, b, k), n, []int{0}, 0.1, nil, ssl.ErrShape, "scores"},
		{"empty_scores", nil, nil, ssl.New(0, k), n, []int{0}, 0.1, nil, ssl.ErrShape, "scores"},
		{"rows_not_crops", nil, nil, ssl.New(n*b+1, k), n, []int{0}, 0.1, nil, ssl.ErrShape, "crops=3"},
		{"one_crop", nil, nil, scores, 1, []int{0}, 0.1, nil, ssl.ErrParam, "crops=1"},
		{"no_assign", nil, nil, scores, n, nil, 0.1, nil, ssl.ErrParam, "assign"},
		{"assign_range", nil, nil, scores, n, []int{0, 3}, 0.1, nil, ssl.ErrParam, "assign[1]=3"},
		{"assign_negative", nil, nil, scores, n, []int{-1}, 0.1, nil, ssl.ErrParam, "assign[0]=-1"},
		{"assign_repeat", nil, nil, scores, n, []int{1, 1}, 0.1, nil, ssl.ErrParam, "repeats crop 1"},
		{"tau_zero", nil, nil, scores, n, []int{0}, 0, nil, ssl.ErrParam, "tau=0"},
		{"tau_negative", nil, nil, scores, n, []int{0}, -1, nil, ssl.ErrParam, "tau=-1"},
		{"tau_nan", nil, nil, scores, n, []int{0}, math.NaN(), nil, ssl.ErrParam, "tau=NaN"},
		{"tau_inf", nil, nil, scores, n, []int{0}, math.Inf(1), nil, ssl.ErrParam, "tau=+Inf"},
		{"epsilon_negative", nil, nil, scores, n, []int{0}, 0.1, &SwAVOptions{Epsilon: -1}, ssl.ErrParam, "Epsilon=-1"},
		{"epsilon_nan", nil, nil, scores, n, []int{0}, 0.1, &SwAVOptions{Epsilon: math.NaN()}, ssl.ErrParam, "Epsilon=NaN"},
		{"iterations_negative", nil, nil, scores, n, []int{0}, 0.1, &SwAVOptions{Iterations: -2}, ssl.ErrParam, "Iterations=-2"},
		{"dscores_shape", testutil.NaNs(n*b, k+1), nil, scores, n, []int{0}, 0.1, nil, ssl.ErrShape, "dscores"},
		{"dscores_aliases_scores", scores, nil, scores, n, []int{0}, 0.1, nil, ssl.ErrShape, "dscores overlaps"},
		{"codes_shape", nil, testutil.NaNs(b, k), scores, n, []int{0}, 0.1, nil, ssl.ErrShape, "codes"},
		{"codes_count", nil, testutil.NaNs(2, b, k), scores, n, []int{0}, 0.1, nil, ssl.ErrShape, "codes"},
		{"nan_scores", testutil.NaNs(n*b, k), nil, nanScores, n, []int{0}, 0.1, nil, ssl.ErrNotFinite, "crop 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := SwAV(tc.codes, tc.g, tc.scores, tc.n, tc.assign, tc.tau, tc.opts)
			cltWantErr(t, err, tc.sentinel, "losses: SwAV", tc.want)
			if tc.g != nil && tc.g != ssl.Tensor(scores) {
				cltAllNaN(t, "dscores", tc.g)
			}
			if tc.codes != nil {
				cltAllNaN(t, "codes", tc.codes)
			}
		})
	}
	t.Run("overlapping_destinations", func(t *testing.T) {
		buf := make([]float32, n*b*k)
		g, codes := ssl.FromSlice(buf, n*b, k), ssl.FromSlice(buf[:b*k], 1, b, k)
		_, err := SwAV(codes, g, scores, n, []int{0}, 0.1, nil)
		cltWantErr(t, err, ssl.ErrShape, "codes and dscores overlap")
	})
	t.Run("from_codes_shape", func(t *testing.T) {
		_, err := SwAVFromCodes(nil, scores, ssl.New(1, b, k), n, []int{0, 1}, 0.1, nil)
		cltWantErr(t, err, ssl.ErrShape, "SwAVFromCodes", "codes")
	})
	t.Run("nan_scores_from_codes", func(t *testing.T) {
		// A NaN score reaches the loss through its row even where the
		// targets are zero: it is reported, never returned as a number.
		_, err := SwAVFromCodes(nil, nanScores, ssl.New(1, b, k), n, []int{1}, 0.1, nil)
		cltWantErr(t, err, ssl.ErrNotFinite, "SwAVFromCodes")
	})
}

// TestSwAVAllocs checks that, with destinations and a workspace, SwAV
// allocates nothing beyond what the views of its tensors, the kernels and
// sinkhorn.Balance allocate.
func TestSwAVAllocs(t *testing.T) {
	const n, b, k = 4, 8, 16
	scores := testutil.RandU(testutil.Rand(4), -1, 1, n*b, k)
	g, codes := ssl.New(n*b, k), ssl.New(2, b, k)
	opts := &SwAVOptions{Workspace: NewWorkspace()}
	assign := []int{0, 1}
	got := testing.AllocsPerRun(10, func() {
		if _, err := SwAV(codes, g, scores, n, assign, 0.1, opts); err != nil {
			t.Fatal(err)
		}
	})
	sws := sinkhorn.NewWorkspace(b, k)
	s1, q1 := ssl.FromSlice(testutil.Data(scores)[:b*k], b, k), ssl.New(b, k)
	bo := &sinkhorn.BalanceOptions{Iterations: 3, Workspace: sws}
	balance := testing.AllocsPerRun(5, func() { _, _ = sinkhorn.Balance(q1, s1, 0.05, bo) })
	theirs := cltViewAllocs(g, codes, scores) + 2*balance + cltParallelAllocs(n*b, k)
	t.Logf("SwAV allocations per call: %v (views, kernels and Balance: %v)", got, theirs)
	if got > theirs {
		t.Errorf("SwAV allocates %v per call with workspace and destinations; views, kernels and Balance account for %v", got, theirs)
	}
}

func ExampleSwAV() {
	// Two crops of a batch of 3 images scored against 4 prototypes.
	scores := ssl.FromSlice([]float32{
		0.9, 0.1, -0.2, 0.0, // crop 0
		0.0, 0.8, 0.1, -0.5,
		-0.3, 0.2, 0.7, 0.1,
		0.8, 0.2, -0.1, 0.1, // crop 1
		0.1, 0.7, 0.0, -0.4,
		-0.2, 0.1, 0.9, 0.0,
	}, 6, 4)
	dscores := ssl.New(6, 4)
	codes := ssl.New(2, 3, 4)
	loss, err := SwAV(codes, dscores, scores, 2, []int{0, 1}, 0.1, nil)
	if err != nil {
		panic(err)
	}
	fmt.Printf("loss %.4f\n", loss)
	q := codes.Data().([]float32)
	fmt.Printf("codes of image 0, crop 0: %.4f %.4f %.4f %.4f\n", q[0], q[1], q[2], q[3])
	// Output:
	// loss 1.7256
	// codes of image 0, crop 0: 0.7947 0.0000 0.0000 0.2053
}

// BenchmarkSwAV times one forward and backward pass of SwAV's multi-crop
// loss with codes for two crops: 8 crops of batch 256 (SwAV's 2+6
// multi-crop), K = 3000 prototypes, τ = 0.1, ε = 0.05, 3 Sinkhorn
// iterations, with destinations and a workspace (what a training loop
// passes).
func BenchmarkSwAV(b *testing.B) {
	for _, sz := range []struct{ b, k, crops int }{{256, 3000, 8}, {64, 512, 8}} {
		b.Run(fmt.Sprintf("b%d_k%d_crops%d", sz.b, sz.k, sz.crops), func(b *testing.B) {
			scores := testutil.RandU(testutil.Rand(1), -1, 1, sz.crops*sz.b, sz.k)
			g, codes := ssl.New(sz.crops*sz.b, sz.k), ssl.New(2, sz.b, sz.k)
			opts := &SwAVOptions{Workspace: NewWorkspace()}
			assign := []int{0, 1}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := SwAV(codes, g, scores, sz.crops, assign, 0.1, opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/op")
			// Work model: every score is read, exponentiated and written
			// once (softmax and gradient), and the assigned crops' scores
			// pass through Sinkhorn: about (crops + 2) score-sized passes.
			elems := float64(sz.crops*sz.b*sz.k + 2*sz.b*sz.k)
			b.ReportMetric(elems*float64(b.N)/b.Elapsed().Seconds()/1e6, "Melem/s")
		})
	}
}

// TestSwAVTol checks the stopping rule of SwAV's Sinkhorn step: a Tol the
// codes reach gives the same result as enough fixed iterations and a nil
// error; a Tol they miss within Iterations gives the complete loss with an
// error wrapping ssl.ErrNotConverged.
func TestSwAVTol(t *testing.T) {
	const n, b, k = 3, 16, 5
	scores := testutil.RandU(testutil.Rand(9), -1, 1, n*b, k)
	codes, g := testutil.NaNs(2, b, k), testutil.NaNs(n*b, k)
	loss, err := SwAV(codes, g, scores, n, []int{0, 1}, 0.1, &SwAVOptions{Tol: 1e-4})
	if err != nil {
		t.Fatalf("SwAV(Tol 1e-4): %v", err)
	}
	ref, err := SwAV(nil, nil, scores, n, []int{0, 1}, 0.1, &SwAVOptions{Iterations: 200})
	if err != nil || !testutil.Close(loss, ref, 1e-4, 1e-3) {
		t.Errorf("SwAV(Tol 1e-4) = %v, 200 iterations %v (%v)", loss, ref, err)
	}
	codes2, g2 := testutil.NaNs(2, b, k), testutil.NaNs(n*b, k)
	l2, err := SwAV(codes2, g2, scores, n, []int{0, 1}, 0.1, &SwAVOptions{Tol: 1e-12, Iterations: 1})
	if !errors.Is(err, ssl.ErrNotConverged) || !strings.Contains(err.Error(), "losses: SwAV: codes of crop 0") {
		t.Fatalf("SwAV(Tol 1e-12, 1 iteration): %v, want ssl.ErrNotConverged", err)
	}
	one, err := SwAV(nil, nil, scores, n, []int{0, 1}, 0.1, &SwAVOptions{Iterations: 1})
	if err != nil || l2 != one {
		t.Errorf("SwAV missing Tol = %v, want the 1-iteration loss %v (%v)", l2, one, err)
	}
	cltFinite(t, "codes", testutil.Data(codes2))
	cltFinite(t, "dscores", testutil.Data(g2))
	if _, err := SwAV(nil, nil, scores, n, []int{0}, 0.1, &SwAVOptions{Tol: -1}); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("SwAV(Tol -1): %v, want ssl.ErrParam", err)
	}
}
