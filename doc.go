// Package ssl is the root of an embeddable library of clustering-based
// self-supervised learning objectives: the pieces the SSL papers are made of,
// as small pure functions with their gradients.
//
// This package holds what every other one shares: the [Tensor] interface the
// API takes (satisfied by gorgonia.org/tensor's *tensor.Dense), the helpers
// that view a Tensor as contiguous float32 data ([Matrix], [View], …), and
// the sentinel errors every failure wraps ([ErrShape], [ErrParam],
// [ErrNotFinite]).
//
// # Packages
//
//	ssl/sinkhorn  Sinkhorn-Knopp balanced assignment: SwAV's per-batch codes
//	              (Caron et al. 2020, Alg. 1 / App. A.1), SeLa's self-labelling
//	              (Asano et al. 2020, eq. 6–8), general marginals and the log
//	              domain (Cuturi 2013; Schmitzer 2019), sharded over workers.
//	ssl/assign    pseudo-labels other than Sinkhorn: MIRA (Lee et al. 2022),
//	              k-means as DeepCluster (Caron et al. 2018) and PCL (Li et al.
//	              2021) run it, PCA whitening, PCL concentration, neighbour
//	              mining (SCAN, Van Gansbeke et al. 2020), hierarchical
//	              clustering (DeeperCluster, Caron et al. 2019), Local
//	              Aggregation's neighbour sets (Zhuang et al. 2019).
//	ssl/losses    every objective with its gradients: InfoNCE (van den Oord et
//	              al. 2018; MoCo, He et al. 2020), NT-Xent (SimCLR, Chen et al.
//	              2020), BYOL (Grill et al. 2020), ProtoNCE (PCL), SwAV, IIC (Ji
//	              et al. 2019), SCAN, MIRA, CARL (Silva & Ramírez Rivera 2022),
//	              Local Aggregation, CACR (Zheng et al. 2021), deep Bregman
//	              divergence (Rezaei et al. 2021), xMoCo (Seyfi et al. 2022),
//	              alignment and uniformity (Wang & Isola 2020).
//	ssl/backbone  layers with backward passes, ConvNet3 and a CIFAR ResNet-18
//	              (He et al. 2016), heads, SGD/LARS/AdamW, EMA, safetensors.
//	ssl/augment   torchvision-faithful augmentations and SwAV's multi-crop.
//	ssl/probe     weighted kNN (DINO, Caron et al. 2021), linear probe,
//	              clustering ACC/NMI/ARI, reverse linear probing (Laina et al.
//	              2022), pictures.
//	ssl/cuda      the hot paths on an NVIDIA GPU, loaded at run time.
//
// # Conventions
//
// Tensors hold float32 in contiguous row-major order. Functions check every
// argument before writing anything and return errors wrapping the sentinels
// of this package; inputs are never modified; destinations are overwritten.
// Results do not depend on GOMAXPROCS.
package ssl
