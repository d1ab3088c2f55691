package ssl

import "errors"

// Sentinel errors. Every error returned by the library wraps one of them, so
// callers can test the class of a failure with errors.Is and read the details
// (function, argument name, offending value) from the message.
var (
	// ErrShape reports a tensor of the wrong rank, shape, dtype or layout, a
	// destination of the wrong shape, or a destination that aliases an input.
	ErrShape = errors.New("ssl: bad shape")

	// ErrParam reports an invalid parameter or option value: a temperature or
	// epsilon that is not positive, a count below one, an unknown mode.
	ErrParam = errors.New("ssl: bad parameter")

	// ErrNotFinite reports a NaN or an infinity in a result that must be
	// finite, or in an input where the computation cannot accept one.
	ErrNotFinite = errors.New("ssl: value not finite")

	// ErrNotConverged reports an iterative method (Sinkhorn, MIRA, k-means,
	// a linear probe, …) that used its Iterations without meeting its Tol.
	// It is not bad input: the result returned with it is complete and
	// usable (the last iterate, with the iterations run and the residual),
	// and callers that accept an approximate answer may ignore it. Every
	// package's own ErrNotConverged wraps this one.
	ErrNotConverged = errors.New("ssl: not converged")

	// ErrFormat reports a malformed file or stream: a safetensors
	// checkpoint, an IDX or CIFAR file. The message names the file (when it
	// has a name) and the byte offset or field at fault.
	ErrFormat = errors.New("ssl: malformed data")
)
