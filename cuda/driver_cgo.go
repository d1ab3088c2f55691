//go:build cgo && linux

package cuda

/*
#cgo LDFLAGS: -ldl
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

typedef int CUresult;
typedef unsigned long long CUdeviceptr;

static void* ssl_dlopen(const char* name) { return dlopen(name, RTLD_NOW | RTLD_LOCAL); }

static CUresult w_u(void* f, unsigned a) { return ((CUresult(*)(unsigned))f)(a); }
static CUresult w_pi(void* f, int* a) { return ((CUresult(*)(int*))f)(a); }
static CUresult w_pi_i(void* f, int* a, int b) { return ((CUresult(*)(int*, int))f)(a, b); }
static CUresult w_pi_i_i(void* f, int* a, int b, int c) { return ((CUresult(*)(int*, int, int))f)(a, b, c); }
static CUresult w_name(void* f, char* s, int n, int dev) { return ((CUresult(*)(char*, int, int))f)(s, n, dev); }
static CUresult w_ctxcreate(void* f, void** ctx, unsigned flags, int dev) { return ((CUresult(*)(void**, unsigned, int))f)(ctx, flags, dev); }
static CUresult w_p(void* f, void* a) { return ((CUresult(*)(void*))f)(a); }
static CUresult w_v(void* f) { return ((CUresult(*)(void))f)(); }
static CUresult w_alloc(void* f, CUdeviceptr* p, size_t n) { return ((CUresult(*)(CUdeviceptr*, size_t))f)(p, n); }
static CUresult w_free(void* f, CUdeviceptr p) { return ((CUresult(*)(CUdeviceptr))f)(p); }
static CUresult w_htod(void* f, CUdeviceptr dst, const void* src, size_t n) { return ((CUresult(*)(CUdeviceptr, const void*, size_t))f)(dst, src, n); }
static CUresult w_dtoh(void* f, void* dst, CUdeviceptr src, size_t n) { return ((CUresult(*)(void*, CUdeviceptr, size_t))f)(dst, src, n); }
static CUresult w_dtod(void* f, CUdeviceptr dst, CUdeviceptr src, size_t n) { return ((CUresult(*)(CUdeviceptr, CUdeviceptr, size_t))f)(dst, src, n); }
static CUresult w_memset32(void* f, CUdeviceptr dst, unsigned v, size_t n) { return ((CUresult(*)(CUdeviceptr, unsigned, size_t))f)(dst, v, n); }
static CUresult w_modload(void* f, void** mod, const void* image) { return ((CUresult(*)(void**, const void*))f)(mod, image); }
static CUresult w_getfn(void* f, void** fn, void* mod, const char* name) { return ((CUresult(*)(void**, void*, const char*))f)(fn, mod, name); }
static CUresult w_launch(void* f, void* fn, unsigned gx, unsigned gy, unsigned bx, void** params) {
	return ((CUresult(*)(void*, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, unsigned, void*, void**, void**))f)(fn, gx, gy, 1, bx, 1, 1, 0, 0, params, 0);
}
static CUresult w_errname(void* f, CUresult r, const char** s) { return ((CUresult(*)(CUresult, const char**))f)(r, s); }

static int w_nvrtc_create(void* f, void** prog, const char* src, const char* name) {
	return ((int(*)(void**, const char*, const char*, int, const char* const*, const char* const*))f)(prog, src, name, 0, 0, 0);
}
static int w_nvrtc_compile(void* f, void* prog, int n, const char** opts) { return ((int(*)(void*, int, const char**))f)(prog, n, opts); }
static int w_nvrtc_size(void* f, void* prog, size_t* n) { return ((int(*)(void*, size_t*))f)(prog, n); }
static int w_nvrtc_get(void* f, void* prog, char* buf) { return ((int(*)(void*, char*))f)(prog, buf); }
static int w_nvrtc_destroy(void* f, void** prog) { return ((int(*)(void**))f)(prog); }
static const char* w_nvrtc_errstr(void* f, int r) { return ((const char*(*)(int))f)(r); }
static int w_nvrtc_version(void* f, int* a, int* b) { return ((int(*)(int*, int*))f)(a, b); }

static int w_blas_create(void* f, void** h) { return ((int(*)(void**))f)(h); }
static int w_blas_destroy(void* f, void* h) { return ((int(*)(void*))f)(h); }
static int w_sgemm(void* f, void* h, int ta, int tb, int m, int n, int k, float alpha, CUdeviceptr a, int lda,
		CUdeviceptr b, int ldb, float beta, CUdeviceptr c, int ldc) {
	return ((int(*)(void*, int, int, int, int, int, const float*, const float*, int, const float*, int, const float*, float*, int))f)(
		h, ta, tb, m, n, k, &alpha, (const float*)a, lda, (const float*)b, ldb, &beta, (float*)c, ldc);
}
static int w_sgemm_batched(void* f, void* h, int ta, int tb, int m, int n, int k, float alpha, CUdeviceptr a, int lda, long long sa,
		CUdeviceptr b, int ldb, long long sb, float beta, CUdeviceptr c, int ldc, long long sc, int batch) {
	return ((int(*)(void*, int, int, int, int, int, const float*, const float*, int, long long, const float*, int, long long,
		const float*, float*, int, long long, int))f)(h, ta, tb, m, n, k, &alpha, (const float*)a, lda, sa, (const float*)b, ldb, sb,
		&beta, (float*)c, ldc, sc, batch);
}
*/
import "C"

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"unsafe"
)

// Candidate sonames, newest first. The driver's ABI is stable; NVRTC's and
// cuBLAS's major version follows the toolkit.
var (
	cudaLibs   = []string{"libcuda.so.1", "libcuda.so"}
	nvrtcLibs  = []string{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"}
	cublasLibs = []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"}
)

type symbols map[string]unsafe.Pointer

// dlopenAny opens the first library of names that loads and resolves every
// symbol of want (the versioned ABI names).
func dlopenAny(names []string, want []string) (symbols, error) {
	var tried []string
	for _, name := range names {
		cname := C.CString(name)
		h := C.ssl_dlopen(cname)
		C.free(unsafe.Pointer(cname))
		if h == nil {
			tried = append(tried, name)
			continue
		}
		syms := make(symbols, len(want))
		for _, s := range want {
			cs := C.CString(s)
			p := C.dlsym(h, cs)
			C.free(unsafe.Pointer(cs))
			if p == nil {
				return nil, fmt.Errorf("cuda: %s lacks symbol %s: %w", name, s, ErrNoDevice)
			}
			syms[s] = p
		}
		return syms, nil
	}
	return nil, fmt.Errorf("cuda: none of %v could be loaded: %w", tried, ErrNoDevice)
}

var driverSyms = []string{
	"cuInit", "cuDeviceGetCount", "cuDeviceGet", "cuDeviceGetAttribute", "cuDeviceGetName",
	"cuCtxCreate_v2", "cuCtxDestroy_v2", "cuCtxSynchronize", "cuMemAlloc_v2", "cuMemFree_v2",
	"cuMemcpyHtoD_v2", "cuMemcpyDtoH_v2", "cuMemcpyDtoD_v2", "cuMemsetD32_v2", "cuModuleLoadData", "cuModuleGetFunction",
	"cuLaunchKernel", "cuGetErrorName",
}

var nvrtcSyms = []string{
	"nvrtcVersion", "nvrtcCreateProgram", "nvrtcCompileProgram", "nvrtcGetPTXSize", "nvrtcGetPTX",
	"nvrtcGetProgramLogSize", "nvrtcGetProgramLog", "nvrtcDestroyProgram", "nvrtcGetErrorString",
}

var cublasSyms = []string{"cublasCreate_v2", "cublasDestroy_v2", "cublasSgemm_v2", "cublasSgemmStridedBatched"}

// libs holds the loaded libraries; loading happens once.
var libs = sync.OnceValues(func() (*libraries, error) {
	cu, err := dlopenAny(cudaLibs, driverSyms)
	if err != nil {
		return nil, err
	}
	l := &libraries{cu: cu}
	if r := C.w_u(cu["cuInit"], 0); r != 0 {
		return nil, errors.Join(l.cuErr("cuInit", r), ErrNoDevice)
	}
	var n C.int
	if r := C.w_pi(cu["cuDeviceGetCount"], &n); r != 0 {
		return nil, errors.Join(l.cuErr("cuDeviceGetCount", r), ErrNoDevice)
	}
	if n < 1 {
		return nil, fmt.Errorf("cuda: the driver reports no device: %w", ErrNoDevice)
	}
	l.devices = int(n)
	if l.nvrtc, err = loadNVRTC(); err != nil {
		return nil, err
	}
	if l.blas, err = dlopenAny(cublasLibs, cublasSyms); err != nil {
		return nil, err
	}
	return l, nil
})

// loadNVRTC loads NVRTC alone: it compiles without a GPU, which the tests
// use to check the kernel sources on any machine that has the library.
var loadNVRTC = sync.OnceValues(func() (symbols, error) { return dlopenAny(nvrtcLibs, nvrtcSyms) })

type libraries struct {
	cu, nvrtc, blas symbols
	devices         int
}

func (l *libraries) cuErr(call string, r C.CUresult) error {
	name := "CUDA_ERROR_UNKNOWN"
	var s *C.char
	if C.w_errname(l.cu["cuGetErrorName"], r, &s) == 0 && s != nil {
		name = C.GoString(s)
	}
	return &Error{Call: call, Code: int(r), Name: name}
}

func nvrtcErr(nv symbols, call string, r C.int, log string) error {
	return &Error{Call: call, Code: int(r), Name: C.GoString(C.w_nvrtc_errstr(nv["nvrtcGetErrorString"], r)), Log: log}
}

// Available reports whether a CUDA device can be used: the driver, NVRTC
// and cuBLAS load and the driver reports at least one device.
func Available() bool {
	_, err := libs()
	return err == nil
}

// compilePTX compiles src with NVRTC for the given architecture
// ("compute_90") and returns the PTX.
func compilePTX(src, name, arch string) ([]byte, error) {
	nv, err := loadNVRTC()
	if err != nil {
		return nil, err
	}
	csrc, cname := C.CString(src), C.CString(name)
	defer C.free(unsafe.Pointer(csrc))
	defer C.free(unsafe.Pointer(cname))
	var prog unsafe.Pointer
	if r := C.w_nvrtc_create(nv["nvrtcCreateProgram"], &prog, csrc, cname); r != 0 {
		return nil, nvrtcErr(nv, "nvrtcCreateProgram", r, "")
	}
	defer C.w_nvrtc_destroy(nv["nvrtcDestroyProgram"], &prog)
	opts := []string{"--gpu-architecture=" + arch, "--std=c++14"}
	copts := (*[16]*C.char)(C.malloc(C.size_t(len(opts)) * C.size_t(unsafe.Sizeof(uintptr(0)))))
	for i, o := range opts {
		copts[i] = C.CString(o)
	}
	defer func() {
		for i := range opts {
			C.free(unsafe.Pointer(copts[i]))
		}
		C.free(unsafe.Pointer(copts))
	}()
	if r := C.w_nvrtc_compile(nv["nvrtcCompileProgram"], prog, C.int(len(opts)), &copts[0]); r != 0 {
		return nil, nvrtcErr(nv, "nvrtcCompileProgram", r, programLog(nv, prog))
	}
	var size C.size_t
	if r := C.w_nvrtc_size(nv["nvrtcGetPTXSize"], prog, &size); r != 0 {
		return nil, nvrtcErr(nv, "nvrtcGetPTXSize", r, "")
	}
	buf := C.malloc(size)
	defer C.free(buf)
	if r := C.w_nvrtc_get(nv["nvrtcGetPTX"], prog, (*C.char)(buf)); r != 0 {
		return nil, nvrtcErr(nv, "nvrtcGetPTX", r, "")
	}
	return C.GoBytes(buf, C.int(size)), nil
}

func programLog(nv symbols, prog unsafe.Pointer) string {
	var size C.size_t
	if C.w_nvrtc_size(nv["nvrtcGetProgramLogSize"], prog, &size) != 0 || size == 0 {
		return ""
	}
	buf := C.malloc(size)
	defer C.free(buf)
	if C.w_nvrtc_get(nv["nvrtcGetProgramLog"], prog, (*C.char)(buf)) != 0 {
		return ""
	}
	return C.GoString((*C.char)(buf))
}

// nvrtcVersion returns NVRTC's version, or an error if it cannot be loaded.
func nvrtcVersion() (major, minor int, err error) {
	nv, err := loadNVRTC()
	if err != nil {
		return 0, 0, err
	}
	var a, b C.int
	if r := C.w_nvrtc_version(nv["nvrtcVersion"], &a, &b); r != 0 {
		return 0, 0, nvrtcErr(nv, "nvrtcVersion", r, "")
	}
	return int(a), int(b), nil
}

// Device is an open CUDA device: a context owned by one goroutine locked to
// its OS thread, a cuBLAS handle, the compiled kernels and scratch buffers.
// Its methods may be called from any goroutine; calls are serialised.
type Device struct {
	lib     *libraries
	ordinal int
	name    string
	arch    string
	calls   chan func()
	mu      sync.Mutex // serialises calls onto the device thread
	op      sync.Mutex // serialises exported operations that share scratch buffers
	closed  bool
	ctx     unsafe.Pointer
	blas    unsafe.Pointer
	fns     map[string]unsafe.Pointer
	scr     map[string]scratchBuf
}

type scratchBuf struct {
	ptr  uint64
	size uint64
}

// Open opens device ordinal (0 for the first GPU), creates its context and
// cuBLAS handle, and compiles the kernels with NVRTC for its compute
// capability.
func Open(ordinal int) (*Device, error) {
	l, err := libs()
	if err != nil {
		return nil, err
	}
	if ordinal < 0 || ordinal >= l.devices {
		return nil, fmt.Errorf("cuda: Open: ordinal=%d, the driver reports %d devices: %w", ordinal, l.devices, ErrNoDevice)
	}
	d := &Device{lib: l, ordinal: ordinal, calls: make(chan func()), fns: map[string]unsafe.Pointer{}, scr: map[string]scratchBuf{}}
	started := make(chan error, 1)
	go d.loop(started)
	if err := <-started; err != nil {
		return nil, err
	}
	return d, nil
}

// loop owns the context: it locks its OS thread, creates the context and
// then runs every call sent to the device until Close.
func (d *Device) loop(started chan<- error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := d.init(); err != nil {
		started <- err
		return
	}
	started <- nil
	for fn := range d.calls {
		fn()
	}
}

func (d *Device) init() error {
	cu := d.lib.cu
	var dev C.int
	if r := C.w_pi_i(cu["cuDeviceGet"], &dev, C.int(d.ordinal)); r != 0 {
		return d.lib.cuErr("cuDeviceGet", r)
	}
	var major, minor C.int
	// CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR = 75, _MINOR = 76.
	if r := C.w_pi_i_i(cu["cuDeviceGetAttribute"], &major, 75, dev); r != 0 {
		return d.lib.cuErr("cuDeviceGetAttribute", r)
	}
	if r := C.w_pi_i_i(cu["cuDeviceGetAttribute"], &minor, 76, dev); r != 0 {
		return d.lib.cuErr("cuDeviceGetAttribute", r)
	}
	name := make([]byte, 256)
	if r := C.w_name(cu["cuDeviceGetName"], (*C.char)(unsafe.Pointer(&name[0])), 256, dev); r == 0 {
		d.name = C.GoString((*C.char)(unsafe.Pointer(&name[0])))
	}
	if r := C.w_ctxcreate(cu["cuCtxCreate_v2"], &d.ctx, 0, dev); r != 0 {
		return d.lib.cuErr("cuCtxCreate_v2", r)
	}
	if r := C.w_blas_create(d.lib.blas["cublasCreate_v2"], &d.blas); r != 0 {
		C.w_p(cu["cuCtxDestroy_v2"], d.ctx)
		return &Error{Call: "cublasCreate_v2", Code: int(r), Name: cublasStatus(int(r))}
	}
	d.arch = fmt.Sprintf("compute_%d%d", int(major), int(minor))
	ptx, err := compilePTX(kernelSource, "kernels.cu", d.arch)
	if err != nil {
		d.destroy()
		return err
	}
	cptx := C.CBytes(append(ptx, 0))
	defer C.free(cptx)
	var mod unsafe.Pointer
	if r := C.w_modload(cu["cuModuleLoadData"], &mod, cptx); r != 0 {
		d.destroy()
		return d.lib.cuErr("cuModuleLoadData", r)
	}
	for _, k := range kernelNames {
		ck := C.CString(k)
		var fn unsafe.Pointer
		r := C.w_getfn(cu["cuModuleGetFunction"], &fn, mod, ck)
		C.free(unsafe.Pointer(ck))
		if r != 0 {
			d.destroy()
			return d.lib.cuErr("cuModuleGetFunction("+k+")", r)
		}
		d.fns[k] = fn
	}
	return nil
}

func (d *Device) destroy() {
	for _, s := range d.scr {
		C.w_free(d.lib.cu["cuMemFree_v2"], C.CUdeviceptr(s.ptr))
	}
	d.scr = map[string]scratchBuf{}
	if d.blas != nil {
		C.w_blas_destroy(d.lib.blas["cublasDestroy_v2"], d.blas)
		d.blas = nil
	}
	if d.ctx != nil {
		C.w_p(d.lib.cu["cuCtxDestroy_v2"], d.ctx)
		d.ctx = nil
	}
}

// do runs fn on the device's thread and returns its error.
func (d *Device) do(fn func() error) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return fmt.Errorf("cuda: device %d is closed: %w", d.ordinal, ErrNoDevice)
	}
	done := make(chan error, 1)
	d.calls <- func() { done <- fn() }
	return <-done
}

func (d *Device) lock()   { d.op.Lock() }
func (d *Device) unlock() { d.op.Unlock() }

// Name returns the device's name as the driver reports it.
func (d *Device) Name() string { return d.name }

// Arch returns the architecture the kernels were compiled for ("compute_90").
func (d *Device) Arch() string { return d.arch }

// Close frees the scratch buffers, the cuBLAS handle and the context. The
// device's tensors must not be used afterwards.
func (d *Device) Close() error {
	err := d.do(func() error { d.destroy(); return nil })
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.calls)
	}
	d.mu.Unlock()
	return err
}

// Synchronize waits for all work queued on the device.
func (d *Device) Synchronize() error {
	return d.do(func() error {
		if r := C.w_v(d.lib.cu["cuCtxSynchronize"]); r != 0 {
			return d.lib.cuErr("cuCtxSynchronize", r)
		}
		return nil
	})
}

func (d *Device) alloc(bytes uint64) (uint64, error) {
	var p C.CUdeviceptr
	err := d.do(func() error {
		if r := C.w_alloc(d.lib.cu["cuMemAlloc_v2"], &p, C.size_t(bytes)); r != 0 {
			return d.lib.cuErr("cuMemAlloc_v2", r)
		}
		return nil
	})
	return uint64(p), err
}

func (d *Device) free(ptr uint64) error {
	return d.do(func() error {
		if r := C.w_free(d.lib.cu["cuMemFree_v2"], C.CUdeviceptr(ptr)); r != 0 {
			return d.lib.cuErr("cuMemFree_v2", r)
		}
		return nil
	})
}

// scratch returns a device buffer of at least bytes for the named purpose,
// reused across calls and freed by Close.
func (d *Device) scratch(name string, bytes uint64) (uint64, error) {
	if s, ok := d.scr[name]; ok && s.size >= bytes {
		return s.ptr, nil
	}
	if s, ok := d.scr[name]; ok {
		if err := d.free(s.ptr); err != nil {
			return 0, err
		}
		delete(d.scr, name)
	}
	p, err := d.alloc(bytes)
	if err != nil {
		return 0, err
	}
	d.scr[name] = scratchBuf{p, bytes}
	return p, nil
}

func (d *Device) copyH(call string, dev uint64, host unsafe.Pointer, bytes uintptr, toDevice bool) error {
	if bytes == 0 {
		return nil
	}
	return d.do(func() error {
		var r C.CUresult
		if toDevice {
			r = C.w_htod(d.lib.cu["cuMemcpyHtoD_v2"], C.CUdeviceptr(dev), host, C.size_t(bytes))
		} else {
			r = C.w_dtoh(d.lib.cu["cuMemcpyDtoH_v2"], host, C.CUdeviceptr(dev), C.size_t(bytes))
		}
		if r != 0 {
			return d.lib.cuErr(call, r)
		}
		return nil
	})
}

func (d *Device) htod(dst uint64, src []float32) error {
	if len(src) == 0 {
		return nil
	}
	return d.copyH("cuMemcpyHtoD_v2", dst, unsafe.Pointer(&src[0]), uintptr(4*len(src)), true)
}

func (d *Device) dtoh(dst []float32, src uint64) error {
	if len(dst) == 0 {
		return nil
	}
	return d.copyH("cuMemcpyDtoH_v2", src, unsafe.Pointer(&dst[0]), uintptr(4*len(dst)), false)
}

func (d *Device) htod64(dst uint64, src []float64) error {
	return d.copyH("cuMemcpyHtoD_v2", dst, unsafe.Pointer(&src[0]), uintptr(8*len(src)), true)
}

func (d *Device) dtoh64(dst []float64, src uint64) error {
	return d.copyH("cuMemcpyDtoH_v2", src, unsafe.Pointer(&dst[0]), uintptr(8*len(dst)), false)
}

func (d *Device) dtohInt32(dst []int32, src uint64) error {
	if len(dst) == 0 {
		return nil
	}
	return d.copyH("cuMemcpyDtoH_v2", src, unsafe.Pointer(&dst[0]), uintptr(4*len(dst)), false)
}

func (d *Device) dtod(dst, src uint64, bytes uint64) error {
	return d.do(func() error {
		if r := C.w_dtod(d.lib.cu["cuMemcpyDtoD_v2"], C.CUdeviceptr(dst), C.CUdeviceptr(src), C.size_t(bytes)); r != 0 {
			return d.lib.cuErr("cuMemcpyDtoD_v2", r)
		}
		return nil
	})
}

// memset sets n 32-bit words at dst to v.
func (d *Device) memset(dst uint64, v uint32, n int) error {
	return d.do(func() error {
		if r := C.w_memset32(d.lib.cu["cuMemsetD32_v2"], C.CUdeviceptr(dst), C.uint(v), C.size_t(n)); r != 0 {
			return d.lib.cuErr("cuMemsetD32_v2", r)
		}
		return nil
	})
}

// fill sets n float32 values at dst to v.
func (d *Device) fill(dst uint64, v float32, n int) error {
	return d.memset(dst, *(*uint32)(unsafe.Pointer(&v)), n)
}

// launch runs kernel name on a gridX×gridY grid of block threads. args are
// the kernel's parameters in order: uint64 (device pointers, size_t),
// int32 or float32. They are copied to C memory for the call.
func (d *Device) launch(name string, gridX, gridY, block int, args ...any) error {
	fn, ok := d.fns[name]
	if !ok {
		return fmt.Errorf("cuda: kernel %s is not loaded: %w", name, ErrNoDevice)
	}
	if gridX < 1 || gridY < 1 {
		return nil // nothing to do
	}
	vals := C.malloc(C.size_t(8 * len(args)))
	ptrs := C.malloc(C.size_t(8 * len(args)))
	defer C.free(vals)
	defer C.free(ptrs)
	vs := unsafe.Slice((*uint64)(vals), len(args))
	ps := unsafe.Slice((*unsafe.Pointer)(ptrs), len(args))
	for i, a := range args {
		slot := unsafe.Pointer(&vs[i])
		switch v := a.(type) {
		case uint64:
			*(*uint64)(slot) = v
		case int32:
			*(*int32)(slot) = v
		case float32:
			*(*float32)(slot) = v
		default:
			return fmt.Errorf("cuda: kernel %s: argument %d has type %T", name, i, a)
		}
		ps[i] = slot
	}
	return d.do(func() error {
		r := C.w_launch(d.lib.cu["cuLaunchKernel"], fn, C.uint(gridX), C.uint(gridY), C.uint(block), (*unsafe.Pointer)(ptrs))
		if r != 0 {
			return d.lib.cuErr("cuLaunchKernel("+name+")", r)
		}
		return nil
	})
}

// sgemm runs cuBLAS on row-major operands. cuBLAS is column-major, and a
// row-major m×n C is a column-major n×m Cᵀ = op(B)ᵀ·op(A)ᵀ, so the operands
// are swapped and their leading dimensions are the row-major widths.
func (d *Device) sgemm(transA, transB bool, m, n, k int, alpha float32, a, b uint64, beta float32, c uint64, batch int, sa, sb, sc int64) error {
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	ta, tb := C.int(0), C.int(0) // CUBLAS_OP_N = 0, CUBLAS_OP_T = 1
	if transA {
		ta = 1
	}
	if transB {
		tb = 1
	}
	return d.do(func() error {
		var r C.int
		if batch == 1 && sa == 0 {
			r = C.w_sgemm(d.lib.blas["cublasSgemm_v2"], d.blas, tb, ta, C.int(n), C.int(m), C.int(k), C.float(alpha),
				C.CUdeviceptr(b), C.int(ldb), C.CUdeviceptr(a), C.int(lda), C.float(beta), C.CUdeviceptr(c), C.int(n))
		} else {
			r = C.w_sgemm_batched(d.lib.blas["cublasSgemmStridedBatched"], d.blas, tb, ta, C.int(n), C.int(m), C.int(k), C.float(alpha),
				C.CUdeviceptr(b), C.int(ldb), C.longlong(sb), C.CUdeviceptr(a), C.int(lda), C.longlong(sa),
				C.float(beta), C.CUdeviceptr(c), C.int(n), C.longlong(sc), C.int(batch))
		}
		if r != 0 {
			return &Error{Call: "cublasSgemm", Code: int(r), Name: cublasStatus(int(r))}
		}
		return nil
	})
}
