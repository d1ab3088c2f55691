// Kernels of package cuda, compiled at run time by NVRTC (no headers: NVRTC
// provides expf, logf, fmaxf, __shfl_xor_sync and the built-in variables).
// Every matrix is row-major float32. Reductions that combine (max, sum)
// pairs use the online log-sum-exp rule so that each element is read once.
//
// Files that must change together: cuda/kernels/kernels.cu, cuda/device.go
// (kernel names and argument lists), cuda/kernels_test.go (the names).

#define WARP 32
#define BLOCK 256
#define NEG_INF (-__int_as_float(0x7f800000))

// A partial log-sum-exp: s·exp(m) is the sum of the exponentials seen.
struct lse_t { float m; float s; };

__device__ __forceinline__ lse_t lse_add(lse_t a, float v) {
    if (v == NEG_INF) return a;
    if (v > a.m) { a.s = a.s * expf(a.m - v) + 1.0f; a.m = v; }
    else { a.s += expf(v - a.m); }
    return a;
}

__device__ __forceinline__ lse_t lse_merge(lse_t a, lse_t b) {
    if (b.m == NEG_INF) return a;
    if (a.m == NEG_INF) return b;
    if (b.m > a.m) { lse_t t = a; a = b; b = t; }
    a.s += b.s * expf(b.m - a.m);
    return a;
}

__device__ __forceinline__ float lse_value(lse_t a) {
    if (a.m == NEG_INF) return NEG_INF;
    return a.m + logf(a.s);
}

// Reduces a partial over the block; every thread gets the result.
__device__ lse_t block_lse(lse_t a) {
    __shared__ float sm[BLOCK / WARP], ss[BLOCK / WARP];
    for (int o = WARP / 2; o > 0; o >>= 1) {
        lse_t b;
        b.m = __shfl_xor_sync(0xffffffff, a.m, o);
        b.s = __shfl_xor_sync(0xffffffff, a.s, o);
        a = lse_merge(a, b);
    }
    int w = threadIdx.x / WARP, l = threadIdx.x % WARP;
    if (l == 0) { sm[w] = a.m; ss[w] = a.s; }
    __syncthreads();
    if (w == 0) {
        lse_t b; b.m = NEG_INF; b.s = 0.0f;
        if (l < blockDim.x / WARP) { b.m = sm[l]; b.s = ss[l]; }
        for (int o = WARP / 2; o > 0; o >>= 1) {
            lse_t c;
            c.m = __shfl_xor_sync(0xffffffff, b.m, o);
            c.s = __shfl_xor_sync(0xffffffff, b.s, o);
            b = lse_merge(b, c);
        }
        if (l == 0) { sm[0] = b.m; ss[0] = b.s; }
    }
    __syncthreads();
    lse_t r; r.m = sm[0]; r.s = ss[0];
    __syncthreads();
    return r;
}

__device__ float block_sum(float v) {
    __shared__ float sh[BLOCK / WARP];
    for (int o = WARP / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
    int w = threadIdx.x / WARP, l = threadIdx.x % WARP;
    if (l == 0) sh[w] = v;
    __syncthreads();
    if (w == 0) {
        v = (l < blockDim.x / WARP) ? sh[l] : 0.0f;
        for (int o = WARP / 2; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffff, v, o);
        if (l == 0) sh[0] = v;
    }
    __syncthreads();
    float r = sh[0];
    __syncthreads();
    return r;
}

// Row log-sum-exp of scale·x[i,:] + bias[:] + rowbias[i]: one block per row.
// bias (length cols) and rowbias (length rows) may be null.
// dst[i] = target − LSE when sub != 0, else the LSE.
extern "C" __global__ void lse_rows(float* dst, const float* x, const float* bias, const float* rowbias,
                                    int rows, int cols, float scale, float target, int sub) {
    int i = blockIdx.x;
    if (i >= rows) return;
    const float* xr = x + (size_t)i * cols;
    float rb = rowbias ? rowbias[i] : 0.0f;
    lse_t a; a.m = NEG_INF; a.s = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float v = scale * xr[j] + rb;
        if (bias) v += bias[j];
        if (v != v) { a.m = v; a.s = 1.0f; break; }
        a = lse_add(a, v);
    }
    a = block_lse(a);
    if (threadIdx.x == 0) {
        float l = lse_value(a);
        dst[i] = sub ? target - l : l;
    }
}

// Partial column log-sum-exp of scale·x[i,j] + rowbias[i] + bias[j] over the
// rows of chunk blockIdx.y (chunk rows each): thread per column.
// part holds gridDim.y × cols pairs (m, s).
extern "C" __global__ void lse_cols_part(float2* part, const float* x, const float* rowbias, const float* bias,
                                         int rows, int cols, int chunk, float scale) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= cols) return;
    int lo = blockIdx.y * chunk, hi = min(rows, lo + chunk);
    float cb = bias ? bias[j] : 0.0f;
    lse_t a; a.m = NEG_INF; a.s = 0.0f;
    for (int i = lo; i < hi; i++) {
        float v = scale * x[(size_t)i * cols + j] + cb;
        if (rowbias) v += rowbias[i];
        if (v != v) { a.m = v; a.s = 1.0f; break; }
        a = lse_add(a, v);
    }
    part[(size_t)blockIdx.y * cols + j] = make_float2(a.m, a.s);
}

// Combines the chunk partials of lse_cols_part: dst[j] = LSE, or target − LSE
// when sub != 0.
extern "C" __global__ void lse_cols_done(float* dst, const float2* part, int chunks, int cols, float target, int sub) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= cols) return;
    lse_t a; a.m = NEG_INF; a.s = 0.0f;
    for (int c = 0; c < chunks; c++) {
        float2 p = part[(size_t)c * cols + j];
        if (p.x != p.x) { a.m = p.x; a.s = 1.0f; break; }
        lse_t b; b.m = p.x; b.s = p.y;
        a = lse_merge(a, b);
    }
    float l = (a.m != a.m) ? a.m : lse_value(a);
    dst[j] = sub ? target - l : l;
}

// Softmax (log_out == 0) or log-softmax (log_out != 0) of each row: one
// block per row; dst may be x.
extern "C" __global__ void softmax_rows(float* dst, const float* x, int rows, int cols, int log_out) {
    int i = blockIdx.x;
    if (i >= rows) return;
    const float* xr = x + (size_t)i * cols;
    float* dr = dst + (size_t)i * cols;
    lse_t a; a.m = NEG_INF; a.s = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) a = lse_add(a, xr[j]);
    a = block_lse(a);
    float l = lse_value(a);
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float v = xr[j] - l;
        dr[j] = log_out ? v : expf(v);
    }
}

// dst_i = x_i / max(‖x_i‖, eps), norms[i] = ‖x_i‖ (norms may be null): one
// block per row; dst may be x.
extern "C" __global__ void l2norm_rows(float* dst, float* norms, const float* x, int rows, int cols, float eps) {
    int i = blockIdx.x;
    if (i >= rows) return;
    const float* xr = x + (size_t)i * cols;
    float* dr = dst + (size_t)i * cols;
    float s = 0.0f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) s += xr[j] * xr[j];
    s = block_sum(s);
    float n = sqrtf(s);
    if (norms && threadIdx.x == 0) norms[i] = n;
    float inv = 1.0f / fmaxf(n, eps);
    for (int j = threadIdx.x; j < cols; j += blockDim.x) dr[j] = xr[j] * inv;
}

// The transport plan of the log-domain scaling:
// q[i,j] = mult · exp(scale·x[i,j] + f[i] + g[j]).
extern "C" __global__ void sk_plan(float* q, const float* x, const float* f, const float* g,
                                   int rows, int cols, float scale, float mult) {
    size_t n = (size_t)rows * cols;
    for (size_t t = (size_t)blockIdx.x * blockDim.x + threadIdx.x; t < n; t += (size_t)gridDim.x * blockDim.x) {
        int i = (int)(t / cols), j = (int)(t % cols);
        q[t] = mult * expf(scale * x[t] + f[i] + g[j]);
    }
}

// labels[i] = the first j maximising x[i,j]·scale + g[j]: one block per row.
extern "C" __global__ void argmax_rows(int* labels, const float* x, const float* g, int rows, int cols, float scale) {
    __shared__ float bv[BLOCK];
    __shared__ int bi[BLOCK];
    int i = blockIdx.x;
    if (i >= rows) return;
    const float* xr = x + (size_t)i * cols;
    float best = NEG_INF; int at = cols;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) {
        float v = scale * xr[j] + g[j];
        if (v > best || (at == cols && v == v && v == best)) { best = v; at = j; }
    }
    bv[threadIdx.x] = best; bi[threadIdx.x] = at;
    __syncthreads();
    for (int o = blockDim.x / 2; o > 0; o >>= 1) {
        if (threadIdx.x < o) {
            float v = bv[threadIdx.x + o]; int k = bi[threadIdx.x + o];
            if (v > bv[threadIdx.x] || (v == bv[threadIdx.x] && k < bi[threadIdx.x])) { bv[threadIdx.x] = v; bi[threadIdx.x] = k; }
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) labels[i] = bi[0] == cols ? 0 : bi[0];
}

// y[i] = lambda·log(x[i]) (SeLa's log-kernel, in place allowed).
extern "C" __global__ void scale_log(float* y, const float* x, size_t n, float lambda) {
    for (size_t t = (size_t)blockIdx.x * blockDim.x + threadIdx.x; t < n; t += (size_t)gridDim.x * blockDim.x)
        y[t] = lambda * logf(x[t]);
}

// SeLa's stopping error Σ_i |exp(old[i] − cur[i]) − 1| (log scaling vectors),
// accumulated into *err in double.
extern "C" __global__ void sela_err(double* err, const float* old, const float* cur, int n) {
    float s = 0.0f;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += gridDim.x * blockDim.x) {
        float v = fabsf(expf(old[i] - cur[i]) - 1.0f);
        if (v == v) s += v; // nansum, as the reference
    }
    s = block_sum(s);
    if (threadIdx.x == 0) atomicAdd(err, (double)s);
}
