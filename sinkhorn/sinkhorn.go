package sinkhorn

import (
	"fmt"
	"math"

	"ssl"
	"ssl/internal/check"
)

// ErrNotConverged is wrapped by the error a solver returns when it used its
// Iterations without its residual meeting a positive Tol. It wraps
// ssl.ErrNotConverged. The result returned with it is complete and usable:
// the last iterate's plan (and labels, scalings), the iterations run and
// the residual.
var ErrNotConverged = fmt.Errorf("sinkhorn: %w", ssl.ErrNotConverged)

// Domain selects how the scaling iteration is computed.
type Domain int

const (
	// Auto runs the exp-domain iteration and switches to the log domain when
	// the float32 kernel would underflow or a scaling vector leaves the range
	// where the exp domain is exact (see the package documentation).
	Auto Domain = iota
	// Exp forces the exp-domain (matrix-vector) iteration; a problem it
	// cannot represent returns an error wrapping ssl.ErrNotFinite.
	Exp
	// Log forces the log-domain iteration (log-sum-exp updates of the dual
	// potentials): slower, one exponential per element per half-iteration,
	// but finite for any finite input.
	Log
)

func (d Domain) String() string {
	switch d {
	case Auto:
		return "auto"
	case Exp:
		return "exp"
	case Log:
		return "log"
	}
	return fmt.Sprintf("Domain(%d)", int(d))
}

// Result describes a finished solve. [SeLaResult] and [TransportResult]
// embed it.
type Result struct {
	// Iterations is the number of scaling iterations run, each one update
	// of the column (prototype) scaling followed by one of the row (sample)
	// scaling.
	Iterations int
	// Residual is the quantity a positive Tol is tested against, for the
	// returned result: for [Balance], the marginal error of the codes (equal
	// to MarginalError); for [SeLa], SeLa's Σ_j |c_j/c'_j − 1| at the last
	// check; for [Transport], POT's ‖Pᵀ1 − b‖₂ of the returned plan. It is
	// reported with Tol = 0 too.
	Residual float64
	// MarginalError is max over rows and columns of |sum − target| of the
	// returned plan, in the plan's own units (for [Balance], codes whose rows
	// sum to 1 and columns to B/K).
	MarginalError float64
	// LogDomain reports whether the log-domain iteration produced the
	// result.
	LogDomain bool
	// Plan is the tensor the result was written to: the caller's dst, or a
	// new tensor when dst was nil.
	Plan ssl.Tensor
}

// expMinNormal is log 2^-126, the log of the smallest normal float32: a
// kernel exponent below it gives a subnormal or zero float32 entry.
const expMinNormal = -87.33654475055310898657

func finite(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }

// checkDomain returns an error wrapping ssl.ErrParam for an unknown Domain.
func checkDomain(fn string, d Domain) error {
	if d < Auto || d > Log {
		return check.Errorf(fn, ssl.ErrParam, "unknown Domain (Domain=%d)", int(d))
	}
	return nil
}
