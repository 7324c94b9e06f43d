"""The PyTorch side of `npm run bench`: the same convnets as convlens's bench, timed the same way.

Models (NHWC in convlens, NCHW here; same layers, widths and parameter counts as src/models/):
  gap-cnn         conv3x3 (no bias) + BN + ReLU blocks [8] [16] [32] [64 x4], 2x2 max pools, GAP, dense softmax, 64x64x3
  mobilenetv2-0.35-64  MobileNetV2 alpha 0.35 at 64x64 with convlens's transfer head
                  (GAP, BN, dropout 0.5, dense 128, BN, ReLU, dense, BN, softmax), 5 classes
  mobilenetv2-1.0-224  MobileNetV2 alpha 1.0 at 224x224 with the ImageNet top (1000 classes)
Training: batch 32, Adam (lr 1e-3), cross-entropy, random inputs; images/s as the median of 5 blocks after a
warm-up. Inference: batch 32, no grad, eval mode. Grad-CAM per image (224 model): one forward + backward to the
last conv block with batch 8. Prints one JSON object. Usage: python3 bench/torch_reference.py --threads 2 [--quick]
With --serve it instead answers timed inference blocks on stdin (serve()), for interleaved measurements.
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# Timed blocks per measurement (the same as scripts/bench-convnets.ts).
TIMED_BLOCKS = 5


def make_divisible(v, divisor=8):
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class GapCnn(nn.Module):
    def __init__(self, blocks=((8,), (16,), (32,), (64, 64, 64, 64)), classes=5):
        super().__init__()
        layers, c = [], 3
        for b, convs in enumerate(blocks):
            if b > 0:
                layers.append(nn.MaxPool2d(2))
            for f in convs:
                layers += [nn.Conv2d(c, f, 3, padding=1, bias=False), nn.BatchNorm2d(f), nn.ReLU()]
                c = f
        self.features = nn.Sequential(*layers)
        self.out = nn.Linear(c, classes)

    def forward(self, x):
        return self.out(self.features(x).mean((2, 3)))


BLOCKS = [(1, 16, 1), (6, 24, 2), (6, 24, 1), (6, 32, 2), (6, 32, 1), (6, 32, 1), (6, 64, 2), (6, 64, 1), (6, 64, 1),
          (6, 64, 1), (6, 96, 1), (6, 96, 1), (6, 96, 1), (6, 160, 2), (6, 160, 1), (6, 160, 1), (6, 320, 1)]


class Block(nn.Module):
    def __init__(self, cin, expansion, cout, stride):
        super().__init__()
        hidden = cin * expansion
        layers = []
        if expansion != 1:
            layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden, eps=1e-3), nn.ReLU6()]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False), nn.BatchNorm2d(hidden, eps=1e-3), nn.ReLU6(),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout, eps=1e-3)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.body(x)
        return x + y if self.residual else y


class MobileNetV2(nn.Module):
    def __init__(self, alpha=1.0, classes=1000, head='imagenet'):
        super().__init__()
        c = make_divisible(32 * alpha)
        layers = [nn.Conv2d(3, c, 3, 2, 1, bias=False), nn.BatchNorm2d(c, eps=1e-3), nn.ReLU6()]
        for expansion, filters, stride in BLOCKS:
            cout = make_divisible(int(filters * alpha))
            layers.append(Block(c, expansion, cout, stride))
            c = cout
        last = make_divisible(1280 * alpha) if alpha > 1.0 else 1280
        layers += [nn.Conv2d(c, last, 1, bias=False), nn.BatchNorm2d(last, eps=1e-3), nn.ReLU6()]
        self.features = nn.Sequential(*layers)
        if head == 'imagenet':
            self.head = nn.Linear(last, classes)
        else:
            self.head = nn.Sequential(nn.BatchNorm1d(last), nn.Dropout(0.5), nn.Linear(last, 128), nn.BatchNorm1d(128), nn.ReLU(),
                                      nn.Linear(128, classes), nn.BatchNorm1d(classes))

    def forward(self, x):
        return self.head(self.features(x).mean((2, 3)))


def train_rate(model, size, classes, blocks, steps, batch=32):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.rand(batch, 3, size, size)
    y = torch.randint(0, classes, (batch,))
    model.train()

    def step():
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    rates = []
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(steps * batch / (time.perf_counter() - t0))
    return statistics.median(rates)


def infer_rate(model, size, blocks, steps, batch=32):
    model.eval()
    x = torch.rand(batch, 3, size, size)
    with torch.no_grad():
        model(x)
        rates = []
        for _ in range(blocks):
            t0 = time.perf_counter()
            for _ in range(steps):
                model(x)
            rates.append(steps * batch / (time.perf_counter() - t0))
    return statistics.median(rates)


def gradcam_ms(model, blocks, batch=8):
    """Grad-CAM on the last conv block: forward, backward of the top logits to its activations, weighted sum."""
    model.eval()
    x = torch.rand(batch, 3, 224, 224)
    feats = model.features

    def once():
        a = feats(x)
        a.retain_grad()
        logits = model.head(a.mean((2, 3)))
        logits.gather(1, logits.argmax(1, keepdim=True)).sum().backward()
        w = a.grad.mean((2, 3), keepdim=True)
        return F.relu((w * a).sum(1)).detach()

    once()
    times = []
    for _ in range(blocks):
        t0 = time.perf_counter()
        once()
        times.append((time.perf_counter() - t0) * 1000 / batch)
    return statistics.median(times)


def user_models():
    """The user-size models of the passes section (scripts/bench-passes.ts), torchvision's own builds with random
    weights, eval mode, outputs as logits: a Teachable-Machine-style MobileNetV2 width 0.35 at 224 with TM's head
    (Linear 1280 -> 100, ReLU, Linear 100 -> 3 without bias) and ResNet-18 at 224 (1000 classes)."""
    import torchvision
    tm = torchvision.models.mobilenet_v2(width_mult=0.35)
    tm.classifier = nn.Sequential(nn.Linear(1280, 100), nn.ReLU(), nn.Linear(100, 3, bias=False))
    return {'teachable-224': (tm.eval(), 224), 'resnet18-224': (torchvision.models.resnet18().eval(), 224)}


def pass_ms(model, size, kind, batch, steps, x):
    """Milliseconds per image of `steps` forward passes (no grad) or input-gradient passes (d logit 0 / d x)."""
    t0 = time.perf_counter()
    for _ in range(steps):
        if kind == 'forward':
            with torch.no_grad():
                model(x)
        else:
            v = x.clone().requires_grad_(True)
            model(v)[:, 0].sum().backward()
    return (time.perf_counter() - t0) * 1000 / (steps * batch)


def serve():
    """Timed inference blocks on request, for measurements interleaved with convlens's (scripts/bench-convnets.ts):
    reads one JSON request per line, {"model": name, "steps": n}, and answers {"rate": images/s} for one block of n
    batches of 32 (the first request for a model also runs one untimed batch). The models are built once, as main()
    builds them."""
    models = {'gap-cnn': (GapCnn(), 64), 'mobilenetv2-0.35-64': (MobileNetV2(0.35, 5, 'transfer'), 64),
              'mobilenetv2-1.0-224': (MobileNetV2(1.0, 1000, 'imagenet'), 224)}
    inputs = {}
    users = None
    print(json.dumps({'ready': True, 'torch': torch.__version__, 'threads': torch.get_num_threads()}), flush=True)
    for line in sys.stdin:
        req = json.loads(line)
        if 'pass' in req:
            # {"model": "teachable-224" | "resnet18-224", "pass": "forward" | "gradient", "batch": b, "steps": n}
            users = users or user_models()
            model, size = users[req['model']]
            key = (req['model'], req['batch'])
            if key not in inputs:
                inputs[key] = torch.rand(req['batch'], 3, size, size) * 2 - 1
                pass_ms(model, size, 'gradient', req['batch'], 1, inputs[key])
            print(json.dumps({'ms': pass_ms(model, size, req['pass'], req['batch'], req['steps'], inputs[key])}), flush=True)
            continue
        model, size = models[req['model']]
        model.eval()
        with torch.no_grad():
            if req['model'] not in inputs:
                inputs[req['model']] = torch.rand(32, 3, size, size)
                model(inputs[req['model']])
            x = inputs[req['model']]
            t0 = time.perf_counter()
            for _ in range(req['steps']):
                model(x)
            rate = req['steps'] * 32 / (time.perf_counter() - t0)
        print(json.dumps({'rate': rate}), flush=True)


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--quick', action='store_true')
    p.add_argument('--serve', action='store_true', help='answer timed inference blocks on stdin (see serve())')
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    if a.serve:
        serve()
        return
    steps = 2 if a.quick else 8
    out = {'torch': torch.__version__, 'threads': torch.get_num_threads()}
    gap = GapCnn()
    out['gap-cnn'] = {'params': sum(p.numel() for p in gap.parameters()),
                      'train_img_per_s': train_rate(gap, 64, 5, TIMED_BLOCKS, steps), 'infer_img_per_s': infer_rate(gap, 64, TIMED_BLOCKS, steps)}
    small = MobileNetV2(0.35, 5, 'transfer')
    out['mobilenetv2-0.35-64'] = {'params': sum(p.numel() for p in small.parameters()),
                                  'train_img_per_s': train_rate(small, 64, 5, TIMED_BLOCKS, steps), 'infer_img_per_s': infer_rate(small, 64, TIMED_BLOCKS, steps)}
    big = MobileNetV2(1.0, 1000, 'imagenet')
    out['mobilenetv2-1.0-224'] = {'params': sum(p.numel() for p in big.parameters()),
                                  'infer_img_per_s': infer_rate(big, 224, TIMED_BLOCKS, 1 if a.quick else 2), 'gradcam_ms_per_img': gradcam_ms(big, TIMED_BLOCKS)}
    print(json.dumps(out))


if __name__ == '__main__':
    main()
