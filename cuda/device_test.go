package cuda_test

import (
	"fmt"
	"math"
	"testing"

	"ssl"
	"ssl/cuda"
	"ssl/internal/conformance"
	"ssl/internal/kernel"
	"ssl/internal/testutil"
	"ssl/sinkhorn"
)

// mustDevice opens device 0 or skips the test, saying why.
func mustDevice(t testing.TB) *cuda.Device {
	t.Helper()
	if !cuda.Available() {
		_, err := cuda.Open(0)
		t.Skipf("no CUDA device: %v", err)
	}
	d, err := cuda.Open(0)
	if err != nil {
		t.Fatalf("Open(0): %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func upload(t testing.TB, d *cuda.Device, x ssl.Tensor) *cuda.Tensor {
	t.Helper()
	g, err := d.Upload(x)
	if err != nil {
		t.Fatalf("Upload: %v", err)
	}
	t.Cleanup(func() { g.Free() })
	return g
}

// poisoned returns a device tensor filled with NaN.
func poisoned(t testing.TB, d *cuda.Device, shape ...int) *cuda.Tensor {
	t.Helper()
	return upload(t, d, testutil.NaNs(shape...))
}

func download(t testing.TB, d *cuda.Device, g *cuda.Tensor, shape ...int) []float32 {
	t.Helper()
	h := ssl.New(shape...)
	if err := d.Download(h, g); err != nil {
		t.Fatalf("Download: %v", err)
	}
	return testutil.Data(h)
}

// Sizes around the warp, block and chunk boundaries of the kernels.
var sizes = []int{1, 31, 32, 33, 1023, 4096}

func TestDeviceReductionsMatchCPU(t *testing.T) {
	d := mustDevice(t)
	t.Logf("device %s, kernels for %s", d.Name(), d.Arch())
	r := testutil.Rand(1)
	for _, rows := range sizes {
		for _, cols := range sizes {
			if rows*cols > 1<<22 {
				continue
			}
			name := fmt.Sprintf("%dx%d", rows, cols)
			x := testutil.RandN(r, 4, rows, cols)
			xd := testutil.Data(x)
			g := upload(t, d, x)

			want := make([]float32, rows)
			kernel.LogSumExpRows(want, xd, rows, cols)
			dst := poisoned(t, d, rows)
			if err := d.LogSumExpRows(dst, g); err != nil {
				t.Fatalf("LogSumExpRows(%s): %v", name, err)
			}
			testutil.AllClose32(t, "LogSumExpRows/"+name, download(t, d, dst, rows), testutil.F64s(want), 1e-5, 1e-5)

			wantC := make([]float32, cols)
			kernel.LogSumExpCols(wantC, xd, rows, cols)
			dstC := poisoned(t, d, cols)
			if err := d.LogSumExpCols(dstC, g); err != nil {
				t.Fatalf("LogSumExpCols(%s): %v", name, err)
			}
			testutil.AllClose32(t, "LogSumExpCols/"+name, download(t, d, dstC, cols), testutil.F64s(wantC), 1e-5, 1e-5)

			wantS := make([]float32, rows*cols)
			kernel.SoftmaxRows(wantS, xd, rows, cols)
			dstS := poisoned(t, d, rows, cols)
			if err := d.SoftmaxRows(dstS, g); err != nil {
				t.Fatalf("SoftmaxRows(%s): %v", name, err)
			}
			testutil.AllClose32(t, "SoftmaxRows/"+name, download(t, d, dstS, rows, cols), testutil.F64s(wantS), 1e-7, 1e-5)

			kernel.LogSoftmaxRows(wantS, xd, rows, cols)
			if err := d.LogSoftmaxRows(dstS, g); err != nil {
				t.Fatalf("LogSoftmaxRows(%s): %v", name, err)
			}
			testutil.AllClose32(t, "LogSoftmaxRows/"+name, download(t, d, dstS, rows, cols), testutil.F64s(wantS), 1e-5, 1e-5)

			wantN, wantNorms := make([]float32, rows*cols), make([]float32, rows)
			kernel.L2NormalizeRows(wantN, wantNorms, xd, rows, cols, 1e-12)
			norms := poisoned(t, d, rows)
			if err := d.L2NormalizeRows(dstS, norms, g, 1e-12); err != nil {
				t.Fatalf("L2NormalizeRows(%s): %v", name, err)
			}
			testutil.AllClose32(t, "L2NormalizeRows/"+name, download(t, d, dstS, rows, cols), testutil.F64s(wantN), 1e-6, 1e-5)
			testutil.AllClose32(t, "L2NormalizeRows/norms/"+name, download(t, d, norms, rows), testutil.F64s(wantNorms), 1e-6, 1e-5)
		}
	}
}

func TestDeviceGemmMatchesCPU(t *testing.T) {
	d := mustDevice(t)
	r := testutil.Rand(2)
	for _, sz := range [][3]int{{1, 1, 1}, {31, 33, 32}, {33, 1, 1023}, {256, 300, 64}} {
		m, n, k := sz[0], sz[1], sz[2]
		for _, tr := range [][2]bool{{false, false}, {true, false}, {false, true}, {true, true}} {
			name := fmt.Sprintf("%dx%dx%d_%v%v", m, n, k, tr[0], tr[1])
			ashape, bshape := []int{m, k}, []int{k, n}
			if tr[0] {
				ashape = []int{k, m}
			}
			if tr[1] {
				bshape = []int{n, k}
			}
			a, b, c := testutil.RandN(r, 1, ashape...), testutil.RandN(r, 1, bshape...), testutil.RandN(r, 1, m, n)
			want := append([]float32(nil), testutil.Data(c)...)
			kernel.Gemm(tr[0], tr[1], m, n, k, 0.5, testutil.Data(a), ashape[1], testutil.Data(b), bshape[1], 2, want, n)
			cg := upload(t, d, c)
			if err := d.Gemm(tr[0], tr[1], 0.5, upload(t, d, a), upload(t, d, b), 2, cg); err != nil {
				t.Fatalf("Gemm(%s): %v", name, err)
			}
			testutil.AllClose32(t, "Gemm/"+name, download(t, d, cg, m, n), testutil.F64s(want), 1e-4, 1e-4)
		}
	}
	// Batched: three independent products.
	const batch, m, n, k = 3, 17, 19, 23
	a, b := testutil.RandN(r, 1, batch, m, k), testutil.RandN(r, 1, batch, k, n)
	want := make([]float32, batch*m*n)
	for i := range batch {
		kernel.Gemm(false, false, m, n, k, 1, testutil.Data(a)[i*m*k:], k, testutil.Data(b)[i*k*n:], n, 0, want[i*m*n:], n)
	}
	cg := poisoned(t, d, batch, m, n)
	if err := d.GemmBatched(false, false, 1, upload(t, d, a), upload(t, d, b), 0, cg); err != nil {
		t.Fatalf("GemmBatched: %v", err)
	}
	testutil.AllClose32(t, "GemmBatched", download(t, d, cg, batch, m, n), testutil.F64s(want), 1e-4, 1e-4)
}

// TestDeviceVectors runs the sinkhorn.swav and sinkhorn.sela reference
// cases through the device path at float32 tolerance.
func TestDeviceVectors(t *testing.T) {
	d := mustDevice(t)
	runners := map[string]conformance.Runner{
		"sinkhorn.swav": func(t testing.TB, c *conformance.Case) {
			s := c.Tensor(t, "scores")
			shape := s.Shape()
			q := poisoned(t, d, shape...)
			iters := c.Int(t, "sinkhorn_iterations")
			res, err := d.Balance(q, upload(t, d, s), c.Float(t, "epsilon"), &sinkhorn.BalanceOptions{Iterations: iters})
			if err != nil {
				t.Fatalf("Balance: %v", err)
			}
			if res.Iterations != iters || res.Plan != q || !res.LogDomain {
				t.Errorf("Balance: result %+v, want %d iterations into q in the log domain", res, iters)
			}
			c.Check32(t, "Q", download(t, d, q, shape...))
		},
		"sinkhorn.sela": func(t testing.TB, c *conformance.Case) {
			p := c.Tensor(t, "probs")
			n, k := p.Shape()[0], p.Shape()[1]
			q := poisoned(t, d, n, k)
			labels := make([]int, n)
			res, err := d.SeLa(labels, q, upload(t, d, p), c.Float(t, "lambda"), &sinkhorn.SeLaOptions{
				Tol: c.Float(t, "stop_err"), CheckEvery: c.Int(t, "check_every"),
			})
			if err != nil {
				t.Fatalf("SeLa: %v", err)
			}
			c.CheckExact(t, "labels", labels)
			c.CheckExact(t, "n_iter", []int{res.Iterations})
			c.Check32(t, "Q", download(t, d, q, n, k))
		},
	}
	conformance.Run(t, runners, conformance.Dirs("../internal/conformance/testdata/vectors/sinkhorn")...)
}

// Benchmarks: run on a GPU machine with
//
//	go test -c -o cuda.test ./cuda && ./cuda.test -test.run X -test.bench .
func BenchmarkDeviceCopy(b *testing.B) {
	d := mustDevice(b)
	const n = 1 << 28 // 1 GiB
	src, _ := d.Alloc(n)
	dst, _ := d.Alloc(n)
	defer src.Free()
	defer dst.Free()
	for b.Loop() {
		if err := d.Copy(dst, src); err != nil {
			b.Fatal(err)
		}
	}
	d.Synchronize()
	// Traffic: read n floats and write n floats.
	b.ReportMetric(float64(8*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

func BenchmarkSgemm(b *testing.B) {
	d := mustDevice(b)
	const n = 8192
	x, _ := d.Alloc(n, n)
	y, _ := d.Alloc(n, n)
	z, _ := d.Alloc(n, n)
	defer x.Free()
	defer y.Free()
	defer z.Free()
	for b.Loop() {
		if err := d.Gemm(false, false, 1, x, y, 0, z); err != nil {
			b.Fatal(err)
		}
	}
	d.Synchronize()
	b.ReportMetric(2*math.Pow(n, 3)*float64(b.N)/b.Elapsed().Seconds()/1e12, "TFLOP/s")
}

func BenchmarkLogSumExpRows(b *testing.B) {
	d := mustDevice(b)
	const rows, cols = 4096, 3000
	x := upload(b, d, testutil.RandN(testutil.Rand(1), 1, rows, cols))
	dst, _ := d.Alloc(rows)
	defer dst.Free()
	for b.Loop() {
		if err := d.LogSumExpRows(dst, x); err != nil {
			b.Fatal(err)
		}
	}
	d.Synchronize()
	// Traffic: one read of x.
	b.ReportMetric(4*rows*cols*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
}

func BenchmarkBalance(b *testing.B) {
	d := mustDevice(b)
	const rows, cols = 4096, 3000
	s := upload(b, d, testutil.RandU(testutil.Rand(1), -1, 1, rows, cols))
	q, _ := d.Alloc(rows, cols)
	defer q.Free()
	for b.Loop() {
		if _, err := d.Balance(q, s, 0.05, nil); err != nil {
			b.Fatal(err)
		}
	}
	d.Synchronize()
	// Traffic: 3 iterations × 2 reads, one read for the marginal error,
	// then one read and one write.
	b.ReportMetric(9*4*rows*cols*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
	b.ReportMetric(b.Elapsed().Seconds()*1e3/float64(b.N), "ms/op")
}
