package sinkhorn

import (
	"encoding/binary"
	"errors"
	"math"
	"testing"

	"ssl"
)

// fuzzMatrix builds a rows×cols float32 matrix from raw bytes (any bit
// pattern, so NaN, ±Inf, subnormals and huge values all occur), scaled by
// scale when the pattern is finite.
func fuzzMatrix(data []byte, rows, cols int, scale float32) *ssl.Tensor {
	t := ssl.New(rows, cols)
	var x ssl.Tensor = t
	if rows*cols == 0 {
		return &x // gorgonia's Data panics on an empty tensor
	}
	d := t.Data().([]float32)
	for i := range d {
		if len(data) >= 4 {
			v := math.Float32frombits(binary.LittleEndian.Uint32(data))
			data = data[4:]
			if !math.IsNaN(float64(v)) && !math.IsInf(float64(v), 0) && math.Abs(float64(v)) < 1e30 {
				v = float32(math.Mod(float64(v), 1)) * scale
			}
			d[i] = v
		} else {
			d[i] = float32((i*7919)%13) / 13 * scale
		}
	}
	return &x
}

func isOurError(err error) bool {
	return errors.Is(err, ssl.ErrShape) || errors.Is(err, ssl.ErrParam) ||
		errors.Is(err, ssl.ErrNotFinite) || errors.Is(err, ErrNotConverged)
}

func checkFinite(t *testing.T, name string, x []float32) {
	for i, v := range x {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("%s[%d] = %v with a nil error", name, i, v)
		}
	}
}

func FuzzBalance(f *testing.F) {
	f.Add(uint8(4), uint8(3), 0.05, uint8(3), uint8(0), []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(uint8(1), uint8(5), 1.0, uint8(1), uint8(2), []byte{})
	f.Add(uint8(6), uint8(2), 1e-4, uint8(0), uint8(1), []byte{0, 0, 0x80, 0x7f})
	f.Fuzz(func(t *testing.T, b, k uint8, eps float64, iters, domain uint8, data []byte) {
		rows, cols := int(b%17), int(k%17)
		scores := *fuzzMatrix(data, rows, cols, 10)
		res, err := Balance(nil, scores, eps, &BalanceOptions{Iterations: int(iters % 6), Domain: Domain(domain % 4)})
		if err != nil {
			if !isOurError(err) {
				t.Fatalf("Balance: error %v wraps no sentinel", err)
			}
			return
		}
		_, q, _ := ssl.View(res.Plan)
		checkFinite(t, "codes", q)
	})
}

func FuzzSeLa(f *testing.F) {
	f.Add(uint8(4), uint8(3), 25.0, uint8(0), []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(uint8(2), uint8(5), 2.5, uint8(2), []byte{})
	f.Fuzz(func(t *testing.T, n, k uint8, lambda float64, domain uint8, data []byte) {
		rows, cols := int(n%13), int(k%13)
		probs := *fuzzMatrix(data, rows, cols, 1)
		plan := ssl.New(max(rows, 1), max(cols, 1))
		if rows == 0 || cols == 0 {
			plan = nil
		}
		var p ssl.Tensor
		if plan != nil {
			p = plan
		}
		res, err := SeLa(nil, p, probs, lambda, &SeLaOptions{Domain: Domain(domain % 4), Iterations: 200, Tol: 0.1})
		if err != nil {
			if !isOurError(err) {
				t.Fatalf("SeLa: error %v wraps no sentinel", err)
			}
			return
		}
		checkFinite(t, "plan", plan.Data().([]float32))
		for _, l := range res.Labels {
			if l < 0 || l >= cols {
				t.Fatalf("label %d out of range", l)
			}
		}
	})
}

func FuzzTransport(f *testing.F) {
	f.Add(uint8(4), uint8(3), 0.1, uint8(0), []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(uint8(1), uint8(5), 1e-3, uint8(2), []byte{})
	f.Fuzz(func(t *testing.T, n, k uint8, reg float64, domain uint8, data []byte) {
		rows, cols := int(n%13), int(k%13)
		cost := *fuzzMatrix(data, rows, cols, 5)
		a, b := ssl.New(rows), ssl.New(cols)
		if rows > 0 && cols > 0 {
			ad, bd := a.Data().([]float32), b.Data().([]float32)
			for i := range ad {
				ad[i] = float32(cols)
			}
			for j := range bd {
				bd[j] = float32(rows)
			}
		}
		res, err := Transport(nil, a, b, cost, reg, &TransportOptions{Domain: Domain(domain % 4), Iterations: 200, Tol: 1e-9})
		if err != nil {
			if !isOurError(err) {
				t.Fatalf("Transport: error %v wraps no sentinel", err)
			}
			return
		}
		_, p, _ := ssl.View(res.Plan)
		checkFinite(t, "plan", p)
	})
}
