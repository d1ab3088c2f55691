// Package run is the plumbing the examples share, so that each example's
// main.go shows only its method's loop: flags, the Fashion-MNIST data, the
// learning-rate schedule, the batch order, progress lines, checkpoints that
// survive a signal and resume bit-identically, and the fmnist-ssl-v1
// evaluation (kNN, linear probe, k-means ACC/NMI/ARI) with its outputs
// (result.json, a cluster-grid PNG and a training-curve PNG).
//
// # Determinism
//
// Every random choice of a run derives from the seed: the network's
// initialization, the batch order of each epoch (a permutation drawn from
// (seed, epoch)), each image's augmentation (augment's (seed, epoch, index,
// view) streams) and whatever the method draws per epoch (Trainer.Rand). A
// run resumed from a checkpoint therefore continues exactly as the
// uninterrupted run would have.
//
// # Data-parallel runs
//
// With -dist mpi (or [InProcess], its goroutine twin for tests) a run is
// one rank of a job. Each rank trains on its share of every batch and
// averages its gradients with [Trainer.AverageGrads] before the optimizer
// step; rank 0 alone prints, evaluates and writes -out, and -resume reads
// rank 0's checkpoint on every rank. The ranks make every collective in the
// same order: the start's broadcast of rank 0's state, the gradient
// average, a vote on stopping at every step (so a signal stops every rank
// at the same step), and at each epoch's end rank 0's buffers and Extra
// tensors broadcast and a hash of every rank's whole state compared, which
// stops the job with an error if the ranks drifted apart. Work on the whole
// training set at an epoch's start (relabelling) is split with [Shard] over
// [Config.Sharded] and its results put together with [GatherInts],
// [GatherFloat32] and [GatherRows]; the evaluation makes no collective.
package run
