"""The JigClu training step in PyTorch on a CUDA device: the baseline of `npm run bench:gpu`.

The model, losses and optimizer are the app's PyTorch port (scaleout/jigclu_ddp.py: JigCluNet,
jigclu_losses, make_optimizer), configured with the app's resolved PretrainConfig (--config, JSON).
Random montages of the preset's shape; one untimed warm-up step, then steps for at least --seconds.
Prints one JSON line: {"imagesPerSecond": ..., "steps": ..., "warmupSeconds": ...}.
"""
import argparse
import json
import os
import sys
import time

import torch

here = os.path.dirname(os.path.abspath(__file__))
# Beside this file in the GPU bench bundle; scaleout/ in the repository.
sys.path[:0] = [here, os.path.join(here, "..", "..", "scaleout")]
from jigclu_ddp import JigCluNet, jigclu_losses, make_optimizer  # noqa: E402


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--config", required=True, help="the app's resolved PretrainConfig as JSON")
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    config = json.loads(args.config)
    device = torch.device(args.device)
    torch.manual_seed(1)
    model = JigCluNet(config).to(device).train()
    optimizer = make_optimizer(model, config)
    batch, grid = config["batch"], config["grid"]
    size, cells = grid * config["crop"], grid * grid
    montages = torch.randn(batch, 3, size, size, device=device)
    clusters = torch.arange(batch * cells, device=device) // cells
    locations = torch.arange(batch * cells, device=device) % cells

    def step():
        total = jigclu_losses(model, model(montages), clusters, locations, config)[0]
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
    steps = 0
    while steps < 3 or (time.perf_counter() - started < args.seconds and steps < 200):
        step()
        steps += 1
    sync()
    elapsed = time.perf_counter() - started
    print(json.dumps({"imagesPerSecond": steps * batch / elapsed, "steps": steps, "warmupSeconds": started - warm}))


if __name__ == "__main__":
    main()
