// Package sinkhorn computes balanced assignments with the Sinkhorn-Knopp
// iteration, as the optimal-transport self-labelling methods use them:
// SwAV's per-batch codes ([Balance]), SeLa's fast self-labelling over a
// whole dataset ([SeLa]) and entropic optimal transport with arbitrary
// marginals ([Transport]), in the exp or the log domain, on one machine or
// sharded over workers.
//
// # The iteration
//
// Every solver finds the plan
//
//	P = diag(u) · K · diag(v),   P·1 = a (rows),   Pᵀ·1 = b (columns)
//
// for a positive kernel K (N rows × K columns) by alternating the column
// update and the row update
//
//	v_j = b_j / Σ_i K_ij·u_i,     u_i = a_i / Σ_j K_ij·v_j
//
// which is coordinate ascent on the dual of
// min_P ⟨P, M⟩ − reg·H(P) subject to the marginals, with K = exp(−M/reg)
// (Cuturi, Sinkhorn Distances, NeurIPS 2013). Only u and v change while
// iterating: K is formed once, in float32, and each iteration streams it
// once (the row update of one iteration and the column sums of the next
// share a pass).
//
//   - SwAV (Caron et al., NeurIPS 2020, §3.1 eq. 3 and Appendix A.1):
//     K = exp(S/ε) for the scores S (B samples × K prototypes), a = 1/B,
//     b = 1/K, a fixed number of iterations (ε = 0.05, 3), and the codes
//     B·P (rows sum to 1). [Balance].
//   - SeLa (Asano et al., ICLR 2020, §3 eq. 5–6 and the fast version of
//     §3.1): K = P^λ for the model's probabilities P (N × K, λ = 25),
//     a = 1/N, b = 1/K, iterated until Σ_j |c_j/c'_j − 1| ≤ 0.1 (tested
//     every 10 updates); the pseudo-labels are the row argmaxes of the
//     plan. [SeLa].
//   - General marginals (POT's ot.sinkhorn): K = exp(−M/reg) or a given
//     log-kernel, a and b given, POT's stopping test. [Transport].
//
// # Domains
//
// The exp domain runs the iteration above with float64 scaling vectors
// over the float32 kernel. The log domain runs it on the potentials
// f = log u, g = log v,
//
//	g_j = log b_j − log Σ_i exp(f_i + L_ij),   f_i = log a_i − log Σ_j exp(L_ij + g_j)
//
// with L = log K, each log-sum-exp formed around its maximum in float64; it
// costs an exponential per element per update and never overflows. [Auto]
// (the default) detects which one a problem needs rather than guessing:
// the kernel is shifted per column (and, for SeLa, built from the plan
// after the first update) so that nothing overflows, the kernel passes
// record the largest entry that float32 flushed below 2^-126 in each row,
// and after every update the solver checks that no flushed entry can move
// any row or column sum by more than float32 rounding (2^-24 relative),
// and that the scalings are finite and positive. When a check fails the
// solve restarts in the log domain. [Exp] and [Log] force a domain;
// [Result.LogDomain] says which one produced a result.
//
// # Conventions and convergence
//
// The package follows the library's conventions (see [ssl], "Conventions"):
// destinations first, scalars in float64, options last, the [Workspace] in
// the options (nil allocates), results by value.
//
// Every solver has the same stopping rule: Iterations caps the iterations
// (0 means the method's default) and Tol, when positive, stops as soon as
// the solver's residual is at most Tol; Tol = 0 runs exactly Iterations
// iterations with no test. Nil options keep each method's own schedule:
// SwAV's 3 fixed iterations for [Balance], SeLa's Tol 0.1 tested every 10
// updates (at most 10000) for [SeLa], POT's Tol 1e-9 tested every 10
// updates (at most 1000) for [Transport]. Every result reports the
// iterations run, the residual Tol is tested against ([Result.Residual])
// and the marginal error of the plan (max over rows and columns of
// |sum − target|; the rows are exact after the last row update, so it is
// the columns' error). A positive Tol not met returns the complete result
// with an error wrapping [ErrNotConverged], which wraps
// ssl.ErrNotConverged.
//
// # Sharding
//
// SwAV and SeLa split the rows over GPUs and all-reduce the column sums. A
// [Reducer] in the options makes a call one worker of such a solve: it
// holds only its rows, exchanges vectors of length K (plus a few scalars)
// per update, and returns exactly what the unsharded solve returns up to
// the order of float64 sums. Every ssl/dist communicator is a Reducer:
// dist.Local connects goroutines of one process, dist.MPI the processes of
// an MPI job; any other all-reduce fits the interface.
//
// # Invariants
//
// Inputs are never modified, except the probabilities of [SeLa] with
// InPlace. Destinations are overwritten and must not overlap inputs. All
// arguments are checked before anything is written; errors wrap
// ssl.ErrShape, ssl.ErrParam or ssl.ErrNotFinite and name the value.
// Results are the same bits for any GOMAXPROCS: rows are split in fixed
// blocks, run on the library's one goroutine pool, and block sums are
// combined in block order. With a [Workspace] and destinations, a call
// allocates nothing.
package sinkhorn
