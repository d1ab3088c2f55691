// Package losses implements the objectives of clustering-based and
// contrastive self-supervised learning as pure functions: inputs
// (embeddings, logits, scores, codes, queues — plain tensors the caller
// owns) and hyperparameters in, the scalar loss out, gradients written into
// caller-supplied tensors.
//
// # Signatures
//
// Every objective follows the library's conventions (package ssl, "#
// Conventions"):
//
//	func Name(dA, dB, a, b ssl.Tensor, hyper float64, opts *NameOptions) (float64, error)
//	func Name(dA, dB, a, b ssl.Tensor, hyper float64, opts *NameOptions) (NameResult, error)
//
// Destinations come first: a primary output other than the loss (SwAV's
// codes, Bregman's argmax counts), then the gradients d<input> in the order
// of their inputs; a nil one is not computed. Then the inputs in the order
// of the formula, then the required scalar hyperparameters (float64), then
// the options: a nil *NameOptions and zero fields mean the documented
// defaults, and invalid option values return an error. Tensors are
// contiguous row-major float32 (ssl.Tensor; gorgonia's *tensor.Dense
// satisfies it); hyperparameters and losses are float64. An objective with
// named sub-terms (AlignUniform, CACR, CARL, ProtoNCE, SCAN, SCANSelfLabel,
// XMoCo) returns a NameResult by value, holding Loss and each term; the
// others return the loss alone.
//
// # Invariants
//
// Inputs are never modified. Destinations are overwritten, never
// accumulated into, and must not overlap an input or each other (checked:
// ssl.ErrShape). Losses are batch means unless an objective documents
// otherwise (IIC sums over its joint distribution). Inputs a method treats
// as constants (Sinkhorn codes, momentum keys, queues, memory banks,
// centroids, pseudo-labels, EMA targets) get no gradient, as in the
// authors' code where they are detached. Results do not depend on
// GOMAXPROCS.
//
// # State
//
// The state a method carries across steps is a plain value the caller
// owns and passes in, updated only by explicit calls, never as a side
// effect of computing a loss: [Queue] is the ring buffer of embeddings
// (MoCo's negatives, SwAV's feature queue, PCL's instance queue) filled by
// [Queue.Push]; [MemoryBank] holds one row per dataset sample (instance
// discrimination, Local Aggregation, PCL) and changes through
// [MemoryBank.Set] and the momentum update [MemoryBank.Update]. An
// objective reads them through their Tensor methods. [Queue.State] and
// [MemoryBank.State] give their complete state as plain tensors and
// integers for a checkpoint; [Queue.Restore] and [MemoryBank.Restore] put
// it back exactly.
//
// # Workspaces and allocation
//
// Every objective with scratch memory takes a [Workspace] through the
// Workspace field of its options: reusable memory (similarity matrices,
// softmax buffers, Sinkhorn codes) that grows to the largest sizes used;
// one workspace serves every objective. Nil allocates per call. With
// destinations and a workspace supplied an objective allocates nothing of
// its own. A workspace is not safe for concurrent use.
//
// # Numerics
//
// Every similarity matrix is one call of the shared matrix product, and
// every softmax and log-sum-exp subtracts the row maximum (internal/kernel).
// Cross-entropies are taken relative to the target logit, so the loss keeps
// its relative precision at temperatures down to 1e-3, logits of magnitude
// 1e3, and confident rows. Epsilons and clamps equal the references' and
// are documented on each function (normalize(v) = v / max(‖v‖₂, 1e-12) as
// in torch.nn.functional.normalize). Reductions accumulate in float64.
//
// # Errors
//
// Shape mismatches, empty batches and overlapping destinations return an
// error wrapping ssl.ErrShape; a temperature ≤ 0, a label or index out of
// range and other invalid hyperparameters ssl.ErrParam; both before
// anything is written. Inputs are not scanned for NaN: a non-finite loss
// (NaN or Inf inputs, overflow) returns an error wrapping ssl.ErrNotFinite
// that names the inputs that can drive it there, never a NaN with a nil
// error. A hyperparameter that scales float32 data (a temperature, a
// weight) must also stay finite, and nonzero where it must be positive,
// once rounded to float32 (ssl.ErrParam otherwise). SwAV's Sinkhorn step
// follows the library's stopping rule (SwAVOptions.Iterations and Tol):
// codes that miss a positive Tol give the complete loss with an error
// wrapping ssl.ErrNotConverged. Messages read "losses: Func: what is wrong
// (name=value)". An
// outcome of the data is not an error: a batch in which SCANSelfLabel
// finds no confident row returns a zero loss and Confident 0.
//
// # Objectives
//
// Each function's documentation gives the full formula, shapes, reduction,
// constants, special cases, errors and the paper with its equation; the
// authors' (or a peer's) code it is checked against, at a commit, is named
// there and in internal/conformance. In brief (CE(x, y) = log Σ_j exp x_j −
// x_y; q̂ = normalize(q)):
//
//	InfoNCEQueue   MoCo (He et al., CVPR 2020, eq. 1), PCL's instance term
//	               L = 1/B Σ_i CE([q̂_i·k̂_i, q̂_i·queue_j]/τ, 0)
//	InfoNCE        CPC v2 (Hénaff et al., ICML 2020; van den Oord et al. 2018, eq. 4), in-batch negatives
//	               L = 1/B Σ_i CE(p̂_i·t̂_j/τ, i)
//	NTXent         SimCLR (Chen et al., ICML 2020, eq. 1), 2B anchors, 2B−2 negatives each
//	               L = 1/(2B) Σ_a [log Σ_{b≠a} exp(u_a·u_b/τ) − u_a·u_{p(a)}/τ]
//	BYOL           BYOL (Grill et al., NeurIPS 2020, eq. 2), one direction, target constant
//	               L = 2 − 2/B Σ_i ⟨p_i, z_i⟩ / max(‖p_i‖‖z_i‖, 1e-8)
//	ProtoNCE       PCL (Li et al., ICLR 2021, eq. 6), instance term plus M prototype terms
//	               L = L_inst + 1/M Σ_m 1/B Σ_i CE(q̂_i·c_{ids_j}/φ_{ids_j}, i)
//	SwAV           SwAV (Caron et al., NeurIPS 2020, eq. 1–3), swapped prediction with multi-crop,
//	SwAVFromCodes  codes from sinkhorn.Balance (SwAV writes them, SwAVFromCodes reads them):
//	               L = mean_{c∈A, v≠c} −1/B Σ_b q_c[b]·log softmax(S_v[b]/τ)
//	PseudoLabelCE  DeepCluster (Caron et al., ECCV 2018, eq. 1), SeLa, DeeperCluster, S4L
//	               L = 1/B Σ_b CE(logits_b, label_b)
//	IIC            IIC (Ji et al., ICCV 2019, eq. 1 and 3): L = −Σ_ij J_ij (log J_ij − λ log p_i − λ log p_j)
//	SCAN           SCAN (Van Gansbeke et al., ECCV 2020, eq. 2)
//	               L = −1/B Σ_b log⟨A_b, N_b⟩ − w·H(mean_b A_b)
//	SCANSelfLabel  SCAN's self-labeling (Sec. 2.3): CE of strong views on confident weak-view labels
//	MIRA           MIRA (Lee et al., NeurIPS 2022, eq. 9): swapped CE with MIRA's targets
//	CARL           CARL (Silva & Ramírez Rivera, SAC 2022, eq. 3–5), with CARP's partitions
//	               L = −mean log⟨P_i, T_t⟩ + KL(p̄ ‖ uniform)
//	LocalAgg       Local Aggregation (Zhuang et al., ICCV 2019, eq. 1–3)
//	               L = −mean log(C/D), C, D sums of exp(v·bank_j/t) over close and background neighbors;
//	LocalAggMemory its memory-bank rows after the step
//	CACR           CACR (Zheng et al., TMLR 2023, eq. 5–6): L = CA + CR with softmax-weighted
//	               squared distances, farther positives and nearer negatives weighted more
//	Bregman        BeCLR deep Bregman divergence (Rezaei et al. 2021, eq. 3–6)
//	               s_il = exp(−(max_k f_ik − f_{i,argmax f_l})/(2σ²))/τ, L = 1/(2B) Σ_i CE_{l≠i}(s_i, i±B)
//	XMoCo          xMoCo (Seyfi et al. 2022), from the paper's description (no code or equations published)
//	               L = λ_c/B² Σ_ij (q̂_i·k̂_j − k̂_i·k̂_j)² + λ_u·uniform(q̂)
//	Align          Wang & Isola (ICML 2020, eq. 2): L = 1/B Σ_i ‖x_i − y_i‖^α
//	Uniform        Wang & Isola (eq. 4): L = log mean_{i<j} exp(−t‖x_i − x_j‖²)
//	AlignUniform   their weighted sum, as the authors train: w_a·align + w_u·(uniform(x) + uniform(y))/2
//	ODCT           ODCT track consistency (Alfani et al. 2022, Sec. III), from the paper (no public code):
//	TrackLabels    patches of one track share a cluster label; PseudoLabelCE on those labels
//	RotationTargets, RepeatLabels
//	               S4L (Zhai et al., ICCV 2019, Sec. 3.1): rotation targets and labels of rotated copies
//	RotationClusterTargets
//	               DeeperCluster (Caron et al., ICCV 2019, Sec. 3.2–3.3): rotation × cluster targets
//
// A training step composes them: for example MoCo is [InfoNCEQueue] on the
// query encoder's output and the momentum keys, then [Queue.Push] of the
// keys; xMoCo adds [XMoCo]; PCL replaces the loss with [ProtoNCE] over the
// k-means clusterings of a [MemoryBank]; BeCLR adds [Bregman] to [NTXent].
package losses
