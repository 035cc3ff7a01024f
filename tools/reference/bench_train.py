"""PyTorch timing of ONE M2D pre-training step (forward + backward + AdamW step + EMA update; no data
loading), fp32 on CPU, with the model code of tools/reference/m2d_step.py (spec section 5). Used by
`m2d-bench train` (Sources/m2d-bench/TrainBench.swift), which reads the last stdout line.

Environment: PRESET (m2d_vit_base | small | tiny, default m2d_vit_base), BATCH (8), THREADS (2,
torch.set_num_threads), REPEATS (3; the best is reported). Input [BATCH, 1, 80, 608] -> 5 x 38 = 190
patches of 16x16; mask ratio 0.7 -> 57 visible, 133 masked. One warm-up step, then REPEATS timed steps;
each step draws a new random mask (argsort of rand, negligible) like the Swift benchmark does.
Prints ONE JSON line: preset, batch, threads, torch, step_seconds, clips_per_second, gflop_per_step, gflops.

Run (the venv lives outside the repo):
    PRESET=small BATCH=8 THREADS=2 REPEATS=2 $(scripts/peers-venv.sh) tools/reference/bench_train.py
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from m2d_step import M2D, make_optimizer  # noqa: E402  (model code shared with the fixture generator)

# (embed_dim, depth, heads, decoder_dim, decoder_depth, decoder_heads); MLP hidden = 4 x width
PRESETS = {
    "m2d_vit_base": (768, 12, 12, 512, 8, 16),
    "small": (768, 4, 12, 256, 2, 8),
    "tiny": (64, 2, 2, 32, 1, 2),
}
N_MELS, FRAMES, PATCH = 80, 608, 16
GRID = (N_MELS // PATCH, FRAMES // PATCH)  # 5 freq x 38 time
L = GRID[0] * GRID[1]                      # 190 patches
MASK_RATIO = 0.7
KEEP = int(L * (1 - MASK_RATIO))           # 57 visible (133 masked)
EMA_TAU = 0.9999


def flop_per_sample(d, depth, dd, ddepth, L=L, K=KEEP):
    """Analytic FLOPs of one step per clip, counting 2*M*N*K for every matmul (nothing else).

    One pre-norm ViT block over n tokens of width d with MLP hidden h = 4d:
        qkv 2*n*d*3d + proj 2*n*d*d + fc1 2*n*d*h + fc2 2*n*h*d      = 2n(4d^2 + 2dh) = 24 n d^2
        scores q@k^T (all heads) 2*n*n*d + attn@v 2*n*n*d            = 4 n^2 d
    Patch embedding (Conv2d 16x16 stride 16 = matmul) on all L patches: 2*L*256*d.
    Online encoder:  depth blocks at n = 1+K = 58 tokens (CLS + visible).
    Predictor:       decoder_embed 2*(1+K)*d*dd, ddepth blocks (width dd) at n = 1+L = 191,
                     decoder_pred 2*(1+L)*dd*d.
    Target encoder:  depth blocks at n = 1+L-K = 134 (CLS + masked), forward only (no grad).
    Backward = 2x the forward matmul FLOPs of the trained parts (patch embedding, online encoder,
    predictor), so step = 3*(patch + online + predictor) + target.
    Same formula as TrainBench.flops in Sources/m2d-bench/TrainBench.swift.
    """
    def block(n, w):
        return 24 * n * w * w + 4 * n * n * w
    patch = 2 * L * PATCH * PATCH * d
    online = depth * block(1 + K, d)
    predictor = 2 * (1 + K) * d * dd + ddepth * block(1 + L, dd) + 2 * (1 + L) * dd * d
    target = depth * block(1 + L - K, d)
    return 3 * (patch + online + predictor) + target


def main():
    preset = os.environ.get("PRESET", "m2d_vit_base")
    batch = int(os.environ.get("BATCH", "8"))
    threads = int(os.environ.get("THREADS", "2"))
    repeats = int(os.environ.get("REPEATS", "3"))
    d, depth, heads, dd, ddepth, dheads = PRESETS[preset]
    torch.set_num_threads(threads)
    torch.manual_seed(0)

    model = M2D(embed_dim=d, depth=depth, num_heads=heads, decoder_embed_dim=dd, decoder_depth=ddepth,
                decoder_num_heads=dheads, grid=GRID, len_keep=KEEP)
    model.initialize()
    model.train()
    opt, _, _ = make_optimizer(model)  # AdamW, timm weight-decay groups, as in the fixture step
    imgs = torch.randn(batch, 1, N_MELS, FRAMES)

    def step():
        ids_shuffle = torch.argsort(torch.rand(batch, L), dim=1)
        opt.zero_grad(set_to_none=True)
        loss = model(imgs, ids_shuffle)
        loss.backward()
        opt.step()
        model.update_target(EMA_TAU)
        return loss.item()

    step()  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - t)

    gflop = flop_per_sample(d, depth, dd, ddepth) * batch / 1e9
    out = {"preset": preset, "batch": batch, "threads": threads, "torch": torch.__version__,
           "step_seconds": round(best, 4), "clips_per_second": round(batch / best, 3),
           "gflop_per_step": round(gflop, 3), "gflops": round(gflop / best, 2)}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
