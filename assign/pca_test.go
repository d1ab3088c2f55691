package assign

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"ssl"
	"ssl/internal/testutil"
)

// pcaNaive computes the whitened, L2-normalised rows in float64 straight
// from the definition: scatter matrix, its eigendecomposition, projection.
func pcaNaive(x []float64, n, dim, d int) (y, lambda []float64) {
	mu := make([]float64, dim)
	for i := range n {
		for j := range dim {
			mu[j] += x[i*dim+j] / float64(n)
		}
	}
	c := mat.NewSymDense(dim, nil)
	for a := range dim {
		for b := a; b < dim; b++ {
			var s float64
			for i := range n {
				s += (x[i*dim+a] - mu[a]) * (x[i*dim+b] - mu[b])
			}
			c.SetSym(a, b, s)
		}
	}
	var es mat.EigenSym
	es.Factorize(c, true)
	vals := es.Values(nil)
	var v mat.Dense
	es.VectorsTo(&v)
	y = make([]float64, n*d)
	for i := range n {
		var nrm float64
		for q := range d {
			col := dim - 1 - q
			var z float64
			for j := range dim {
				z += v.At(j, col) * (x[i*dim+j] - mu[j])
			}
			z /= math.Sqrt(vals[col])
			y[i*d+q] = z
			nrm += z * z
		}
		for q := range d {
			y[i*d+q] /= math.Sqrt(nrm)
		}
	}
	for q := range d {
		lambda = append(lambda, vals[dim-1-q])
	}
	return y, lambda
}

func TestPCAWhiten(t *testing.T) {
	for _, tc := range []struct{ n, dim, d int }{
		{8, 3, 2}, {40, 16, 8}, {30, 5, 5}, {12, 20, 6} /* Gram path */, {50, 10, 3}, {2500, 6, 4}, /* two chunks */
	} {
		t.Run(fmt.Sprintf("n%d_D%d_d%d", tc.n, tc.dim, tc.d), func(t *testing.T) {
			seed := uint64(tc.n*100 + tc.dim)
			rng := testutil.Rand(seed)
			x := testutil.RandN(rng, 1, tc.n, tc.dim)
			xv := testutil.Data(x)
			// Anisotropic columns (scales 1, 1.5, 2.25, …) and an offset, so
			// the eigenvalues are well separated and μ ≠ 0.
			for i := range tc.n {
				for j := range tc.dim {
					xv[i*tc.dim+j] = xv[i*tc.dim+j]*float32(math.Pow(1.5, float64(j))) + 3
				}
			}
			xc := testutil.Clone(x)
			dst := testutil.NaNs(tc.n, tc.d)
			y, p, err := PCAWhiten(dst, x, tc.d, nil)
			if err != nil {
				t.Fatalf("seed %d: %v", seed, err)
			}
			testutil.Unchanged(t, "x", x, xc)
			if y != ssl.Tensor(dst) {
				t.Errorf("result is not dst")
			}
			wy, wl := pcaNaive(testutil.F64(x), tc.n, tc.dim, tc.d)
			testutil.AllClose(t, "eigenvalues", p.Eigenvalues, wl, 1e-9*wl[0], 1e-4)
			got := testutil.F64(y)
			for q := range tc.d { // align column signs
				var s float64
				for i := range tc.n {
					s += got[i*tc.d+q] * wy[i*tc.d+q]
				}
				if s < 0 {
					for i := range tc.n {
						got[i*tc.d+q] = -got[i*tc.d+q]
					}
				}
			}
			testutil.AllClose(t, "y", got, wy, 1e-4, 1e-3)
			// Whiteness: before the L2 step, Σ_n z_n z_nᵀ = I; SkipNormalize
			// returns that z, and y is z with unit rows.
			raw, err := p.Whiten(nil, x, &PCAOptions{SkipNormalize: true})
			if err != nil {
				t.Fatal(err)
			}
			rv, yv := testutil.Data(raw), testutil.Data(y)
			z := make([]float64, tc.d*tc.d)
			for i := range tc.n {
				var zi [64]float64
				for q := range tc.d {
					for j := range tc.dim {
						zi[q] += p.Components[q*tc.dim+j] * (float64(xv[i*tc.dim+j]) - p.Mean[j])
					}
					zi[q] /= math.Sqrt(p.Eigenvalues[q])
				}
				var nrm float64
				for q := range tc.d {
					nrm += zi[q] * zi[q]
					if math.Abs(float64(rv[i*tc.d+q])-zi[q]) > 1e-4*(1+math.Abs(zi[q])) {
						t.Fatalf("SkipNormalize: z[%d,%d] = %v, want %v", i, q, rv[i*tc.d+q], zi[q])
					}
				}
				for q := range tc.d {
					if w := zi[q] / math.Sqrt(nrm); math.Abs(float64(yv[i*tc.d+q])-w) > 1e-4 {
						t.Fatalf("y[%d,%d] = %v, want z/‖z‖ = %v", i, q, yv[i*tc.d+q], w)
					}
				}
				for a := range tc.d {
					for b := range tc.d {
						z[a*tc.d+b] += zi[a] * zi[b]
					}
				}
			}
			for a := range tc.d {
				for b := range tc.d {
					want := 0.0
					if a == b {
						want = 1
					}
					if math.Abs(z[a*tc.d+b]-want) > 1e-3 {
						t.Fatalf("Σ z zᵀ[%d,%d] = %v, want %v", a, b, z[a*tc.d+b], want)
					}
				}
			}
		})
	}
}

func TestPCAErrors(t *testing.T) {
	x := testutil.RandN(testutil.Rand(1), 1, 10, 4)
	nan := testutil.Clone(x)
	testutil.Data(nan)[6] = float32(math.NaN())
	rank1 := ssl.New(10, 4)
	for i := range 10 {
		for j := range 4 {
			testutil.Data(rank1)[i*4+j] = float32(i * (j + 1))
		}
	}
	for _, tc := range []struct {
		name     string
		x        ssl.Tensor
		d        int
		sentinel error
		sub      string
	}{
		{"d0", x, 0, ssl.ErrParam, "d=0"},
		{"dGtD", x, 5, ssl.ErrParam, "d=5"},
		{"dGeN", ssl.New(3, 8), 3, ssl.ErrParam, "d=3"},
		{"nan", nan, 2, ssl.ErrNotFinite, "x[1,2]"},
		{"rank", rank1, 2, ssl.ErrParam, "rank"},
		{"vector", ssl.New(4), 1, ssl.ErrShape, "x"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FitPCA(tc.x, tc.d)
			if !errors.Is(err, tc.sentinel) || !strings.Contains(err.Error(), tc.sub) {
				t.Fatalf("err = %v, want %v naming %q", err, tc.sentinel, tc.sub)
			}
		})
	}
	p, err := FitPCA(x, 2)
	if err != nil {
		t.Fatal(err)
	}
	dst := testutil.NaNs(10, 3)
	if _, err := p.Whiten(dst, x, nil); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("wrong dst: err = %v", err)
	}
	if _, err := p.Whiten(nil, ssl.New(3, 5), nil); !errors.Is(err, ssl.ErrShape) {
		t.Errorf("wrong D: err = %v", err)
	}
	var zero PCA
	if _, err := zero.Whiten(nil, x, nil); !errors.Is(err, ssl.ErrParam) {
		t.Errorf("unfitted: err = %v", err)
	}
}
