#!/usr/bin/env python3
"""Reference: PyTorch (Debian python3-torch) U-Net training-step time on this CPU.
(Copy of ../shared/reference/torch_unet_step.py for NoisySeg.Benchmarks: identical network, data and loops; it
only adds to the printed line the process CPU time (time.process_time, all threads) per step and per inference, so
the comparison can be made on a machine shared with other work, and the last loss and whether the weights and the
inference output are finite: PyTorch's own CPU kernels may be faulty on this CPU too.)
Usage: torch_unet_step.py [base] [size] [batch] [steps]
Same architecture the project must match: 4 down levels, double 3x3 conv + BN + ReLU,
max-pool down, transposed-conv up, concat skips, 1x1 head, BCE-with-logits, Adam."""
import sys, time, torch, torch.nn as nn
base, size, batch, steps = (int(a) for a in (sys.argv[1:] + ['16', '256', '4', '20'])[:4])
torch.set_num_threads(2); torch.manual_seed(0)
def dc(i, o): return nn.Sequential(nn.Conv2d(i, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True),
                                  nn.Conv2d(o, o, 3, padding=1, bias=False), nn.BatchNorm2d(o), nn.ReLU(inplace=True))
class UNet(nn.Module):
    def __init__(s, cin=1, cout=1, b=16, depth=4):
        super().__init__(); ch = [b * 2**i for i in range(depth + 1)]
        s.downs = nn.ModuleList([dc(cin, ch[0])] + [dc(ch[i], ch[i+1]) for i in range(depth)])
        s.ups = nn.ModuleList([nn.ConvTranspose2d(ch[i+1], ch[i], 2, stride=2) for i in reversed(range(depth))])
        s.decs = nn.ModuleList([dc(ch[i]*2, ch[i]) for i in reversed(range(depth))])
        s.head = nn.Conv2d(ch[0], cout, 1); s.pool = nn.MaxPool2d(2)
    def forward(s, x):
        skips = []
        for i, d in enumerate(s.downs):
            x = d(x if i == 0 else s.pool(x)); skips.append(x)
        skips.pop()
        for u, d in zip(s.ups, s.decs):
            x = d(torch.cat([u(x), skips.pop()], 1))
        return s.head(x)
m = UNet(b=base); opt = torch.optim.Adam(m.parameters(), 1e-3); lossf = nn.BCEWithLogitsLoss()
x = torch.randn(batch, 1, size, size); y = (torch.rand(batch, 1, size, size) > 0.8).float()
last = [float('nan')]
def step():
    opt.zero_grad(); l = lossf(m(x), y); l.backward(); opt.step(); last[0] = l.item()
for _ in range(3): step()
t = time.perf_counter(); c = time.process_time()
for _ in range(steps): step()
dt = (time.perf_counter() - t) / steps; dc_ = (time.process_time() - c) / steps
m.eval()
with torch.no_grad():
    xi = torch.randn(1, 1, 512, 512); m(xi); t = time.perf_counter(); c = time.process_time()
    for _ in range(5): out = m(xi)
    inf = (time.perf_counter() - t) / 5; infc = (time.process_time() - c) / 5
finite = all(bool(torch.isfinite(p).all()) for p in m.parameters())
tiny = float((out.abs() < 1.1754944e-38).float().mean())  # share of outputs that are zero or subnormal
print(f"torch {torch.__version__} threads={torch.get_num_threads()} base={base} size={size} batch={batch}: "
      f"train {dt*1000:.1f} ms/step ({batch/dt:.2f} img/s), infer 512x512 {inf*1000:.1f} ms; cpu train {dc_*1000:.1f} ms/step, cpu infer {infc*1000:.1f} ms; last loss {last[0]:.4f}, weights finite {finite}, output finite {bool(torch.isfinite(out).all())}, output tiny share {tiny:.3f}")
