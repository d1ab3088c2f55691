//go:build unix

package losses

import (
	"syscall"
	"time"
)

// ctrCPUTime returns the CPU time (user + system) this process has used,
// so benchmarks can report CPU per operation, a figure that stays
// meaningful when other processes share the cores.
func ctrCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
