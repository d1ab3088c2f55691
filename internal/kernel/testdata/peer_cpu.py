# Per-CPU-second figures of PyTorch for the work of bench/peer.py (gemm512,
# gemm M N K [TA TB], ntxent, swav_sinkhorn): process CPU time of all threads
# instead of wall time, which other processes on the machine disturb far
# less. From the repository root:
# /usr/bin/python3 internal/kernel/testdata/peer_cpu.py WHAT [ARGS]
import sys, time, statistics, torch
torch.set_num_threads(2)
torch.manual_seed(0)

def cpu_med(fn, reps, warm=2):
    for _ in range(warm):
        fn()
    ts = []
    for _ in range(reps):
        t = time.process_time(); fn(); ts.append(time.process_time() - t)
    return statistics.median(ts)

w = sys.argv[1]
if w == 'gemm512':
    a = torch.rand(512, 512); b = torch.rand(512, 512)
    print('%.4g' % (2 * 512 ** 3 / cpu_med(lambda: a @ b, 30) / 1e9))
elif w == 'gemm':
    m, n, k = (int(v) for v in sys.argv[2:5])
    ta, tb = (sys.argv[5:7] + ['N', 'N'])[:2]
    a = torch.rand(k, m).t() if ta == 'T' else torch.rand(m, k)
    b = torch.rand(n, k).t() if tb == 'T' else torch.rand(k, n)
    c = torch.empty(m, n)
    flop = 2 * m * n * k
    reps = max(5, min(50, int(3e10 / flop)))  # as bench/peer.py's gemm
    print('%.4g' % (flop / cpu_med(lambda: torch.matmul(a, b, out=c), reps) / 1e9))
elif w == 'ntxent':
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
    print('%.4g' % (cpu_med(run, 20) * 1e3))
elif w == 'swav_sinkhorn':
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
    print('%.4g' % (cpu_med(run, 10) * 1e3))
