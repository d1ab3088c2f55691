//go:build unix

package kernel

import "syscall"

// cpuSeconds returns the user + system CPU time this process has used, so
// benchmarks can report work per CPU-second, a figure that other processes
// competing for the cores disturb far less than wall time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
