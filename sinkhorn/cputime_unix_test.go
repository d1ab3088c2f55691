//go:build unix

package sinkhorn

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time (user + system) the process has used, over
// all threads: benchmarks divide it by b.N as cpu-ms/op, a figure that
// other load on the machine does not inflate the way it inflates wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
