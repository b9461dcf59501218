"""The JigClu training step of JigClu Studio in PyTorch: the baseline of `npm run bench:gpu`.

Same model (torchvision-layout ResNet-18/50 with a width multiplier, last feature map average-
pooled to grid x grid cells), heads (cluster MLP d -> d -> 128 + L2 norm, location Linear(d, m*m)),
losses (SupClu with max-logit subtraction and self-mask, scaled by t / 0.07; cross entropy) and
optimiser (SGD, momentum 0.9, weight decay 1e-4) as main/engine/. Random montages of the preset's
shape; one untimed warm-up step, then steps for at least --seconds. Prints one JSON line:
{"imagesPerSecond": ..., "steps": ..., "warmupSeconds": ...}.
Usage: python3 torch_jigclu_step.py --device cuda --arch resnet18 --width 0.25 --grid 2 --crop 32 --batch 32
"""
import argparse
import json
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def channels(c, width):
    return max(1, round(c * width))


class Basic(nn.Module):
    expansion = 1

    def __init__(self, cin, width, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        out = width
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, cin, width, stride):
        super().__init__()
        out = width * 4
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (self.downsample(x) if self.downsample is not None else x))


class JigClu(nn.Module):
    def __init__(self, arch, width, grid, projection=128):
        super().__init__()
        block, counts = (Bottleneck, [3, 4, 6, 3]) if arch == 'resnet50' else (Basic, [2, 2, 2, 2])
        stem = channels(64, width)
        self.stem = nn.Sequential(nn.Conv2d(3, stem, 7, 2, 3, bias=False), nn.BatchNorm2d(stem), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
        layers, cin = [], stem
        for stage, base in enumerate([64, 128, 256, 512]):
            for index in range(counts[stage]):
                layer = block(cin, channels(base, width), 2 if index == 0 and stage > 0 else 1)
                layers.append(layer)
                cin = channels(base, width) * block.expansion
        self.layers = nn.Sequential(*layers)
        self.grid = grid
        self.cluster = nn.Sequential(nn.Linear(cin, cin), nn.ReLU(), nn.Linear(cin, projection))
        self.location = nn.Linear(cin, grid * grid)

    def forward(self, montages):
        x = self.layers(self.stem(montages))
        pooled = F.adaptive_avg_pool2d(x, self.grid)  # [n, d, m, m]
        features = pooled.permute(0, 2, 3, 1).reshape(-1, pooled.shape[1])  # row b*m*m + cell
        return F.normalize(self.cluster(features), dim=1), self.location(features)


def supclu(z, labels, temperature):
    logits = z @ z.t() / temperature
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()
    not_self = 1 - torch.eye(z.shape[0], device=z.device)
    positives = (labels[:, None] == labels[None, :]).float() * not_self
    log_prob = logits - torch.log((torch.exp(logits) * not_self).sum(1, keepdim=True))
    return (-(temperature / 0.07) * (positives * log_prob).sum(1) / positives.sum(1)).mean()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--device', default='cuda')
    parser.add_argument('--arch', default='resnet18')
    parser.add_argument('--width', type=float, default=0.25)
    parser.add_argument('--grid', type=int, default=2)
    parser.add_argument('--crop', type=int, default=32)
    parser.add_argument('--batch', type=int, default=32)
    parser.add_argument('--temperature', type=float, default=0.07)
    parser.add_argument('--seconds', type=float, default=10)
    args = parser.parse_args()
    device = torch.device(args.device)
    torch.manual_seed(1)
    model = JigClu(args.arch, args.width, args.grid).to(device).train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.03 * args.batch / 256, momentum=0.9, weight_decay=1e-4)
    size = args.grid * args.crop
    cells = args.grid * args.grid
    montages = torch.randn(args.batch, 3, size, size, device=device)
    clusters = torch.arange(args.batch * cells, device=device) // cells
    locations = torch.arange(args.batch * cells, device=device) % cells

    def step():
        z, logits = model(montages)
        loss = supclu(z, clusters, args.temperature) + F.cross_entropy(logits, locations)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss

    def sync():
        if device.type == 'cuda':
            torch.cuda.synchronize()

    warm = time.perf_counter()
    step()
    sync()
    started = time.perf_counter()
    steps = 0
    while steps < 3 or (time.perf_counter() - started < args.seconds and steps < 200):
        step()
        steps += 1
    sync()
    elapsed = time.perf_counter() - started
    print(json.dumps({'imagesPerSecond': steps * args.batch / elapsed, 'steps': steps, 'warmupSeconds': started - warm}))


if __name__ == '__main__':
    main()
