package sinkhorn

import (
	"errors"
	"fmt"
	"math"

	"ssl"
)

// ErrNotConverged is wrapped by the error a solver returns when it reached
// its iteration cap before meeting its tolerance. The result it returns with
// it holds the partial solution and the iterations run.
var ErrNotConverged = errors.New("sinkhorn: not converged")

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

// Result describes a finished solve.
type Result struct {
	// Iterations is the number of scaling iterations run, each one update
	// of the column (prototype) scaling followed by one of the row (sample)
	// scaling.
	Iterations int
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
