"""Peer timing for BenchmarkSwAV/b256_k3000_crops8: SwAV's swapped-prediction loss,
forward + backward, as facebookresearch/swav@06b1b7cb main_swav.py train() computes it
(world size 1, no queue): 8 crops of batch 256, K 3000, crops_for_assign [0, 1],
temperature 0.1, epsilon 0.05, 3 Sinkhorn iterations; float32, CPU, 2 threads.
usage: /usr/bin/python3 swav_peer.py [reps]  (prints median wall and CPU ms per step)"""
import sys, time, statistics
import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(2)
torch.manual_seed(0)
B, K, NCROPS, ASSIGN, T, EPS, ITERS = 256, 3000, 8, [0, 1], 0.1, 0.05, 3


@torch.no_grad()
def distributed_sinkhorn(out):
    Q = torch.exp(out / EPS).t()
    Bq = Q.shape[1]
    Kq = Q.shape[0]
    sum_Q = torch.sum(Q)
    Q /= sum_Q
    for it in range(ITERS):
        sum_of_rows = torch.sum(Q, dim=1, keepdim=True)
        Q /= sum_of_rows
        Q /= Kq
        Q /= torch.sum(Q, dim=0, keepdim=True)
        Q /= Bq
    Q *= Bq
    return Q.t()


output = (torch.rand(NCROPS * B, K) * 2 - 1).requires_grad_()


def step():
    loss = 0
    for i, crop_id in enumerate(ASSIGN):
        with torch.no_grad():
            out = output[B * crop_id: B * (crop_id + 1)].detach()
            q = distributed_sinkhorn(out)[-B:]
        subloss = 0
        for v in np.delete(np.arange(NCROPS), crop_id):
            x = output[B * v: B * (v + 1)] / T
            subloss -= torch.mean(torch.sum(q * F.log_softmax(x, dim=1), dim=1))
        loss += subloss / (NCROPS - 1)
    loss /= len(ASSIGN)
    output.grad = None
    loss.backward()


for _ in range(3):
    step()
reps = int(sys.argv[1]) if len(sys.argv) > 1 else 20
ts = []
c0 = time.process_time()
for _ in range(reps):
    t = time.perf_counter(); step(); ts.append(time.perf_counter() - t)
c1 = time.process_time()
print('torch %d threads: median wall %.1f ms/op, cpu (all threads) %.1f ms/op' % (torch.get_num_threads(), statistics.median(ts) * 1e3, (c1 - c0) / reps * 1e3))
