"""PyTorch's JigClu training step on a batch written by torch-step.ts, timed on N threads.

The model mirrors main/engine/jigclu-model.ts: a torchvision-layout ResNet-18 with every
layer's channels scaled by the width multiplier (BasicBlock from torchvision), the last
feature map average-pooled to m x m (one cell per patch), the cluster head
Linear(d, d) -> ReLU -> Linear(d, projection) -> L2 norm with the SupClu loss, the location
head Linear(d, m*m) with cross entropy, and SGD with momentum and weight decay. Prints one
JSON line: {"threads", "steps", "median_ms", "images_per_second"}.
"""
import argparse
import json
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock


def channels(count, width):
    return max(1, round(count * width))


class Backbone(nn.Module):
    def __init__(self, width):
        super().__init__()
        stem = channels(64, width)
        self.conv1 = nn.Conv2d(3, stem, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        layers, inplanes = [], stem
        for stage in range(4):
            planes = channels(64 * 2 ** stage, width)
            blocks = []
            for index in range(2):
                stride = 2 if index == 0 and stage > 0 else 1
                downsample = None
                if stride != 1 or inplanes != planes:
                    downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
                blocks.append(BasicBlock(inplanes, planes, stride, downsample))
                inplanes = planes
            layers.append(nn.Sequential(*blocks))
        self.layers = nn.Sequential(*layers)
        self.out_channels = inplanes

    def forward(self, x):
        return self.layers(self.maxpool(F.relu(self.bn1(self.conv1(x)))))


def supclu_loss(z, labels, temperature):
    n = z.shape[0]
    logits = z @ z.T / temperature
    logits = logits - logits.max(dim=1, keepdim=True)[0].detach()
    not_self = 1 - torch.eye(n)
    positives = (labels[:, None] == labels[None, :]).float() * not_self
    log_prob = logits - torch.log((torch.exp(logits) * not_self).sum(1, keepdim=True))
    mean_positive = (positives * log_prob).sum(1) / positives.sum(1)
    return (-(temperature / 0.07) * mean_positive).mean()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--batch-file', required=True)
    parser.add_argument('--config', required=True, help='JSON: n, size, grid, width, projectionDim, temperature, lr, momentum, weightDecay')
    parser.add_argument('--threads', type=int, required=True)
    parser.add_argument('--seconds', type=float, default=5.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = json.loads(args.config)
    n, size, m = config['n'], config['size'], config['grid']
    raw = np.fromfile(args.batch_file, dtype=np.uint8)
    floats = n * size * size * 3 * 4
    montages = np.frombuffer(raw[:floats].tobytes(), dtype=np.float32).reshape(n, size, size, 3)
    labels = np.frombuffer(raw[floats:].tobytes(), dtype=np.int32).reshape(2, n * m * m)

    backbone = Backbone(config['width'])
    d = backbone.out_channels
    head0, head2, location_head = nn.Linear(d, d), nn.Linear(d, config['projectionDim']), nn.Linear(d, m * m)
    modules = nn.ModuleList([backbone, head0, head2, location_head]).train()
    optimizer = torch.optim.SGD(modules.parameters(), lr=config['lr'], momentum=config['momentum'], weight_decay=config['weightDecay'])

    def step():
        # As the tfjs step: the batch becomes tensors inside the step.
        x = torch.from_numpy(montages).permute(0, 3, 1, 2).contiguous()
        cluster_labels = torch.from_numpy(labels[0].astype(np.int64))
        location_labels = torch.from_numpy(labels[1].astype(np.int64))
        pooled = F.adaptive_avg_pool2d(backbone(x), m)
        features = pooled.permute(0, 2, 3, 1).reshape(n * m * m, d)
        z = F.normalize(head2(F.relu(head0(features))), dim=1)
        loss = supclu_loss(z, cluster_labels, config['temperature']) + F.cross_entropy(location_head(features), location_labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return loss.item()

    for _ in range(2):
        step()
    times = []
    started = time.perf_counter()
    while len(times) < 5 or time.perf_counter() - started < args.seconds:
        begin = time.perf_counter()
        step()
        times.append(time.perf_counter() - begin)
    median = sorted(times)[len(times) // 2]
    print(json.dumps({'threads': torch.get_num_threads(), 'steps': len(times), 'median_ms': median * 1000, 'images_per_second': n / median}))


if __name__ == '__main__':
    main()
