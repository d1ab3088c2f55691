package cuda

import (
	"errors"
	"fmt"
	"math"

	"gorgonia.org/tensor"

	"ssl"
	"ssl/internal/check"
	"ssl/sinkhorn"
)

// ErrNoDevice is wrapped by every error that says no CUDA device can be
// used: no cgo, no driver library, no device, or a failed initialization.
var ErrNoDevice = errors.New("cuda: no usable CUDA device")

// ErrNotConverged is sinkhorn.ErrNotConverged, which wraps
// ssl.ErrNotConverged: the device solvers report a missed Tol exactly as
// their CPU twins do, so a caller tests one sentinel whichever ran. The
// complete result is returned with it.
var ErrNotConverged = sinkhorn.ErrNotConverged

// Error is a failed CUDA driver, NVRTC or cuBLAS call.
type Error struct {
	Call string // the function called, e.g. "cuMemAlloc_v2"
	Code int    // the result code it returned
	Name string // the result's name, e.g. "CUDA_ERROR_OUT_OF_MEMORY"
	Log  string // the NVRTC compilation log, when there is one
}

func (e *Error) Error() string {
	s := fmt.Sprintf("cuda: %s: %s (%d)", e.Call, e.Name, e.Code)
	if e.Log != "" {
		s += "\n" + e.Log
	}
	return s
}

// Tensor is a float32 array in device memory, row-major and contiguous. It
// satisfies ssl.Tensor's shape side; its data is not in Go memory, so host
// code cannot read it (Data returns nil).
type Tensor struct {
	dev   *Device
	ptr   uint64
	shape []int
	n     int
}

var _ ssl.Tensor = (*Tensor)(nil)

// Shape returns the tensor's shape.
func (t *Tensor) Shape() tensor.Shape { return tensor.Shape(append([]int(nil), t.shape...)) }

// Strides returns the contiguous row-major strides of the shape.
func (t *Tensor) Strides() []int {
	s := make([]int, len(t.shape))
	step := 1
	for i := len(t.shape) - 1; i >= 0; i-- {
		s[i] = step
		step *= t.shape[i]
	}
	return s
}

// Dtype is always float32.
func (t *Tensor) Dtype() tensor.Dtype { return tensor.Float32 }

// Data returns nil: the data lives on the device.
func (t *Tensor) Data() interface{} { return nil }

// RequiresIterator is false: device tensors are contiguous.
func (t *Tensor) RequiresIterator() bool { return false }

// IsNativelyAccessible is false: the data is not in Go memory.
func (t *Tensor) IsNativelyAccessible() bool { return false }

// Len returns the number of elements.
func (t *Tensor) Len() int { return t.n }

// Free releases the device memory. Freeing twice is a no-op.
func (t *Tensor) Free() error {
	if t == nil || t.ptr == 0 {
		return nil
	}
	err := t.dev.free(t.ptr)
	t.ptr = 0
	return err
}

func shapeLen(shape []int) (int, error) {
	if len(shape) == 0 {
		return 0, fmt.Errorf("empty shape: %w", ssl.ErrShape)
	}
	n := 1
	for _, d := range shape {
		// Kernels index rows and columns with 32-bit ints; totals are 64-bit.
		if d < 1 || d > math.MaxInt32 {
			return 0, fmt.Errorf("shape %v has a dimension outside [1, 2^31): %w", shape, ssl.ErrShape)
		}
		if n > math.MaxInt64/d {
			return 0, fmt.Errorf("shape %v is too large: %w", shape, ssl.ErrShape)
		}
		n *= d
	}
	return n, nil
}

// matrix checks that t is a live rank-2 tensor of device d and returns its
// rows and columns.
func (d *Device) matrix(fn, name string, t *Tensor) (int, int, error) {
	if t == nil || t.ptr == 0 {
		return 0, 0, fmt.Errorf("cuda: %s: %s is nil or freed: %w", fn, name, ssl.ErrShape)
	}
	if t.dev != d {
		return 0, 0, fmt.Errorf("cuda: %s: %s lives on another device: %w", fn, name, ssl.ErrShape)
	}
	if len(t.shape) != 2 {
		return 0, 0, fmt.Errorf("cuda: %s: %s has shape %v, want rank 2: %w", fn, name, t.shape, ssl.ErrShape)
	}
	return t.shape[0], t.shape[1], nil
}

func (d *Device) vector(fn, name string, t *Tensor, n int) error {
	if t == nil || t.ptr == 0 {
		return fmt.Errorf("cuda: %s: %s is nil or freed: %w", fn, name, ssl.ErrShape)
	}
	if t.dev != d {
		return fmt.Errorf("cuda: %s: %s lives on another device: %w", fn, name, ssl.ErrShape)
	}
	if t.n != n {
		return fmt.Errorf("cuda: %s: %s has %d elements, want %d: %w", fn, name, t.n, n, ssl.ErrShape)
	}
	return nil
}

// Alloc returns an uninitialized float32 tensor of the given shape on the
// device.
func (d *Device) Alloc(shape ...int) (*Tensor, error) {
	n, err := shapeLen(shape)
	if err != nil {
		return nil, fmt.Errorf("cuda: Alloc: %w", err)
	}
	ptr, err := d.alloc(4 * uint64(n))
	if err != nil {
		return nil, err
	}
	return &Tensor{dev: d, ptr: ptr, shape: append([]int(nil), shape...), n: n}, nil
}

// Upload copies a host tensor to a new device tensor of the same shape.
func (d *Device) Upload(src ssl.Tensor) (*Tensor, error) {
	shape, data, err := ssl.View(src)
	if err != nil {
		return nil, fmt.Errorf("cuda: Upload: src: %w", err)
	}
	t, err := d.Alloc(shape...)
	if err != nil {
		return nil, err
	}
	if err := d.htod(t.ptr, data); err != nil {
		t.Free()
		return nil, err
	}
	return t, nil
}

// Download copies a device tensor into a host tensor with as many elements.
func (d *Device) Download(dst ssl.Tensor, src *Tensor) error {
	_, data, err := ssl.View(dst)
	if err != nil {
		return fmt.Errorf("cuda: Download: dst: %w", err)
	}
	if err := d.vector("Download", "src", src, len(data)); err != nil {
		return err
	}
	return d.dtoh(data, src.ptr)
}

// Copy copies src into dst, device to device; both must have the same
// number of elements.
func (d *Device) Copy(dst, src *Tensor) error {
	if src == nil || src.ptr == 0 || src.dev != d {
		return fmt.Errorf("cuda: Copy: src must be a live tensor of this device: %w", ssl.ErrShape)
	}
	if err := d.vector("Copy", "dst", dst, src.n); err != nil {
		return err
	}
	return d.dtod(dst.ptr, src.ptr, 4*uint64(src.n))
}

// Gemm computes c = alpha·op(a)·op(b) + beta·c with cuBLAS, for row-major
// device matrices (op(x) = xᵀ when the flag says so), as kernel.Gemm does
// on the host. c must not alias a or b. alpha and beta are rounded to
// float32, cuBLAS's single-precision scalars.
func (d *Device) Gemm(transA, transB bool, alpha float64, a, b *Tensor, beta float64, c *Tensor) error {
	m, k, n, err := d.gemmShapes("Gemm", transA, transB, a, b, c)
	if err != nil {
		return err
	}
	return d.sgemm(transA, transB, m, n, k, float32(alpha), a.ptr, b.ptr, float32(beta), c.ptr, 1, 0, 0, 0)
}

func (d *Device) gemmShapes(fn string, transA, transB bool, a, b, c *Tensor) (m, k, n int, err error) {
	ar, ac, err := d.matrix(fn, "a", a)
	if err != nil {
		return
	}
	br, bc, err := d.matrix(fn, "b", b)
	if err != nil {
		return
	}
	cr, cc, err := d.matrix(fn, "c", c)
	if err != nil {
		return
	}
	m, k = ar, ac
	if transA {
		m, k = ac, ar
	}
	kb, n := br, bc
	if transB {
		kb, n = bc, br
	}
	if k != kb || cr != m || cc != n {
		err = fmt.Errorf("cuda: %s: op(a) is %d×%d, op(b) is %d×%d, c is %d×%d: %w", fn, m, k, kb, n, cr, cc, ssl.ErrShape)
		return
	}
	if c.ptr == a.ptr || c.ptr == b.ptr {
		err = fmt.Errorf("cuda: %s: c aliases an input: %w", fn, ssl.ErrShape)
	}
	return
}

// GemmBatched computes c[i] = alpha·op(a[i])·op(b[i]) + beta·c[i] for every
// i of a batch, with cublasSgemmStridedBatched. a, b and c have rank 3
// (batch, rows, cols) and the same batch size.
func (d *Device) GemmBatched(transA, transB bool, alpha float64, a, b *Tensor, beta float64, c *Tensor) error {
	const fn = "GemmBatched"
	for _, x := range []struct {
		name string
		t    *Tensor
	}{{"a", a}, {"b", b}, {"c", c}} {
		if x.t == nil || x.t.ptr == 0 || x.t.dev != d || len(x.t.shape) != 3 {
			return fmt.Errorf("cuda: %s: %s must be a live rank-3 tensor of this device: %w", fn, x.name, ssl.ErrShape)
		}
	}
	batch := a.shape[0]
	if b.shape[0] != batch || c.shape[0] != batch {
		return fmt.Errorf("cuda: %s: batch sizes %d, %d, %d differ: %w", fn, batch, b.shape[0], c.shape[0], ssl.ErrShape)
	}
	as, bs, cs := *a, *b, *c
	as.shape, bs.shape, cs.shape = a.shape[1:], b.shape[1:], c.shape[1:]
	m, k, n, err := d.gemmShapes(fn, transA, transB, &as, &bs, &cs)
	if err != nil {
		return err
	}
	return d.sgemm(transA, transB, m, n, k, float32(alpha), a.ptr, b.ptr, float32(beta), c.ptr, batch,
		int64(a.shape[1]*a.shape[2]), int64(b.shape[1]*b.shape[2]), int64(c.shape[1]*c.shape[2]))
}

// LogSumExpRows computes dst[i] = log Σ_j exp(x[i,j]) for a rows×cols x,
// as kernel.LogSumExpRows does on the host, reading x once.
func (d *Device) LogSumExpRows(dst, x *Tensor) error {
	rows, cols, err := d.matrix("LogSumExpRows", "x", x)
	if err != nil {
		return err
	}
	if err := d.vector("LogSumExpRows", "dst", dst, rows); err != nil {
		return err
	}
	return d.lseRows(dst.ptr, x.ptr, 0, 0, rows, cols, 1, 0, false)
}

// LogSumExpCols computes dst[j] = log Σ_i exp(x[i,j]) for a rows×cols x,
// reading x once (rows are split in chunks whose partials are combined in
// a fixed order).
func (d *Device) LogSumExpCols(dst, x *Tensor) error {
	rows, cols, err := d.matrix("LogSumExpCols", "x", x)
	if err != nil {
		return err
	}
	if err := d.vector("LogSumExpCols", "dst", dst, cols); err != nil {
		return err
	}
	d.lock()
	defer d.unlock()
	return d.lseCols(dst.ptr, x.ptr, 0, 0, rows, cols, 1, 0, false)
}

// SoftmaxRows writes the softmax of each row of x into dst (which may be x).
func (d *Device) SoftmaxRows(dst, x *Tensor) error { return d.softmax("SoftmaxRows", dst, x, false) }

// LogSoftmaxRows writes the log-softmax of each row of x into dst (which may
// be x).
func (d *Device) LogSoftmaxRows(dst, x *Tensor) error {
	return d.softmax("LogSoftmaxRows", dst, x, true)
}

func (d *Device) softmax(fn string, dst, x *Tensor, log bool) error {
	rows, cols, err := d.matrix(fn, "x", x)
	if err != nil {
		return err
	}
	if err := d.vector(fn, "dst", dst, rows*cols); err != nil {
		return err
	}
	return d.launch("softmax_rows", rows, 1, blockSize, dst.ptr, x.ptr, int32(rows), int32(cols), boolInt(log))
}

// L2NormalizeRows writes x_i / max(‖x_i‖, eps) into dst (which may be x) and
// the norms into norms when it is not nil.
func (d *Device) L2NormalizeRows(dst, norms, x *Tensor, eps float64) error {
	const fn = "L2NormalizeRows"
	rows, cols, err := d.matrix(fn, "x", x)
	if err != nil {
		return err
	}
	if err := d.vector(fn, "dst", dst, rows*cols); err != nil {
		return err
	}
	if err := check.Positive("cuda: "+fn, "eps", eps); err != nil {
		return err
	}
	var np uint64
	if norms != nil {
		if err := d.vector(fn, "norms", norms, rows); err != nil {
			return err
		}
		np = norms.ptr
	}
	return d.launch("l2norm_rows", rows, 1, blockSize, dst.ptr, np, x.ptr, int32(rows), int32(cols), float32(eps))
}

const blockSize = 256 // BLOCK in kernels.cu

func boolInt(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// lseRows launches lse_rows: dst[i] = (target −)? LSE_j(scale·x[i,j] + bias[j] + rowbias[i]).
func (d *Device) lseRows(dst, x, bias, rowbias uint64, rows, cols int, scale, target float32, sub bool) error {
	return d.launch("lse_rows", rows, 1, blockSize, dst, x, bias, rowbias, int32(rows), int32(cols), scale, target, boolInt(sub))
}

// lseColsChunk is the number of rows one thread of lse_cols_part reduces;
// the chunk count rows/lseColsChunk gives enough blocks to fill the device
// for the tall matrices of SeLa while keeping the partials small.
const lseColsChunk = 1024

// lseCols launches lse_cols_part then lse_cols_done:
// dst[j] = (target −)? LSE_i(scale·x[i,j] + rowbias[i] + bias[j]).
func (d *Device) lseCols(dst, x, rowbias, bias uint64, rows, cols int, scale, target float32, sub bool) error {
	chunks := (rows + lseColsChunk - 1) / lseColsChunk
	part, err := d.scratch("lsecols", 8*uint64(chunks)*uint64(cols))
	if err != nil {
		return err
	}
	colBlocks := (cols + blockSize - 1) / blockSize
	if err := d.launch("lse_cols_part", colBlocks, chunks, blockSize, part, x, rowbias, bias, int32(rows), int32(cols), int32(lseColsChunk), scale); err != nil {
		return err
	}
	return d.launch("lse_cols_done", colBlocks, 1, blockSize, dst, part, int32(chunks), int32(cols), target, boolInt(sub))
}
