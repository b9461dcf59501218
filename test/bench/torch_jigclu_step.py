"""PyTorch's JigClu training step on a batch written by torch-step.ts, timed on N threads.

The model, loss and optimizer are scaleout/jigclu_ddp.py's port of the app's (the same ResNet
with the app's widths and names, decoupling, heads, SupClu + location loss, SGD), built from the
app's config. Prints one JSON line: {"threads", "steps", "median_ms", "images_per_second"}.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scaleout"))
from jigclu_ddp import JigCluNet, jigclu_losses, make_optimizer  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-file", required=True, help="float32 montages [n, size, size, 3], then int32 cluster and location labels")
    parser.add_argument("--n", type=int, required=True)
    parser.add_argument("--size", type=int, required=True)
    parser.add_argument("--config", required=True, help="the app's pretraining config as JSON")
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    config = json.loads(args.config)
    n, size, m = args.n, args.size, config["grid"]
    raw = np.fromfile(args.batch_file, dtype=np.uint8)
    floats = n * size * size * 3 * 4
    montages = np.frombuffer(raw[:floats].tobytes(), dtype=np.float32).reshape(n, size, size, 3).copy()
    labels = np.frombuffer(raw[floats:].tobytes(), dtype=np.int32).reshape(2, n * m * m)

    model = JigCluNet(config).train()
    optimizer = make_optimizer(model, config)

    def step():
        # As the tfjs step: the batch becomes tensors inside the step.
        x = torch.from_numpy(montages).permute(0, 3, 1, 2).contiguous()
        cluster_labels = torch.from_numpy(labels[0].astype(np.int64))
        location_labels = torch.from_numpy(labels[1].astype(np.int64))
        total = jigclu_losses(model, model(x), cluster_labels, location_labels, config)[0]
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        return total.item()

    for _ in range(2):
        step()
    times = []
    started = time.perf_counter()
    while len(times) < 5 or time.perf_counter() - started < args.seconds:
        begin = time.perf_counter()
        step()
        times.append(time.perf_counter() - begin)
    median = sorted(times)[len(times) // 2]
    print(json.dumps({"threads": torch.get_num_threads(), "steps": len(times), "median_ms": median * 1000, "images_per_second": n / median}))


if __name__ == "__main__":
    main()
