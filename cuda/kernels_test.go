package cuda

import (
	"errors"
	"math"
	"regexp"
	"strings"
	"testing"

	"ssl"
	"ssl/sinkhorn"
)

// TestKernelNames checks that every kernel the package launches is defined
// in the embedded source with C linkage, and that the source defines no
// kernel the package forgets.
func TestKernelNames(t *testing.T) {
	re := regexp.MustCompile(`extern "C" __global__ void (\w+)\(`)
	defined := map[string]bool{}
	for _, m := range re.FindAllStringSubmatch(kernelSource, -1) {
		defined[m[1]] = true
	}
	for _, k := range kernelNames {
		if !defined[k] {
			t.Errorf("kernel %s is launched but not defined in kernels.cu", k)
		}
		delete(defined, k)
	}
	for k := range defined {
		t.Errorf("kernel %s is defined in kernels.cu but not in kernelNames", k)
	}
}

// TestNVRTCCompiles compiles the embedded kernels with NVRTC when the
// library is present (it needs no GPU: Debian's libnvrtc11.2 provides it),
// for the oldest and a current architecture, and checks that the PTX has an
// entry for every kernel.
func TestNVRTCCompiles(t *testing.T) {
	major, minor, err := nvrtcVersion()
	if err != nil {
		t.Skipf("NVRTC not available: %v", err)
	}
	t.Logf("NVRTC %d.%d", major, minor)
	for _, arch := range []string{"compute_70", "compute_80"} {
		ptx, err := compilePTX(kernelSource, "kernels.cu", arch)
		if err != nil {
			t.Fatalf("compiling kernels.cu for %s: %v", arch, err)
		}
		for _, k := range kernelNames {
			if !strings.Contains(string(ptx), ".entry "+k+"(") {
				t.Errorf("%s: PTX has no entry for %s", arch, k)
			}
		}
	}
	// A source error must come back as an *Error carrying the log.
	_, err = compilePTX("extern \"C\" __global__ void broken( { }", "broken.cu", "compute_70")
	var ce *Error
	if !errors.As(err, &ce) || ce.Log == "" {
		t.Errorf("compiling a broken source: error %v, want *Error with the NVRTC log", err)
	}
}

func TestOpenWithoutDevice(t *testing.T) {
	if Available() {
		t.Skip("a CUDA device is present")
	}
	d, err := Open(0)
	if !errors.Is(err, ErrNoDevice) || d != nil {
		t.Errorf("Open(0) = %v, %v; want nil and ErrNoDevice", d, err)
	}
}

// fakeTensor is a tensor of device d at a made-up address: enough to reach
// the argument checks, which run before any driver call.
func fakeTensor(d *Device, ptr uint64, shape ...int) *Tensor {
	n, _ := shapeLen(shape)
	return &Tensor{dev: d, ptr: ptr, shape: shape, n: n}
}

// TestArgumentChecks exercises every check that runs before the driver is
// called, on a zero Device (no context): each must return the right
// sentinel without touching the device.
func TestArgumentChecks(t *testing.T) {
	d, other := &Device{}, &Device{}
	s := fakeTensor(d, 1, 4, 3)
	q := fakeTensor(d, 2, 4, 3)
	for _, tc := range []struct {
		name string
		err  error
		want error
	}{
		{"Balance/eps0", errOf(d.Balance(q, s, 0, nil)), ssl.ErrParam},
		{"Balance/epsNaN", errOf(d.Balance(q, s, nan(), nil)), ssl.ErrParam},
		{"Balance/iters", errOf(d.Balance(q, s, 0.05, &sinkhorn.BalanceOptions{Iterations: -1})), ssl.ErrParam},
		{"Balance/tol", errOf(d.Balance(q, s, 0.05, &sinkhorn.BalanceOptions{Tol: -1})), ssl.ErrParam},
		{"Balance/exp", errOf(d.Balance(q, s, 0.05, &sinkhorn.BalanceOptions{Domain: sinkhorn.Exp})), ssl.ErrParam},
		{"Balance/reducer", errOf(d.Balance(q, s, 0.05, &sinkhorn.BalanceOptions{Reducer: sinkhorn.LocalReducers(1)[0]})), ssl.ErrParam},
		{"Balance/qshape", errOf(d.Balance(fakeTensor(d, 2, 4, 4), s, 0.05, nil)), ssl.ErrShape},
		{"Balance/nil", errOf(d.Balance(q, nil, 0.05, nil)), ssl.ErrShape},
		{"Balance/otherdevice", errOf(d.Balance(q, fakeTensor(other, 3, 4, 3), 0.05, nil)), ssl.ErrShape},
		{"Balance/rank", errOf(d.Balance(q, fakeTensor(d, 3, 12), 0.05, nil)), ssl.ErrShape},
		{"SeLa/labels", errOf(d.SeLa(make([]int, 3), nil, s, 25, nil)), ssl.ErrShape},
		{"SeLa/lambda", errOf(d.SeLa(make([]int, 4), nil, s, -1, nil)), ssl.ErrParam},
		{"SeLa/alias", errOf(d.SeLa(make([]int, 4), s, s, 25, nil)), ssl.ErrShape},
		{"SeLa/iters", errOf(d.SeLa(nil, nil, s, 25, &sinkhorn.SeLaOptions{Iterations: -1})), ssl.ErrParam},
		{"SeLa/tol", errOf(d.SeLa(nil, nil, s, 25, &sinkhorn.SeLaOptions{Tol: math.NaN()})), ssl.ErrParam},
		{"SeLa/check", errOf(d.SeLa(nil, nil, s, 25, &sinkhorn.SeLaOptions{CheckEvery: -1})), ssl.ErrParam},
		{"SeLa/exp", errOf(d.SeLa(nil, nil, s, 25, &sinkhorn.SeLaOptions{Domain: sinkhorn.Exp})), ssl.ErrParam},
		{"SeLa/logR", errOf(d.SeLa(nil, nil, s, 25, &sinkhorn.SeLaOptions{LogR: make([]float64, 2)})), ssl.ErrShape},
		{"Gemm/inner", d.Gemm(false, false, 1, fakeTensor(d, 1, 2, 3), fakeTensor(d, 2, 4, 5), 0, fakeTensor(d, 3, 2, 5)), ssl.ErrShape},
		{"Gemm/out", d.Gemm(false, true, 1, fakeTensor(d, 1, 2, 3), fakeTensor(d, 2, 5, 3), 0, fakeTensor(d, 3, 5, 2)), ssl.ErrShape},
		{"Gemm/alias", d.Gemm(false, false, 1, fakeTensor(d, 1, 2, 2), fakeTensor(d, 2, 2, 2), 0, fakeTensor(d, 1, 2, 2)), ssl.ErrShape},
		{"GemmBatched/batch", d.GemmBatched(false, false, 1, fakeTensor(d, 1, 2, 2, 3), fakeTensor(d, 2, 3, 3, 4), 0, fakeTensor(d, 3, 2, 2, 4)), ssl.ErrShape},
		{"LogSumExpRows/dst", d.LogSumExpRows(fakeTensor(d, 2, 3), s), ssl.ErrShape},
		{"LogSumExpCols/dst", d.LogSumExpCols(fakeTensor(d, 2, 4), s), ssl.ErrShape},
		{"SoftmaxRows/dst", d.SoftmaxRows(fakeTensor(d, 2, 3, 3), s), ssl.ErrShape},
		{"L2NormalizeRows/eps", d.L2NormalizeRows(q, nil, s, 0), ssl.ErrParam},
		{"L2NormalizeRows/norms", d.L2NormalizeRows(q, fakeTensor(d, 5, 3), s, 1e-12), ssl.ErrShape},
		{"Copy/len", d.Copy(fakeTensor(d, 2, 5), s), ssl.ErrShape},
	} {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: error %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	if _, err := d.Alloc(0, 3); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("Alloc(0, 3): error %v, want ErrShape", err)
	}
	// A device tensor is rejected by host code, never read.
	if _, _, _, err := ssl.Matrix(s); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("ssl.Matrix(device tensor): error %v, want ErrShape", err)
	}
}

func nan() float64 { z := 0.0; return z / z }

// errOf keeps the error of a (result, error) pair.
func errOf[T any](_ T, err error) error { return err }

// TestErrNotConverged checks that the device solvers report a missed Tol
// with the CPU twins' sentinel, which wraps the root's.
func TestErrNotConverged(t *testing.T) {
	if ErrNotConverged != sinkhorn.ErrNotConverged || !errors.Is(ErrNotConverged, ssl.ErrNotConverged) {
		t.Error("cuda.ErrNotConverged is not sinkhorn.ErrNotConverged wrapping ssl.ErrNotConverged")
	}
}
