"""PyTorch peer of examples/byol under the fmnist-ssl-v1 protocol (examples/PROTOCOL.md):
BYOL on ConvNet3 for a few epochs on the full Fashion-MNIST, then the protocol's kNN and
linear probe on the backbone features, printed as one line. It is written from the
protocol's text and BYOL's paper (Grill et al., NeurIPS 2020), with lightly's loss
(0.5·(−cos₁ − cos₂)), so that a gap between examples/byol and PyTorch can be measured over
several seeds on the same machine.

Set-up (Debian): apt-get install -y python3-torch dataset-fashion-mnist; run with
/usr/bin/python3 from the repository root:

  /usr/bin/python3 bench/peer_byol.py [--epochs 4] [--seed 1] [--loss-scale 0.25]
  /usr/bin/python3 bench/peer_byol.py --eval DIR/checkpoint.safetensors

--eval scores the ConvNet3 backbone of an example's checkpoint (examples/byol's online
network, examples/swav's, ...) with this file's evaluation (a check that its kNN and
linear probe agree with the Go run's result.json).
--loss-scale multiplies the paper's loss (2 − 2·cos per view pair): 0.25 is lightly's.
"""
import argparse, copy, gzip, json, math, struct, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA = '/usr/share/datasets/fashion-mnist'
MEAN, STD = 0.2860, 0.3530


def idx(path):
    with gzip.open(path, 'rb') as f:
        raw = f.read()
    magic, = struct.unpack('>I', raw[:4])
    dims = [struct.unpack('>I', raw[4 + 4 * i:8 + 4 * i])[0] for i in range(magic & 0xff)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * len(dims)).reshape(dims)


def load():
    x = {s: torch.from_numpy(idx(f'{DATA}/{s}-images-idx3-ubyte.gz').astype(np.float32) / 255).unsqueeze(1)
         for s in ('train', 't10k')}
    y = {s: torch.from_numpy(idx(f'{DATA}/{s}-labels-idx1-ubyte.gz').astype(np.int64)) for s in ('train', 't10k')}
    return x['train'], y['train'], x['t10k'], y['t10k']


class ConvNet3(nn.Module):
    def __init__(self):
        super().__init__()
        for i, (a, b) in enumerate([(1, 32), (32, 64), (64, 128)]):
            setattr(self, f'conv{i + 1}', nn.Conv2d(a, b, 3, padding=1, bias=False))
            setattr(self, f'bn{i + 1}', nn.BatchNorm2d(b))

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
        return F.relu(self.bn3(self.conv3(x))).mean((2, 3))


def mlp(i, h, o):
    return nn.Sequential(nn.Linear(i, h), nn.BatchNorm1d(h), nn.ReLU(), nn.Linear(h, o))


def crop_params(g):
    """torchvision's RandomResizedCrop.get_params for a 28×28 image, scale (0.25, 1)."""
    area = 28 * 28
    lr = (math.log(3 / 4), math.log(4 / 3))
    for _ in range(10):
        t = area * (0.25 + 0.75 * torch.rand(1, generator=g).item())
        r = math.exp(lr[0] + (lr[1] - lr[0]) * torch.rand(1, generator=g).item())
        w, h = int(round(math.sqrt(t * r))), int(round(math.sqrt(t / r)))
        if 0 < w <= 28 and 0 < h <= 28:
            i = torch.randint(0, 28 - h + 1, (1,), generator=g).item()
            j = torch.randint(0, 28 - w + 1, (1,), generator=g).item()
            return i, j, h, w
    return 0, 0, 28, 28


def view(x, g):
    """The protocol's view of a batch of [0,1] images: crop, flip, jitter, normalize."""
    out = torch.empty_like(x)
    for n in range(x.shape[0]):
        i, j, h, w = crop_params(g)
        v = F.interpolate(x[n:n + 1, :, i:i + h, j:j + w], size=(28, 28), mode='bilinear', align_corners=False)[0]
        if torch.rand(1, generator=g).item() < 0.5:
            v = v.flip(-1)
        if torch.rand(1, generator=g).item() < 0.8:
            fb = 0.6 + 0.8 * torch.rand(1, generator=g).item()
            fc = 0.6 + 0.8 * torch.rand(1, generator=g).item()
            for k in torch.randperm(4, generator=g).tolist():  # ColorJitter's order
                if k == 0:
                    v = (fb * v).clamp(0, 1)
                elif k == 1:
                    v = (fc * v + (1 - fc) * v.mean()).clamp(0, 1)
        out[n] = v
    return (out - MEAN) / STD


@torch.no_grad()
def features(net, x):
    net.eval()
    return torch.cat([net((x[i:i + 1000] - MEAN) / STD) for i in range(0, len(x), 1000)])


@torch.no_grad()
def knn(ftr, ytr, fte, yte, k=20, t=0.07):
    ftr, fte = F.normalize(ftr, dim=1), F.normalize(fte, dim=1)
    right = 0
    for i in range(0, len(fte), 500):
        s, j = (fte[i:i + 500] @ ftr.T).topk(k, dim=1)
        votes = torch.zeros(len(s), 10).scatter_add_(1, ytr[j], (s / t).exp())
        right += (votes.argmax(1) == yte[i:i + 500]).sum().item()
    return right / len(fte)


def linear(ftr, ytr, fte, yte, l2=1e-4):
    """Multinomial logistic regression on standardized features, (λ/2)‖W‖², L-BFGS in float64."""
    ftr, fte = ftr.double(), fte.double()
    mu, sd = ftr.mean(0), ftr.std(0, unbiased=False).clamp_min(1e-12)
    a, b = (ftr - mu) / sd, (fte - mu) / sd
    W = torch.zeros(10, a.shape[1], dtype=torch.float64, requires_grad=True)
    c = torch.zeros(10, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([W, c], lr=1, max_iter=1000, history_size=40, tolerance_grad=1e-5,
                            tolerance_change=0, line_search_fn='strong_wolfe')

    def f():
        opt.zero_grad()
        loss = F.cross_entropy(a @ W.T + c, ytr) + 0.5 * l2 * (W * W).sum()
        loss.backward()
        return loss

    opt.step(f)
    with torch.no_grad():
        return ((b @ W.T + c).argmax(1) == yte).double().mean().item()


def read_safetensors(path):
    with open(path, 'rb') as f:
        n, = struct.unpack('<Q', f.read(8))
        head = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, m in head.items():
        if name == '__metadata__' or m['dtype'] != 'F32':
            continue
        lo, hi = m['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(data[lo:hi], np.float32).copy()).reshape(m['shape'])
    return out


def evaluate(net, data):
    xtr, ytr, xte, yte = data
    ftr, fte = features(net, xtr), features(net, xte)
    return knn(ftr, ytr, fte, yte), linear(ftr, ytr, fte, yte)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--epochs', type=int, default=4)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--loss-scale', type=float, default=0.25)
    ap.add_argument('--eval', default='')
    a = ap.parse_args()
    torch.set_num_threads(2)
    torch.manual_seed(a.seed)
    data = load()
    net = ConvNet3()
    if a.eval:
        st = read_safetensors(a.eval)
        state = {k: st[k] for k in net.state_dict() if k in st}
        missing = set(net.state_dict()) - set(state) - {f'bn{i}.num_batches_tracked' for i in (1, 2, 3)}
        if missing:
            sys.exit(f'{a.eval}: no {sorted(missing)}')
        net.load_state_dict(state, strict=False)
        k, lin = evaluate(net, data)
        print(f'eval {a.eval} kNN {k:.4f} linear {lin:.4f}')
        return
    proj, pred = mlp(128, 256, 64), mlp(64, 256, 64)
    online = nn.Sequential(net, proj)
    target = copy.deepcopy(online)
    for p in target.parameters():
        p.requires_grad_(False)
    params = list(online.parameters()) + list(pred.parameters())
    opt = torch.optim.SGD(params, lr=0.3, momentum=0.9, weight_decay=5e-4)
    xtr = data[0]
    b, steps = 256, len(xtr) // 256
    total, warm = steps * a.epochs, 50
    g = torch.Generator().manual_seed(a.seed)
    k, t0 = 0, time.perf_counter()
    for ep in range(a.epochs):
        online.train(); pred.train(); target.train()
        order = torch.randperm(len(xtr), generator=g)
        for s in range(steps):
            lr = 0.3 * (k + 1) / warm if k < warm else 0.3 * 0.5 * (1 + math.cos(math.pi * (k - warm) / (total - warm)))
            for group in opt.param_groups:
                group['lr'] = lr
            x = xtr[order[s * b:(s + 1) * b]]
            v1, v2 = view(x, g), view(x, g)
            p1, p2 = pred(online(v1)), pred(online(v2))
            with torch.no_grad():
                z1, z2 = target(v1), target(v2)
            loss = a.loss_scale * ((2 - 2 * F.cosine_similarity(p1, z2).mean()) + (2 - 2 * F.cosine_similarity(p2, z1).mean()))
            opt.zero_grad()
            loss.backward()
            opt.step()
            tau = 1 - 0.01 * 0.5 * (1 + math.cos(math.pi * min(k, total) / total))
            with torch.no_grad():
                for pt, po in zip(target.parameters(), online.parameters()):
                    pt.mul_(tau).add_(po, alpha=1 - tau)
            k += 1
            if k % 50 == 0:
                print(f'epoch {ep + 1} step {s + 1}/{steps} loss {loss.item():.4f} {k * b / (time.perf_counter() - t0):.0f} img/s', file=sys.stderr)
    secs = time.perf_counter() - t0
    knn_acc, lin = evaluate(net, data)
    print(f'peer byol epochs {a.epochs} seed {a.seed} loss-scale {a.loss_scale} train s {secs:.0f} kNN {knn_acc:.4f} linear {lin:.4f}')


if __name__ == '__main__':
    main()
