#!/usr/bin/env python3
"""Voice-held-out cross-validation of a spoken-language task, on cached embeddings.

Why: the EVAR probe (lr 3e-5, early stopping on one 96-clip voice) stops far from convergence on the
small language task, and its spread over probe seeds reaches 14 points per held-out voice. This asks
the plainer question "how much language information can a linear classifier read from these
embeddings?" with a converged, L2-regularised multinomial logistic regression, holding out one training
voice at a time. It reads only the train split's voices, never the test split.

Input: embedding caches written by `m2d-train eval --cache DIR` for languages.csv or
languages-select.csv (`DIR/languages-*.safetensors`, one per model). Files are named
`{lang}_{variant}_{i}.wav` by scripts/make-language-task.sh.

Output, one line per cache: the model's identity, the share of standardized variance between
languages and between voices, and the cross-validated accuracy for each L2 strength.

    $(scripts/peers-venv.sh) tools/analysis/voice_cv.py /tmp/runs/sel-r12/cache/languages-*.safetensors
"""
import argparse

import numpy as np
import torch
from safetensors import safe_open

TRAIN_VOICES = ["m1", "m2", "f1", "f2", "m3"]


def load_cache(path):
    """The cache's feature identity and its {file: vector} table."""
    with safe_open(path, "np") as cache:
        return cache.metadata()["features"], {name: cache.get_tensor(name) for name in cache.keys()}


def parse(file):
    """(language, voice variant) of `{lang}_{variant}_{i}.wav`; (None, None) for any other name."""
    parts = file.rsplit("/", 1)[-1].split("_")
    return (parts[0], parts[1]) if len(parts) >= 3 else (None, None)


def between_share(x, labels):
    """Fraction of the total (standardized) variance that lies between the groups of `labels`."""
    total = (x ** 2).sum()
    between = sum((labels == g).sum() * (x[labels == g].mean(0) ** 2).sum() for g in np.unique(labels))
    return between / total


def held_out_accuracy(x, y, voices, held_out, l2):
    train, test = voices != held_out, voices == held_out
    mu, sd = x[train].mean(0), x[train].std(0)
    sd[sd == 0] = 1
    xt = torch.tensor((x[train] - mu) / sd)
    xe = torch.tensor((x[test] - mu) / sd)
    yt = torch.tensor(y[train])
    classes = int(y.max()) + 1
    w = torch.zeros(x.shape[1], classes, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=500, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xt @ w + b, yt) + l2 * (w ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return float(((xe @ w + b).argmax(1).numpy() == y[test]).mean())


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("caches", nargs="+", help="languages-*.safetensors files from m2d-train eval --cache")
    parser.add_argument("--l2", default="1e-4,1e-3,1e-2", help="comma-separated L2 strengths (default %(default)s)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    strengths = [float(s) for s in args.l2.split(",")]
    for path in args.caches:
        identity, vectors = load_cache(path)
        files = sorted(f for f in vectors if parse(f)[1] in TRAIN_VOICES)
        if not files:
            print(f"{path}: no clips of the training voices {TRAIN_VOICES}")
            continue
        x = np.stack([vectors[f] for f in files]).astype(np.float64)
        langs = np.array([parse(f)[0] for f in files])
        voices = np.array([parse(f)[1] for f in files])
        y = np.searchsorted(np.unique(langs), langs)
        z = (x - x.mean(0)) / np.where(x.std(0) == 0, 1, x.std(0))
        cells = [f"language share {between_share(z, langs):.3f}", f"voice share {between_share(z, voices):.3f}"]
        for l2 in strengths:
            accuracy = np.mean([held_out_accuracy(x, y, voices, v, l2) for v in TRAIN_VOICES])
            cells.append(f"l2 {l2:g}: {100 * accuracy:.1f}")
        print(identity, *cells, sep=" | ")


if __name__ == "__main__":
    main()
