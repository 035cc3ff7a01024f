"""Reference for ONE M2D pre-training step (and 10 consecutive steps), written from
../shared/docs/M2D-SPEC.md sections 2, 4.1 and 5.2-5.6. Self-contained: nothing is downloaded.

Tiny config, float32 on CPU, torch.manual_seed(0), deterministic algorithms, 1 thread:
  input [B=3, 1, 80, 64] (torch.randn), patches 16x16 -> F=5 x T=4 = L=20 tokens (n = f*T + t);
  online encoder D=32, depth 2, heads 2, MLP 128, qkv_bias, LN eps 1e-6, exact GELU;
  predictor Dd=16, depth 1, heads 2, MLP 64; target encoder 2 blocks + norm (independent init);
  mask ratio 0.6 -> 8 visible, 12 masked; norm_mse loss; AdamW(1e-3, (0.9, 0.95), 1e-8, wd 0.05)
  with the timm add_weight_decay groups; EMA tau 0.9 after every optimizer step.

It writes Tests/Fixtures/m2d_step/step.safetensors and README.md (see the README for the keys).
It also checks: our Block equals timm's Block; pos-embed check values (spec 2.4); prediction and
target shapes; loss0 == losses[0]; float64 grads agree with the float32 grads, and central finite
differences in float64 agree with the float64 autograd grads on a few elements per tensor.

Run (the venv lives outside the repo):
    ~/.venvs/ref/bin/python tools/reference/m2d_step.py [OUT_DIR]
"""
import copy
import json
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
LN = partial(nn.LayerNorm, eps=1e-6)


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


class M2D(nn.Module):
    """Defaults = the fixture config (CFG). The keyword arguments exist only so that
    tools/reference/bench_train.py can build larger models (same code, same construction order)."""
    def __init__(self, embed_dim=D, depth=CFG["depth"], num_heads=CFG["num_heads"],
                 decoder_embed_dim=DD, decoder_depth=CFG["decoder_depth"],
                 decoder_num_heads=CFG["decoder_num_heads"],
                 grid=(CFG["grid_freq"], CFG["grid_time"]), len_keep=LEN_KEEP):
        super().__init__()
        c = CFG
        D, DD = embed_dim, decoder_embed_dim
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
        self.decoder_pred = nn.Linear(DD, D)
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
        for m in self.modules():  # pre-order over modules, target included
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.LayerNorm):
                nn.init.constant_(m.bias, 0)
                nn.init.constant_(m.weight, 1.0)
        with torch.no_grad():  # perturbation so that wrong order / missing terms show in tests
            for m in self.modules():
                if isinstance(m, nn.LayerNorm):
                    m.weight.add_(0.1 * torch.randn_like(m.weight))
                    m.bias.add_(0.1 * torch.randn_like(m.bias))
                elif isinstance(m, nn.Linear):
                    m.bias.add_(0.02 * torch.randn_like(m.bias))

    def forward(self, imgs, ids_shuffle, return_all=False, fixed_target=None):
        """fixed_target (standardized, (B, 12, D)) replaces the target branch; used only by the
        finite-difference check, because the target branch is a stop-gradient: perturbing the shared
        cls_token / patch_embed also moves the target, which autograd (by design) ignores."""
        ids_restore = torch.argsort(ids_shuffle, dim=1)
        L, LEN_KEEP = self.L, self.len_keep
        x = self.patch_embed(imgs) + self.pos_embed[:, 1:, :]
        d = x.shape[-1]
        ids_keep, ids_mask = ids_shuffle[:, :LEN_KEEP], ids_shuffle[:, LEN_KEEP:]
        x_vis = torch.gather(x, 1, ids_keep.unsqueeze(-1).expand(-1, -1, d))
        x_targ = torch.gather(x, 1, ids_mask.unsqueeze(-1).expand(-1, -1, d))
        cls = (self.cls_token + self.pos_embed[:, :1, :]).expand(x.shape[0], -1, -1)

        # online encoder
        h = torch.cat([cls, x_vis], dim=1)
        for blk in self.blocks:
            h = blk(h)
        latent = self.norm(h)  # (B, 9, D)

        # predictor
        z = self.decoder_embed(latent)  # (B, 9, Dd)
        mask_tokens = self.mask_token.expand(z.shape[0], L + 1 - z.shape[1], -1)
        z_ = torch.cat([z[:, 1:, :], mask_tokens], dim=1)  # (B, L, Dd), shuffled order
        z_ = torch.gather(z_, 1, ids_restore.unsqueeze(-1).expand(-1, -1, z.shape[2]))  # unshuffle
        z = torch.cat([z[:, :1, :], z_], dim=1) + self.decoder_pos_embed
        for blk in self.decoder_blocks:
            z = blk(z)
        z = self.decoder_pred(self.decoder_norm(z))[:, 1:, :]  # (B, L, D)
        pred = torch.gather(z, 1, ids_shuffle.unsqueeze(-1).expand(-1, -1, z.shape[2]))[:, LEN_KEEP:]

        # target encoder
        with torch.no_grad():
            t = torch.cat([cls, x_targ], dim=1)
            for blk in self.target_blocks:
                t = blk(t)
            target = self.target_norm(t)[:, 1:, :]  # (B, 12, D)

        mean = target.mean(dim=-1, keepdim=True)
        var = target.var(dim=-1, keepdim=True)  # unbiased
        target = (target - mean) / (var + 1.e-6) ** .5
        if fixed_target is not None:
            target = fixed_target
        p = F.normalize(pred, dim=-1, eps=1e-12)
        q = F.normalize(target, dim=-1, eps=1e-12)
        loss = (2 - 2 * (p * q).sum(dim=-1)).mean()
        if return_all:
            return loss, pred, target, latent
        return loss

    def trainable(self):
        return [(n, p) for n, p in self.named_parameters() if p.requires_grad]

    @torch.no_grad()
    def update_target(self, tau):
        online = list(self.blocks.parameters()) + list(self.norm.parameters())
        target = list(self.target_blocks.parameters()) + list(self.target_norm.parameters())
        assert len(online) == len(target)
        for po, pt in zip(online, target):
            pt.data = pt.data * tau + po.data * (1. - tau)


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


def fd_check(model32, imgs, ids, grads32):
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
    eps, worst_fd, n_checked = 1e-6, 0.0, 0
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


# ---------------------------------------------------------------- main
def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "Tests", "Fixtures", "m2d_step")
    os.makedirs(out_dir, exist_ok=True)
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(SEED)

    # RNG order: model construction (default inits), initialize() (xavier, normal, perturbation),
    # input randn, mask noise rand(10, B, L).
    model = M2D()
    model.initialize()
    imgs = torch.randn(B, 1, CFG["n_mels"], CFG["frames"])
    noise = torch.rand(CFG["steps"], B, L)
    ids_all = torch.argsort(noise, dim=-1)  # ascending; per sample
    ids_all = ids_all.clone()

    check_pos_embed(model.pos_embed, D)
    check_pos_embed(model.decoder_pos_embed, DD)
    check_block_against_timm()

    tensors = {"input": imgs[:, 0].contiguous(), "ids_shuffle": ids_all.float().contiguous()}
    for n, t in model.state_dict().items():
        tensors["init." + n] = t.detach().clone().contiguous()

    opt, decay, no_decay = make_optimizer(model)
    target_names = [n for n, _ in model.named_parameters() if n.startswith("target_")]
    losses = []
    for s in range(CFG["steps"]):
        opt.zero_grad(set_to_none=True)
        if s == 0:
            loss, pred, target, latent = model(imgs, ids_all[s], return_all=True)
            assert pred.shape == (B, NM, D) and target.shape == (B, NM, D) and latent.shape == (B, 1 + LEN_KEEP, D)
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
            worst32, worst_fd, n_fd, loss64 = fd_check(model, imgs, ids_all[0], grads32)
        opt.step()
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

    meta = {"config": json.dumps(CFG, sort_keys=True), "torch": torch.__version__, "seed": str(SEED)}
    path = os.path.join(out_dir, "step.safetensors")
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

    trainable = [n for n, _ in model.trainable()]
    write_readme(out_dir, tensors, losses, shapes, size, trainable, decay, no_decay, target_names,
                 worst32, worst_fd, n_fd, loss64)
    print(f"{path}: {size} bytes, {len(tensors)} tensors")
    print("losses:", " ".join(f"{v:.7f}" for v in losses))
    print(f"loss0 float64 = {loss64:.10f}; fp32-vs-fp64 grad max rel (to tensor max) = {worst32:.2e}; "
          f"FD worst rel err = {worst_fd:.2e} over {n_fd} elements")
    print("shapes:", shapes)


def write_readme(out_dir, tensors, losses, shapes, size, trainable, decay, no_decay, target_names,
                 worst32, worst_fd, n_fd, loss64):
    n_init = sum(1 for k in tensors if k.startswith("init."))
    n_grad = sum(1 for k in tensors if k.startswith("grad."))
    n_step1 = sum(1 for k in tensors if k.startswith("step1."))
    loss_lines = "\n".join(f"| {i} | {v:.7f} |" for i, v in enumerate(losses))
    text = f"""# One M2D training step (PyTorch reference)

Made by `tools/reference/m2d_step.py` with **torch {torch.__version__}** (Python {sys.version.split()[0]}),
CPU, float32, `torch.manual_seed({SEED})`, `torch.use_deterministic_algorithms(True)`, 1 thread. The script is
written from `M2D-SPEC.md` sections 2, 4.1 and 5.2-5.6 (own Block, cross-checked against timm's `Block`
to 1e-12 in float64). Rerun: `~/.venvs/ref/bin/python tools/reference/m2d_step.py` (about 6 s). File size
{size} bytes. The tensors are bit-reproducible for this torch version; safetensors orders the metadata keys
randomly per process, so a rerun keeps the existing file when its content is equal.

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
| `init.<name>` ({n_init}) | official shapes | every tensor of the model before training (state_dict keys, incl. pos embeds and target_*) |
| `loss0` | [1] | loss of step 0 before any update |
| `grad.<name>` ({n_grad}) | param shape | gradients of every trainable parameter after `loss0.backward()` |
| `step1.<name>` ({n_step1}) | param shape | trainable params after the first AdamW step, and target_blocks.*/target_norm.* after the first EMA |
| `losses` | [10] | loss at each of 10 consecutive steps (forward, backward, AdamW step, EMA), before that step's update |
| `pred0` | [3, 12, 32] | extra: step-0 predictions (masked tokens, ids_shuffle order) |
| `target0` | [3, 12, 32] | extra: step-0 standardized targets (before L2 normalization) |

`losses[0] == loss0[0]` exactly.

| step | loss |
|---|---|
{loss_lines}

## Verification done by the script
- pos-embed check values (spec 2.4) for both widths; our Block == timm 1.x `Block` (float64, 1e-12).
- A float64 copy of the model gives loss0 = {loss64:.10f}; float32 grads vs float64 autograd grads: worst
  |diff| / max|grad of that tensor| = {worst32:.1e}.
- Central finite differences (float64, h = 1e-6) on {n_fd} elements of 12 tensors (cls_token, mask_token,
  patch weight/bias, LN, qkv, fc2 bias, final norm, decoder_embed, decoder attn proj, decoder_norm,
  decoder_pred bias) vs float64 autograd: worst relative error {worst_fd:.1e}. The target is held fixed
  at its unperturbed value during the differences: the target branch is a stop-gradient, so
  `grad.cls_token` and `grad.patch_embed.*` contain **only the online-branch path** (cls token through
  the online encoder; visible tokens through the online encoder). Differencing the full loss without
  fixing the target disagrees for exactly those tensors (relative errors up to ~2), as it should.
- No gradient reaches pos_embed, decoder_pos_embed or target_*.
"""
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
