"""The JigClu training step in PyTorch: the baseline of `npm run bench` (CPU, N threads, on the
batch torch-step.ts writes) and of `npm run bench:gpu` (CUDA, random montages of the preset's shape).

The model, losses and optimizer are the app's PyTorch port (scaleout/jigclu_ddp.py: JigCluNet,
jigclu_losses, make_optimizer), configured with the app's resolved PretrainConfig (--config, JSON).
One untimed warm-up step, then steps for at least --seconds (at least 3, at most 200).
Prints one JSON line: {"imagesPerSecond", "medianImagesPerSecond", "steps", "warmupSeconds", "threads", "cores"}
(the median is per step, meaningful on the CPU, where a step is synchronous).
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
# Beside this file in the GPU bench bundle; scaleout/ in the repository.
sys.path[:0] = [here, os.path.join(here, "..", "..", "scaleout")]
from jigclu_ddp import JigCluNet, jigclu_losses, make_optimizer  # noqa: E402


def read_batch(path, n, size, cells):
    """float32 montages [n, size, size, 3], then int32 cluster and location labels (n * cells each)."""
    raw = np.fromfile(path, dtype=np.uint8)
    floats = n * size * size * 3 * 4
    montages = np.frombuffer(raw[:floats].tobytes(), dtype=np.float32).reshape(n, size, size, 3).copy()
    labels = np.frombuffer(raw[floats:].tobytes(), dtype=np.int32).reshape(2, n * cells).astype(np.int64)
    return montages, labels


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--config", required=True, help="the app's resolved PretrainConfig as JSON")
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--threads", type=int, help="torch's CPU threads (default: torch's own choice)")
    parser.add_argument("--batch-file", help="a batch written by test/bench/torch-step.ts (else random montages)")
    parser.add_argument("--n", type=int, help="images in --batch-file")
    parser.add_argument("--size", type=int, help="montage side in --batch-file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = json.loads(args.config)
    device = torch.device(args.device)
    torch.manual_seed(1)
    model = JigCluNet(config).to(device).train()
    optimizer = make_optimizer(model, config)
    grid = config["grid"]
    cells = grid * grid
    if args.batch_file:
        batch = args.n
        pixels, labels = read_batch(args.batch_file, args.n, args.size, cells)
    else:
        batch = config["batch"]
        size = grid * config["crop"]
        montages = torch.randn(batch, 3, size, size, device=device)
        clusters = torch.arange(batch * cells, device=device) // cells
        locations = torch.arange(batch * cells, device=device) % cells

    def step():
        if args.batch_file:
            # As the tfjs step: the batch becomes tensors inside the step.
            x = torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous().to(device)
            z, logits = model(x)
            total = jigclu_losses(z, logits, torch.from_numpy(labels[0]).to(device), torch.from_numpy(labels[1]).to(device), config)[0]
        else:
            z, logits = model(montages)
            total = jigclu_losses(z, logits, clusters, locations, config)[0]
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        optimizer.step()

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    warm = time.perf_counter()
    step()
    sync()
    started = time.perf_counter()
    cpu_started = time.process_time()
    times = []
    while len(times) < 3 or (time.perf_counter() - started < args.seconds and len(times) < 200):
        begin = time.perf_counter()
        step()
        times.append(time.perf_counter() - begin)
    sync()
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    median = sorted(times)[len(times) // 2]
    print(json.dumps({
        "imagesPerSecond": len(times) * batch / elapsed,
        "medianImagesPerSecond": batch / median,
        "steps": len(times),
        "warmupSeconds": started - warm,
        "threads": torch.get_num_threads(),
        # CPU-seconds of all this process's threads per second of the timed steps: the cores it got.
        "cores": cpu / elapsed,
    }))


if __name__ == "__main__":
    main()
