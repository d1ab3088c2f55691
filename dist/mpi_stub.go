//go:build !cgo || !linux

package dist

import "fmt"

// openMPI fails: the run-time binding needs cgo on Linux.
func openMPI(libs []string) (Comm, error) {
	return nil, fmt.Errorf("dist: MPI: launched by mpirun, but this program was built without cgo on linux and cannot load %s: %w", libs[0], ErrComm)
}
