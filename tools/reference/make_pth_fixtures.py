"""Makes the small PyTorch `.pth` fixtures under Tests/Fixtures/pth/ for the Swift `.pth` reader
and the official key handling (docs/NUMERICS.md §4).

Tiny M2D ViT: D=32, depth 2, heads 2, MLP 128, input 80x64, patch 16x16 (5 x 4 patches, so
pos_embed is [1, 21, 32]); predictor width 16, depth 1. Random values (randn * 0.1; LayerNorm
weights 1 + 0.1 * randn) from fixed seeds. The state_dicts come from real nn.Module trees, so they
are OrderedDicts carrying `_metadata` exactly like the official checkpoints.

Run with a virtualenv that has torch and safetensors (kept outside the repo):
    $(scripts/peers-venv.sh) tools/reference/make_pth_fixtures.py [OUT_DIR]
It rewrites every fixture file and README.md, then reloads each .pth with torch.load and checks it
against expected.safetensors. torch.save output is byte-for-byte reproducible for a given torch
version, so a rerun with the same torch leaves the files unchanged (except legacy_tar.pth, whose
legacy-format storage key is a memory address).
"""
import argparse
import collections
import hashlib
import os
import pickletools
import sys
import zipfile

import torch
from torch import nn
from safetensors.torch import load_file, save_file

D, DEPTH, MLP = 32, 2, 128
DEC_D, DEC_DEPTH, DEC_MLP = 16, 1, 64
PATCH = 16
F_PATCHES, T_PATCHES = 80 // PATCH, 64 // PATCH  # 5, 4
N_TOKENS = 1 + F_PATCHES * T_PATCHES  # 21
DEFAULT_NORM_STATS = [-7.1, 4.2]
SIZE_LIMIT = 300 * 1024  # per .pth file
# expected.safetensors holds 4 cases x 31 float32 encoder tensors (34,402 values each), ~540 KB;
# it cannot fit 300 KB with these shapes, so it gets its own bound.
EXPECTED_SIZE_LIMIT = 600 * 1024

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


# ---------------------------------------------------------------- modules (official key names)

class Attention(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)


class Block(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = Attention(dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, hidden)


class PatchEmbed(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Conv2d(1, D, PATCH, PATCH)


class Encoder(nn.Module):
    """LocalViT as the official runtime builds it: norm_stats is a parameter."""

    def __init__(self, with_norm_stats=True):
        super().__init__()
        if with_norm_stats:
            self.norm_stats = nn.Parameter(torch.tensor(DEFAULT_NORM_STATS), requires_grad=False)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = nn.Parameter(torch.zeros(1, N_TOKENS, D))
        self.patch_embed = PatchEmbed()
        self.blocks = nn.ModuleList([Block(D, MLP) for _ in range(DEPTH)])
        self.norm = nn.LayerNorm(D, eps=1e-6)


class M2DViT(nn.Module):
    """Full M2D model in the official state_dict order: own parameters first, then submodules."""

    def __init__(self):
        super().__init__()
        self.norm_stats = nn.Parameter(torch.tensor(DEFAULT_NORM_STATS), requires_grad=False)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = nn.Parameter(torch.zeros(1, N_TOKENS, D), requires_grad=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, DEC_D))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, N_TOKENS, DEC_D), requires_grad=False)
        self.patch_embed = PatchEmbed()
        self.blocks = nn.ModuleList([Block(D, MLP) for _ in range(DEPTH)])
        self.norm = nn.LayerNorm(D, eps=1e-6)
        self.decoder_embed = nn.Linear(D, DEC_D)
        self.decoder_blocks = nn.ModuleList([Block(DEC_D, DEC_MLP) for _ in range(DEC_DEPTH)])
        self.decoder_norm = nn.LayerNorm(DEC_D, eps=1e-6)
        self.decoder_pred = nn.Linear(DEC_D, D)
        self.target_blocks = nn.ModuleList([Block(D, MLP) for _ in range(DEPTH)])
        self.target_norm = nn.LayerNorm(D, eps=1e-6)


class Named(nn.Module):
    """A container whose only job is to give children the official names."""

    def __init__(self, **children):
        super().__init__()
        for k, v in children.items():
            setattr(self, k, v)


def randomize(module):
    """randn * 0.1 everywhere; LayerNorm weights 1 + 0.1 * randn. norm_stats is left alone."""
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.split(".")[-1] == "norm_stats":
                continue
            is_ln_weight = name.endswith(".weight") and any(
                isinstance(m, nn.LayerNorm) and m.weight is p for m in module.modules())
            if is_ln_weight:
                p.copy_(1 + 0.1 * torch.randn(p.shape))
            else:
                p.copy_(0.1 * torch.randn(p.shape))
    return module


def encoder_key_set():
    return set(Encoder(with_norm_stats=True).state_dict().keys())


# ---------------------------------------------------------------- the official key handling

def official_encoder_weights(obj):
    """examples/portable_m2d.py::get_backbone, steps 1-5 (docs/NUMERICS.md §4.2), as contiguous float32."""
    sd = obj["model"] if "model" in obj else obj
    if any(k.startswith("backbone.") for k in sd):
        sd = {k[len("backbone."):]: v for k, v in sd.items() if k.startswith("backbone.")}
    prefix = "module.ar.runtime.backbone."
    sd = {(k[len(prefix):] if k.startswith(prefix) else k): v for k, v in sd.items()}
    if "norm_stats" not in sd:
        sd["norm_stats"] = torch.tensor(DEFAULT_NORM_STATS)
    wanted = encoder_key_set()
    out = {k: v.to(torch.float32).contiguous().clone() for k, v in sd.items() if k in wanted}
    missing = wanted - set(out)
    assert not missing, f"strict load would fail, missing {sorted(missing)}"
    return out


# ---------------------------------------------------------------- the cases

def make_training():
    torch.manual_seed(0)
    model = randomize(M2DViT())
    model.norm_stats.data = torch.tensor([-6.0, 3.5])

    # A real AdamW after one fake step over a few parameters, in the two groups the official
    # param_groups_weight_decay makes (decay / no decay). Kept small for the file size limit.
    decay = [model.decoder_embed.weight]
    no_decay = [model.cls_token, model.blocks[0].norm1.bias, model.decoder_pred.bias]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05},
                             {"params": no_decay, "weight_decay": 0.0}], lr=1.5e-4, betas=(0.9, 0.95))
    loss = sum((p ** 2).sum() for p in decay + no_decay)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)

    sd = model.state_dict()  # OrderedDict with _metadata, like model_without_ddp.state_dict()
    # Non-contiguous: the transpose view of a contiguous tensor (stride (1, D)).
    t = 0.1 * torch.randn(D, D)
    sd["blocks.0.attn.proj.weight"] = t.t()
    # Shared storage: weight and bias are slices of one 2D-element storage (bias at offset D).
    base = torch.cat([1 + 0.1 * torch.randn(D), 0.1 * torch.randn(D)])
    sd["blocks.1.norm1.weight"] = base[:D]
    sd["blocks.1.norm1.bias"] = base[D:]
    # Half-precision tensors the reader widens to float32.
    sd["norm.weight"] = sd["norm.weight"].to(torch.float16)
    sd["norm.bias"] = sd["norm.bias"].to(torch.bfloat16)

    args = argparse.Namespace(
        batch_size=2048, epochs=300, accum_iter=1, model="m2d_vit_base", input_size=[80, 64],
        patch_size=[16, 16], mask_ratio=0.7, norm_pix_loss=False, weight_decay=0.05, lr=None,
        blr=3e-4, min_lr=0.0, warmup_epochs=20, data_path="data", dataset="data/files_audioset.csv",
        output_dir="m2d_vit_tiny-80x64p16x16-fixture", log_dir=None, device="cuda", seed=0,
        resume="", start_epoch=0, num_workers=10, pin_mem=True, world_size=1, local_rank=-1,
        dist_on_itp=False, dist_url="env://", distributed=False, ema_decay_init=0.99995,
        ema_decay=0.99999, norm_stats=(-6.0, 3.5), decoder_depth=DEC_DEPTH, seed_offset=None)
    scaler = {"scale": 65536.0, "growth_factor": 2.0, "backoff_factor": 0.5,
              "growth_interval": 2000, "_growth_tracker": 0}
    return {"model": sd, "optimizer": opt.state_dict(), "epoch": 300, "scaler": scaler, "args": args}


def make_enconly():
    torch.manual_seed(1)
    return randomize(Encoder(with_norm_stats=False)).state_dict()


def make_evar():
    torch.manual_seed(2)
    backbone = randomize(Encoder(with_norm_stats=True))
    backbone.norm_stats.data = torch.tensor([-5.5, 4.0])
    head = Named(mlp=nn.Sequential(nn.Linear(D * F_PATCHES, 8), nn.ReLU(), nn.Linear(8, 3)))
    randomize(head)
    task = Named(ar=Named(runtime=Named(backbone=backbone)), head=head)
    return Named(module=task).state_dict()  # module.ar.runtime.backbone.* + module.head.mlp.{0,2}.*


def make_runtime():
    torch.manual_seed(3)
    backbone = randomize(Encoder(with_norm_stats=True))
    backbone.norm_stats.data = torch.tensor([-6.5, 3.9])
    rt = Named(backbone=backbone, head=randomize(nn.Linear(D, 4)))
    rt.register_buffer("window", torch.hann_window(16))
    sd = rt.state_dict()  # backbone.* then head.weight, head.bias, window
    # A non-prefixed key that collides with an encoder name; extract_weight must drop it.
    sd["norm_stats"] = torch.tensor([0.0, 1.0])
    return sd


CASES = [
    # case, path under the fixture dir, builder, save by path (archive dir = file stem) or by handle
    ("training", "m2d_vit_tiny-80x64p16x16-fixture/checkpoint-300.pth", make_training, "path"),
    ("enconly", "m2d_vit_tiny-80x64p16x16-enconly/checkpoint-300.pth", make_enconly, "path"),
    ("evar", "evar_finetune-80x64p16x16/weights_ep10.pth", make_evar, "path"),
    ("runtime", "runtime_backbone-80x64p16x16/model.pth", make_runtime, "handle"),
]


# ---------------------------------------------------------------- inventory for the README

def describe_zip(path):
    with zipfile.ZipFile(path) as z:
        infos = z.infolist()
        pkl_name = next(i.filename for i in infos if i.filename.endswith("/data.pkl"))
        data = z.read(pkl_name)
    ops, globs, proto = collections.Counter(), set(), None
    stack_strings = []
    for op, arg, _ in pickletools.genops(data):
        ops[op.name] += 1
        if op.name == "PROTO":
            proto = arg
        if op.name == "GLOBAL":
            globs.add(arg.replace(" ", "."))
        if op.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            stack_strings.append(arg)
        if op.name == "STACK_GLOBAL":
            globs.add(".".join(stack_strings[-2:]))
    kinds = collections.Counter(i.compress_type for i in infos)
    return infos, proto, ops, sorted(globs), kinds


def storage_count(path):
    with zipfile.ZipFile(path) as z:
        return sum(1 for n in z.namelist() if "/data/" in n and not n.endswith("/data.pkl"))


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def tensor_summary(sd):
    dtypes = collections.Counter(str(v.dtype).replace("torch.", "") for v in sd.values())
    return ", ".join(f"{n} {d}" for d, n in sorted(dtypes.items()))


def write_readme(out, made, legacy_path):
    v = torch.__version__
    lines = [
        "# PyTorch `.pth` checkpoint fixtures",
        "",
        f"Made by `tools/reference/make_pth_fixtures.py` with **torch {v}** (Python "
        f"{sys.version.split()[0]}), fixed seeds 0-3 (one per case). torch.save output is "
        "byte-for-byte reproducible for a given torch version (the sha256 below are for that version), "
        "except `legacy_tar.pth`, whose storage key is a memory address.",
        "",
        "Tiny M2D ViT, official key names (docs/NUMERICS.md §4): D=32, depth 2, heads 2, MLP 128, "
        "input 80x64, patch 16x16 (5 freq x 4 time patches, so `pos_embed` is [1, 21, 32]). "
        "Values: randn * 0.1, LayerNorm weights 1 + 0.1 * randn. Input size and patch size are "
        "parsed from each parent directory name (`...-80x64p16x16...`).",
        "",
        "| file | case | how it was made | contents |",
        "|---|---|---|---|",
    ]
    how = {
        "training": ("`torch.save({'model', 'optimizer', 'epoch', 'scaler', 'args'}, path)` like "
                     "`util/misc.py::save_model`",
                     "full M2DViT state_dict (encoder + norm_stats [-6.0, 3.5] + mask_token, "
                     "decoder_pos_embed [1,21,16], decoder_embed, decoder_blocks.0 (width 16, MLP 64), "
                     "decoder_norm, decoder_pred, target_blocks.{0,1}, target_norm); `optimizer` is a real "
                     "AdamW state_dict after one step over 4 params in 2 groups (step/exp_avg/exp_avg_sq, "
                     "param_groups with tuples, None, bools); `scaler` a GradScaler-like dict; `args` an "
                     "argparse.Namespace. On purpose: `blocks.0.attn.proj.weight` is a transpose view "
                     "(shape [32,32], stride (1,32)); `blocks.1.norm1.weight`/`.bias` share one 64-element "
                     "storage (bias at storage offset 32); `norm.weight` float16, `norm.bias` bfloat16; "
                     "optimizer `step` values are 0-dim tensors"),
        "enconly": ("`torch.save(encoder.state_dict(), path)` like `util/to_encoder_only_weight.py`",
                    "bare encoder state_dict, contiguous float32, **no norm_stats** (the loader must add "
                    "[-7.1, 4.2])"),
        "evar": ("`torch.save(DataParallel-style model.state_dict(), path)` like an EVAR fine-tune",
                 "encoder keys prefixed `module.ar.runtime.backbone.` (norm_stats [-5.5, 4.0]) plus "
                 "`module.head.mlp.{0,2}.weight/bias` (dropped)"),
        "runtime": ("`torch.save(RuntimeM2D-style state_dict, open(path, 'wb'))` (by file handle, so "
                    "the archive directory is `archive/`)",
                    "encoder keys prefixed `backbone.` (norm_stats [-6.5, 3.9]) plus non-prefixed "
                    "`head.weight`, `head.bias`, `window` and a decoy `norm_stats` [0, 1], all dropped "
                    "because a `backbone.` key exists"),
    }
    for case, rel, sd in made:
        h, c = how[case]
        lines.append(f"| `{rel}` | {case} | {h} | {c}; tensors: {tensor_summary(sd)}, "
                     f"{storage_count(os.path.join(out, rel))} storages |")
    lines.append("| `expected.safetensors` | all | `safetensors.torch.save_file` | for each case, the "
                 "encoder tensors after the official key handling (take 'model' if present; if any key "
                 "starts with 'backbone.' keep only those, prefix stripped; strip "
                 "'module.ar.runtime.backbone.'; add norm_stats [-7.1, 4.2] if missing; keep only "
                 "cls_token, pos_embed, norm_stats, patch_embed.proj.*, blocks.*, norm.*), contiguous "
                 "float32, named `<case>/<key>` (31 tensors per case). About 540 KB, the one file over "
                 "300 KB: four copies of the 34,402-value encoder cannot be smaller in float32 |")
    lines.append("| `legacy_tar.pth` | - | `torch.save(obj, f, _use_new_zipfile_serialization=False)` | "
                 "the legacy **non-zip** format (a stream of pickles: magic number, protocol version, "
                 "sys info, the object, storage keys, raw storages; starts with `80 02 8a 0a`, not "
                 "`PK`): `{'weight': arange(4) float32, 'epoch': 1}`. The magic number is the first pickle: "
                 "PROTO 2, LONG1 0x1950a86a20f9469cfc6c, STOP. The reader must refuse it "
                 "with a clear error |")
    lines += ["", "## Zip layout (what the reader sees)", "",
              "All entries are STORED (compress_type 0, no deflate, compressed size = size). General "
              "purpose flags 0x0808 (bit 3 + UTF-8 names): local headers have CRC and both sizes ZERO, "
              "each entry's data is followed by a 16-byte data descriptor (`PK\\x07\\x08`, crc, "
              "size32, size32), so take sizes from the central directory. Local headers carry an "
              "extra field with id 0x4246 ('FB') of padding so that every entry's data starts on a "
              "64-byte file offset (central headers have no extra field). The archive ends with a "
              "zip64 end-of-central-directory record and locator followed by the classic EOCD, whose "
              "counts and offsets are valid (no 0xFFFF/0xFFFFFFFF placeholders); no comment. Entry names are "
              "`<archive>/...` where `<archive>` is the file stem when saved by path and `archive` "
              "when saved to a file handle; find `data.pkl` by suffix. Storage `k` is "
              "`<archive>/data/k`, raw little-endian bytes, named by the persistent id in data.pkl. "
              "`.format_version` and `.storage_alignment` are written by recent torch only; older "
              "official checkpoints lack them. Contents: `byteorder` = `little`, `version` = `3\\n`, "
              "`.format_version` = `1`, `.storage_alignment` = `64`, `.data/serialization_id` = 40 "
              "decimal digits. Entry order: data.pkl, .format_version, .storage_alignment, byteorder, "
              "data/0..n-1 (in first-use order), version, .data/serialization_id.",
              "",
              "data.pkl is pickle protocol 2 (`80 02`), so globals are GLOBAL (`c` module NL name NL), "
              "never STACK_GLOBAL. Each tensor is `GLOBAL torch._utils _rebuild_tensor_v2` applied "
              "(REDUCE) to the 6-tuple (storage, storage_offset, size tuple, stride tuple, "
              "requires_grad=False, `collections.OrderedDict()`), where storage is a BINPERSID of the "
              "5-tuple ('storage', GLOBAL torch.<Float|Half|BFloat16>Storage, key str, 'cpu', numel "
              "in elements). Offsets, sizes and strides are in elements. A storage used twice is "
              "referenced by the same key again (the second persistent-id tuple is rebuilt, its "
              "strings via BINGET); 0-dim tensors have size () and stride (). Every state_dict is "
              "`collections.OrderedDict()` (REDUCE of EMPTY_TUPLE) filled by SETITEMS and then "
              "BUILD with the dict {'_metadata': OrderedDict({module path: {'version': 1}, ...})}. "
              "argparse.Namespace is GLOBAL + EMPTY_TUPLE + NEWOBJ, then BUILD with its __dict__.",
              ""]
    for case, rel, _ in made:
        infos, proto, ops, globs, kinds = describe_zip(os.path.join(out, rel))
        non_storage = [i.filename for i in infos if "/data/" not in i.filename or
                       i.filename.endswith(".data/serialization_id")]
        lines.append(f"- `{rel}`: pickle protocol {proto}; entries {', '.join('`' + n + '`' for n in non_storage)}"
                     f" and {storage_count(os.path.join(out, rel))} storages; compress types "
                     f"{dict(kinds)}; globals {', '.join('`' + g + '`' for g in globs)}; opcodes "
                     f"{', '.join(sorted(ops))}.")
    lines += ["", "## sha256", ""]
    for rel in [r for _, r, _ in made] + ["expected.safetensors", os.path.basename(legacy_path)]:
        lines.append(f"- `{rel}` {sha256(os.path.join(out, rel))} ({os.path.getsize(os.path.join(out, rel))} bytes)")
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------- main

def main():
    out = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else os.path.join(ROOT, "Tests", "Fixtures", "pth")
    os.makedirs(out, exist_ok=True)
    expected, made = {}, []
    for case, rel, build, how in CASES:
        obj = build()
        path = os.path.join(out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if how == "path":
            torch.save(obj, path)
        else:
            with open(path, "wb") as f:
                torch.save(obj, f)
        for k, v in official_encoder_weights(obj).items():
            expected[f"{case}/{k}"] = v
        made.append((case, rel, obj["model"] if "model" in obj else obj))

    save_file(expected, os.path.join(out, "expected.safetensors"),
              metadata={"torch_version": torch.__version__})  # one key: safetensors orders several randomly
    os.chmod(os.path.join(out, "expected.safetensors"), 0o644)  # save_file creates it 0600

    legacy_path = os.path.join(out, "legacy_tar.pth")
    torch.manual_seed(4)
    with open(legacy_path, "wb") as f:
        torch.save({"weight": torch.arange(4, dtype=torch.float32), "epoch": 1}, f,
                   _use_new_zipfile_serialization=False)

    # Check: reload everything and compare with expected.safetensors.
    exp = load_file(os.path.join(out, "expected.safetensors"))
    for case, rel, original in made:
        loaded = torch.load(os.path.join(out, rel), weights_only=False, map_location="cpu")
        got = official_encoder_weights(loaded)
        names = {k.split("/", 1)[1] for k in exp if k.startswith(case + "/")}
        assert names == set(got), (case, names ^ set(got))
        for k, v in got.items():
            assert torch.equal(v, exp[f"{case}/{k}"]), (case, k)
        src = loaded["model"] if "model" in loaded else loaded
        for k, v in original.items():
            assert src[k].dtype == v.dtype and src[k].shape == v.shape and src[k].stride() == v.stride() \
                and src[k].storage_offset() == v.storage_offset() and torch.equal(src[k], v), (case, k)
        assert os.path.getsize(os.path.join(out, rel)) < SIZE_LIMIT, rel
        print(f"{case}: {len(got)} encoder tensors OK, {os.path.getsize(os.path.join(out, rel))} bytes")
    tr = torch.load(os.path.join(out, CASES[0][1]), weights_only=False)["model"]
    assert tr["blocks.0.attn.proj.weight"].stride() == (1, D)
    assert tr["blocks.1.norm1.bias"].storage_offset() == D
    assert tr["blocks.1.norm1.weight"].untyped_storage().data_ptr() == tr["blocks.1.norm1.bias"].untyped_storage().data_ptr()
    with open(legacy_path, "rb") as f:
        assert f.read(2) != b"PK"
    assert torch.equal(torch.load(legacy_path, weights_only=False)["weight"], torch.arange(4.0))
    assert os.path.getsize(legacy_path) < SIZE_LIMIT
    assert os.path.getsize(os.path.join(out, "expected.safetensors")) < EXPECTED_SIZE_LIMIT

    write_readme(out, made, legacy_path)
    print("wrote", out)


if __name__ == "__main__":
    main()
