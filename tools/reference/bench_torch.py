"""PyTorch reference timings for `make bench`: the M2D ViT-Base encoder (timm blocks, as the
official portable_m2d.py runtime builds it) on a 10 s clip, chunked like encode_lms (608 + 400
frames, chunks run one after another), at batch 1 and 8, fp32 and bf16 autocast, 2 threads.
Prints one JSON object. Needs torch (scripts/peers-venv.sh makes the virtualenv outside the repo)."""
import json, os, resource, sys, time

import torch
from functools import partial

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers"))
from bench_peers import block_class  # noqa: E402  (timm's block in plain torch: no timm needed)

Block = block_class()


class Encoder(torch.nn.Module):
    def __init__(self, dim=768, depth=12, heads=12):
        super().__init__()
        self.proj = torch.nn.Conv2d(1, dim, 16, 16)
        self.cls = torch.nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = torch.nn.Parameter(torch.zeros(1, 1 + 5 * 38, dim))
        norm = partial(torch.nn.LayerNorm, eps=1e-6)
        assert dim == 768 and heads == 12, "the shared block is ViT-Base's"
        self.blocks = torch.nn.ModuleList([Block() for _ in range(depth)])
        self.norm = norm(dim)

    def forward(self, x):  # x: (B, 1, 80, T)
        x = self.proj(x).flatten(2).transpose(1, 2)
        t = x.shape[1] // 5
        pos = self.pos[:, 1:].reshape(1, 5, 38, -1)[:, :, :t].reshape(1, 5 * t, -1)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x + pos], 1)
        for b in self.blocks:
            x = b(x)
        return self.norm(x)


def run(model, batch, bf16, repeats):
    chunks = [torch.randn(batch, 1, 80, 608), torch.randn(batch, 1, 80, 400)]
    def once():
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            for c in chunks:
                model(c)
    once()
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter(); once(); best = min(best, time.perf_counter() - t)
    return best


def main():
    threads = int(os.environ.get("THREADS", "2"))
    repeats = int(os.environ.get("REPEATS", "3"))
    depth = int(os.environ.get("DEPTH", "12"))
    torch.set_num_threads(threads)
    t0 = time.perf_counter()
    model = Encoder(depth=depth).eval()
    out = {"torch": torch.__version__, "threads": threads, "depth": depth,
           "mkldnn": torch.backends.mkldnn.is_available(), "cpu_capability": torch.backends.cpu.get_cpu_capability()}
    for batch in (1, 8):
        out[f"fp32_b{batch}_s"] = run(model, batch, False, repeats)
        out[f"bf16_b{batch}_s"] = run(model, batch, True, repeats)
    out["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out["total_s"] = time.perf_counter() - t0
    json.dump(out, sys.stdout)
    print()


if __name__ == "__main__":
    main()
