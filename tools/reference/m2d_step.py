"""Reference for ONE M2D pre-training step (and 10 consecutive steps), written from
docs/NUMERICS.md sections 2, 4.1 and 5.2-5.6. Self-contained: nothing is downloaded.

Tiny config, float32 on CPU, torch.manual_seed(0), deterministic algorithms, 1 thread:
  input [B=3, 1, 80, 64] (torch.randn), patches 16x16 -> F=5 x T=4 = L=20 tokens (n = f*T + t);
  online encoder D=32, depth 2, heads 2, MLP 128, qkv_bias, LN eps 1e-6, exact GELU;
  predictor Dd=16, depth 1, heads 2, MLP 64; target encoder 2 blocks + norm (independent init);
  mask ratio 0.6 -> 8 visible, 12 masked; norm_mse loss; AdamW(1e-3, (0.9, 0.95), 1e-8, wd 0.05)
  with the timm add_weight_decay groups; EMA tau 0.9 after every optimizer step.

--variant (default m2d) picks the training variant; all use the same input, ids_shuffle and init:
  m2d          M2D (target encoder on the masked patches only)       -> step.safetensors
  all-targets  M2D paper Table 3 "conventional" (data2vec-style): the target encoder sees ALL patches,
               the targets are its outputs at the masked patches     -> all_targets.safetensors
  msm-mae      MSM-MAE (MAE on log-mel patches): decoder_pred Linear(Dd -> 256) regresses the
               norm_pix patch values of the masked patches; no target network, no EMA
                                                                    -> msm_mae.safetensors
  all          the three above, in this order
Each run rewrites its own section of README.md (see the README for the keys) and keeps the others.
The variants need step.safetensors in OUT_DIR: they check that they share its input, ids_shuffle and init.

It also checks: our Block equals timm's Block; pos-embed check values (spec 2.4); prediction and
target shapes; loss0 == losses[0]; float64 grads agree with the float32 grads, and central finite
differences in float64 agree with the float64 autograd grads on a few elements per tensor.

Run (the venv lives outside the repo):
    $(scripts/peers-venv.sh) tools/reference/m2d_step.py [--variant m2d|all-targets|msm-mae|all] [OUT_DIR]
"""
import argparse
import copy
import json
import re
import math
import os
import sys
from functools import partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from safetensors.torch import save_file, load_file

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SEED = 0

CFG = dict(
    batch=3, n_mels=80, frames=64, in_chans=1, patch=16,
    grid_freq=5, grid_time=4, num_patches=20,
    embed_dim=32, depth=2, num_heads=2, mlp_ratio=4, mlp_hidden=128, qkv_bias=True,
    ln_eps=1e-6, gelu="exact_erf",
    decoder_embed_dim=16, decoder_depth=1, decoder_num_heads=2, decoder_mlp_hidden=64,
    pos_embed_omega="omega_k = 1/10000^(k/(D/4)), k=0..D/4-1; dims [0,D/2) time w (sin then cos), "
                    "[D/2,D) freq h (sin then cos); CLS row 0",
    mask_ratio=0.6, len_keep=8, num_masked=12,
    norm_pix_eps=1e-6, norm_pix_var="unbiased", normalize_eps=1e-12, loss="2-2cos, mean over B*12 tokens",
    init=dict(linear_weight="xavier_uniform", linear_bias=0.0,
              patch_weight="xavier_uniform on [D,256] view", patch_bias="Conv2d default U(-1/16,1/16)",
              cls_token_std=0.02, mask_token_std=0.02, ln_weight=1.0, ln_bias=0.0,
              then_ln_weight_bias_plus_randn_times=0.1, then_linear_bias_plus_randn_times=0.02,
              target="independent init (same rules), not a copy"),
    optimizer=dict(type="torch.optim.AdamW", lr=1e-3, betas=[0.9, 0.95], eps=1e-8, weight_decay=0.05,
                   no_decay="ndim==1 or name endswith '.bias'", lr_schedule="constant", grad_clip=None,
                   amsgrad=False, maximize=False),
    ema_tau=0.9, ema_formula="target = tau*target + (1-tau)*online, after optimizer.step",
    steps=10, seed=SEED, dtype="float32", device="cpu",
)

B, L = CFG["batch"], CFG["num_patches"]
D, DD = CFG["embed_dim"], CFG["decoder_embed_dim"]
LEN_KEEP = int(L * (1 - CFG["mask_ratio"]))
assert LEN_KEEP == CFG["len_keep"] == 8
NM = L - LEN_KEEP
PATCH_VALUES = CFG["patch"] * CFG["patch"] * CFG["in_chans"]  # 256: MSM-MAE regression target per patch
LN = partial(nn.LayerNorm, eps=1e-6)

VARIANTS = ("m2d", "all-targets", "msm-mae")
FILES = {"m2d": "step.safetensors", "all-targets": "all_targets.safetensors", "msm-mae": "msm_mae.safetensors"}
# Central-difference step of the float64 check. MSM-MAE's gradients are smaller (MSE over 256 values per
# patch): at h = 1e-6 the float64 roundoff of the loss (~1e-10 absolute on the difference quotient) exceeds
# 1e-5 relative on its smallest sampled elements (4e-6); h = 1e-5 is well inside the truncation-error range.
FD_STEP = {"m2d": 1e-6, "all-targets": 1e-6, "msm-mae": 1e-5}


def variant_cfg(variant):
    """The config written into the metadata. m2d's is CFG itself: step.safetensors must not change."""
    if variant == "m2d":
        return CFG
    c = dict(CFG, variant=variant)
    if variant == "all-targets":
        c["target_input"] = ("[cls_token + pos_embed[0], all L patch tokens (patch_embed + pos_embed[1:], patch "
                             "index order)] -> target_blocks -> target_norm -> drop CLS; targets = rows at "
                             "ids_shuffle[:, len_keep:]")
        return c
    for k in ("ema_tau", "ema_formula", "normalize_eps"):
        del c[k]
    c.update(decoder_pred_out=PATCH_VALUES, norm_pix_loss=True,
             target="patchify(input): reshape(N,1,h,16,w,16), einsum nchpwq->nhwpqc, reshape(N,h*w,256); "
                    "per patch (t-mean)/(var_unbiased+1e-6)**.5",
             loss="((pred-target)**2).mean(-1); (loss*mask).sum()/mask.sum(), mask 1 = masked")
    c["init"] = dict(CFG["init"], target="none (no target network)",
                     shared="copied from the m2d fixture model (same name and shape)",
                     decoder_pred="same rules (xavier_uniform, bias 0, += 0.02*randn), drawn after the mask noise")
    return c


def gather_rows(x, ids):
    """x (B, N, C), ids (B, K) -> (B, K, C): rows ids[b] of x[b]."""
    return torch.gather(x, 1, ids.unsqueeze(-1).expand(-1, -1, x.shape[-1]))


def standardize(t):
    """Per-token standardization over the last axis, unbiased var (M2D targets and MAE norm_pix_loss)."""
    mean = t.mean(dim=-1, keepdim=True)
    var = t.var(dim=-1, keepdim=True)  # unbiased
    return (t - mean) / (var + 1.e-6) ** .5


# ---------------------------------------------------------------- model (spec 2.2, 2.3, 2.4, 5.3)
class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads, self.hd = heads, dim // heads
        self.scale = self.hd ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, n, c = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        a = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
        return self.proj((a @ v).transpose(1, 2).reshape(b, n, c))


class Mlp(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.fc1, self.act, self.fc2 = nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x)))


class Block(nn.Module):
    """Pre-norm timm block; parameter names equal timm's (norm1, attn.qkv, attn.proj, norm2, mlp.fc1/fc2)."""
    def __init__(self, dim, heads, mlp_ratio=4):
        super().__init__()
        self.norm1, self.attn = LN(dim), Attention(dim, heads)
        self.norm2, self.mlp = LN(dim), Mlp(dim, dim * mlp_ratio)

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class PatchEmbed(nn.Module):
    def __init__(self, dim, patch=16):
        super().__init__()
        self.proj = nn.Conv2d(1, dim, kernel_size=patch, stride=patch)

    def forward(self, x):
        return self.proj(x).flatten(2).transpose(1, 2)  # (B, F*T, D), n = f*T + t


def sincos_1d(dim, pos):
    omega = np.arange(dim // 2, dtype=np.float64) / (dim / 2.0)
    omega = 1.0 / 10000 ** omega
    out = np.einsum("m,d->md", pos.reshape(-1).astype(np.float64), omega)
    return np.concatenate([np.sin(out), np.cos(out)], axis=1)


def sincos_2d(dim, gh, gw):
    """Spec 2.4: grid = meshgrid(arange(gW), arange(gH)) ('xy'): grid[0] = time w, grid[1] = freq h.
    First dim/2 dims encode w, last dim/2 encode h; CLS row zeros."""
    grid = np.meshgrid(np.arange(gw, dtype=np.float64), np.arange(gh, dtype=np.float64))  # each (gh, gw)
    emb = np.concatenate([sincos_1d(dim // 2, grid[0]), sincos_1d(dim // 2, grid[1])], axis=1)
    emb = np.concatenate([np.zeros([1, dim]), emb], axis=0)
    return torch.from_numpy(emb).float().unsqueeze(0)


def init_rules(root):
    """Spec 5.5 rules for every Linear / LayerNorm under root (pre-order), then the fixture's perturbation
    (so that wrong order / missing terms show in tests)."""
    for m in root.modules():
        if isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.LayerNorm):
            nn.init.constant_(m.bias, 0)
            nn.init.constant_(m.weight, 1.0)
    with torch.no_grad():
        for m in root.modules():
            if isinstance(m, nn.LayerNorm):
                m.weight.add_(0.1 * torch.randn_like(m.weight))
                m.bias.add_(0.1 * torch.randn_like(m.bias))
            elif isinstance(m, nn.Linear):
                m.bias.add_(0.02 * torch.randn_like(m.bias))


class M2D(nn.Module):
    """Defaults = the fixture config (CFG). The size keyword arguments exist only so that
    tools/reference/bench_train.py can build larger models (same code, same construction order).
    variant: "m2d" and "all-targets" build the same modules (they differ only in the target encoder's
    input); "msm-mae" has decoder_pred Linear(Dd -> 256) and no target_blocks / target_norm."""
    def __init__(self, embed_dim=D, depth=CFG["depth"], num_heads=CFG["num_heads"],
                 decoder_embed_dim=DD, decoder_depth=CFG["decoder_depth"],
                 decoder_num_heads=CFG["decoder_num_heads"],
                 grid=(CFG["grid_freq"], CFG["grid_time"]), len_keep=LEN_KEEP, variant="m2d"):
        super().__init__()
        assert variant in VARIANTS, variant
        c = CFG
        D, DD = embed_dim, decoder_embed_dim
        self.variant = variant
        self.grid, self.L, self.len_keep = grid, grid[0] * grid[1], len_keep
        L = self.L
        # Construction order = official state_dict order (own params first, then submodules).
        self.cls_token = nn.Parameter(torch.zeros(1, 1, D))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + L, D), requires_grad=False)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, DD))
        self.decoder_pos_embed = nn.Parameter(torch.zeros(1, 1 + L, DD), requires_grad=False)
        self.patch_embed = PatchEmbed(D, c["patch"])
        self.blocks = nn.ModuleList([Block(D, num_heads) for _ in range(depth)])
        self.norm = LN(D)
        self.decoder_embed = nn.Linear(D, DD)
        self.decoder_blocks = nn.ModuleList([Block(DD, decoder_num_heads) for _ in range(decoder_depth)])
        self.decoder_norm = LN(DD)
        self.decoder_pred = nn.Linear(DD, PATCH_VALUES if variant == "msm-mae" else D)
        if variant == "msm-mae":
            return  # MAE: no target network
        self.target_blocks = nn.ModuleList([Block(D, num_heads) for _ in range(depth)])
        self.target_norm = LN(D)
        for p in list(self.target_blocks.parameters()) + list(self.target_norm.parameters()):
            p.requires_grad = False

    # spec 5.5, then the fixture's perturbation
    def initialize(self):
        gh, gw = self.grid
        self.pos_embed.data.copy_(sincos_2d(self.pos_embed.shape[-1], gh, gw))
        self.decoder_pos_embed.data.copy_(sincos_2d(self.decoder_pos_embed.shape[-1], gh, gw))
        w = self.patch_embed.proj.weight.data
        nn.init.xavier_uniform_(w.view([w.shape[0], -1]))
        # patch_embed.proj.bias keeps the Conv2d default U(-1/16, 1/16) drawn at construction
        nn.init.normal_(self.cls_token, std=0.02)
        nn.init.normal_(self.mask_token, std=0.02)
        init_rules(self)  # pre-order over modules, target included

    def forward(self, imgs, ids_shuffle, return_all=False, fixed_target=None):
        """fixed_target (standardized, (B, 12, D)) replaces the target branch; used only by the
        finite-difference check, because the target branch is a stop-gradient: perturbing the shared
        cls_token / patch_embed also moves the target, which autograd (by design) ignores.
        msm-mae ignores fixed_target: its target is made from the input alone."""
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        L, LEN_KEEP = self.L, self.len_keep
        x = self.patch_embed(imgs) + self.pos_embed[:, 1:, :]
        ids_keep, ids_mask = ids_shuffle[:, :LEN_KEEP], ids_shuffle[:, LEN_KEEP:]
        x_vis = gather_rows(x, ids_keep)
        cls = (self.cls_token + self.pos_embed[:, :1, :]).expand(x.shape[0], -1, -1)

        # online encoder
        h = torch.cat([cls, x_vis], dim=1)
        for blk in self.blocks:
            h = blk(h)
        latent = self.norm(h)  # (B, 9, D)

        # predictor (M2D) / decoder (MSM-MAE)
        z = self.decoder_embed(latent)  # (B, 9, Dd)
        mask_tokens = self.mask_token.expand(z.shape[0], L + 1 - z.shape[1], -1)
        z_ = torch.cat([z[:, 1:, :], mask_tokens], dim=1)  # (B, L, Dd), shuffled order
        z_ = gather_rows(z_, ids_restore)  # unshuffle
        z = torch.cat([z[:, :1, :], z_], dim=1) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            z = blk(z)
        z = self.decoder_pred(self.decoder_norm(z))[:, 1:, :]  # (B, L, D or 256), patch order
        pred = gather_rows(z, ids_shuffle)[:, LEN_KEEP:]  # masked patches, ids_shuffle order

        if self.variant == "msm-mae":  # MAE forward_loss with norm_pix_loss
            target = standardize(self.patchify(imgs))  # (B, L, 256)
            mask = torch.ones(x.shape[0], L, dtype=z.dtype)
            mask[:, :LEN_KEEP] = 0
            mask = torch.gather(mask, 1, ids_restore)  # 1 = masked, patch order
            loss = ((z - target) ** 2).mean(dim=-1)
            loss = (loss * mask).sum() / mask.sum()
            if return_all:
                return loss, pred, gather_rows(target, ids_shuffle)[:, LEN_KEEP:], latent
            return loss

        # target encoder
        with torch.no_grad():
            if self.variant == "m2d":  # masked patches only
                t = torch.cat([cls, gather_rows(x, ids_mask)], dim=1)
            else:  # all-targets: every patch, patch order
                t = torch.cat([cls, x], dim=1)
            for blk in self.target_blocks:
                t = blk(t)
            target = self.target_norm(t)[:, 1:, :]  # (B, 12 or L, D)
            if self.variant == "all-targets":
                target = gather_rows(target, ids_mask)  # (B, 12, D)

        target = standardize(target)
        if fixed_target is not None:
            target = fixed_target
        p = F.normalize(pred, dim=-1, eps=1e-12)
        q = F.normalize(target, dim=-1, eps=1e-12)
        loss = (2 - 2 * (p * q).sum(dim=-1)).mean()
        if return_all:
            return loss, pred, target, latent
        return loss

    def patchify(self, imgs):
        """MAE / MSM-MAE order: (N, 1, h*p, w*p) -> (N, h*w, p*p); token n = f*w + t, value p_row*p + q_col."""
        p = self.patch_embed.proj.kernel_size[0]
        h, w = self.grid
        x = imgs.reshape(imgs.shape[0], 1, h, p, w, p)
        x = torch.einsum("nchpwq->nhwpqc", x)
        return x.reshape(imgs.shape[0], h * w, p * p * 1)

    def trainable(self):
        return [(n, p) for n, p in self.named_parameters() if p.requires_grad]

    @torch.no_grad()
    def update_target(self, tau):
        online = list(self.blocks.parameters()) + list(self.norm.parameters())
        target = list(self.target_blocks.parameters()) + list(self.target_norm.parameters())
        assert len(online) == len(target)
        for po, pt in zip(online, target):
            pt.data = pt.data * tau + po.data * (1. - tau)


def msm_mae_from(m2d):
    """The MSM-MAE fixture model: every tensor it shares (same name and shape) with the initialized M2D
    fixture model is copied from it; decoder_pred (Linear(Dd, 256)) gets the same init rules, drawn from
    the global RNG where it stands (right after the mask noise)."""
    with torch.random.fork_rng(devices=[]):  # construction draws (default inits, all overwritten) discarded
        mae = M2D(variant="msm-mae")
    own = mae.state_dict()
    shared = {k: v for k, v in m2d.state_dict().items() if k in own and own[k].shape == v.shape}
    missing, unexpected = mae.load_state_dict(shared, strict=False)
    assert sorted(missing) == ["decoder_pred.bias", "decoder_pred.weight"] and not unexpected, missing
    init_rules(mae.decoder_pred)
    return mae


def param_groups(model, wd):
    """timm add_weight_decay (spec 5.6)."""
    decay, no_decay = [], []
    for n, p in model.trainable():
        (no_decay if (p.ndim <= 1 or n.endswith(".bias")) else decay).append((n, p))
    return decay, no_decay


def make_optimizer(model):
    o = CFG["optimizer"]
    decay, no_decay = param_groups(model, o["weight_decay"])
    return torch.optim.AdamW(
        [{"params": [p for _, p in no_decay], "weight_decay": 0.0},
         {"params": [p for _, p in decay], "weight_decay": o["weight_decay"]}],
        lr=o["lr"], betas=tuple(o["betas"]), eps=o["eps"], weight_decay=o["weight_decay"],
        foreach=False, fused=False), decay, no_decay


# ---------------------------------------------------------------- checks
def check_block_against_timm():
    from timm.models.vision_transformer import Block as TBlock
    for dim in (D, DD):
        ours = Block(dim, 2).double()
        ref = TBlock(dim, 2, mlp_ratio=4, qkv_bias=True, norm_layer=LN).double()
        with torch.no_grad():
            for p in ours.parameters():
                p.copy_(torch.randn_like(p) * 0.3)
        missing = ref.load_state_dict(ours.state_dict(), strict=True)
        x = torch.randn(2, 9, dim, dtype=torch.float64)
        err = (ours(x) - ref(x)).abs().max().item()
        assert err < 1e-12, err
    return err


def check_pos_embed(pe, dim):
    gw = CFG["grid_time"]
    q = dim // 4
    assert torch.all(pe[0, 0] == 0)
    row = pe[0, 1 + 0 * gw + 1]  # (h=0, w=1)
    assert abs(row[0] - math.sin(1)) < 1e-6 and abs(row[q] - math.cos(1)) < 1e-6
    assert row[2 * q] == 0 and row[3 * q] == 1
    row = pe[0, 1 + 2 * gw + 0]  # (h=2, w=0)
    assert row[0] == 0 and row[q] == 1 and abs(row[2 * q] - math.sin(2)) < 1e-6
    assert abs(row[2 * q + 1] - math.sin(2 / 10000 ** (1 / q))) < 1e-6


def fd_check(model32, imgs, ids, grads32, h=1e-6):
    m = copy.deepcopy(model32).double()
    x = imgs.double()
    m.zero_grad(set_to_none=True)
    loss, _, tgt, _ = m(x, ids, return_all=True)
    loss.backward()
    g64 = {n: p.grad.detach().clone() for n, p in m.trainable()}
    # float32 vs float64 autograd
    worst32 = 0.0
    for n, g in g64.items():
        scale = g.abs().max().item() + 1e-12
        worst32 = max(worst32, (grads32[n].double() - g).abs().max().item() / scale)
    # central differences in float64 on a few elements of some tensors
    gen = torch.Generator().manual_seed(123)
    names = ["cls_token", "mask_token", "patch_embed.proj.weight", "patch_embed.proj.bias",
             "blocks.0.norm1.weight", "blocks.0.attn.qkv.weight", "blocks.1.mlp.fc2.bias", "norm.bias",
             "decoder_embed.weight", "decoder_blocks.0.attn.proj.weight", "decoder_norm.weight",
             "decoder_pred.bias"]
    params = dict(m.named_parameters())
    eps, worst_fd, n_checked = h, 0.0, 0
    with torch.no_grad():
        for n in names:
            p = params[n]
            flat = p.data.view(-1)
            idx = torch.randperm(flat.numel(), generator=gen)[:3].tolist()
            idx.append(int(g64[n].view(-1).abs().argmax()))
            for i in idx:
                old = flat[i].item()
                flat[i] = old + eps
                lp = m(x, ids, fixed_target=tgt).item()
                flat[i] = old - eps
                lm = m(x, ids, fixed_target=tgt).item()
                flat[i] = old
                fd = (lp - lm) / (2 * eps)
                an = g64[n].view(-1)[i].item()
                err = abs(fd - an) / max(1e-6, abs(an), abs(fd))
                if os.environ.get("FD_VERBOSE"): print(f"FD {n}[{i}] fd={fd:.9e} an={an:.9e} rel={err:.1e}")
                worst_fd = max(worst_fd, err)
                n_checked += 1
    assert worst32 < 1e-4 and worst_fd < 1e-5, (worst32, worst_fd)
    return worst32, worst_fd, n_checked, loss.item()


def same_content(path, tensors, meta):
    if not os.path.exists(path):
        return False
    from safetensors import safe_open
    with safe_open(path, "pt") as f:
        if f.metadata() != meta or set(f.keys()) != set(tensors):
            return False
        return all(torch.equal(f.get_tensor(k), v) and f.get_tensor(k).dtype == v.dtype
                   for k, v in tensors.items())


def shared_with_step(out_dir, tensors):
    """A variant's input, ids_shuffle and the init.* tensors step.safetensors also has (same key and shape)
    must be bit-equal to step.safetensors'; returns their keys."""
    path = os.path.join(out_dir, FILES["m2d"])
    assert os.path.exists(path), f"{path} missing: run --variant m2d first (or --variant all)"
    step = load_file(path)
    keys = [k for k, v in tensors.items() if (k in ("input", "ids_shuffle") or k.startswith("init."))
            and k in step and step[k].shape == v.shape]
    bad = [k for k in keys if not torch.equal(step[k], tensors[k])]
    assert not bad, bad
    return keys


# ---------------------------------------------------------------- main
def run(variant, out_dir):
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(SEED)

    # RNG order (every variant): M2D construction (default inits), initialize() (xavier, normal,
    # perturbation), input randn, mask noise rand(10, B, L); msm-mae then draws its decoder_pred init.
    model = M2D(variant="all-targets" if variant == "all-targets" else "m2d")
    model.initialize()
    imgs = torch.randn(B, 1, CFG["n_mels"], CFG["frames"])
    noise = torch.rand(CFG["steps"], B, L)
    ids_all = torch.argsort(noise, dim=-1)  # ascending; per sample
    ids_all = ids_all.clone()
    if variant == "msm-mae":
        model = msm_mae_from(model)
    has_target = variant != "msm-mae"
    out_dim = model.decoder_pred.out_features

    check_pos_embed(model.pos_embed, D)
    check_pos_embed(model.decoder_pos_embed, DD)
    check_block_against_timm()

    tensors = {"input": imgs[:, 0].contiguous(), "ids_shuffle": ids_all.float().contiguous()}
    for n, t in model.state_dict().items():
        tensors["init." + n] = t.detach().clone().contiguous()

    opt, decay, no_decay = make_optimizer(model)
    target_names = [n for n, _ in model.named_parameters() if n.startswith("target_")]
    assert bool(target_names) == has_target
    losses = []
    for s in range(CFG["steps"]):
        opt.zero_grad(set_to_none=True)
        if s == 0:
            loss, pred, target, latent = model(imgs, ids_all[s], return_all=True)
            assert pred.shape == (B, NM, out_dim) and target.shape == (B, NM, out_dim)
            assert latent.shape == (B, 1 + LEN_KEEP, D)
            shapes = dict(pred=list(pred.shape), target=list(target.shape), latent=list(latent.shape))
            tensors["pred0"] = pred.detach().clone().contiguous()
            tensors["target0"] = target.detach().clone().contiguous()
        else:
            loss = model(imgs, ids_all[s])
        loss.backward()
        losses.append(loss.item())
        if s == 0:
            tensors["loss0"] = loss.detach().reshape(1).clone()
            grads32 = {}
            for n, p in model.trainable():
                assert p.grad is not None, n
                grads32[n] = p.grad.detach().clone()
                tensors["grad." + n] = grads32[n].contiguous()
            # no grad must reach frozen tensors
            assert all(p.grad is None for n, p in model.named_parameters() if not p.requires_grad)
            worst32, worst_fd, n_fd, loss64 = fd_check(model, imgs, ids_all[0], grads32, FD_STEP[variant])
        opt.step()
        if has_target:
            model.update_target(CFG["ema_tau"])
        if s == 0:
            for n, p in model.trainable():
                tensors["step1." + n] = p.detach().clone().contiguous()
            for n in target_names:
                tensors["step1." + n] = dict(model.named_parameters())[n].detach().clone().contiguous()
    tensors["losses"] = torch.tensor(losses, dtype=torch.float32)
    assert tensors["losses"][0] == tensors["loss0"][0]
    for k, v in tensors.items():
        assert v.dtype == torch.float32 and v.is_contiguous(), k
    shared = shared_with_step(out_dir, tensors) if variant != "m2d" else []

    meta = {"config": json.dumps(variant_cfg(variant), sort_keys=True), "torch": torch.__version__,
            "seed": str(SEED)}
    path = os.path.join(out_dir, FILES[variant])
    # safetensors writes __metadata__ in a per-process random (Rust HashMap) order, so the bytes differ
    # between runs even though the content is identical: keep an existing file whose content is equal.
    if same_content(path, tensors, meta):
        print(f"{path}: content unchanged, file kept")
    else:
        save_file(tensors, path, metadata=meta)
    size = os.path.getsize(path)
    assert size < 2 * 1024 * 1024, size
    back = load_file(path)
    assert set(back) == set(tensors) and all(torch.equal(back[k], tensors[k]) for k in back)

    r = dict(variant=variant, file=FILES[variant], tensors=tensors, losses=losses, shapes=shapes, size=size,
             trainable=[n for n, _ in model.trainable()], decay=decay, no_decay=no_decay,
             target_names=target_names, worst32=worst32, fd_h=FD_STEP[variant], worst_fd=worst_fd, n_fd=n_fd,
             loss64=loss64, shared=shared)
    update_readme(out_dir, variant, README_SECTIONS[variant](r))
    print(f"[{variant}] {path}: {size} bytes, {len(tensors)} tensors")
    print("losses:", " ".join(f"{v:.7f}" for v in losses))
    print(f"loss0 float64 = {loss64:.10f}; fp32-vs-fp64 grad max rel (to tensor max) = {worst32:.2e}; "
          f"FD worst rel err = {worst_fd:.2e} over {n_fd} elements")
    print("shapes:", shapes)
    if variant != "m2d":
        print(f"bit-equal to step.safetensors: {len(shared)} tensors (input, ids_shuffle, init.*)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variant", choices=VARIANTS + ("all",), default="m2d")
    ap.add_argument("out_dir", nargs="?", default=os.path.join(ROOT, "Tests", "Fixtures", "m2d_step"))
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    for v in (VARIANTS if args.variant == "all" else (args.variant,)):
        run(v, args.out_dir)


# ---------------------------------------------------------------- README.md
# README.md = the m2d section (no marker), then one section per variant, each after a marker line.
MARKER = "<!-- fixture section: {} -->"
MARKER_RE = re.compile(r"\n*<!-- fixture section: ([a-z0-9-]+) -->\n")


def update_readme(out_dir, variant, text):
    """Replace this variant's section of README.md, keep the others (sections in VARIANTS order)."""
    path = os.path.join(out_dir, "README.md")
    sections = {}
    if os.path.exists(path):
        with open(path) as f:
            parts = MARKER_RE.split(f.read())
        sections["m2d"] = parts[0]
        sections.update(zip(parts[1::2], parts[2::2]))
    sections[variant] = text
    out = sections.get("m2d", "").rstrip("\n") + "\n"
    for v in VARIANTS[1:]:
        if v in sections:
            out += "\n" + MARKER.format(v) + "\n" + sections[v].strip("\n") + "\n"
    with open(path, "w") as f:
        f.write(out.lstrip("\n"))


def loss_table(losses):
    return "| step | loss |\n|---|---|\n" + "\n".join(f"| {i} | {v:.7f} |" for i, v in enumerate(losses))


def counts(r):
    t = r["tensors"]
    return {p: sum(1 for k in t if k.startswith(p + ".")) for p in ("init", "grad", "step1")}


def readme_m2d(r):
    n = counts(r)
    shapes, decay, no_decay, trainable = r["shapes"], r["decay"], r["no_decay"], r["trainable"]
    return f"""# One M2D training step (PyTorch reference)

Made by `tools/reference/m2d_step.py` with **torch {torch.__version__}** (Python {sys.version.split()[0]}),
CPU, float32, `torch.manual_seed({SEED})`, `torch.use_deterministic_algorithms(True)`, 1 thread. The script is
written from docs/NUMERICS.md sections 2, 4.1 and 5.2-5.6 (own Block, cross-checked against timm's `Block`
to 1e-12 in float64). Rerun: `$(scripts/peers-venv.sh) tools/reference/m2d_step.py` (about 6 s). File size
{r['size']} bytes. The tensors are bit-reproducible for this torch version; safetensors orders the metadata keys
randomly per process, so a rerun keeps the existing file when its content is equal.
Two training variants with the same config, input, masks and init have their own sections at the end
(`all_targets.safetensors`, `msm_mae.safetensors`; `--variant all-targets|msm-mae|all`). Each run of the
script rewrites only its own section of this README.

## Config (also in the safetensors metadata `config`, JSON; `torch`, `seed` are metadata too)
- Input: normalized log-mel batch B=3, `[3, 1, 80, 64]` = `torch.randn`. Patches 16x16: F=5 freq x
  T=4 time = L=20 tokens, frequency-major, n = f*T + t (Conv2d(1, D, 16, 16) output `flatten(2).transpose(1, 2)`).
- Online encoder: D=32, depth 2, heads 2 (head_dim 16, scale 16^-0.5), MLP 128, qkv_bias, pre-norm,
  LayerNorm eps 1e-6, exact-erf GELU. `cls_token` [1,1,32]; `pos_embed` [1,21,32] fixed 2-D sin-cos
  (spec 2.4: CLS row 0; dims 0..15 time w (0..7 sin, 8..15 cos), dims 16..31 freq h; omega_k = 10000^(-k/8), k=0..7).
- Predictor: Dd=16, depth 1, heads 2 (head_dim 8), MLP 64; `decoder_embed` Linear(32->16), `mask_token`
  [1,1,16], `decoder_pos_embed` [1,21,16] (same construction with Dd: omega_k = 10000^(-k/4), k=0..3),
  `decoder_norm`, `decoder_pred` Linear(16->32).
- Target encoder: `target_blocks` (2 blocks) + `target_norm`, independent init, no grad; shares the online
  `patch_embed`, `cls_token` (+ zero CLS position) and `pos_embed`.
- Init (spec 5.5): xavier_uniform for every Linear weight (qkv as one [3D, D] matrix) and for
  `patch_embed.proj.weight` viewed [32, 256]; Linear biases 0; patch bias = Conv2d default U(-1/16, 1/16);
  cls/mask token normal(std 0.02); LN weight 1, bias 0. **Then** every LayerNorm weight and bias gets
  `+= 0.1*randn` and every Linear bias `+= 0.02*randn` (online, predictor and target; not the conv bias).
  Use the `init.*` tensors, not a re-derivation: they are the ground truth.
- Masking: ratio 0.6 -> len_keep = int(20*0.4) = 8 visible, 12 masked. ids_shuffle = argsort(rand) per
  sample, ids_restore = argsort(ids_shuffle); visible = ids_shuffle[:, :8], masked = ids_shuffle[:, 8:], both in
  shuffled order, applied after patch embedding + pos_embed[1:].
- Forward (spec 5.3): online [cls+pos0, visible] -> blocks -> norm -> latent (3, 9, 32); decoder_embed on all 9;
  12 mask tokens appended after the 8 visible; unshuffle with ids_restore; CLS in front; + decoder_pos_embed;
  decoder blocks; decoder_norm; decoder_pred -> (3, 21, 32); drop CLS; gather ids_shuffle; keep [8:].
  Target: [cls+pos0, masked tokens] -> target_blocks -> target_norm -> drop CLS. Per-token standardization
  (t - mean) / (var_unbiased + 1e-6)^0.5 over the 32 features; loss = mean over 3*12 tokens of
  2 - 2*cos(F.normalize(pred, eps=1e-12), F.normalize(target, eps=1e-12)).
- Checked shapes: predictions {shapes['pred']}, targets {shapes['target']}, online latent {shapes['latent']}.
- Optimizer: `torch.optim.AdamW(lr=1e-3, betas=(0.9, 0.95), eps=1e-8)` (foreach=False, fused=False), two groups:
  weight_decay 0 for params with ndim 1 or names ending in `.bias` ({len(no_decay)} tensors), weight_decay 0.05
  for the other {len(decay)} (Linear weights, `patch_embed.proj.weight`, `cls_token`, `mask_token`). Constant lr, no
  clipping, no warmup. Trainable = {len(trainable)} tensors: cls_token, mask_token, patch_embed.*, blocks.*, norm.*,
  decoder_embed.*, decoder_blocks.*, decoder_norm.*, decoder_pred.*. pos_embed/decoder_pos_embed frozen; target_* excluded.
- EMA after each `optimizer.step()`: for target_blocks.*/target_norm.* (paired with blocks.*/norm.*),
  `t = t*0.9 + o*(1 - 0.9)` (the Python double 1-0.9 is rounded to float32 0.1 by torch).

## Tensors in `step.safetensors` (all float32, contiguous)
| key | shape | meaning |
|---|---|---|
| `input` | [3, 80, 64] | the batch (add the channel axis: [3, 1, 80, 64]); the same for all 10 steps |
| `ids_shuffle` | [10, 3, 20] | integer-valued; step s uses `ids_shuffle[s]` |
| `init.<name>` ({n['init']}) | official shapes | every tensor of the model before training (state_dict keys, incl. pos embeds and target_*) |
| `loss0` | [1] | loss of step 0 before any update |
| `grad.<name>` ({n['grad']}) | param shape | gradients of every trainable parameter after `loss0.backward()` |
| `step1.<name>` ({n['step1']}) | param shape | trainable params after the first AdamW step, and target_blocks.*/target_norm.* after the first EMA |
| `losses` | [10] | loss at each of 10 consecutive steps (forward, backward, AdamW step, EMA), before that step's update |
| `pred0` | [3, 12, 32] | extra: step-0 predictions (masked tokens, ids_shuffle order) |
| `target0` | [3, 12, 32] | extra: step-0 standardized targets (before L2 normalization) |

`losses[0] == loss0[0]` exactly.

{loss_table(r['losses'])}

## Verification done by the script
- pos-embed check values (spec 2.4) for both widths; our Block == timm 1.x `Block` (float64, 1e-12).
{grad_checks(r)} The target is held fixed
  at its unperturbed value during the differences: the target branch is a stop-gradient, so
  `grad.cls_token` and `grad.patch_embed.*` contain **only the online-branch path** (cls token through
  the online encoder; visible tokens through the online encoder). Differencing the full loss without
  fixing the target disagrees for exactly those tensors (relative errors up to ~2), as it should.
- No gradient reaches pos_embed, decoder_pos_embed or target_*.
"""


def grad_checks(r):
    h = f"{r['fd_h']:.0e}".replace("e-0", "e-")
    return f"""- A float64 copy of the model gives loss0 = {r['loss64']:.10f}; float32 grads vs float64 autograd grads: worst
  |diff| / max|grad of that tensor| = {r['worst32']:.1e}.
- Central finite differences (float64, h = {h}) on {r['n_fd']} elements of 12 tensors (cls_token, mask_token,
  patch weight/bias, LN, qkv, fc2 bias, final norm, decoder_embed, decoder attn proj, decoder_norm,
  decoder_pred bias) vs float64 autograd: worst relative error {r['worst_fd']:.1e}."""


def readme_all_targets(r):
    n = counts(r)
    return f"""## Variant `all_targets.safetensors`: all-patch targets (M2D paper Table 3, "conventional")

Made by `tools/reference/m2d_step.py --variant all-targets` (same torch, flags and seed); file size {r['size']} bytes.
The data2vec-style variant: **identical to `step.safetensors` except the target encoder's input**.
- Same input, `ids_shuffle` and init: the {len(r['shared'])} tensors `input`, `ids_shuffle`, `init.*` are bit-equal to
  those of `step.safetensors` (checked by the script). Same online encoder, predictor, standardization,
  2-2cos loss, AdamW groups ({len(r['no_decay'])} no-decay / {len(r['decay'])} decay tensors) and EMA (tau 0.9).
- Target: [cls_token + pos_embed[0], **all 20** patch tokens (patch_embed + pos_embed[1:], patch index order
  0..19)] -> target_blocks -> target_norm -> drop CLS -> (3, 20, 32); the targets are its rows at the masked
  indices, in `ids_shuffle[s, :, 8:]` order -> (3, 12, 32); then the same per-token standardization and loss.
  (M2D's own target encoder sees only [CLS, the 12 masked tokens].)
- Keys, shapes and meanings exactly as in `step.safetensors`: `input`, `ids_shuffle` [10, 3, 20], `init.<name>`
  ({n['init']}), `loss0` [1], `grad.<name>` ({n['grad']}), `step1.<name>` ({n['step1']}, incl. target_* after the
  first EMA), `losses` [10], `pred0` {r['shapes']['pred']}, `target0` {r['shapes']['target']}.
  `losses[0] == loss0[0]` exactly.

{loss_table(r['losses'])}

Verification:
{grad_checks(r)} Target held
  fixed during the differences, as for `step.safetensors` (stop-gradient: `grad.cls_token`, `grad.patch_embed.*`
  are the online-branch path only).
- No gradient reaches pos_embed, decoder_pos_embed or target_*.
"""


def readme_msm_mae(r):
    n = counts(r)
    return f"""## Variant `msm_mae.safetensors`: MSM-MAE (masked autoencoder on log-mel patches)

Made by `tools/reference/m2d_step.py --variant msm-mae` (same torch, flags and seed); file size {r['size']} bytes.
MSM-MAE (Niizumi et al., "Masked Spectrogram Modeling using Masked Autoencoders") = MAE with `norm_pix_loss`
on the log-mel patches. **No target network, no EMA.**
- Same input and `ids_shuffle` as `step.safetensors`. Init: every tensor whose name and shape
  `step.safetensors` also has (all but `decoder_pred.*`) is copied from it: the {len(r['shared'])} tensors `input`,
  `ids_shuffle` and those `init.*` are bit-equal to `step.safetensors`' (checked by the script).
  `decoder_pred` = Linear(16 -> 256), weight [256, 16], gets the same rules (xavier_uniform, bias 0, then
  `+= 0.02*randn`), drawn from the global RNG right after the mask noise. Use `init.*`.
- Online encoder exactly as M2D's (cls_token, patch_embed, blocks, norm, pos_embed) on [cls+pos0, 8 visible];
  decoder exactly as M2D's predictor (decoder_embed 32->16, mask_token, unshuffle, CLS in front,
  + decoder_pos_embed, 1 block Dd=16 heads 2 MLP 64, decoder_norm) except decoder_pred -> (3, 21, 256); drop
  CLS -> (3, 20, 256) in patch order.
- Target: `patchify(input)` in MAE order: `imgs.reshape(N, 1, 5, 16, 4, 16)`; `einsum('nchpwq->nhwpqc')`;
  `reshape(N, 20, 256)`: token n = f*4 + t (same order as the patch embedding), value index = i*16 + j for mel
  row 16f + i and frame 16t + j. norm_pix_loss: per patch (t - mean) / (var_unbiased + 1e-6)^0.5 over the 256 values.
- Loss: `((pred - target)**2).mean(-1)` -> (3, 20); mask (1 = masked) = ones with `[:, :8] = 0`, unshuffled by
  ids_restore; loss = `(loss*mask).sum() / mask.sum()` (= mean over the 3*12 masked patches).
- Optimizer: the same AdamW and group rule: {len(r['no_decay'])} no-decay tensors (ndim 1 or `.bias`), {len(r['decay'])}
  decay tensors (Linear weights incl. `decoder_pred.weight`, `patch_embed.proj.weight`, `cls_token`, `mask_token`).
  Trainable = {len(r['trainable'])} tensors: cls_token, mask_token, patch_embed.*, blocks.*, norm.*, decoder_embed.*,
  decoder_blocks.*, decoder_norm.*, decoder_pred.*; pos_embed/decoder_pos_embed frozen.
- Not checked against the original code: this is MSM-MAE on M2D's architecture (what our trainer shares).
  The public nttcslab/msm-mae `models_mae.py` defaults differ in three places: `use_cls_token=False` (no CLS
  anywhere), `BlockKBiasZero` (qkv without a key bias: q and v biases only) and a 1-D sinusoid
  `decoder_pos_embed` (`use_2d_dec_pos_embd=False`). Patchify, masking, norm_pix_loss and the masked mean are
  the same as there.

| key | shape | meaning |
|---|---|---|
| `input` | [3, 80, 64] | the batch, as in `step.safetensors` |
| `ids_shuffle` | [10, 3, 20] | as in `step.safetensors`; step s uses `ids_shuffle[s]` |
| `init.<name>` ({n['init']}) | official shapes | every tensor of the model before training (no target_*) |
| `loss0` | [1] | loss of step 0 before any update |
| `grad.<name>` ({n['grad']}) | param shape | gradients of every trainable parameter after `loss0.backward()` |
| `step1.<name>` ({n['step1']}) | param shape | trainable params after the first AdamW step |
| `losses` | [10] | loss at each of 10 consecutive steps (forward, backward, AdamW step), before that step's update |
| `pred0` | {r['shapes']['pred']} | extra: step-0 predictions at the masked patches, `ids_shuffle[0, :, 8:]` order |
| `target0` | {r['shapes']['target']} | extra: step-0 norm_pix targets, same order |

`losses[0] == loss0[0]` exactly.

{loss_table(r['losses'])}

Verification:
{grad_checks(r)} The target
  depends on the input only, so these are differences of the full loss (nothing held fixed). h is 1e-5 here
  (1e-6 for the M2D files): the gradients are smaller, and at h = 1e-6 the float64 roundoff of the
  difference quotient (~1e-10) reaches 3e-5 relative on the smallest sampled element (4.3e-6).
- No gradient reaches pos_embed or decoder_pos_embed.
"""


README_SECTIONS = {"m2d": readme_m2d, "all-targets": readme_all_targets, "msm-mae": readme_msm_mae}


if __name__ == "__main__":
    main()
