package assign

import (
	"math"

	"gonum.org/v1/gonum/mat"

	"ssl"
	"ssl/internal/check"
	"ssl/internal/kernel"
)

// pcaChunk is the rows per float32 GEMM whose D×D (or N×N) product is
// accumulated into the float64 scatter matrix: 2048 products per float32
// sum keep the relative rounding of an entry near 1e-6.
const pcaChunk = 2048

// pcaRankTol is the smallest eigenvalue, relative to the largest, that
// [FitPCA] whitens: the scatter matrix is accumulated from float32
// products, so smaller eigenvalues are rounding noise and λ^(−1/2) would
// amplify it.
const pcaRankTol = 1e-6

// PCA is a fitted PCA-whitening transform (faiss PCAMatrix with
// eigen_power = −0.5, as DeepCluster uses it).
type PCA struct {
	// Mean is μ, the D column means of the data it was fitted on.
	Mean []float64
	// Components holds the d unit eigenvectors v_i of the scatter matrix as
	// rows (d×D, row-major), by decreasing eigenvalue. Each is defined up to
	// sign; the sign is fixed so that its largest-magnitude coordinate (the
	// first of equal ones) is positive.
	Components []float64
	// Eigenvalues holds λ_0 ≥ … ≥ λ_{d−1} of the scatter matrix
	// Σ_n (x_n − μ)(x_n − μ)ᵀ (not divided by N).
	Eigenvalues []float64
	// D is the input dimension; Dim is d, the output one.
	D, Dim int

	proj []float32 // D×d: column i is v_i / sqrt(λ_i)
}

// FitPCA fits DeepCluster's PCA whitening to the rows of x (N×D), keeping d
// components:
//
//	μ = mean_n x_n
//	C = Σ_n (x_n − μ)(x_n − μ)ᵀ
//	(λ_i, v_i) = the d leading eigenpairs of C (gonum mat.EigenSym)
//
// When N < D it decomposes the N×N Gram matrix G = X̃X̃ᵀ instead (X̃ the
// centred data), whose nonzero eigenvalues are C's, with v_i = X̃ᵀu_i/√λ_i,
// as faiss does. C (or G) is accumulated in float64 from float32 GEMMs of
// 2048 rows. Apply the transform with [PCA.Whiten].
//
// It returns an error wrapping ssl.ErrParam if d < 1, d > D, d ≥ N, or the
// d-th eigenvalue is ≤ 1e-6 of the largest (the data have rank < d, or the
// component is float32 rounding noise); ssl.ErrShape if x is not a matrix;
// ssl.ErrNotFinite if x holds a NaN or an infinity; and the eigensolver's
// failure wrapped in ssl.ErrNotFinite.
//
// Reference: Caron et al., Deep Clustering, ECCV 2018, Sec. 3.3 and 4
// (deepcluster clustering.py preprocess_features @ 2d1927e8, faiss
// PCAMatrix(D, d, eigen_power=−0.5)).
func FitPCA(x ssl.Tensor, d int) (*PCA, error) {
	const fn = "assign: FitPCA"
	n, dim, xv, err := check.Matrix(fn, "x", x)
	if err != nil {
		return nil, err
	}
	if d < 1 || d > dim || d >= n {
		return nil, check.Errorf(fn, ssl.ErrParam, "d must be in [1, min(D=%d, N−1=%d)] (d=%d)", dim, n-1, d)
	}
	if err := check.FiniteData(fn, "x", xv, n, dim); err != nil {
		return nil, err
	}
	mean := make([]float64, dim)
	for i := range n {
		for j, v := range xv[i*dim : (i+1)*dim] {
			mean[j] += float64(v)
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	gram := n < dim
	m := dim
	if gram {
		m = n
	}
	sc := make([]float64, m*m)
	chunk := min(n, pcaChunk)
	xc := make([]float32, chunk*dim)
	prod := make([]float32, m*m)
	if gram {
		// G = X̃X̃ᵀ: N < D ≤ … so N is small; one centred copy of X.
		xc = make([]float32, n*dim)
		centre(xc, xv, mean, n, dim)
		kernel.Gemm(false, true, n, n, dim, 1, xc, dim, xc, dim, 0, prod, n)
		for i, v := range prod {
			sc[i] = float64(v)
		}
	} else {
		for lo := 0; lo < n; lo += chunk {
			rows := min(chunk, n-lo)
			centre(xc, xv[lo*dim:], mean, rows, dim)
			kernel.Gemm(true, false, dim, dim, rows, 1, xc, dim, xc, dim, 0, prod, dim)
			for i, v := range prod {
				sc[i] += float64(v)
			}
		}
	}
	// Symmetrise: the float32 products of (i, j) and (j, i) may differ in
	// the last bit.
	for i := range m {
		for j := i + 1; j < m; j++ {
			a := (sc[i*m+j] + sc[j*m+i]) / 2
			sc[i*m+j], sc[j*m+i] = a, a
		}
	}
	var es mat.EigenSym
	if !es.Factorize(mat.NewSymDense(m, sc), true) {
		return nil, check.Errorf(fn, ssl.ErrNotFinite, "the eigendecomposition of the %d×%d scatter matrix did not converge", m, m)
	}
	vals := es.Values(nil) // ascending
	var vecs mat.Dense
	es.VectorsTo(&vecs)
	p := &PCA{Mean: mean, Components: make([]float64, d*dim), Eigenvalues: make([]float64, d), D: dim, Dim: d}
	top := vals[m-1]
	for i := range d {
		col := m - 1 - i
		lam := vals[col]
		if !(lam > pcaRankTol*top) {
			return nil, check.Errorf(fn, ssl.ErrParam, "eigenvalue %d is %.3g, ≤ %g × the largest (%.3g): the data have rank < d=%d", i, lam, pcaRankTol, top, d)
		}
		p.Eigenvalues[i] = lam
		v := p.Components[i*dim : (i+1)*dim]
		if gram {
			// v = X̃ᵀu / √λ, accumulated in float64.
			inv := 1 / math.Sqrt(lam)
			for r := range n {
				u := vecs.At(r, col) * inv
				for j, xj := range xc[r*dim : (r+1)*dim] {
					v[j] += u * float64(xj)
				}
			}
			// Re-normalise away the float32 rounding of X̃.
			var s float64
			for _, e := range v {
				s += e * e
			}
			s = 1 / math.Sqrt(s)
			for j := range v {
				v[j] *= s
			}
		} else {
			for j := range v {
				v[j] = vecs.At(j, col)
			}
		}
		// Sign: the largest-magnitude coordinate positive.
		big := 0
		for j := range v {
			if math.Abs(v[j]) > math.Abs(v[big]) {
				big = j
			}
		}
		if v[big] < 0 {
			for j := range v {
				v[j] = -v[j]
			}
		}
	}
	p.proj = make([]float32, dim*d)
	for i := range d {
		s := 1 / math.Sqrt(p.Eigenvalues[i])
		for j := range dim {
			p.proj[j*d+i] = float32(p.Components[i*dim+j] * s)
		}
	}
	return p, nil
}

// centre writes x_n − μ (rows×cols) into dst.
func centre(dst, x []float32, mean []float64, rows, cols int) {
	for i := range rows {
		for j, v := range x[i*cols : (i+1)*cols] {
			dst[i*cols+j] = float32(float64(v) - mean[j])
		}
	}
}

// PCAOptions holds the optional settings of [PCA.Whiten] and [PCAWhiten].
// A nil *PCAOptions means the defaults, which are DeepCluster's.
type PCAOptions struct {
	// SkipNormalize returns the whitened z itself, without DeepCluster's
	// L2 normalisation of every row: plain PCA whitening, whose output has
	// unit variance along each kept component. Default false (normalise).
	SkipNormalize bool
}

// Whiten applies the fitted transform and, unless opts.SkipNormalize,
// DeepCluster's L2 normalisation to the rows of x (N×D):
//
//	z_ni = λ_i^(−1/2) · v_iᵀ (x_n − μ),  i < d
//	y_n  = z_n / ‖z_n‖                    (y_n = z_n with SkipNormalize)
//
// through kernel.Gemm on blocks of centred rows. A row with z_n = 0 (x_n = μ
// on the kept components) stays 0, where numpy would give 0/0. dst (N×d)
// receives y; nil allocates; it is returned.
//
// Reference: Caron et al., Deep Clustering for Unsupervised Learning of
// Visual Features, ECCV 2018, Sec. 4 (implementation details: the features
// are PCA-reduced to 256 dimensions, whitened and ℓ2-normalised before
// k-means; deepcluster clustering.py preprocess_features @ 2d1927e8).
//
// It returns an error wrapping ssl.ErrShape if x is not N×D, dst is not N×d
// or overlaps x, and ssl.ErrNotFinite if x holds a NaN or an infinity.
func (p *PCA) Whiten(dst, x ssl.Tensor, opts *PCAOptions) (ssl.Tensor, error) {
	const fn = "assign: PCA.Whiten"
	if p == nil || p.proj == nil {
		return nil, check.Errorf(fn, ssl.ErrParam, "PCA is not fitted (use FitPCA)")
	}
	n, dim, xv, err := check.Matrix(fn, "x", x)
	if err != nil {
		return nil, err
	}
	if dim != p.D {
		return nil, check.Errorf(fn, ssl.ErrShape, "x has D=%d, the PCA was fitted on D=%d", dim, p.D)
	}
	d := p.Dim
	var yv []float32
	if !check.IsNil(dst) {
		if yv, err = check.MatrixOf(fn, "dst", dst, n, d); err != nil {
			return nil, err
		}
		if kernel.Overlaps(yv, xv) {
			return nil, check.Errorf(fn, ssl.ErrShape, "dst overlaps x")
		}
	}
	if err := check.FiniteData(fn, "x", xv, n, dim); err != nil {
		return nil, err
	}
	if check.IsNil(dst) {
		dst = ssl.New(n, d)
		yv = dst.Data().([]float32)
	}
	chunk := max(1, min(n, pcaChunk))
	xc := make([]float32, chunk*dim)
	for lo := 0; lo < n; lo += chunk {
		rows := min(chunk, n-lo)
		centre(xc, xv[lo*dim:], p.Mean, rows, dim)
		kernel.Gemm(false, false, rows, d, dim, 1, xc, dim, p.proj, d, 0, yv[lo*d:], d)
	}
	if opts == nil || !opts.SkipNormalize {
		normalizeRows(yv, n, d)
	}
	return dst, nil
}

// PCAWhiten is DeepCluster's preprocess_features: it fits [FitPCA] with d
// components on x (DeepCluster: d = 256) and returns [PCA.Whiten] of x
// itself, L2-normalised unless opts.SkipNormalize, with the fitted
// transform. dst (N×d) receives the result; nil allocates.
//
// It returns the errors of [FitPCA] and [PCA.Whiten]; nothing is written
// on a bad argument.
//
// Reference: Caron et al., Deep Clustering, ECCV 2018, Sec. 4 (PCA
// whitening to 256 dimensions, then ℓ2 normalisation).
func PCAWhiten(dst, x ssl.Tensor, d int, opts *PCAOptions) (ssl.Tensor, *PCA, error) {
	if !check.IsNil(dst) {
		n, _, _, err := check.Matrix("assign: PCAWhiten", "x", x)
		if err != nil {
			return nil, nil, err
		}
		if _, err := check.MatrixOf("assign: PCAWhiten", "dst", dst, n, d); err != nil {
			return nil, nil, err
		}
	}
	p, err := FitPCA(x, d)
	if err != nil {
		return nil, nil, err
	}
	y, err := p.Whiten(dst, x, opts)
	if err != nil {
		return nil, nil, err
	}
	return y, p, nil
}
