// Package dist runs the library's objectives over several processes or
// machines: the collectives the authors' code makes through
// torch.distributed, on a communicator that is either goroutines of one
// process ([Local]) or the processes of an MPI job ([MPI]).
//
// # What is exchanged
//
// The collectives are the ones the reference implementations make:
//
//   - SwAV's distributed_sinkhorn: one all-reduce of the total mass, then
//     per iteration an all-reduce of the K prototype sums (every [Comm] is a
//     sinkhorn.Reducer; SeLa is the same with a K-vector per iteration).
//   - DeepCluster-v2's k-means: a broadcast of the K×D centroids from rank
//     0, then per iteration an all-reduce of the K×D sums and the K counts
//     (assign.KMeansOptions.Comm).
//   - Data-parallel training: the same initial weights (a broadcast) and
//     gradients all-reduced and averaged before each optimizer step, over
//     one flat buffer of the network's parameters (backbone.DataParallel).
//
// A [Comm] has AllReduce (Sum and Max on float32, float64 and int64),
// Broadcast, AllGather (equal counts), Barrier, Abort and Close. Every rank
// makes the same calls in the same order; a call whose length, type, op or
// root differs across ranks is an error on every rank (ssl.ErrShape for
// lengths, ssl.ErrParam otherwise), never a corrupt sum: each MPI
// collective is preceded by one all-reduce of 10 integers that checks it.
// A rank that fails calls Abort, which names the rank and the error and,
// under MPI, ends the whole job with MPI_Abort instead of leaving the
// other ranks waiting.
//
// # Running under MPI
//
//	go build -o swav ./examples/swav && mpirun -np 2 ./swav -dist mpi
//
// Outside mpirun, [MPI] is a one-rank communicator that needs no MPI
// library. As root in a container Open MPI also wants
// OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1, and
// OMPI_MCA_btl_vader_single_copy_mechanism=none where the shared-memory
// transport cannot use cross-memory attach.
//
// # Design
//
// Why a package of its own. Collectives are not part of any objective: an
// objective takes its worker's rows and, optionally, something that
// combines vectors across workers. Putting MPI in the root package would
// tie every import of the library to it; putting it in sinkhorn would make
// assign and backbone import sinkhorn for a communicator. So dist is a
// leaf beside them: it imports only the root package (for its sentinel
// errors), and sinkhorn, assign, backbone and the examples import it.
// sinkhorn keeps its one-method Reducer interface, which every Comm
// satisfies, so a solver still accepts any all-reduce.
//
// Why run-time loading. The MPI library is opened with dlopen when [MPI]
// is first called under a launcher, as package cuda opens the CUDA driver.
// A build tag with a stub would make the default build unable to run under
// mpirun, and linking libmpi would make every program of the module need
// MPI's headers to build and its library to start. With run-time loading,
// go build ./... and go test ./... need no MPI, one binary runs alone or
// under mpirun, and the same binary runs on Open MPI or MPICH. The cost is
// the handle ABI, which run-time loading cannot take from mpi.h: Open MPI's
// handles are the addresses of exported globals (ompi_mpi_comm_world,
// ompi_mpi_float, ompi_mpi_op_sum, …; MPI_IN_PLACE is (void*)1), found with
// dlsym; MPICH's and its family's (Intel MPI, MVAPICH, Cray MPICH) are
// integer constants fixed by its mpi.h (MPI_COMM_WORLD 0x44000000,
// MPI_FLOAT 0x4c00040a, …; MPI_IN_PLACE is (void*)-1). The library is
// recognised by whether it exports ompi_mpi_comm_world. Without cgo on
// Linux, MPI under a launcher returns an error wrapping [ErrComm].
//
// Threads. MPI is initialised with MPI_THREAD_FUNNELED and one goroutine,
// locked to its OS thread, makes every MPI call; a Comm's methods hand
// their call to it and wait, so Go slices are passed to blocking calls
// only and need no pinning. Open MPI's own handlers for SIGSEGV, SIGBUS,
// SIGFPE and SIGABRT are turned off (OMPI_MCA_opal_signal="" unless set),
// because they do not run on Go's signal stack.
package dist
