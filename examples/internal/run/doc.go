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
package run
