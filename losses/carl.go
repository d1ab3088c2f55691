package losses

import (
	"math"

	"ssl"
	"ssl/internal/check"
)

// clustCARLEps is the clamp of CARP's loss, torch.finfo(float64).eps: the
// reference takes the eps of its dtype, and the vectors and this
// implementation work in float64.
const clustCARLEps = 2.220446049250313e-16

// CARLOptions holds the optional settings of [CARL]. A nil *CARLOptions
// means the defaults.
type CARLOptions struct {
	// Partition lists the prototype columns of each block, block after
	// block: block j is Partition[j·PartitionSize : (j+1)·PartitionSize].
	// Every entry must be in [0, K) and appear once; columns in no block get
	// a zero gradient. Nil (the default) means one block of all K
	// prototypes in order: CARL's loss. A random partition (CARP) is drawn
	// by the caller, e.g. as a prefix of rand.Perm(K).
	Partition []int
	// PartitionSize is the number of prototypes per block; it must divide
	// len(Partition). Zero means len(Partition) (one block), or K when
	// Partition is nil.
	PartitionSize int
	// Workspace is reused scratch memory; nil allocates a fresh one per
	// call.
	Workspace *Workspace
}

// CARLResult is the value of [CARL]: the loss and its two terms.
type CARLResult struct {
	// Loss is L = Consistency + Entropy.
	Loss float64
	// Consistency is the mean pair term over the 2V − 2 (student view,
	// teacher view) pairs.
	Consistency float64
	// Entropy is the mean over blocks of KL(p̄_j ‖ uniform).
	Entropy float64
}

// CARL returns the consistent assignment loss of CARL (and, with a
// partition of the prototypes into blocks, CARP's random-partition
// version) and writes ∂L/∂student into dstudent:
//
//	for each block j of columns C_j:  P_i = softmax(S_i[:, C_j]),  T_t = softmax(teacher_t[:, C_j])
//	pair(i, t) = −mean_{j,b} log clamp(⟨P_i[j,b], T_t[j,b]⟩, ε, 1 − ε)
//	consistency = mean of pair(i, t) over student views i and teacher views t ∈ {0, 1}, i ≠ t
//	p̄_j = mean of the block-j probabilities over all (V+2)·B rows, student and teacher
//	entropy = mean_j ( log |C_j| + Σ_c p̄_jc · log clamp(p̄_jc, ε, 1 − ε) )     (KL(p̄_j ‖ uniform))
//	L = consistency + entropy
//
// student is (V·B)×K, the prototype scores of V ≥ 2 views (rows v·B …
// v·B+B−1 are view v; views 0 and 1 are the global views); teacher is
// (2·B)×K, the target network's scores of the two global views, a constant
// that still enters p̄. There are 2V − 2 pairs. ε = 2.220446049250313e-16
// (float64 machine epsilon, the eps of the reference's dtype); clamped
// entries pass no gradient. Computed in float64.
//
// The result holds L and its two terms. A nil dstudent skips the gradient. It
// returns an error wrapping ssl.ErrShape if student is not a non-empty
// matrix whose rows divide into V views, teacher is not (2·B)×K, or
// dstudent has the wrong shape or overlaps an input; ssl.ErrParam if V < 2,
// PartitionSize does not divide len(Partition), or a partition entry is
// out of range or repeated; ssl.ErrNotFinite if the loss is not finite.
// Nothing is written when it returns an error.
//
// Reference: Silva and Ramírez Rivera, Representation Learning via
// Consistent Assignment of Views to Clusters (CARL), SAC 2022, eq. 3–5;
// Silva and Ramírez Rivera, Representation Learning via Consistent
// Assignment of Views over Random Partitions (CARP), NeurIPS 2023, eq. 4–6.
// No CARL code is public; checked against the authors' CARP code,
// modules/carp_loss.py CARPLoss.forward with modules/random_partition.py
// RandomPartition.forward at sthalles/carp@c9b068b4bbf4978520617baf9f3277f7098f1596
// (a single block of all prototypes is CARL's loss).
func CARL(dstudent, student, teacher ssl.Tensor, views int, opts *CARLOptions) (CARLResult, error) {
	const fn = "losses: CARL"
	rows, k, xs, err := check.NonEmptyMatrix(fn, "student", student)
	if err != nil {
		return CARLResult{}, err
	}
	if err := check.Count(fn, "views", views, 2); err != nil {
		return CARLResult{}, err
	}
	if rows%views != 0 {
		return CARLResult{}, check.Errorf(fn, ssl.ErrShape, "student has %d rows, not a multiple of views=%d", rows, views)
	}
	b := rows / views
	xt, err := check.MatrixOf(fn, "teacher", teacher, 2*b, k)
	if err != nil {
		return CARLResult{}, err
	}
	g, err := check.Dst(fn, "dstudent", dstudent, check.Shape2(rows, k), xs, xt)
	if err != nil {
		return CARLResult{}, err
	}
	var ws *Workspace
	var part []int
	psize := 0
	if opts != nil {
		ws, part, psize = opts.Workspace, opts.Partition, opts.PartitionSize
	}
	ws = orNew(ws)
	if part == nil {
		part = ws.bufInt(slotIntA, k)
		for i := range part {
			part[i] = i
		}
	} else {
		if len(part) == 0 {
			return CARLResult{}, check.Errorf(fn, ssl.ErrParam, "Partition is empty")
		}
		seen := ws.bufInt(slotIntB, k)
		clear(seen)
		for i, c := range part {
			if c < 0 || c >= k {
				return CARLResult{}, check.Errorf(fn, ssl.ErrParam, "Partition[%d] is out of range [0, %d) (Partition[%d]=%d)", i, k, i, c)
			}
			if seen[c] != 0 {
				return CARLResult{}, check.Errorf(fn, ssl.ErrParam, "Partition[%d] repeats column %d", i, c)
			}
			seen[c] = 1
		}
	}
	if psize == 0 {
		psize = len(part)
	}
	if psize < 0 || len(part)%psize != 0 {
		return CARLResult{}, check.Errorf(fn, ssl.ErrParam, "PartitionSize must be > 0 and divide len(Partition)=%d (PartitionSize=%d)", len(part), psize)
	}
	nb := len(part) / psize
	// Block probabilities, laid out [row][block][c], for student and teacher.
	np := len(part)
	ps := ws.buf64(slotF64A, rows*np)
	pt := ws.buf64(slotF64B, 2*b*np)
	gp := ws.buf64(slotF64C, rows*np)
	pbar := ws.buf64(slotF64D, np)
	gather := ws.buf(slotAux, psize)
	soft := func(dst []float64, x []float32) {
		for j := range nb {
			cols := part[j*psize : (j+1)*psize]
			for c, col := range cols {
				gather[c] = x[col]
			}
			clustSoftmax64(dst[j*psize:(j+1)*psize], gather)
		}
	}
	clear(pbar)
	for r := range rows {
		soft(ps[r*np:(r+1)*np], xs[r*k:(r+1)*k])
		for c, v := range ps[r*np : (r+1)*np] {
			pbar[c] += v
		}
	}
	for r := range 2 * b {
		soft(pt[r*np:(r+1)*np], xt[r*k:(r+1)*k])
		for c, v := range pt[r*np : (r+1)*np] {
			pbar[c] += v
		}
	}
	clear(gp)
	npairs := 2*views - 2
	cw := 1 / (float64(npairs) * float64(nb) * float64(b)) // weight of one (pair, block, row) term
	var cons float64
	for i := range views {
		for t := range 2 {
			if i == t {
				continue
			}
			for r := range b {
				p := ps[(i*b+r)*np : (i*b+r+1)*np]
				q := pt[(t*b+r)*np : (t*b+r+1)*np]
				gr := gp[(i*b+r)*np : (i*b+r+1)*np]
				for j := range nb {
					pj, qj := p[j*psize:(j+1)*psize], q[j*psize:(j+1)*psize]
					var s float64
					for c, v := range pj {
						s += v * qj[c]
					}
					sc := min(max(s, clustCARLEps), 1-clustCARLEps)
					cons -= math.Log(sc)
					if s >= clustCARLEps && s <= 1-clustCARLEps {
						gj := gr[j*psize : (j+1)*psize]
						for c, v := range qj {
							gj[c] -= cw * v / s
						}
					}
				}
			}
		}
	}
	cons *= cw
	nrows := float64((views + 2) * b)
	var ent float64
	for j := range nb {
		e := math.Log(float64(psize))
		for c := j * psize; c < (j+1)*psize; c++ {
			pbar[c] /= nrows
			v := pbar[c]
			lc := math.Log(min(max(v, clustCARLEps), 1-clustCARLEps))
			e += v * lc
			// ∂entropy/∂p̄ = (log clamp(p̄) + [unclamped]) / nb; p̄ is a mean over nrows.
			d := lc
			if v >= clustCARLEps && v <= 1-clustCARLEps {
				d++
			}
			pbar[c] = d / (float64(nb) * nrows) // pbar now holds ∂entropy/∂P
		}
		ent += e
	}
	ent /= float64(nb)
	res := CARLResult{Loss: cons + ent, Consistency: cons, Entropy: ent}
	if err := check.Result(fn, res.Loss, "student or teacher"); err != nil {
		return res, err
	}
	if g == nil {
		return res, nil
	}
	clear(g)
	for r := range rows {
		p := ps[r*np : (r+1)*np]
		gr := gp[r*np : (r+1)*np]
		for c := range gr {
			gr[c] += pbar[c]
		}
		for j := range nb {
			gj := gr[j*psize : (j+1)*psize]
			clustSoftmaxBackward64(gj, p[j*psize:(j+1)*psize])
			for c, col := range part[j*psize : (j+1)*psize] {
				g[r*k+col] = float32(gj[c])
			}
		}
	}
	return res, nil
}
