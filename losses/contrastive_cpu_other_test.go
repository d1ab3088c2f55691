//go:build !unix

package losses

import "time"

// ctrCPUTime is not available here; benchmarks then report 0 CPU time.
func ctrCPUTime() time.Duration { return 0 }
