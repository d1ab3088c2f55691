package sinkhorn

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"ssl"
	"ssl/internal/kernel"
)

// BenchmarkSeLa times one SeLa update at λ = 25 (SeLa's default) on
// softmax outputs of random logits (standard deviation 2). The set-up (a
// public SeLa call that stops after update 0: two float64 passes over P and
// the kernel pass) runs once, outside the timer, and is reported as
// setup_s; each op is then one update of the same solve: the column update
// and the row pass that streams the N×K float32 kernel once (the r update
// of one step and the c update of the next share it). Traffic model: 4·N·K
// bytes per update, reported as GB/s; s/iter is wall time, cpu-s/iter the
// process CPU time (both threads) per update, which other load on the
// machine does not inflate (setup_cpu_s likewise for the set-up).
func BenchmarkSeLa(b *testing.B) {
	for _, sz := range []struct{ n, k int }{{16384, 3000}, {262144, 3000}} {
		b.Run(fmt.Sprintf("n%d_k%d", sz.n, sz.k), func(b *testing.B) {
			r := rand.New(rand.NewPCG(2, 2))
			probs := ssl.New(sz.n, sz.k)
			d := probs.Data().([]float32)
			for i := range d {
				d[i] = float32(r.NormFloat64() * 2)
			}
			kernel.SoftmaxRows(d, d, sz.n, sz.k)
			ws := NewWorkspace(sz.n, sz.k)
			t0, s0 := time.Now(), cpuTime()
			res, _ := SeLa(nil, nil, probs, 25, &SeLaOptions{Iterations: 1, Workspace: ws})
			setup, setupCPU := time.Since(t0), cpuTime()-s0
			if res.LogDomain {
				b.Fatal("the benchmark input needs the log domain")
			}
			e := &ws.e
			e.check = true
			b.ReportAllocs()
			c0 := cpuTime()
			for b.Loop() {
				if !e.colUpdateExp() {
					b.Fatal("column update left the exp domain")
				}
				if _, ok, err := e.rowPass(); err != nil || !ok {
					b.Fatalf("row pass: ok %v, err %v", ok, err)
				}
			}
			cpu := (cpuTime() - c0).Seconds() / float64(b.N)
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(sec, "s/iter")
			b.ReportMetric(float64(4*sz.n*sz.k)/sec/1e9, "GB/s")
			b.ReportMetric(cpu, "cpu-s/iter")
			b.ReportMetric(setup.Seconds(), "setup_s")
			b.ReportMetric(setupCPU.Seconds(), "setup_cpu_s")
		})
	}
}
