package losses

import (
	"math"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// clustLAEps is the 1e-7 that LocalAggregationLossModule adds to the
// relative probabilities before the log (src/objectives/localagg.py).
const clustLAEps = 1e-7

// LocalAggOptions holds the optional settings of [LocalAgg]. A nil
// *LocalAggOptions means the defaults.
type LocalAggOptions struct {
	// Workspace is reused scratch memory; nil allocates a fresh one per
	// call.
	Workspace *Workspace
}

// LocalAgg returns the Local Aggregation loss of the batch embeddings
// outputs (B×D, raw: the loss normalizes them) against a memory bank of N
// unit rows (N×D), and writes ∂L/∂outputs into doutputs:
//
//	v_b = outputs_b / ‖outputs_b‖
//	d_bj = ⟨v_b, bank_j⟩,  Bk(b) = the k largest d_bj            (background neighbors)
//	close(b) = {j ∈ Bk(b) : labels[r][j] = labels[r][indices[b]] for some run r}
//	C_b = Σ_{j∈close(b)} exp(d_bj/t),  D_b = Σ_{j∈Bk(b)} exp(d_bj/t)
//	L = −1/B² · Σ_i Σ_j log(C_j / D_i + 1e-7)
//
// indices[b] is sample b's row in the bank; labels holds R ≥ 1 k-means
// runs over the bank, each a label per bank row. The bank, the labels and
// the neighbor sets are constants; the gradient flows through C and D
// into v and through the normalization into outputs.
//
// The B×B double sum reproduces the reference exactly: its code divides a
// [B] vector by a [B,1] one, so entry [i,j] is C_j/D_i; without the 1e-7
// it would equal the per-sample −1/B·Σ_b log(C_b/D_b). The reference's
// constant Z = 2876934.2/1281167·N cancels in every ratio and is not
// formed. Everything after the B×N similarity product is computed in the
// log domain in float64 (C, D as log-sum-exps; log(C_j/D_i + 1e-7) as a
// log-add-exp), so t down to 1e-3 neither overflows nor loses C_j = 0 (a
// sample whose close set is empty contributes log 1e-7). The neighbor
// search is a selection over the N similarities of each row (ties at the
// k-th value are broken arbitrarily, as torch.topk does).
//
// A nil doutputs skips the gradient. It returns an error wrapping
// ssl.ErrShape if outputs or bank is not a non-empty matrix, their widths
// differ, len(indices) ≠ B, a labels run does not have N entries, or
// doutputs has the wrong shape or overlaps an input; ssl.ErrParam if an
// index is outside [0, N), labels is empty, k is not in [1, N], or t is
// not finite and > 0; ssl.ErrNotFinite if an outputs row has zero norm or
// the loss is not finite. Nothing is written when it returns an error.
//
// [LocalAggMemory] gives the memory-bank rows the reference writes back
// after the step.
//
// Reference: Zhuang, Zhai and Yamins, Local Aggregation for Unsupervised
// Learning of Visual Embeddings, ICCV 2019, eq. 1–3; checked against
// LocalAggregationLossModule.forward in src/objectives/localagg.py at
// neuroailab/LocalAggregation-Pytorch@b0858772d1f603bc10606997c5d5e9d61eaa1101.
func LocalAgg(doutputs, outputs, bank ssl.Tensor, indices []int, labels [][]int, k int, t float64, opts *LocalAggOptions) (float64, error) {
	const fn = "losses: LocalAgg"
	b, d, o, err := check.NonEmptyMatrix(fn, "outputs", outputs)
	if err != nil {
		return 0, err
	}
	n, bd, mb, err := check.NonEmptyMatrix(fn, "bank", bank)
	if err != nil {
		return 0, err
	}
	if bd != d {
		return 0, check.Errorf(fn, ssl.ErrShape, "bank rows have %d columns, outputs %d", bd, d)
	}
	g, err := check.Dst(fn, "doutputs", doutputs, check.Shape2(b, d), o, mb)
	if err != nil {
		return 0, err
	}
	if err := check.Labels(fn, "indices", indices, b, n); err != nil {
		return 0, err
	}
	if len(labels) == 0 {
		return 0, check.Errorf(fn, ssl.ErrParam, "labels holds no k-means run")
	}
	for r, run := range labels {
		if len(run) != n {
			return 0, check.Errorf(fn, ssl.ErrShape, "len(labels[%d]) is %d, want N=%d", r, len(run), n)
		}
	}
	if k < 1 || k > n {
		return 0, check.Errorf(fn, ssl.ErrParam, "k must be in [1, N=%d] (k=%d)", n, k)
	}
	if err := check.Positive(fn, "t", t); err != nil {
		return 0, err
	}
	var ws *Workspace
	if opts != nil {
		ws = opts.Workspace
	}
	ws = orNew(ws)
	v := ws.buf(slotAux, b*d)
	norms := ws.buf64(slotF64D, b)
	for r := range b {
		row := o[r*d : (r+1)*d]
		nr := kernel.Norm(row)
		if !(nr > 0) || math.IsInf(nr, 0) {
			return 0, check.Errorf(fn, ssl.ErrNotFinite, "outputs row %d has norm %v, cannot normalize", r, nr)
		}
		norms[r] = nr
		for j, x := range row {
			v[r*d+j] = float32(float64(x) / nr)
		}
	}
	sim := ws.buf(slotScores, b*n)
	kernel.Gemm(false, true, b, n, d, 1, v, d, mb, d, 0, sim, n)

	// Top-k per row: nbr[r*k:(r+1)*k] holds Bk(r); isClose marks close(r).
	nbr := ws.bufInt(slotIntA, b*k)
	idx := ws.bufInt(slotIntB, n)
	isClose := ws.bufInt(slotIntC, b*k)
	lc := ws.buf64(slotF64A, 2*b) // log C_b, log D_b
	ld := lc[b:]
	lc = lc[:b]
	invT := 1 / t
	for r := range b {
		s := sim[r*n : (r+1)*n]
		for j := range idx {
			idx[j] = j
		}
		clustTopK(idx, s, k)
		copy(nbr[r*k:(r+1)*k], idx[:k])
		self := indices[r]
		mC, mD := math.Inf(-1), math.Inf(-1)
		for q, j := range nbr[r*k : (r+1)*k] {
			isClose[r*k+q] = 0
			for _, run := range labels {
				if run[j] == run[self] {
					isClose[r*k+q] = 1
					break
				}
			}
			z := float64(s[j]) * invT
			mD = max(mD, z)
			if isClose[r*k+q] == 1 {
				mC = max(mC, z)
			}
		}
		var sC, sD float64
		for q, j := range nbr[r*k : (r+1)*k] {
			z := float64(s[j]) * invT
			sD += math.Exp(z - mD)
			if isClose[r*k+q] == 1 {
				sC += math.Exp(z - mC)
			}
		}
		ld[r] = mD + math.Log(sD)
		lc[r] = math.Inf(-1)
		if sC > 0 {
			lc[r] = mC + math.Log(sC)
		}
	}
	lnEps := math.Log(clustLAEps)
	var sum float64
	for i := range b {
		for j := range b {
			sum += clustLogAddExp(lc[j]-ld[i], lnEps)
		}
	}
	bb := float64(b) * float64(b)
	loss := -sum / bb
	if err := check.Result(fn, loss, "outputs or bank"); err != nil {
		return loss, err
	}
	if g == nil {
		return loss, nil
	}
	// ∂L/∂d_bj = p_bj/t · (∂L/∂C_b·[j∈close(b)] + ∂L/∂D_b), with
	//   p_bj·∂L/∂C_b = −1/B² · Σ_i p_bj / (C_b + ε·D_i)
	//   p_bj·∂L/∂D_b = 1/B² · (p_bj/D_b) · Σ_j' C_j' / (C_j' + ε·D_b)
	aC := ws.buf64(slotF64B, 2*b) // per b: log Σ_i 1/(C_b + ε·D_i), and Σ_j' σ(·)
	sD := aC[b:]
	aC = aC[:b]
	for r := range b {
		m := math.Inf(-1)
		for i := range b {
			m = max(m, -clustLogAddExp(lc[r], lnEps+ld[i]))
		}
		var s float64
		for i := range b {
			s += math.Exp(-clustLogAddExp(lc[r], lnEps+ld[i]) - m)
		}
		aC[r] = m + math.Log(s)
		var f float64
		for j := range b {
			// C_j/(C_j + ε·D_r) = 1/(1 + exp(ln ε + log D_r − log C_j))
			f += 1 / (1 + math.Exp(lnEps+ld[r]-lc[j]))
		}
		sD[r] = f
	}
	dv := ws.buf64(slotF64C, d)
	for r := range b {
		clear(dv)
		s := sim[r*n : (r+1)*n]
		for q, j := range nbr[r*k : (r+1)*k] {
			z := float64(s[j]) * invT
			gdj := math.Exp(z-ld[r]) * sD[r]
			if isClose[r*k+q] == 1 {
				gdj -= math.Exp(z + aC[r])
			}
			gdj *= invT / bb
			row := mb[j*d : (j+1)*d]
			for c, x := range row {
				dv[c] += gdj * float64(x)
			}
		}
		// Through v = o/‖o‖: ∂o = (∂v − v·⟨v, ∂v⟩)/‖o‖.
		vr := v[r*d : (r+1)*d]
		var dot float64
		for c, x := range vr {
			dot += float64(x) * dv[c]
		}
		for c, x := range vr {
			g[r*d+c] = float32((dv[c] - float64(x)*dot) / norms[r])
		}
	}
	return loss, nil
}

// LocalAggMemory writes into dst (B×D) the memory-bank rows that Local
// Aggregation stores after a step, without modifying the bank:
//
//	dst_b = w_b / ‖w_b‖,  w_b = m·bank[indices[b]] + (1 − m)·outputs_b/‖outputs_b‖
//
// (no epsilon in either norm, as in the reference). The caller copies them
// into its bank (or a MemoryBank) when it chooses. dst nil allocates; the
// filled tensor is returned. It returns an error wrapping ssl.ErrShape or
// ssl.ErrParam for the shape, index and m ∈ [0, 1] checks of [LocalAgg],
// and ssl.ErrNotFinite if a row to normalize has zero norm; nothing is
// written then.
//
// Reference: Zhuang et al., ICCV 2019, Sec. 3.3 (memory bank update);
// LocalAggregationLossModule.forward at
// neuroailab/LocalAggregation-Pytorch@b0858772d1f603bc10606997c5d5e9d61eaa1101.
func LocalAggMemory(dst, outputs, bank ssl.Tensor, indices []int, m float64) (ssl.Tensor, error) {
	const fn = "losses: LocalAggMemory"
	b, d, o, err := check.NonEmptyMatrix(fn, "outputs", outputs)
	if err != nil {
		return nil, err
	}
	n, bd, mb, err := check.NonEmptyMatrix(fn, "bank", bank)
	if err != nil {
		return nil, err
	}
	if bd != d {
		return nil, check.Errorf(fn, ssl.ErrShape, "bank rows have %d columns, outputs %d", bd, d)
	}
	if err := check.Labels(fn, "indices", indices, b, n); err != nil {
		return nil, err
	}
	if err := check.Within(fn, "m", m, 0, 1); err != nil {
		return nil, err
	}
	out, err := check.Dst(fn, "dst", dst, check.Shape2(b, d), o, mb)
	if err != nil {
		return nil, err
	}
	row := make([]float64, d)
	if out == nil {
		out = make([]float32, b*d)
		dst = ssl.FromSlice(out, b, d)
	}
	// Check every row before writing any.
	for pass := range 2 {
		for r := range b {
			or := o[r*d : (r+1)*d]
			no := kernel.Norm(or)
			if !(no > 0) || math.IsInf(no, 0) {
				return nil, check.Errorf(fn, ssl.ErrNotFinite, "outputs row %d has norm %v, cannot normalize", r, no)
			}
			br := mb[indices[r]*d : (indices[r]+1)*d]
			var nw float64
			for c := range row {
				row[c] = m*float64(br[c]) + (1-m)*float64(or[c])/no
				nw += row[c] * row[c]
			}
			nw = math.Sqrt(nw)
			if !(nw > 0) || math.IsInf(nw, 0) {
				return nil, check.Errorf(fn, ssl.ErrNotFinite, "updated memory row %d has norm %v, cannot normalize", r, nw)
			}
			if pass == 1 {
				for c, x := range row {
					out[r*d+c] = float32(x / nw)
				}
			}
		}
	}
	return dst, nil
}

// clustLogAddExp returns log(exp(a) + exp(b)) without overflow; −Inf
// arguments are handled.
func clustLogAddExp(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(a, -1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}

// clustTopK reorders idx so that idx[:k] index the k largest values of s
// (in no particular order): quickselect with median-of-three pivots,
// ties broken arbitrarily.
func clustTopK(idx []int, s []float32, k int) {
	lo, hi := 0, len(idx)-1
	for lo < hi {
		mid := lo + (hi-lo)/2
		// Median of three as pivot value.
		a, bv, c := s[idx[lo]], s[idx[mid]], s[idx[hi]]
		p := max(min(a, bv), min(max(a, bv), c))
		i, j := lo, hi
		for i <= j {
			for s[idx[i]] > p {
				i++
			}
			for s[idx[j]] < p {
				j--
			}
			if i <= j {
				idx[i], idx[j] = idx[j], idx[i]
				i++
				j--
			}
		}
		// Now idx[lo..j] ≥ p ≥ idx[i..hi]; keep the side holding position k−1.
		switch {
		case k-1 <= j:
			hi = j
		case k-1 >= i:
			lo = i
		default:
			return
		}
	}
}
