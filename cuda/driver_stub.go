//go:build !cgo || !linux

package cuda

import "fmt"

// Device is an open CUDA device. Without cgo on Linux none can be opened.
type Device struct {
	ordinal int // unused; keeps distinct devices at distinct addresses
}

// Available reports false: the run-time binding needs cgo on Linux.
func Available() bool { return false }

// Open returns an error wrapping ErrNoDevice: the run-time binding needs cgo
// on Linux.
func Open(ordinal int) (*Device, error) {
	return nil, fmt.Errorf("cuda: Open: built without cgo on linux: %w", ErrNoDevice)
}

func noDevice() error { return fmt.Errorf("cuda: built without cgo on linux: %w", ErrNoDevice) }

// Name returns "".
func (d *Device) Name() string { return "" }

// Arch returns "".
func (d *Device) Arch() string { return "" }

// Close does nothing.
func (d *Device) Close() error { return nil }

// Synchronize returns an error wrapping ErrNoDevice.
func (d *Device) Synchronize() error { return noDevice() }

func (d *Device) lock()                                  {}
func (d *Device) unlock()                                {}
func (d *Device) alloc(uint64) (uint64, error)           { return 0, noDevice() }
func (d *Device) free(uint64) error                      { return noDevice() }
func (d *Device) scratch(string, uint64) (uint64, error) { return 0, noDevice() }
func (d *Device) htod(uint64, []float32) error           { return noDevice() }
func (d *Device) dtoh([]float32, uint64) error           { return noDevice() }
func (d *Device) htod64(uint64, []float64) error         { return noDevice() }
func (d *Device) dtoh64([]float64, uint64) error         { return noDevice() }
func (d *Device) dtohInt32([]int32, uint64) error        { return noDevice() }
func (d *Device) dtod(uint64, uint64, uint64) error      { return noDevice() }
func (d *Device) memset(uint64, uint32, int) error       { return noDevice() }
func (d *Device) fill(uint64, float32, int) error        { return noDevice() }
func (d *Device) launch(string, int, int, int, ...any) error {
	return noDevice()
}
func (d *Device) sgemm(bool, bool, int, int, int, float32, uint64, uint64, float32, uint64, int, int64, int64, int64) error {
	return noDevice()
}

func compilePTX(src, name, arch string) ([]byte, error) { return nil, noDevice() }

func nvrtcVersion() (int, int, error) { return 0, 0, noDevice() }
