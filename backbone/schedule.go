package backbone

import (
	"math"

	"ssl/internal/check"
)

// WarmupCosine returns the per-iteration learning rates of SwAV's schedule
// (main_swav.py): total values, the first warmup of them rising linearly
// from start to base (numpy.linspace(start, base, warmup), whose last value
// is exactly base), the rest decaying on a half cosine from base towards
// final:
//
//	lr[i] = start + i·(base − start)/(warmup − 1)           i < warmup
//	lr[warmup + t] = final + ½(base − final)(1 + cos(π·t/Nc)),  t < Nc = total − warmup
//
// so base appears twice in a row when warmup > 1 and the last value stays
// above final. A warmup of 1 gives [start]; 0 starts with the cosine. The
// fmnist-ssl-v1 protocol's schedule is WarmupCosine(0, 0.3, 0, 50, steps).
// It returns an error wrapping ssl.ErrParam if warmup < 0, total < warmup,
// or a rate is not finite.
func WarmupCosine(start, base, final float64, warmup, total int) ([]float64, error) {
	const fn = "backbone: WarmupCosine"
	for _, err := range []error{
		check.Count(fn, "warmup", warmup, 0), check.Count(fn, "total", total, warmup),
		check.Finite(fn, "start", start), check.Finite(fn, "base", base), check.Finite(fn, "final", final),
	} {
		if err != nil {
			return nil, err
		}
	}
	lr := make([]float64, total)
	switch {
	case warmup == 1:
		lr[0] = start
	case warmup > 1:
		// numpy.linspace: start + i·step, the endpoint set exactly.
		step := (base - start) / float64(warmup-1)
		for i := range warmup - 1 {
			lr[i] = start + float64(i)*step
		}
		lr[warmup-1] = base
	}
	nc := total - warmup
	for t := range nc {
		lr[warmup+t] = final + 0.5*(base-final)*(1+math.Cos(math.Pi*float64(t)/float64(nc)))
	}
	return lr, nil
}

// EMATau returns the momentum of BYOL's target network at global step k of
// K, the cosine schedule from base to 1:
//
//	τ(k) = 1 − (1 − base)·½·(1 + cos(π·min(k, K)/K))
//
// so τ(0) = base, τ(K) = 1, and τ stays 1 past K. It returns an error
// wrapping ssl.ErrParam unless 0 ≤ base ≤ 1, K ≥ 1 and k ≥ 0.
//
// Reference: Grill et al., Bootstrap Your Own Latent, NeurIPS 2020, §3.2;
// deepmind-research byol/utils/schedules.py (cosine_decay) at f5de0ede.
func EMATau(base float64, k, K int) (float64, error) {
	const fn = "backbone: EMATau"
	for _, err := range []error{check.Within(fn, "base", base, 0, 1), check.Count(fn, "K", K, 1), check.Count(fn, "k", k, 0)} {
		if err != nil {
			return 0, err
		}
	}
	s := float64(min(k, K)) / float64(K)
	return 1 - (1-base)*0.5*(1+math.Cos(math.Pi*s)), nil
}

// EMAUpdate moves every target tensor towards its online twin,
//
//	target ← target + (1 − τ)·(online − target)
//
// as BYOL updates its target network after each online optimizer step
// (Grill et al., NeurIPS 2020, eq. 1 in §3.1; with τ from [EMATau]). Pass
// the two networks' Params (and, to average the batch-norm statistics too,
// their Buffers). It returns an error wrapping ssl.ErrShape if the lists do
// not match by name and shape, or ssl.ErrParam unless 0 ≤ τ ≤ 1; nothing is
// written then.
func EMAUpdate(target, online []*Param, tau float64) error {
	if err := check.Within("backbone: EMAUpdate", "tau", tau, 0, 1); err != nil {
		return err
	}
	if err := sameParams("EMAUpdate", target, online); err != nil {
		return err
	}
	a := 1 - tau
	for i, p := range target {
		t, o := p.Data(), online[i].Data()
		for j, v := range o {
			tj := float64(t[j])
			t[j] = float32(tj + a*(float64(v)-tj))
		}
	}
	return nil
}
