"""Makes Tests/Fixtures/families/: goldens from the official runtime for every M2D checkpoint family.

The official runtime is nttcslab/m2d `examples/portable_m2d.py` (NTT license, not copied here: pass
its path). It always builds ViT-Base; to keep fixtures small this script builds the same LocalViT at
a small width and depth (the one change to the official code path, made by wrapping LocalViT's
constructor), saves random weights the official way (a directory named by the official pattern,
`torch.save`), loads them back through `PortableM2D` and records what it returns:

- `frames.NAME` [T', E] from `encode` (E = D x F, or D for one frequency patch),
- `clip.NAME` [E] from `get_scene_embeddings`,
- `timestamps_ms.NAME` [T'] from `get_timestamp_embeddings`,
- `logmel.NAME` [80, T] for the 32 kHz case (its front end differs),
- for the AudioSet-style case (EVAR fine-tuning layout: `module.ar.runtime.backbone.*` and
  `module.head.*`, plain state dict, `num_batches_tracked` included), `PortableM2D(w, num_classes=C)`:
  `logits.NAME` [C] from `forward` and `frame_logits.NAME` [T', C] with `frame_timestamps_ms.NAME`
  from `forward_frames`; plus `labels.csv` in AudioSet's class_labels_indices.csv format, rows not
  in mid order, so that the official `sort_values('mid')` order is what a test checks.
- for the M2D-CLAP cases (`audio_proj`: the 2024 MLP, or the 2025 `AudioToSemantic` block), as the official
  examples call them (`PortableM2D(w, flat_features=True)`): `clap.NAME` [D] from `encode_clap_audio` and
  `clip.NAME` [D], the flat token mean it starts from.

Run (venv from scripts/peers-venv.sh, which installs timm, einops and nnAudio):
    $(scripts/peers-venv.sh) tools/reference/official_families.py \
        --portable /path/to/m2d/examples/portable_m2d.py --out Tests/Fixtures/families
"""
import argparse
import csv
import importlib.util
import json
import os
import sys

import numpy as np
import torch
from safetensors.torch import save_file
from scipy.io import wavfile

AUDIO16 = ["short_chirp", "five_sec_tone_noise", "ten_sec_mod"]

# name, official directory name, D, depth, heads, norm_stats, sample rate, extras
CASES = [
    dict(case="m2ds_608", dir="m2d_s_vit_base-80x608p80x2-230220", dim=128, depth=1, heads=2,
         stats=[-6.9, 4.1], rate=16000),
    dict(case="p16x4_200", dir="m2d_vit_base-80x200p16x4-230529", dim=128, depth=1, heads=2,
         stats=[-7.0, 4.3], rate=16000),
    dict(case="p32k_608", dir="m2d_vit_base-80x608p16x16p32k-240304", dim=128, depth=1, heads=2,
         stats=[-8.2, 4.6], rate=32000),
    dict(case="l1001", dir="m2d_vit_base-80x1001p16x16-221006-mr7", dim=128, depth=1, heads=2,
         stats=[-7.4, 4.0], rate=16000),
    dict(case="audioset_608", dir="m2d_as_vit_base-80x608p16x16-240213_AS-FT_enconly", dim=128, depth=1,
         heads=2, stats=[-7.6, 4.5], rate=16000, classes=7),
    dict(case="clap2024_608", dir="m2d_clap_vit_base-80x608p16x16-240128", dim=128, depth=1, heads=2,
         stats=[-7.2, 4.4], rate=16000, clap="mlp"),
    dict(case="clap2025_1001", dir="m2d_clap_vit_base-80x1001p16x16p16kpB-2025", dim=128, depth=1, heads=2,
         stats=[-7.3, 4.1], rate=16000, clap="semantic"),
]

# AudioSet's class_labels_indices.csv layout; rows in index order, mids deliberately unsorted.
LABELS = [
    ("/m/09x0r", "Speech"), ("/m/05zppz", "Male speech, man speaking"), ("/t/dd00001", "Baby cry, infant cry"),
    ("/m/02zsn", 'Female "speech"'), ("/m/0ytgt", "Child speech, kid speaking"), ("/m/01h8n0", "Conversation"),
    ("/m/02qldy", "Narration, monologue"),
]


def load_portable(path, sizes):
    spec = importlib.util.spec_from_file_location("portable_m2d", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    original_init = module.LocalViT.__init__

    def small_init(self, **kwargs):
        kwargs.update(embed_dim=sizes["dim"], depth=sizes["depth"], num_heads=sizes["heads"])
        original_init(self, **kwargs)

    module.LocalViT.__init__ = small_init
    return module


def random_state(portable, c, input_size, patch_size, seed):
    torch.manual_seed(seed)
    from functools import partial
    vit = portable.LocalViT(in_chans=1, img_size=input_size, patch_size=patch_size, embed_dim=768, depth=12,
                            num_heads=12, mlp_ratio=4, norm_layer=partial(torch.nn.LayerNorm, eps=1e-6))
    with torch.no_grad():
        for name, p in vit.named_parameters():
            if name == "norm_stats":
                p.copy_(torch.tensor(c["stats"]))
            elif name.endswith("norm1.weight") or name.endswith("norm2.weight") or name == "norm.weight":
                p.copy_(1 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(0.05 * torch.randn_like(p))
    return vit.state_dict()


def synth32k(seconds=4.3):
    rng = np.random.default_rng(32)
    t = np.arange(int(seconds * 32000)) / 32000
    chirp = 0.3 * np.sin(2 * np.pi * (200 * t + 1500 * t * t))
    high = 0.1 * np.sin(2 * np.pi * 12000 * t) * (t > 1.5)
    return (chirp + high + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--portable", required=True, help="path to nttcslab/m2d examples/portable_m2d.py")
    ap.add_argument("--audio", default="Tests/Fixtures/golden/audio", help="the 16 kHz golden WAVs")
    ap.add_argument("--out", default="Tests/Fixtures/families")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out + "/audio", exist_ok=True)
    wav32 = synth32k()
    wavfile.write(args.out + "/audio/chirp32k.wav", 32000, wav32)
    manifest = []
    for seed, c in enumerate(CASES, start=11):
        portable = load_portable(args.portable, c)
        input_str, patch_str = c["dir"].split("-")[1].split("p")[:2]
        input_size = [int(v) for v in input_str.split("x")]
        patch_size = [int(v) for v in patch_str.split("x")]
        state = random_state(portable, c, input_size, patch_size, seed)
        pth_dir = f"{args.out}/{c['case']}/{c['dir']}"
        os.makedirs(pth_dir, exist_ok=True)
        classes = c.get("classes")
        if classes:
            torch.manual_seed(seed + 100)
            feature_d = c["dim"]
            evar = {"module.ar.runtime.backbone." + k: v for k, v in state.items()}
            evar["module.head.norm.running_mean"] = 0.3 * torch.randn(feature_d)
            evar["module.head.norm.running_var"] = 0.5 + torch.rand(feature_d)
            evar["module.head.norm.num_batches_tracked"] = torch.tensor(12345, dtype=torch.long)
            evar["module.head.mlp.mlp.0.weight"] = 0.2 * torch.randn(classes, feature_d)
            evar["module.head.mlp.mlp.0.bias"] = 0.5 * torch.randn(classes)
            torch.save(evar, pth_dir + "/weights_ep69it3124-0.47929.pth")
            weight_file = pth_dir + "/weights_ep69it3124-0.47929.pth"
            with open(f"{args.out}/{c['case']}/labels.csv", "w", newline="") as f:
                w = csv.writer(f)
                w.writerow(["index", "mid", "display_name"])
                for i, (mid, label) in enumerate(LABELS[:classes]):
                    w.writerow([i, mid, label])
        else:
            if c.get("clap"):
                torch.manual_seed(seed + 200)
                d = c["dim"]
                proj = (portable.get_MLP_projector(d, d, d) if c["clap"] == "mlp" else
                        portable.AudioToSemantic(embed_dim=d, sem_depth=1, sem_heads=1, sem_mlp_ratio=1))
                with torch.no_grad():
                    for name, p in proj.named_parameters():
                        p.copy_((1 + 0.2 * torch.randn_like(p)) if name.endswith("norm.weight") or ".norm" in name
                                and name.endswith("weight") else 0.1 * torch.randn_like(p))
                state.update({"audio_proj." + k: v for k, v in proj.state_dict().items()})
                state["text_proj.weight"] = 0.1 * torch.randn(d, 24)  # dropped: no text encoder here
                state["text_proj.bias"] = 0.1 * torch.randn(d)
            weight_file = pth_dir + "/checkpoint-300.pth"
            torch.save({"model": state, "epoch": 300}, weight_file)
        if c.get("clap"):
            model = portable.PortableM2D(weight_file, flat_features=True)
            model.eval()
            tensors = {}
            for name in AUDIO16:
                rate, data = wavfile.read(f"{args.audio}/{name}.wav")
                wav = torch.tensor(data)[None]
                with torch.no_grad():
                    tensors[f"clap.{name}"] = model.encode_clap_audio(wav)[0]
                    tensors[f"clip.{name}"] = model.get_scene_embeddings(wav)[0]
            tensors = {k: v.contiguous().float() for k, v in tensors.items()}
            save_file(tensors, f"{args.out}/{c['case']}/expected.safetensors")
            manifest.append({**c, "seed": seed, "weight_file": os.path.relpath(weight_file, args.out),
                             "audio": AUDIO16, "shapes": {k: list(v.shape) for k, v in tensors.items()}})
            print(c["case"], {k: list(v.shape) for k, v in tensors.items()}, file=sys.stderr)
            continue
        model = portable.PortableM2D(weight_file, num_classes=classes)
        model.eval()
        tensors = {}
        names = ["chirp32k"] if c["rate"] == 32000 else AUDIO16
        for name in names:
            if c["rate"] == 32000:
                wav = torch.tensor(wav32)[None]
            else:
                rate, data = wavfile.read(f"{args.audio}/{name}.wav")
                assert rate == 16000 and data.dtype == np.float32
                wav = torch.tensor(data)[None]
            with torch.no_grad():
                frames = model.encode(wav)[0]
                tensors[f"frames.{name}"] = frames
                tensors[f"clip.{name}"] = model.get_scene_embeddings(wav)[0]
                _, ts = model.get_timestamp_embeddings(wav)
                tensors[f"timestamps_ms.{name}"] = ts[0].float()
                if c["rate"] == 32000:
                    tensors[f"logmel.{name}"] = model.to_log_mel_spec(wav)[0, 0]
                if classes:
                    tensors[f"logits.{name}"] = model(wav)[0]
                    frame_logits, frame_ts = model.forward_frames(wav)
                    tensors[f"frame_logits.{name}"] = frame_logits[0]
                    tensors[f"frame_timestamps_ms.{name}"] = frame_ts[0].float()
        tensors = {k: v.contiguous().float() for k, v in tensors.items()}
        save_file(tensors, f"{args.out}/{c['case']}/expected.safetensors")
        manifest.append({**{k: v for k, v in c.items()}, "seed": seed, "weight_file": os.path.relpath(
            weight_file, args.out), "audio": names, "shapes": {k: list(v.shape) for k, v in tensors.items()}})
        print(c["case"], {k: list(v.shape) for k, v in tensors.items() if k.startswith("frames")}, file=sys.stderr)
    with open(args.out + "/MANIFEST.json", "w") as f:
        json.dump({"runtime": {"torch": torch.__version__, "portable_m2d": args.portable}, "cases": manifest}, f,
                  indent=1)


if __name__ == "__main__":
    main()
