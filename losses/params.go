package losses

import (
	"math"

	"ssl"
	"ssl/internal/check"
)

// Scalar hyper-parameters are float64 in the API; the objectives that scale
// float32 matrices by them convert them once. These checks reject a value
// that is valid as a float64 but not once rounded to float32 (a temperature
// of 1e-50 would become 0), so the conversion never produces 0 or ±Inf.

// positive32 checks that v is finite and > 0, also in float32, and returns
// float32(v).
func positive32(fn, name string, v float64) (float32, error) {
	if err := check.Positive(fn, name, v); err != nil {
		return 0, err
	}
	return in32(fn, name, v, true)
}

// nonNegative32 checks that v is finite and ≥ 0, also in float32, and
// returns float32(v).
func nonNegative32(fn, name string, v float64) (float32, error) {
	if err := check.NonNegative(fn, name, v); err != nil {
		return 0, err
	}
	return in32(fn, name, v, false)
}

// finite32 checks that v is finite, also in float32, and returns
// float32(v).
func finite32(fn, name string, v float64) (float32, error) {
	if err := check.Finite(fn, name, v); err != nil {
		return 0, err
	}
	return in32(fn, name, v, false)
}

func in32(fn, name string, v float64, positive bool) (float32, error) {
	f := float32(v)
	if math.IsInf(float64(f), 0) || (positive && f == 0) {
		return 0, check.Errorf(fn, ssl.ErrParam, "%s is outside the float32 range (%s=%v)", name, name, v)
	}
	return f, nil
}
