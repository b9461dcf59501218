#!/usr/bin/env python3
"""JigClu Studio's pretraining as a PyTorch DistributedDataParallel job, for torchrun.

One self-contained file (torch, Pillow and the standard library only), copied into every job
folder by `jigclu export-job`. It trains the same model as the app, step for step:

- the app's batch order from the seed: a port of its sfc32 generator (main/data/rng.ts), of the
  epoch order and batch seeds (main/data/batch-source.ts), of the patch geometry and the
  per-patch augmentation (main/data/jigsaw.ts, main/data/augment/);
- ONE permutation of all n*m*m patches of the GLOBAL batch, tiled into n montages, each rank
  keeping its slice of montages (the reference's JigClu._batch_gather_ddp). The random draws
  of a whole batch never depend on pixels and are cheap: every rank makes them all and renders
  only its own cells;
- the app's ResNet with torchvision's names and a width multiplier (main/engine/nn/resnet.ts), the
  reference's decoupling (bilinear to 8 x 8, average pool to m x m; main/engine/jigclu/decouple.ts),
  the cluster and location heads (main/engine/jigclu/jigclu-model.ts);
- SupClu + location loss over the whole global batch on every rank (features gathered with a
  differentiable all_gather), SyncBatchNorm on GPUs and a global BatchNorm that all-reduces the
  batch statistics on CPU (nn.SyncBatchNorm refuses CPU tensors), so W processes train what one
  process trains;
- torch.optim.SGD (momentum, weight decay on every parameter; the rate is not scaled by batch
  or world size), cosine per epoch (main/common/pretrain-config.ts);
- checkpoints in the app's own format (safetensors `jigclu-checkpoint-v1`, tfjs layout),
  metrics.jsonl with the app's per-step metrics and trainer.json, so `jigclu import-job` takes
  them back; a rerun with the same --out resumes from the newest checkpoint.

Inside the job folder:
  python3 jigclu_ddp.py selftest [--root r0=/data/photos]      # golden/ against this PyTorch
  python3 -m torch.distributed.run --nproc_per_node N jigclu_ddp.py --epochs E --out out [--root ...]
  python3 jigclu_ddp.py convert IN.pth OUT.safetensors          # a .pth state dict for import-weights
test/fixtures/golden_steps.py also runs its model for the app's golden-step tests.
"""
import argparse
import ctypes
import datetime
import hashlib
import json
import math
import os
import struct
import sys
import time

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

TRAINER_FORMAT = "jigclu-ddp-trainer-v1"
JOB_FORMAT = "jigclu-job-v1"
CHECKPOINT_FORMAT = "jigclu-checkpoint-v1"

# ---------------------------------------------------------------------------------------------
# The app's random numbers (main/data/rng.ts): sfc32 seeded through splitmix32, in 32-bit words.

M32 = 0xFFFFFFFF
TWO32 = 4294967296


def _splitmix32(x):
    z = (x + 0x9E3779B9) & M32
    nxt = z
    z = ((z ^ (z >> 16)) * 0x85EBCA6B) & M32
    z = ((z ^ (z >> 13)) * 0xC2B2AE35) & M32
    z ^= z >> 16
    return z, nxt


class Rng:
    """sfc32, exactly as main/data/rng.ts: the same words, draws and rejection sampling."""

    def __init__(self, seed_or_state):
        if isinstance(seed_or_state, (list, tuple)):
            self.a, self.b, self.c, self.d = (int(v) & M32 for v in seed_or_state)
            return
        seed = seed_or_state
        if not math.isfinite(seed):
            raise ValueError("Rng seed must be a finite number, got %r" % (seed,))
        low = int(math.trunc(seed)) % TWO32  # JS: seed >>> 0
        high = int(math.floor(abs(seed) / TWO32)) % TWO32
        a, next_low = _splitmix32(low)
        b, _ = _splitmix32(next_low)
        c, next_high = _splitmix32(high ^ (0x5BD1E995 if seed < 0 else 0x1B873593))
        d, _ = _splitmix32(next_high)
        self.a, self.b, self.c, self.d = a, b, c, d
        for _ in range(12):
            self.next_uint32()

    def next_uint32(self):
        a, b, c, d = self.a, self.b, self.c, self.d
        t = (a + b + d) & M32
        d = (d + 1) & M32
        a = b ^ (b >> 9)
        b = (c + (c << 3)) & M32
        c = ((c << 21) | (c >> 11)) & M32
        c = (c + t) & M32
        self.a, self.b, self.c, self.d = a, b, c, d
        return t

    def next(self):
        """Uniform on [0, 1)."""
        return self.next_uint32() / TWO32

    def int(self, n):
        """Uniform integer in 0..n-1 without modulo bias."""
        if n == 1:
            return 0
        limit = TWO32 - (TWO32 % n)
        x = self.next_uint32()
        while x >= limit:
            x = self.next_uint32()
        return x % n

    def uniform(self, lo, hi):
        return lo + (hi - lo) * self.next()

    def permutation(self, n):
        out = list(range(n))
        for i in range(n - 1, 0, -1):
            j = self.int(i + 1)
            out[i], out[j] = out[j], out[i]
        return out

    def state(self):
        return [self.a, self.b, self.c, self.d]


def _imul(a, b):
    return (a * b) & M32


def seed_of(seed, epoch, batch_index):
    """The seed of batch b of epoch e (main/data/batch-source.ts seedOf)."""
    h = (0x9E3779B9 ^ seed) & M32
    for part in (epoch, batch_index):
        h = _imul(h ^ (part & M32), 0x85EBCA6B)
        h ^= h >> 13
        h = _imul(h, 0xC2B2AE35)
        h ^= h >> 16
    return h % 2147483647


def batch_indices(seed, batch, image_count, epoch, batch_index):
    """The images of batch b of epoch e: the epoch's order from the seed alone, then a slice."""
    order = Rng(seed_of(seed, epoch, 0x0DDE)).permutation(image_count)
    return order[batch_index * batch:(batch_index + 1) * batch]


def steps_per_epoch(image_count, batch):
    """The reference's DataLoader drops the last incomplete batch."""
    return image_count // batch


def learning_rate_at(config, epoch):
    """lr, cosine per epoch (main/common/pretrain-config.ts learningRateAt)."""
    return config["lr"] * 0.5 * (1 + math.cos(math.pi * epoch / config["epochs"]))


# ---------------------------------------------------------------------------------------------
# Patch geometry (main/data/jigsaw.ts patchRects).


def round_half_even(x):
    f = math.floor(x)
    d = x - f
    if d > 0.5:
        return f + 1
    if d < 0.5:
        return f
    return f if f % 2 == 0 else f + 1


def _axis_spans(length, grid, cross):
    overlap = cross * length
    spans = []
    for k in range(grid):
        start = 0 if k == 0 else max(0, round_half_even(math.floor(k * length / grid) - overlap))
        end = length if k == grid - 1 else min(length, round_half_even(math.floor((k + 1) * length / grid) + overlap))
        spans.append((start, max(1, end - start)))
    return spans


def patch_rects(width, height, grid, cross):
    """The m*m overlapping patch rectangles (x, y, w, h) of a width x height image, row-major."""
    if width < grid or height < grid:
        raise ValueError("a %dx%d image is too small for a %dx%d grid" % (width, height, grid, grid))
    xs = _axis_spans(width, grid, cross)
    ys = _axis_spans(height, grid, cross)
    return [(x, y, w, h) for (y, h) in ys for (x, w) in xs]


# ---------------------------------------------------------------------------------------------
# The per-patch augmentation (main/data/augment/). The draws come first (they never depend on
# pixels), so every rank can draw a whole global batch and render only its own cells.

REFERENCE_AUGMENTATION = {
    "cropScale": (0.2, 1.0),
    "jitter": (0.4, 0.4, 0.4, 0.1),
    "jitterP": 0.8,
    "grayscaleP": 0.2,
    "blurSigma": (0.1, 2.0),
    "blurP": 0.5,
    "flipP": 0.5,
}
CROP_RATIO = (3 / 4, 4 / 3)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LUMA = (0.299, 0.587, 0.114)


def random_resized_crop_box(width, height, rng, scale, ratio=CROP_RATIO):
    """torchvision RandomResizedCrop.get_params with the app's draws: (x, y, w, h)."""
    area = width * height
    log_lo = math.log(ratio[0])
    log_hi = math.log(ratio[1])
    for _ in range(10):
        target = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(log_lo, log_hi))
        w = round_half_even(math.sqrt(target * aspect))
        h = round_half_even(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            y = rng.int(height - h + 1)
            x = rng.int(width - w + 1)
            return (x, y, w, h)
    in_ratio = width / height
    lo, hi = min(ratio), max(ratio)
    if in_ratio < lo:
        w = width
        h = round_half_even(w / lo)
    elif in_ratio > hi:
        h = height
        w = round_half_even(h * hi)
    else:
        w, h = width, height
    return ((width - w) // 2, (height - h) // 2, w, h)


def draw_patch(rng, rw, rh, aug):
    """One patch's random choices, in the app's order of draws (augmentRegionInto)."""
    box = random_resized_crop_box(rw, rh, rng, aug["cropScale"])
    jitter = None
    if rng.next() < aug["jitterP"]:
        b, c, s, h = aug["jitter"]
        order = rng.permutation(4)
        jitter = (
            order,
            rng.uniform(max(0, 1 - b), 1 + b) if b > 0 else None,
            rng.uniform(max(0, 1 - c), 1 + c) if c > 0 else None,
            rng.uniform(max(0, 1 - s), 1 + s) if s > 0 else None,
            rng.uniform(-h, h) if h > 0 else None,
        )
    gray = rng.next() < aug["grayscaleP"]
    blur = rng.uniform(aug["blurSigma"][0], aug["blurSigma"][1]) if rng.next() < aug["blurP"] else None
    flip = rng.next() < aug["flipP"]
    return {"box": box, "jitter": jitter, "gray": gray, "blur": blur, "flip": flip}


def draw_batch(sizes, grid, cross, rng, aug):
    """The draws of a whole jigsaw batch (makeJigsawBatch): the permutation first, then each
    image's patches, location by location. `sizes` are the (width, height) of the cached images."""
    cells = grid * grid
    n = len(sizes)
    permutation = rng.permutation(n * cells)
    patches = []
    for (width, height) in sizes:
        for rect in patch_rects(width, height, grid, cross):
            draw = draw_patch(rng, rect[2], rect[3], aug) if aug else {"flip": False}
            draw["rect"] = rect
            patches.append(draw)
    cluster = [p // cells for p in permutation]
    location = [p % cells for p in permutation]
    return {"permutation": permutation, "patches": patches, "cluster": cluster, "location": location}


def _pillow_bilinear_matrix(in_size, out_size):
    """Pillow's BILINEAR resampling along one axis as an [out, in] float64 matrix."""
    scale = in_size / out_size
    support = max(scale, 1.0)
    inv = 1.0 / support
    m = torch.zeros(out_size, in_size, dtype=torch.float64)
    for xx in range(out_size):
        center = (xx + 0.5) * scale
        xmin = max(0, int(center - support + 0.5))
        xmax = min(in_size, int(center + support + 0.5))
        weights = []
        for x in range(xmax - xmin):
            t = abs((x + xmin - center + 0.5) * inv)
            weights.append(1 - t if t < 1 else 0.0)
        total = sum(weights)
        for x, w in enumerate(weights):
            m[xx, xmin + x] = w / total if total != 0 else w
    return m


_RESAMPLE_CACHE = {}


def _resample_matrix(in_size, out_size):
    key = (in_size, out_size)
    if key not in _RESAMPLE_CACHE:
        if len(_RESAMPLE_CACHE) > 4096:
            _RESAMPLE_CACHE.clear()
        _RESAMPLE_CACHE[key] = _pillow_bilinear_matrix(in_size, out_size)
    return _RESAMPLE_CACHE[key]


def resample(region, out_w, out_h):
    """PIL-style BILINEAR (antialiased) resize of an [h, w, 3] float32 region: horizontal pass,
    then vertical, each skipped when that side keeps its size (the app's resampleInto)."""
    h, w, _ = region.shape
    rows = region
    if w != out_w:
        rows = torch.einsum("xw,hwc->hxc", _resample_matrix(w, out_w), region.double()).float()
    if h != out_h:
        rows = torch.einsum("yh,hxc->yxc", _resample_matrix(h, out_h), rows.double()).float()
    return rows


def _luma(x):
    return LUMA[0] * x[..., 0] + LUMA[1] * x[..., 1] + LUMA[2] * x[..., 2]


def _brightness(x, f):
    return (x * f).clamp(0, 1)


def _contrast(x, f):
    mean = _luma(x).sum() / (x.numel() // 3)
    return (f * x + (1 - f) * mean).clamp(0, 1)


def _saturation(x, f):
    gray = ((1 - f) * _luma(x)).unsqueeze(-1)
    return (f * x + gray).clamp(0, 1)


def _hue(x, shift):
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    maxc = torch.maximum(torch.maximum(r, g), b)
    minc = torch.minimum(torch.minimum(r, g), b)
    grey = maxc == minc
    cr = torch.where(grey, torch.ones_like(maxc), maxc - minc)
    s = cr / torch.where(maxc == 0, torch.ones_like(maxc), maxc)
    inv = 1 / cr
    h = torch.where(maxc == r, (g - b) * inv, torch.where(maxc == g, 2 + (b - r) * inv, 4 + (r - g) * inv))
    h = h / 6 + 1
    h = h - torch.floor(h)
    h = h + shift
    h = h - torch.floor(h)
    h6 = h * 6
    sector = torch.floor(h6)
    f = h6 - sector
    sector = torch.where(sector >= 6, torch.zeros_like(sector), sector)
    v = maxc
    p = (v * (1 - s)).clamp(0, 1)
    q = (v * (1 - s * f)).clamp(0, 1)
    t = (v * (1 - s * (1 - f))).clamp(0, 1)
    choices = [(v, t, p), (q, v, p), (p, v, t), (p, q, v), (t, p, v), (v, p, q)]
    out = torch.zeros_like(x)
    for k, (cr_, cg_, cb_) in enumerate(choices):
        mask = sector == k
        out[..., 0] = torch.where(mask, cr_, out[..., 0])
        out[..., 1] = torch.where(mask, cg_, out[..., 1])
        out[..., 2] = torch.where(mask, cb_, out[..., 2])
    return torch.where(grey.unsqueeze(-1), x, out)


def box_blur_radius(sigma, passes=3):
    """Pillow's _gaussian_blur_radius: the extended box radius of `passes` passes with variance sigma^2."""
    sigma2 = sigma * sigma / passes
    big_l = math.sqrt(12 * sigma2 + 1)
    small_l = math.floor((big_l - 1) / 2)
    a = (2 * small_l + 1) * (small_l * (small_l + 1) - 3 * sigma2)
    a /= 6 * (sigma2 - (small_l + 1) * (small_l + 1))
    return small_l + a


def _box_pass(x, dim, r, ww, fw):
    """One extended-box pass along `dim` of a float64 [h, w, 3] image, edges replicated."""
    length = x.shape[dim]
    index = torch.arange(-(r + 1), length + r + 1).clamp(0, length - 1)
    padded = x.index_select(dim, index)
    kernel = torch.full((2 * r + 3,), ww, dtype=torch.float64)
    kernel[0] = fw
    kernel[-1] = fw
    moved = padded.movedim(dim, -1)
    shape = moved.shape
    out = F.conv1d(moved.reshape(-1, 1, shape[-1]), kernel.view(1, 1, -1)).reshape(*shape[:-1], length)
    return out.movedim(-1, dim)


def gaussian_blur(x, sigma):
    """Pillow's GaussianBlur(radius=sigma): three extended-box passes per axis (the app's)."""
    if sigma <= 0:
        return x
    radius = box_blur_radius(sigma)
    if not radius > 0:
        return x
    r = int(radius)
    ww = 1 / (2 * radius + 1)
    fw = (1 - (2 * r + 1) * ww) / 2
    y = x.double()
    for _ in range(3):
        y = _box_pass(y, 1, r, ww, fw)
    y = y.float()
    for _ in range(3):
        y = _box_pass(y.double(), 0, r, ww, fw).float()
    return y


def render_patch(image, draw, crop):
    """The augmented crop x crop patch (float32 [crop, crop, 3] in [0, 1], not flipped)."""
    rx, ry, rw, rh = draw["rect"]
    if "box" not in draw:
        return resample(image[ry:ry + rh, rx:rx + rw], crop, crop)
    bx, by, bw, bh = draw["box"]
    x0, y0 = rx + bx, ry + by
    out = resample(image[y0:y0 + bh, x0:x0 + bw], crop, crop)
    if draw["jitter"] is not None:
        order, b, c, s, h = draw["jitter"]
        y = out.double()
        for op in order:
            if op == 0 and b is not None:
                y = _brightness(y, b).float().double()
            elif op == 1 and c is not None:
                y = _contrast(y, c).float().double()
            elif op == 2 and s is not None:
                y = _saturation(y, s).float().double()
            elif op == 3 and h is not None:
                y = _hue(y, h).float().double()
        out = y.float()
    if draw["gray"]:
        out = _luma(out.double()).float().unsqueeze(-1).expand(-1, -1, 3).contiguous()
    if draw["blur"] is not None:
        out = gaussian_blur(out, draw["blur"])
    return out


_MEAN = torch.tensor(IMAGENET_MEAN, dtype=torch.float64)
_INV_STD = torch.tensor([1 / s for s in IMAGENET_STD], dtype=torch.float64)


def render_montages(images, draws, grid, crop, first, count):
    """Montages first..first+count-1 of a batch (NHWC float32, ImageNet-normalised), from the
    batch's draws and its images (float32 [h, w, 3] in [0, 1]; only those the cells need)."""
    cells = grid * grid
    size = grid * crop
    out = torch.empty(count, size, size, 3, dtype=torch.float32)
    for b in range(first, first + count):
        for k in range(cells):
            patch_index = draws["permutation"][b * cells + k]
            image = images[patch_index // cells]
            draw = draws["patches"][patch_index]
            patch = render_patch(image, draw, crop)
            if draw["flip"]:
                patch = patch.flip(1)
            r, c = divmod(k, grid)
            out[b - first, r * crop:(r + 1) * crop, c * crop:(c + 1) * crop] = ((patch.double() - _MEAN) * _INV_STD).float()
    return out


def to_float_image(rgb_bytes, width, height):
    """8-bit RGB bytes to a float32 [h, w, 3] image in [0, 1] (i / 255, as ToTensor)."""
    data = torch.frombuffer(bytearray(rgb_bytes), dtype=torch.uint8).view(height, width, 3)
    return (data.double() / 255).float()


# ---------------------------------------------------------------------------------------------
# The model (main/engine/nn/resnet.ts, decouple.ts, jigclu-model.ts) with the app's names.

LAYOUTS = {"resnet18": ((2, 2, 2, 2), False), "resnet50": ((3, 4, 6, 3), True)}


def channels(base, width):
    """round(base * width) as JS's Math.round (half up), at least 1."""
    return max(1, int(math.floor(base * width + 0.5)))


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = None
        if stride != 1 or inplanes != planes:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + identity)


class Bottleneck(nn.Module):
    def __init__(self, inplanes, planes, stride):
        super().__init__()
        out = planes * 4
        self.conv1 = nn.Conv2d(inplanes, planes, 1, 1, 0, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)  # torchvision v1.5
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out, 1, 1, 0, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or inplanes != out:
            self.downsample = nn.Sequential(nn.Conv2d(inplanes, out, 1, stride, bias=False), nn.BatchNorm2d(out))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + identity)


class JigCluNet(nn.Module):
    """The app's ResNet backbone (torchvision names, every width round(torchvision's * width))
    with the JigClu heads: its state_dict names are the app's checkpoint names."""

    def __init__(self, config):
        super().__init__()
        blocks, bottleneck = LAYOUTS[config["arch"]]
        width = config["width"]
        expansion = 4 if bottleneck else 1
        self.grid = config["grid"]
        self.decoupling = config.get("decoupling", "interpolate")
        stem = channels(64, width)
        self.conv1 = nn.Conv2d(3, stem, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(stem)
        inplanes = stem
        block = Bottleneck if bottleneck else BasicBlock
        for stage, count in enumerate(blocks):
            planes = channels(64 * 2 ** stage, width)
            layers = []
            for index in range(count):
                stride = 2 if index == 0 and stage > 0 else 1
                layers.append(block(inplanes, planes, stride))
                inplanes = planes * expansion
            setattr(self, "layer%d" % (stage + 1), nn.Sequential(*layers))
        self.out_channels = inplanes
        d = inplanes
        self.cluster_head = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, config["projectionDim"]))
        self.location_head = nn.Linear(d, self.grid * self.grid)

    def feature_map(self, x):
        """NCHW montages -> the last feature map [n, d, h/32, w/32]."""
        x = F.relu(self.bn1(self.conv1(x)))
        x = F.max_pool2d(x, 3, 2, 1)
        for stage in range(1, 5):
            x = getattr(self, "layer%d" % stage)(x)
        return x

    def decoupled(self, fmap):
        """The reference's decoupling: bilinear (align_corners False) to 8 x 8 (9 x 9 for m = 3),
        then average pooling to m x m; 'pool' (old runs) pools straight to m x m."""
        m = self.grid
        if self.decoupling == "interpolate":
            side = m * math.ceil(8 / m)
            fmap = F.interpolate(fmap, size=(side, side), mode="bilinear", align_corners=False)
        return F.adaptive_avg_pool2d(fmap, (m, m))

    def patch_features(self, x):
        """NCHW montages -> [n*m*m, d], row b*m*m + c = montage b, cell c (row-major), the app's order."""
        return app_rows(self.decoupled(self.feature_map(x)))

    def heads(self, features):
        """Patch features -> (L2-normalised cluster embeddings, location logits)."""
        return F.normalize(self.cluster_head(features), dim=1), self.location_head(features)

    def forward(self, x, gather=None):
        """NCHW montages -> the heads' outputs for every patch of the batch; with `gather`
        (several processes) the features of all processes' montages, in rank order."""
        features = self.patch_features(x)
        if gather is not None:
            features = gather(features)
        return self.heads(features)


def app_rows(cells):
    """Decoupled cells [n, d, m, m] -> [n*m*m, d], row b*m*m + c (the app's order; the reference
    stacks cell-major, c*n + b, which only renames the rows)."""
    n, d, m, _ = cells.shape
    return cells.permute(0, 2, 3, 1).reshape(n * m * m, d)


BASE_TEMPERATURE = 0.07


def supclu_loss(z, labels, temperature):
    """SupClu as the reference's SupConLoss with one view (main/engine/jigclu/losses.ts)."""
    n = z.shape[0]
    logits = z @ z.t() / temperature
    logits = logits - logits.max(dim=1, keepdim=True).values.detach()
    not_self = 1 - torch.eye(n, dtype=z.dtype, device=z.device)
    positives = (labels.view(-1, 1) == labels.view(1, -1)).to(z.dtype) * not_self
    log_prob = logits - torch.log((torch.exp(logits) * not_self).sum(1, keepdim=True))
    mean_log_prob_pos = (positives * log_prob).sum(1) / positives.sum(1)
    return (-(temperature / BASE_TEMPERATURE) * mean_log_prob_pos).mean()


def jigclu_losses(z, logits, cluster_labels, location_labels, config):
    """alpha * cluster + beta * location over every patch, with the batch accuracies
    (main/engine/jigclu/jigclu-model.ts losses and batchAccuracies)."""
    cluster = supclu_loss(z, cluster_labels, config["temperature"])
    location = F.cross_entropy(logits, location_labels)
    total = config["alpha"] * cluster + config["beta"] * location
    with torch.no_grad():
        location_accuracy = (logits.argmax(1) == location_labels).float().mean()
        similarity = z @ z.t() - 4 * torch.eye(z.shape[0], dtype=z.dtype, device=z.device)
        cluster_accuracy = (cluster_labels[similarity.argmax(1)] == cluster_labels).float().mean()
    return total, cluster, location, location_accuracy, cluster_accuracy


def make_optimizer(model, config):
    return torch.optim.SGD(model.parameters(), lr=config["lr"], momentum=config["momentum"], weight_decay=config["weightDecay"])


# ---------------------------------------------------------------------------------------------
# safetensors, written and read with the standard library (no safetensors package needed).

_DTYPES = {"F32": (torch.float32, 4), "I64": (torch.int64, 8), "I32": (torch.int32, 4), "F64": (torch.float64, 8), "U8": (torch.uint8, 1)}
_NAMES = {v[0]: k for k, v in _DTYPES.items()}


def _tensor_bytes(t):
    t = t.detach().to("cpu").contiguous()
    if sys.byteorder != "little":
        raise RuntimeError("safetensors are little-endian; this machine is not")
    return ctypes.string_at(t.data_ptr(), t.numel() * t.element_size())


def write_safetensors(path, tensors, metadata=None):
    """Writes [(name, tensor)] in order with string metadata, atomically."""
    header = {"__metadata__": {k: str(v) for k, v in (metadata or {}).items()}}
    offset = 0
    blobs = []
    for name, t in tensors:
        blob = _tensor_bytes(t)
        header[name] = {"dtype": _NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":"))
    text += " " * ((8 - (len(text.encode()) + 8) % 8) % 8)
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text.encode())))
        f.write(text.encode())
        for blob in blobs:
            f.write(blob)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_safetensors(path):
    """Returns ({name: tensor}, metadata) in file order."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError("%s is not a safetensors file (shorter than its header length)" % path)
    (length,) = struct.unpack("<Q", raw[:8])
    if length > len(raw) - 8:
        raise ValueError("%s is not a safetensors file (its header runs past the end)" % path)
    header = json.loads(raw[8:8 + length].decode("utf-8"))
    metadata = header.pop("__metadata__", None) or {}
    start = 8 + length
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] not in _DTYPES:
            raise ValueError("%s: tensor %s has dtype %s (F32, F64, I32, I64 and U8 are read)" % (path, name, entry["dtype"]))
        dtype, _ = _DTYPES[entry["dtype"]]
        a, b = entry["data_offsets"]
        buf = bytearray(raw[start + a:start + b])
        t = torch.frombuffer(buf, dtype=dtype) if len(buf) else torch.zeros(0, dtype=dtype)
        tensors[name] = t.reshape(entry["shape"])
    return tensors, metadata


# ---------------------------------------------------------------------------------------------
# The app's checkpoint layout <-> PyTorch's: conv filters HWIO <-> OIHW, Linear [in, out] <-> [out, in].

MOMENTUM_PREFIX = "optimizer.momentum."


def app_to_torch(t):
    if t.dim() == 4:
        return t.permute(3, 2, 0, 1).contiguous()
    if t.dim() == 2:
        return t.t().contiguous()
    return t


def torch_to_app(t):
    if t.dim() == 4:
        return t.permute(2, 3, 1, 0).contiguous()
    if t.dim() == 2:
        return t.t().contiguous()
    return t


def _named_state(model):
    """(name, tensor) of every weight and running statistic, in the app's order (no counters)."""
    return [(k, v) for k, v in model.state_dict().items() if not k.endswith("num_batches_tracked")]


def load_torch_layout(model, optimizer, tensors, source):
    """Loads weights (and momentum buffers, when present) in torch layout, by the app's names."""
    state = model.state_dict()
    for name, target in _named_state(model):
        if name not in tensors:
            raise ValueError("%s has no %s: it was written for another architecture" % (source, name))
        value = tensors[name]
        if tuple(value.shape) != tuple(target.shape):
            raise ValueError("%s has shape %s in %s but %s in the model" % (name, list(value.shape), source, list(target.shape)))
        with torch.no_grad():
            state[name].copy_(value)
    params = dict(model.named_parameters())
    for name, value in tensors.items():
        if name.startswith(MOMENTUM_PREFIX) and optimizer is not None:
            param = params[name[len(MOMENTUM_PREFIX):]]
            optimizer.state[param]["momentum_buffer"] = value.clone().to(param.device)


def save_app_checkpoint(path, model, optimizer, config, position, extra):
    """The app's checkpoint: weights, BN statistics and momentum buffers in tfjs layout, with the
    config and position in the metadata (main/engine/jigclu/trainer.ts serialize)."""
    tensors = [(name, torch_to_app(t.detach().cpu().float())) for name, t in _named_state(model)]
    by_param = {id(p): name for name, p in model.named_parameters()}
    for group in optimizer.param_groups:
        for p in group["params"]:
            buf = optimizer.state.get(p, {}).get("momentum_buffer")
            if buf is not None:
                tensors.append((MOMENTUM_PREFIX + by_param[id(p)], torch_to_app(buf.detach().cpu().float())))
    metadata = {"format": CHECKPOINT_FORMAT, "layout": "tfjs-nhwc-hwio", "config": json.dumps(config), "position": json.dumps(position)}
    metadata.update(extra)
    write_safetensors(path, tensors, metadata)


# ---------------------------------------------------------------------------------------------
# Several processes: features gathered across ranks, BatchNorm over the global batch.


class _GatherRows(torch.autograd.Function):
    """all_gather of each rank's rows (rank order); the backward sums the gradient over ranks and
    keeps this rank's rows. Every rank computes the same loss, so each gets W times its rows'
    gradient and DDP's average over W ranks leaves exactly the one-process gradient."""

    @staticmethod
    def forward(ctx, x, group):
        ctx.group = group
        ctx.rows = x.shape[0]
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size(group))]
        dist.all_gather(parts, x.contiguous(), group=group)
        return torch.cat(parts, 0)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.contiguous()
        dist.all_reduce(grad, group=ctx.group)
        rank = dist.get_rank(ctx.group)
        return grad[rank * ctx.rows:(rank + 1) * ctx.rows], None


class _GlobalBatchNorm(torch.autograd.Function):
    """Training-mode BatchNorm over the batch of every rank (two all-reduced passes, like
    nn.SyncBatchNorm, which refuses CPU tensors). Returns y and the global mean, biased
    variance and element count per channel."""

    @staticmethod
    def forward(ctx, x, weight, bias, eps, group):
        c = x.shape[1]
        sums = torch.cat([x.sum(dim=(0, 2, 3)), x.new_tensor([x.numel() // c])])
        dist.all_reduce(sums, group=group)
        count = sums[c]
        mean = sums[:c] / count
        centred = x - mean.view(1, c, 1, 1)
        squares = (centred * centred).sum(dim=(0, 2, 3))
        dist.all_reduce(squares, group=group)
        var = squares / count
        invstd = torch.rsqrt(var + eps)
        xhat = centred * invstd.view(1, c, 1, 1)
        ctx.save_for_backward(xhat, weight, invstd)
        ctx.count = count
        ctx.group = group
        ctx.mark_non_differentiable(mean, var, count)
        return xhat * weight.view(1, c, 1, 1) + bias.view(1, c, 1, 1), mean, var, count

    @staticmethod
    def backward(ctx, dy, _mean, _var, _count):
        xhat, weight, invstd = ctx.saved_tensors
        c = xhat.shape[1]
        local = torch.cat([dy.sum(dim=(0, 2, 3)), (dy * xhat).sum(dim=(0, 2, 3))])
        # This rank's share of dgamma and dbeta; DDP averages the ranks' shares.
        dbeta, dgamma = local[:c].clone(), local[c:].clone()
        dist.all_reduce(local, group=ctx.group)
        sum_dy, sum_dy_xhat = local[:c].view(1, c, 1, 1), local[c:].view(1, c, 1, 1)
        n = ctx.count
        dx = (weight * invstd).view(1, c, 1, 1) / n * (n * dy - sum_dy - xhat * sum_dy_xhat)
        return dx, dgamma, dbeta, None, None


class GlobalBatchNorm2d(nn.BatchNorm2d):
    """nn.BatchNorm2d whose training statistics cover every rank's batch (CPU processes)."""

    group = None

    def forward(self, x):
        if not self.training:
            return super().forward(x)
        y, mean, var, count = _GlobalBatchNorm.apply(x, self.weight, self.bias, self.eps, self.group)
        with torch.no_grad():
            self.running_mean.mul_(1 - self.momentum).add_(mean, alpha=self.momentum)
            self.running_var.mul_(1 - self.momentum).add_(var * count / (count - 1), alpha=self.momentum)
            self.num_batches_tracked.add_(1)
        return y


def use_global_batchnorm(module, group):
    """Swaps every nn.BatchNorm2d for a GlobalBatchNorm2d with the same state (same names)."""
    for name, child in module.named_children():
        if isinstance(child, nn.BatchNorm2d) and not isinstance(child, GlobalBatchNorm2d):
            replacement = GlobalBatchNorm2d(child.num_features, child.eps, child.momentum)
            # The same parameter and buffer objects, so the optimizer keeps updating them.
            replacement.weight, replacement.bias = child.weight, child.bias
            replacement.running_mean, replacement.running_var = child.running_mean, child.running_var
            replacement.num_batches_tracked = child.num_batches_tracked
            replacement.group = group
            setattr(module, name, replacement)
        else:
            use_global_batchnorm(child, group)
    return module


# ---------------------------------------------------------------------------------------------
# The job folder written by `jigclu export-job`: job.json, manifest.tsv, init.safetensors, golden/.

MANIFEST_COLUMNS = ["index", "root", "path", "sha256", "bytes", "width", "height"]


class JobError(Exception):
    """A problem with the job or its images, said so a person can fix it."""


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_job(job_dir):
    path = os.path.join(job_dir, "job.json")
    if not os.path.exists(path):
        raise JobError("%s has no job.json: give the folder `jigclu export-job` wrote (--job)" % job_dir)
    with open(path) as f:
        job = json.load(f)
    if job.get("format") != JOB_FORMAT:
        raise JobError("%s is not a JigClu job (format %r, expected %r)" % (path, job.get("format"), JOB_FORMAT))
    return job


def parse_roots(pairs, job):
    """The job's root folders, with `--root r0=/data/photos` remapping them on this machine."""
    roots = {alias: folder for alias, folder in job["roots"].items()}
    for pair in pairs or []:
        alias, sep, folder = pair.partition("=")
        if not sep or alias not in roots:
            raise JobError("--root %s: give ALIAS=FOLDER with an alias of job.json's roots (%s)" % (pair, ", ".join(sorted(roots))))
        roots[alias] = folder
    return roots


def read_manifest(job_dir, job, roots):
    """Every image in the app's order: (absolute path, sha256, bytes, width, height)."""
    path = os.path.join(job_dir, job["manifest"]["file"])
    if sha256_of(path) != job["manifest"]["sha256"]:
        raise JobError("%s was changed after the export (its sha256 is not job.json's): export the job again" % path)
    rows = []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        if header != MANIFEST_COLUMNS:
            raise JobError("%s: the header is not %s" % (path, "\t".join(MANIFEST_COLUMNS)))
        for number, line in enumerate(f, start=2):
            index, root, rel, digest, size, width, height = line.rstrip("\n").split("\t")
            if int(index) != len(rows):
                raise JobError("%s line %d: index %s out of order" % (path, number, index))
            rows.append((os.path.join(roots[root], *rel.split("/")), digest, int(size), int(width), int(height)))
    if len(rows) != job["imageCount"]:
        raise JobError("%s lists %d images, job.json says %d" % (path, len(rows), job["imageCount"]))
    return rows


def verify_images(rows, mode, threads=8):
    """A missing or changed image is an error naming it (never dropped: the batch order counts them)."""
    from concurrent.futures import ThreadPoolExecutor

    def check(row):
        path, digest, size = row[0], row[1], row[2]
        if not os.path.isfile(path):
            return "%s is missing" % path
        if os.path.getsize(path) != size:
            return "%s has changed (%d bytes, the export saw %d)" % (path, os.path.getsize(path), size)
        if mode == "full" and sha256_of(path) != digest:
            return "%s has changed (its content hash is not the export's)" % path
        return None

    with ThreadPoolExecutor(threads) as pool:
        problems = [p for p in pool.map(check, rows) if p]
    if problems:
        more = "" if len(problems) <= 5 else " (and %d more)" % (len(problems) - 5)
        raise JobError("%d of %d images cannot be used: %s%s. Restore them, or map their folder with --root ALIAS=FOLDER; "
                       "the batch order depends on every image, so none is skipped." % (len(problems), len(rows), "; ".join(problems[:5]), more))


def cached_size(width, height, max_short):
    """The app's pre-resize (main/data/decode.ts): shorter side at most max_short, never upscaled."""
    shorter = min(width, height)
    if shorter <= max_short:
        return width, height
    scale = max_short / shorter
    return max(1, int(math.floor(width * scale + 0.5))), max(1, int(math.floor(height * scale + 0.5)))


def load_image(row, max_short):
    """One image as the app caches it: EXIF orientation, alpha on white, RGB, the pre-resize
    (Lanczos, as the app's sharp resize), then floats in [0, 1] as [h, w, 3]."""
    from PIL import Image, ImageOps

    path, _, _, width, height = row
    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened)
        if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
            rgba = image.convert("RGBA")
            image = Image.new("RGB", rgba.size, (255, 255, 255))
            image.paste(rgba, mask=rgba.split()[3])
        else:
            image = image.convert("RGB")
        if image.size != (width, height):
            raise JobError("%s is %dx%d, the export saw %dx%d: it has changed" % (path, image.size[0], image.size[1], width, height))
        size = cached_size(width, height, max_short)
        if size != image.size:
            image = image.resize(size, Image.LANCZOS)
        return to_float_image(image.tobytes(), size[0], size[1])


class StepBatches(torch.utils.data.Dataset):
    """Item i = global step first + i: this rank's montages and the whole batch's labels."""

    def __init__(self, rows, config, steps, first, count, rank, world, cache):
        self.rows, self.config, self.steps, self.first, self.count = rows, config, steps, first, count
        self.rank, self.world, self.cache_limit = rank, world, cache
        self.cache = {}

    def __len__(self):
        return self.count

    def image(self, index):
        if index not in self.cache:
            if len(self.cache) >= self.cache_limit:
                self.cache.pop(next(iter(self.cache)))
            self.cache[index] = load_image(self.rows[index], 2 * self.config["crop"])
        return self.cache[index]

    def __getitem__(self, i):
        step = self.first + i
        config = self.config
        epoch, b = divmod(step, self.steps)
        indices = batch_indices(config["seed"], config["batch"], len(self.rows), epoch, b)
        sizes = [cached_size(self.rows[k][3], self.rows[k][4], 2 * config["crop"]) for k in indices]
        draws = draw_batch(sizes, config["grid"], config["cross"], Rng(seed_of(config["seed"], epoch, b)), REFERENCE_AUGMENTATION)
        per_rank = config["batch"] // self.world
        first = self.rank * per_rank
        cells = config["grid"] ** 2
        needed = {draws["permutation"][slot] // cells for slot in range(first * cells, (first + per_rank) * cells)}
        images = {image: self.image(indices[image]) for image in needed}
        montages = render_montages(images, draws, config["grid"], config["crop"], first, per_rank)
        return step, montages, torch.tensor(draws["cluster"]), torch.tensor(draws["location"])


# ---------------------------------------------------------------------------------------------
# Training.


def log(message, rank=0):
    if rank == 0:
        print("[jigclu %s] %s" % (time.strftime("%H:%M:%S"), message), file=sys.stderr, flush=True)


def whole_safetensors(path):
    """True when the file is as long as its header says (a checkpoint cut off by a crash is not)."""
    try:
        with open(path, "rb") as f:
            (length,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(length).decode("utf-8"))
        end = max([entry["data_offsets"][1] for name, entry in header.items() if name != "__metadata__"] or [0])
        return os.path.getsize(path) == 8 + length + end
    except (OSError, ValueError, KeyError, struct.error):
        return False


def latest_checkpoint(out):
    """The newest whole checkpoint of an output folder; cut-off ones are renamed *.damaged."""
    folder = os.path.join(out, "checkpoints")
    if not os.path.isdir(folder):
        return None
    for name in sorted((n for n in os.listdir(folder) if n.startswith("step-") and n.endswith(".safetensors")), reverse=True):
        path = os.path.join(folder, name)
        if whole_safetensors(path):
            return path
        os.replace(path, path + ".damaged")
        log("%s is cut off (a crash while writing it): set aside as %s.damaged" % (name, name))
    return None


def write_json(path, value):
    tmp = "%s.%d.tmp" % (path, os.getpid())
    with open(tmp, "w") as f:
        json.dump(value, f, indent=2)
    os.replace(tmp, path)


def train(args):
    job_dir = os.path.abspath(args.job)
    job = load_job(job_dir)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    device = torch.device("cuda", local_rank) if cuda else torch.device("cpu")
    if cuda:
        torch.cuda.set_device(device)
    if world > 1:
        dist.init_process_group("nccl" if cuda else "gloo")
    config = dict(job["config"])
    if args.epochs:
        config["epochs"] = args.epochs
    if config["batch"] % world:
        raise JobError("a batch of %d montages cannot be split over %d processes: use a process count that divides it" % (config["batch"], world))
    out = os.path.abspath(args.out)
    problem = None
    if rank == 0:
        try:
            os.makedirs(os.path.join(out, "checkpoints"), exist_ok=True)
            roots = parse_roots(args.root, job)
            rows = read_manifest(job_dir, job, roots)
            log("checking %d images (%s)..." % (len(rows), "size and content hash" if args.verify == "full" else "size"))
            verify_images(rows, args.verify)
        except (JobError, OSError) as error:
            problem = str(error)
    if world > 1:
        shared = [problem]
        dist.broadcast_object_list(shared, src=0)
        problem = shared[0]
    if problem:
        raise JobError(problem)
    rows = read_manifest(job_dir, job, parse_roots(args.root, job))
    steps = steps_per_epoch(len(rows), config["batch"])
    if steps != job["stepsPerEpoch"]:
        raise JobError("%d images make %d steps per epoch, job.json says %d" % (len(rows), steps, job["stepsPerEpoch"]))
    torch.manual_seed(0)
    model = JigCluNet(config)
    optimizer = make_optimizer(model, config)
    resume = latest_checkpoint(out)
    if resume:
        tensors, metadata = read_safetensors(resume)
        if metadata.get("jobId") != job["jobId"]:
            raise JobError("%s holds checkpoints of another job (%s): give an empty --out folder" % (out, metadata.get("jobId")))
        load_torch_layout(model, optimizer, {k: app_to_torch(v) for k, v in tensors.items()}, resume)
        position = json.loads(metadata["position"])
        log("resuming from %s (epoch %d, step %d)" % (os.path.basename(resume), position["epoch"], position["globalStep"]), rank)
    else:
        tensors, _ = read_safetensors(os.path.join(job_dir, job["init"]["file"]))
        load_torch_layout(model, optimizer, tensors, job["init"]["file"])
        position = dict(job["start"])
    model.to(device)
    for state in optimizer.state.values():
        if "momentum_buffer" in state:
            state["momentum_buffer"] = state["momentum_buffer"].to(device)
    engine = "torch DDP x %d" % world
    gather = None
    net = model
    if world > 1:
        if cuda:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        else:
            use_global_batchnorm(model, dist.new_group())
        gather_group = dist.new_group()
        gather = lambda rows_: _GatherRows.apply(rows_, gather_group)  # noqa: E731
        net = nn.parallel.DistributedDataParallel(model, device_ids=[local_rank] if cuda else None, broadcast_buffers=False)
    total_steps = steps * config["epochs"]
    first = position["globalStep"]
    if first >= total_steps:
        raise JobError("the job starts at epoch %d and --epochs is %d: nothing to train; give --epochs more than %d (the schedule's length in all)" % (
            position["epoch"], config["epochs"], position["epoch"]))
    if rank == 0:
        for name in ("job.json", job["manifest"]["file"]):
            with open(os.path.join(job_dir, name), "rb") as src, open(os.path.join(out, name), "wb") as dst:
                dst.write(src.read())
        metrics_path = os.path.join(out, "metrics.jsonl")
        kept = []
        if os.path.exists(metrics_path):
            with open(metrics_path) as f:
                kept = [line for line in f if line.strip() and json.loads(line)["step"] <= first]
        with open(metrics_path, "w") as f:
            f.writelines(kept)
    status = {"format": TRAINER_FORMAT, "jobId": job["jobId"], "engine": engine, "worldSize": world, "device": str(device), "torch": torch.__version__,
              "python": sys.version.split()[0], "startedAt": datetime.datetime.utcnow().isoformat() + "Z", "status": "running", "position": position, "epochs": config["epochs"]}
    if rank == 0:
        write_json(os.path.join(out, "trainer.json"), status)
    log("%s on %s: %d images, batch %d (%d montages per process), %d steps per epoch, epochs %d..%d" % (
        engine, device, len(rows), config["batch"], config["batch"] // world, steps, position["epoch"] + 1, config["epochs"]), rank)
    dataset = StepBatches(rows, config, steps, first, max(0, total_steps - first), rank, world, args.cache)
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=args.workers)
    extra = {"jobId": job["jobId"], "engine": engine, "files": str(len(rows))}

    def checkpoint(kind):
        path = os.path.join(out, "checkpoints", "step-%08d.safetensors" % position["globalStep"])
        save_app_checkpoint(path, model, optimizer, config, position, dict(extra, kind=kind))
        names = sorted(n for n in os.listdir(os.path.join(out, "checkpoints")) if n.startswith("step-"))
        for old in names[:max(0, len(names) - config["keepCheckpoints"])]:
            os.remove(os.path.join(out, "checkpoints", old))

    net.train()
    started = time.time()
    last = time.time()
    for step, montages, cluster_labels, location_labels in loader:
        assert step == position["globalStep"]
        epoch = position["epoch"]
        lr = learning_rate_at(config, epoch)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x = montages.permute(0, 3, 1, 2).contiguous().to(device)
        z, logits = net(x, gather) if gather else net(x)
        total, cluster, location, location_accuracy, cluster_accuracy = jigclu_losses(z, logits, cluster_labels.to(device), location_labels.to(device), config)
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()
        position["globalStep"] += 1
        position["stepInEpoch"] += 1
        if position["stepInEpoch"] >= steps:
            position["epoch"] += 1
            position["stepInEpoch"] = 0
        now = time.time()
        values = [v.item() for v in (total, cluster, location, location_accuracy, cluster_accuracy)]
        if not math.isfinite(values[0]):
            raise JobError("the loss became %r at step %d: lower the learning rate and resume from the last checkpoint" % (values[0], position["globalStep"]))
        if rank == 0:
            metric = {"step": position["globalStep"], "epoch": epoch, "total": values[0], "cluster": values[1], "location": values[2], "lr": lr,
                      "imagesPerSecond": config["batch"] / max(1e-9, now - last), "locationAccuracy": values[3], "clusterAccuracy": values[4]}
            with open(os.path.join(out, "metrics.jsonl"), "a") as f:
                f.write(json.dumps(metric) + "\n")
            epoch_ended = position["stepInEpoch"] == 0
            if epoch_ended or position["globalStep"] % config["checkpointEvery"] == 0:
                checkpoint("final" if position["globalStep"] == total_steps else "epoch" if epoch_ended else "step")
            if epoch_ended:
                log("epoch %d/%d: loss %.4f (cluster %.4f, location %.4f), %.1f images/s" % (position["epoch"], config["epochs"], values[0], values[1], values[2], metric["imagesPerSecond"]))
        last = now
    if rank == 0:
        status.update(status="finished", position=position, finishedAt=datetime.datetime.utcnow().isoformat() + "Z", seconds=time.time() - started)
        write_json(os.path.join(out, "trainer.json"), status)
        log("finished at epoch %d, step %d; checkpoints in %s" % (position["epoch"], position["globalStep"], os.path.join(out, "checkpoints")))
    if world > 1:
        dist.barrier()
        dist.destroy_process_group()


# ---------------------------------------------------------------------------------------------
# selftest: the app-made batches in golden/ against this machine's torch, before a long run.


def selftest(args):
    job_dir = os.path.abspath(args.job)
    job = load_job(job_dir)
    config = job["config"]
    with open(os.path.join(job_dir, "golden", "golden.json")) as f:
        golden = json.load(f)
    script_hash = sha256_of(os.path.abspath(__file__))
    if script_hash != job["trainer"]["sha256"]:
        print("note: this trainer's sha256 differs from the one the app exported (%s)" % job["trainer"]["sha256"][:12])
    init, _ = read_safetensors(os.path.join(job_dir, job["init"]["file"]))
    tolerance = golden["tolerance"]
    failures = []
    rows = None
    if not args.skip_files:
        rows = read_manifest(job_dir, job, parse_roots(args.root, job))
    for case in golden["batches"]:
        tensors, _ = read_safetensors(os.path.join(job_dir, "golden", case["file"]))
        label = "batch %d of epoch %d (%d images)" % (case["batchIndex"], case["epoch"], len(case["indices"]))
        # The loss of the app's montages with the start weights, in training mode, as the app computed it.
        model = JigCluNet(config)
        load_torch_layout(model, None, init, job["init"]["file"])
        model.train()
        x = tensors["montages"].permute(0, 3, 1, 2).contiguous()
        cluster_labels = tensors["cluster"].long()
        location_labels = tensors["location"].long()
        with torch.no_grad():
            z, logits = model(x)
            losses = jigclu_losses(z, logits, cluster_labels, location_labels, config)[:3]
        for name, got in zip(("total", "cluster", "location"), losses):
            want = case["losses"][name]
            if abs(got.item() - want) > tolerance * max(1.0, abs(want)):
                failures.append("%s: %s loss %.6f here, %.6f in the app" % (label, name, got.item(), want))
        # The data port: the same batch drawn and rendered here from the app's cached pixels.
        images = [to_float_image(bytes(_tensor_bytes(tensors["image.%d" % k])), case["sizes"][k][0], case["sizes"][k][1]) for k in range(len(case["indices"]))]
        draws = draw_batch([tuple(s) for s in case["sizes"]], config["grid"], config["cross"], Rng(seed_of(config["seed"], case["epoch"], case["batchIndex"])), REFERENCE_AUGMENTATION)
        if draws["permutation"] != tensors["permutation"].tolist() or draws["cluster"] != cluster_labels.tolist() or draws["location"] != location_labels.tolist():
            failures.append("%s: the permutation or labels drawn here differ from the app's" % label)
        else:
            montages = render_montages(images, draws, config["grid"], config["crop"], 0, len(images))
            worst = (montages - tensors["montages"]).abs().max().item()
            if worst > tolerance:
                failures.append("%s: montages differ from the app's by up to %.2g" % (label, worst))
        # Decoding: this machine's PIL and the app's sharp give about the same cached pixels.
        if rows is not None:
            for k, index in enumerate(case["indices"]):
                here = load_image(rows[index], 2 * config["crop"])
                if list(here.shape[:2]) != [case["sizes"][k][1], case["sizes"][k][0]]:
                    failures.append("%s: image %d decodes to %dx%d here, %dx%d in the app" % (label, index, here.shape[1], here.shape[0], case["sizes"][k][0], case["sizes"][k][1]))
                    continue
                levels = ((here - images[k]).abs().mean() * 255).item()
                if levels > golden["decodeLevels"]:
                    failures.append("%s: %s decodes %.1f levels away from the app's pixels on average" % (label, rows[index][0], levels))
        print("%s: losses %s" % (label, " ".join("%.5f" % v.item() for v in losses)))
    if failures:
        print("selftest FAILED:\n  " + "\n  ".join(failures))
        return 1
    print("selftest passed: %d app-made batches give the app's losses (to %g) and montages%s, with torch %s" % (
        len(golden["batches"]), tolerance, "" if args.skip_files else ", and the images decode as in the app", torch.__version__))
    return 0


# ---------------------------------------------------------------------------------------------
# convert: a PyTorch .pth / .pth.tar (torchvision state dict or a reference JigClu checkpoint)
# to safetensors, for `jigclu import-weights` (the app cannot read Python pickles).


def convert(args):
    loaded = torch.load(args.input, map_location="cpu")
    state = loaded.get("state_dict", loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise JobError("%s holds no state dict of tensors (a dict, or a dict with 'state_dict')" % args.input)
    tensors = [(name, t.float() if t.is_floating_point() else t.long()) for name, t in state.items()]
    write_safetensors(args.output, tensors, {"source": os.path.basename(args.input), "converted_by": "jigclu_ddp.py convert"})
    print("wrote %s: %d tensors" % (args.output, len(tensors)))
    return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv.pop(0) if argv and argv[0] in ("train", "selftest", "convert") else "train"
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(prog="jigclu_ddp.py %s" % command, description=__doc__.split("\n\n")[0])
    if command == "convert":
        parser.add_argument("input", help="a .pth / .pth.tar / .pt file (torch.load)")
        parser.add_argument("output", help="the .safetensors file to write")
    else:
        parser.add_argument("--job", default=here, help="the job folder (default: the folder of this script)")
        parser.add_argument("--root", action="append", metavar="ALIAS=FOLDER", help="where a root of job.json is on this machine (repeatable)")
    if command == "train":
        parser.add_argument("--out", required=True, help="the output folder: checkpoints/, metrics.jsonl, trainer.json (a rerun resumes from it)")
        parser.add_argument("--epochs", type=int, help="train to this many epochs in all (the schedule's length; default: the job's)")
        parser.add_argument("--workers", type=int, default=2, help="data loader processes per training process (0: in the training process)")
        parser.add_argument("--cache", type=int, default=4096, help="decoded images kept per data loader process")
        parser.add_argument("--verify", choices=["full", "size"], default="full", help="check every image's size and content hash (full) or size only")
        parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    if command == "selftest":
        parser.add_argument("--skip-files", action="store_true", help="check the golden batches only, not the decoding of the images")
    args = parser.parse_args(argv)
    try:
        if command == "convert":
            return convert(args)
        if command == "selftest":
            return selftest(args)
        train(args)
        return 0
    except JobError as error:
        print("error: %s" % error, file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
