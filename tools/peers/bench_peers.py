"""The peers of make bench-peers (scripts/bench-peers.sh): the official M2D ViT-Base encoder (timm's
Block as examples/portable_m2d.py builds it: pre-norm, qkv with bias, erf GELU, LayerNorm eps 1e-6,
CLS plus pos_embed[0]) with random weights, on 80x608 normalized log-mel chunks.

  prepare DIR          weights (our model directory layout), chunks.npy (8, 80, 608), PyTorch fp32
                       tokens (reference.npy), encoder.onnx (fp32) and encoder.int8.onnx
                       (onnxruntime quantize_dynamic, QInt8 weights)
  run ENGINE DIR       one engine in this process: torch-fp32 torch-bf16 ort-fp32 ort-int8 ov-fp32 ov-bf16
  cosine DIR OUT.npy   the minimum per-token cosine of OUT against reference.npy

`run` prints one JSON line: engine, b1_ms, b8_ms (best of REPEATS), cosine, rss_mib (this process's
peak), kernel (what the runtime says it ran)."""
import json, math, os, sys, time

import numpy as np

THREADS = int(os.environ.get("THREADS", "2"))
REPEATS = int(os.environ.get("REPEATS", "5"))
DEPTH = int(os.environ.get("DEPTH", "12"))
D, HEADS, F, T = 768, 12, 5, 38


def peak_rss_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def block_class():
    """timm's pre-norm ViT block at ViT-Base width, in plain torch (also used by tools/reference/bench_torch.py)."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1 = nn.LayerNorm(D, eps=1e-6)
            self.qkv = nn.Linear(D, 3 * D)
            self.proj = nn.Linear(D, D)
            self.norm2 = nn.LayerNorm(D, eps=1e-6)
            self.fc1 = nn.Linear(D, 4 * D)
            self.fc2 = nn.Linear(4 * D, D)

        def forward(self, x):
            B, N, _ = x.shape
            q, k, v = self.qkv(self.norm1(x)).reshape(B, N, 3, HEADS, D // HEADS).permute(2, 0, 3, 1, 4)
            a = torch.nn.functional.scaled_dot_product_attention(q, k, v)
            x = x + self.proj(a.transpose(1, 2).reshape(B, N, D))
            return x + self.fc2(torch.nn.functional.gelu(self.fc1(self.norm2(x))))

    return Block


def encoder_module():
    import torch
    from torch import nn
    Block = block_class()

    class Encoder(nn.Module):
        def __init__(self):
            super().__init__()
            self.patch = nn.Conv2d(1, D, 16, 16)
            self.cls_token = nn.Parameter(torch.randn(1, 1, D) * 0.02)
            self.pos_embed = nn.Parameter(torch.randn(1, 1 + F * T, D) * 0.02)
            self.blocks = nn.ModuleList([Block() for _ in range(DEPTH)])
            self.norm = nn.LayerNorm(D, eps=1e-6)

        def forward(self, x):  # (B, 80, 608) -> (B, 191, 768)
            x = self.patch(x.unsqueeze(1)).flatten(2).transpose(1, 2) + self.pos_embed[:, 1:]
            cls = (self.cls_token + self.pos_embed[:, :1]).expand(x.shape[0], -1, -1)
            x = torch.cat([cls, x], 1)
            for b in self.blocks:
                x = b(x)
            return self.norm(x)

    return Encoder()


def state_for_us(model):
    """Our model directory's tensor names (timm's)."""
    out = {"cls_token": model.cls_token, "pos_embed": model.pos_embed,
           "patch_embed.proj.weight": model.patch.weight, "patch_embed.proj.bias": model.patch.bias,
           "norm.weight": model.norm.weight, "norm.bias": model.norm.bias}
    for i, b in enumerate(model.blocks):
        for ours, mod in [("norm1", b.norm1), ("attn.qkv", b.qkv), ("attn.proj", b.proj), ("norm2", b.norm2),
                          ("mlp.fc1", b.fc1), ("mlp.fc2", b.fc2)]:
            out[f"blocks.{i}.{ours}.weight"] = mod.weight
            out[f"blocks.{i}.{ours}.bias"] = mod.bias
    return {k: v.detach().contiguous() for k, v in out.items()}


def load_model(folder):
    import torch
    from safetensors.torch import load_file
    model = encoder_module().eval()
    state = load_file(os.path.join(folder, "model", "model.safetensors"))
    mine = state_for_us(model)
    with torch.no_grad():
        for name, tensor in mine.items():
            tensor.copy_(state[name].reshape(tensor.shape))
    # state_for_us returns detached views of the parameters, so the copies above loaded the model.
    return model


def prepare(folder):
    import torch
    from safetensors.torch import save_file
    torch.manual_seed(1)
    os.makedirs(os.path.join(folder, "model"), exist_ok=True)
    model = encoder_module().eval()
    save_file(state_for_us(model), os.path.join(folder, "model", "model.safetensors"))
    config = {"name": "peers-vit-base-80x608p16x16", "embed_dim": D, "depth": DEPTH, "num_heads": HEADS,
              "mlp_ratio": 4, "input_size": [80, 608], "patch_size": [16, 16], "n_mels": 80, "n_fft": 400,
              "win_length": 400, "hop_length": 160, "f_min": 50, "f_max": 8000, "sample_rate": 16000,
              "norm_stats": [-7.1, 4.2], "flat_features": False}
    json.dump(config, open(os.path.join(folder, "model", "config.json"), "w"), indent=1)
    chunks = torch.randn(8, 80, 608)
    np.save(os.path.join(folder, "chunks.npy"), chunks.numpy())
    with torch.inference_mode():
        np.save(os.path.join(folder, "reference.npy"), model(chunks).numpy())
    onnx_path = os.path.join(folder, "encoder.onnx")
    torch.onnx.export(model, (chunks[:1],), onnx_path, input_names=["chunks"], output_names=["tokens"],
                      dynamic_axes={"chunks": {0: "batch"}, "tokens": {0: "batch"}}, opset_version=17,
                      dynamo=False)
    from onnxruntime.quantization import QuantType, quantize_dynamic
    quantize_dynamic(onnx_path, os.path.join(folder, "encoder.int8.onnx"), weight_type=QuantType.QInt8)


def cosine(folder, out):
    ref = np.load(os.path.join(folder, "reference.npy")).reshape(-1, D).astype(np.float64)
    got = np.load(out).reshape(-1, D).astype(np.float64)
    num = (ref * got).sum(1)
    return float((num / (np.linalg.norm(ref, axis=1) * np.linalg.norm(got, axis=1))).min())


def runner(engine, folder):
    """(forward(chunks) -> tokens, kernel description)."""
    if engine.startswith("torch"):
        import torch
        torch.set_num_threads(THREADS)
        model = load_model(folder)
        bf16 = engine == "torch-bf16"

        def forward(x):
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                return model(torch.from_numpy(x)).float().numpy()
        return forward, f"torch {torch.__version__} cpu capability {torch.backends.cpu.get_cpu_capability()}"
    if engine.startswith("ort"):
        import onnxruntime as ort
        opts = ort.SessionOptions()
        opts.intra_op_num_threads, opts.inter_op_num_threads = THREADS, 1
        name = "encoder.int8.onnx" if engine == "ort-int8" else "encoder.onnx"
        session = ort.InferenceSession(os.path.join(folder, name), opts, providers=["CPUExecutionProvider"])
        return (lambda x: session.run(None, {"chunks": x})[0]), f"onnxruntime {ort.__version__} CPU (MLAS)"
    if engine.startswith("ov"):
        import openvino as ov
        core = ov.Core()
        precision = "bf16" if engine == "ov-bf16" else "f32"
        compiled = core.compile_model(os.path.join(folder, "encoder.onnx"), "CPU", {
            "INFERENCE_NUM_THREADS": THREADS, "PERFORMANCE_HINT": "LATENCY", "INFERENCE_PRECISION_HINT": precision})
        request = compiled.create_infer_request()
        ran = str(compiled.get_property("INFERENCE_PRECISION_HINT")).replace("<Type: '", "").replace("'>", "")
        caps = "/".join(core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"))
        return ((lambda x: request.infer({0: x})[0].copy()),
                f"openvino {ov.__version__.split('-')[0]} CPU ({caps}), ran {ran}")
    raise SystemExit(f"unknown engine {engine}")


def run(engine, folder):
    chunks = np.load(os.path.join(folder, "chunks.npy"))
    forward, kernel = runner(engine, folder)

    def best(x):
        forward(x)
        t = math.inf
        for _ in range(REPEATS):
            s = time.perf_counter(); forward(x); t = min(t, time.perf_counter() - s)
        return t * 1000
    b1, b8 = best(chunks[:1]), best(chunks)
    out = os.path.join(folder, f"out-{engine}.npy")
    np.save(out, forward(chunks))
    print(json.dumps({"engine": engine, "b1_ms": b1, "b8_ms": b8, "cosine": cosine(folder, out),
                      "rss_mib": peak_rss_mib(), "kernel": kernel}))


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "prepare":
        prepare(sys.argv[2])
    elif len(sys.argv) >= 4 and sys.argv[1] == "run":
        run(sys.argv[2], sys.argv[3])
    elif len(sys.argv) >= 4 and sys.argv[1] == "cosine":
        print(cosine(sys.argv[2], sys.argv[3]))
    else:
        raise SystemExit(__doc__)
