package dist

import "io"

// SetStderr redirects Abort's message and returns the function that
// restores it.
func SetStderr(w io.Writer) func() {
	old := stderr
	stderr = w
	return func() { stderr = old }
}

// ReduceChunk is the most bytes one MPI all-reduce call reduces.
const ReduceChunk = reduceChunk
