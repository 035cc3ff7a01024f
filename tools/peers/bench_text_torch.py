"""The text encoder's peer for `m2d-bench text`: transformers' BertModel on PyTorch fp32, the same weights.

  make --out DIR --vocab VOCAB [--layers 12 --hidden 768 --heads 12 --intermediate 3072]
      a BertModel with random weights (bert-base-uncased's shape by default) saved with save_pretrained,
      with VOCAB as its vocab.txt: the folder both sides load.
  run --folder DIR --texts FILE.json --threads N --repeats R --pooling cls|mean
      FILE.json: {"cases": {name: [[texts per call], ...]}}; prints one JSON line {name: best seconds per
      case (all its calls)}, tokenized by the folder's tokenizer and padded to the longest text of a call, with
      the attention mask and pooling of the official runtime (BertXEncoder: [CLS]; GTETextEncoder: mask mean).
"""
import argparse
import json
import os
import shutil
import sys
import time

import torch

sys.modules.setdefault("torchvision", None)  # this venv's torchvision does not load with its CPU torch
import transformers  # noqa: E402


def make(args):
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=sum(1 for _ in open(args.vocab)), hidden_size=args.hidden, num_hidden_layers=args.layers,
        num_attention_heads=args.heads, intermediate_size=args.intermediate, max_position_embeddings=512,
        layer_norm_eps=1e-12, hidden_act="gelu")
    model = transformers.BertModel(config, add_pooling_layer=False).eval()
    os.makedirs(args.out, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    shutil.copyfile(args.vocab, os.path.join(args.out, "vocab.txt"))
    with open(os.path.join(args.out, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 512}, f)


def run(args):
    torch.set_num_threads(args.threads)
    tokenizer = transformers.AutoTokenizer.from_pretrained(args.folder)
    model = transformers.AutoModel.from_pretrained(args.folder).eval()
    cases = json.load(open(args.texts))["cases"]

    def embed(texts):
        batch = tokenizer(texts, padding=True, truncation=True, max_length=512, return_tensors="pt")
        hidden = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
        if args.pooling == "cls":
            return hidden[:, 0]
        mask = batch["attention_mask"][..., None]
        return (hidden * mask).sum(1) / mask.sum(1)

    best = {}
    with torch.inference_mode():
        embed(["warm up"])
        for name, calls in cases.items():
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                for texts in calls:
                    embed(texts)
                times.append(time.perf_counter() - start)
            best[name] = min(times)
    print(json.dumps(best))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    m = sub.add_parser("make")
    m.add_argument("--out", required=True)
    m.add_argument("--vocab", required=True)
    m.add_argument("--layers", type=int, default=12)
    m.add_argument("--hidden", type=int, default=768)
    m.add_argument("--heads", type=int, default=12)
    m.add_argument("--intermediate", type=int, default=3072)
    r = sub.add_parser("run")
    r.add_argument("--folder", required=True)
    r.add_argument("--texts", required=True)
    r.add_argument("--threads", type=int, default=2)
    r.add_argument("--repeats", type=int, default=3)
    r.add_argument("--pooling", default="cls", choices=["cls", "mean"])
    args = ap.parse_args()
    make(args) if args.command == "make" else run(args)


if __name__ == "__main__":
    main()
