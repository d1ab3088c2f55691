// Package sinkhorn computes balanced assignments with the Sinkhorn-Knopp
// iteration, as the optimal-transport self-labelling methods use them: SwAV's
// per-batch codes ([Balance]).
//
// # The iteration
//
// For a score matrix S (B samples × K prototypes) and a temperature ε, the
// codes are the entropic optimal-transport plan between the uniform sample
// marginal and the uniform prototype marginal:
//
//	Q = diag(u) · exp(S/ε) · diag(v),  Q·1 = 1/B,  Qᵀ·1 = 1/K
//
// found by alternately rescaling the prototype side (v) and the sample side
// (u). Only the scaling vectors change while iterating; the kernel exp(S/ε) is
// computed once.
//
// Reference: Caron et al., Unsupervised Learning of Visual Features by
// Contrasting Cluster Assignments (SwAV), NeurIPS 2020, §3.1 eq. 3 and
// Appendix A.1; facebookresearch/swav@06b1b7cb main_swav.py distributed_sinkhorn.
package sinkhorn
