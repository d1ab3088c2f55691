"""Peer timings: the same work done by PyTorch (CPU, 2 threads) or faiss on this
machine, printed as one number, to set beside the Go benchmark of the same work.
Set-up (Debian): apt-get install -y python3-torch python3-faiss; run with /usr/bin/python3
from the repository root: /usr/bin/python3 bench/peer.py WHAT.

usage: /usr/bin/python3 peer.py WHAT [ARGS]
  gemm512            GFLOP/s of a 512x512x512 float32 matmul
  gemm M N K [TA TB] GFLOP/s of C = op(A)·op(B), float32, op(A) M×K, op(B) K×N (torch.matmul into
                     a preallocated C); TA/TB = T stores that operand transposed and multiplies
                     its .t() view, as internal/kernel's BenchmarkGemm/MxNxK_<TA><TB> does
  swav_sinkhorn      ms for SwAV's per-batch Sinkhorn (B 4096, K 3000, eps 0.05, 3 iterations),
                     written here from the algorithm of SwAV's paper (Appendix A.1)
  ntxent             ms for NT-Xent forward+backward, B 512, D 128, T 0.5 (autograd)
  convnet3_step      images/s of one ConvNet3 training step, batch 256, two 28x28 views
  kmeans_iter        s per Lloyd iteration, faiss, n 60000, d 128, k 100
  knn_mine           s for exact top-20 inner-product search of 60000x128 against itself, faiss
"""
import sys, time, statistics
import torch

torch.set_num_threads(2)
torch.manual_seed(0)


def med(fn, reps, warm=2):
    for _ in range(warm):
        fn()
    ts = []
    for _ in range(reps):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def gemm512():
    a = torch.rand(512, 512); b = torch.rand(512, 512)
    s = med(lambda: a @ b, 30)
    return 2 * 512 ** 3 / s / 1e9


def gemm(m, n, k, ta='N', tb='N'):
    m, n, k = int(m), int(n), int(k)
    a = torch.rand(k, m).t() if ta == 'T' else torch.rand(m, k)
    b = torch.rand(n, k).t() if tb == 'T' else torch.rand(k, n)
    c = torch.empty(m, n)
    flop = 2 * m * n * k
    # About 3e10 flop per timing (1 s at 30 GFLOP/s), 5 to 50 repetitions.
    reps = max(5, min(50, int(3e10 / flop)))
    s = med(lambda: torch.matmul(a, b, out=c), reps)
    return flop / s / 1e9


def swav_sinkhorn():
    scores = torch.nn.functional.normalize(torch.randn(4096, 128), dim=1) @ \
        torch.nn.functional.normalize(torch.randn(3000, 128), dim=1).t()

    def run():
        with torch.no_grad():
            q = torch.exp(scores / 0.05).t()
            q /= q.sum()
            k, b = q.shape
            for _ in range(3):
                q /= q.sum(dim=1, keepdim=True); q /= k
                q /= q.sum(dim=0, keepdim=True); q /= b
            q *= b
            return q.t()
    return med(run, 10) * 1e3


def ntxent():
    z1 = torch.randn(512, 128, requires_grad=True); z2 = torch.randn(512, 128, requires_grad=True)

    def run():
        z = torch.nn.functional.normalize(torch.cat([z1, z2]), dim=1)
        s = z @ z.t() / 0.5
        s.fill_diagonal_(float('-inf'))
        n = z1.shape[0]
        target = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
        loss = torch.nn.functional.cross_entropy(s, target)
        z1.grad = None; z2.grad = None
        loss.backward()
    return med(run, 20) * 1e3


def convnet3_step():
    nn = torch.nn
    def block(i, o, pool):
        layers = [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU()]
        return layers + ([nn.MaxPool2d(2)] if pool else [])
    net = nn.Sequential(*block(1, 32, True), *block(32, 64, True), *block(64, 128, False),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten())
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    x = torch.randn(512, 1, 28, 28)  # two views of 256 images

    def run():
        opt.zero_grad()
        y = net(x)
        y.square().mean().backward()
        opt.step()
    return 256 / med(run, 8)


def kmeans_iter():
    import faiss, numpy as np
    faiss.omp_set_num_threads(2)
    x = np.random.RandomState(0).randn(60000, 128).astype('float32')
    km = faiss.Kmeans(128, 100, niter=10, seed=1, verbose=False)
    t = time.perf_counter(); km.train(x); s = time.perf_counter() - t
    return s / 10


def knn_mine():
    import faiss, numpy as np
    faiss.omp_set_num_threads(2)
    x = np.random.RandomState(0).randn(60000, 128).astype('float32')
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    index = faiss.IndexFlatIP(128); index.add(x)
    t = time.perf_counter(); index.search(x, 21); return time.perf_counter() - t


print('%.4g' % globals()[sys.argv[1]](*sys.argv[2:]))
