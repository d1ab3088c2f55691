package losses

// Workspace holds the scratch memory of every objective of the package:
// normalized rows, similarity matrices and their gradients, softmax rows,
// Sinkhorn codes and the Sinkhorn solver's own workspace. Pass the same
// workspace to repeated calls through the Workspace field of the options
// and, once it has grown to the largest sizes used, a call with its
// destinations supplied allocates nothing of its own. The zero value is
// ready to use; a nil *Workspace (or nil options) makes each call allocate
// a fresh one. A workspace is not safe for concurrent use: give each
// goroutine its own.
type Workspace struct {
	f32    [numSlots32][]float32
	f64    [numSlots64][]float64
	ints   [numSlotsInt][]int
	labels []int32

	ce       contrastiveCE
	swap     clustSwapCE
	sinkhorn clustSinkhornState
}

// Slots of Workspace.f32. Each objective uses the slots it needs; two live
// buffers of one call never share a slot.
const (
	slotA      = iota // normalized rows (first input)
	slotB             // normalized rows (second input)
	slotNormA         // norms of the first input's rows
	slotNormB         // norms of the second input's rows
	slotS             // similarity / logits matrix and its gradient
	slotLSE           // per-row log-sum-exp
	slotDA            // gradient w.r.t. normalized rows (first input)
	slotDB            // gradient w.r.t. normalized rows (second input)
	slotC             // gathered rows (ProtoNCE prototypes)
	slotE             // extra per-row scratch
	slotProbs         // softmax rows
	slotCodes         // Sinkhorn codes
	slotScores        // gathered scores of one crop, similarities
	slotAux           // anything else
	numSlots32
)

// Slots of Workspace.f64.
const (
	slotRows  = iota // per-row partial losses
	slotF64A         // float64 scratch
	slotF64B         //
	slotF64C         //
	slotF64D         //
	slotTerms        // per-term values (ProtoNCE's prototype terms)
	numSlots64
)

// Slots of Workspace.ints.
const (
	slotIntA = iota
	slotIntB
	slotIntC
	numSlotsInt
)

// NewWorkspace returns an empty workspace; it grows on first use. It is the
// same as new(Workspace).
func NewWorkspace() *Workspace { return new(Workspace) }

// buf returns float32 slot i with length n, growing it if needed. Its
// contents are unspecified.
func (w *Workspace) buf(i, n int) []float32 {
	if cap(w.f32[i]) < n {
		w.f32[i] = make([]float32, n)
	}
	return w.f32[i][:n]
}

// buf64 returns float64 slot i with length n.
func (w *Workspace) buf64(i, n int) []float64 {
	if cap(w.f64[i]) < n {
		w.f64[i] = make([]float64, n)
	}
	return w.f64[i][:n]
}

// bufInt returns int slot i with length n.
func (w *Workspace) bufInt(i, n int) []int {
	if cap(w.ints[i]) < n {
		w.ints[i] = make([]int, n)
	}
	return w.ints[i][:n]
}

// labelBuf returns the int32 label buffer with length n.
func (w *Workspace) labelBuf(n int) []int32 {
	if cap(w.labels) < n {
		w.labels = make([]int32, n)
	}
	return w.labels[:n]
}

// orNew returns w, or a fresh workspace when w is nil.
func orNew(w *Workspace) *Workspace {
	if w == nil {
		return new(Workspace)
	}
	return w
}
