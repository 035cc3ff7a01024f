"""Makes Tests/Fixtures/text/official/: M2D-CLAP text-side goldens from the official runtime.

The official runtime is nttcslab/m2d `examples/portable_m2d.py` (NTT license, not copied here: pass its
path). Its text encoders load from the Hugging Face hub (`thenlper/gte-base`, `google-bert/bert-base-uncased`);
this script builds small BERTs with random weights instead, saves them with `save_pretrained` into local
folders and points `AutoModel`/`AutoTokenizer.from_pretrained` at those folders (the one change to the official
code path), with a vocabulary this script writes (vocab.txt: its own words, no downloaded vocabulary). The
audio side is the small LocalViT of official_families.py. Two cases, each in the official key layout:

- clap2025: `m2d_clap_vit_base-80x608p16x16p16kpBpTI-2025/checkpoint-300.pth` = {'model': backbone.* (ViT +
  AudioToSemantic audio_proj), text_encoder.text_encoder.* (a BertModel)}: BertXEncoder, [CLS] pooling.
- clap2024: `m2d_clap_vit_base-80x608p16x16-240128/checkpoint-300.pth` (ViT + MLP audio_proj + an MLP
  text_proj, `text_proj.0/.2`) and the external GTE folder `gte/` (a BertModel folder): mean pooling.

expected.safetensors per case: `text` [len(TEXTS), E] from `encode_clap_text(TEXTS)`; `audio.NAME` [E] from
`encode_clap_audio` for three golden WAVs; `scores` [3, len(LABELS)]: cosine similarities of each audio
embedding with the texts of "{} can be heard".format(label with '_' read as ' '), as EVAR's zero-shot does.
texts.json holds TEXTS and LABELS.

Run (scripts/venv.sh peers has torch, timm, einops, nnAudio and transformers):
    $(scripts/venv.sh peers)/python tools/reference/official_clap_text.py \
        --portable /path/to/m2d/examples/portable_m2d.py --out Tests/Fixtures/text/official
"""
import argparse
import json
import os
import shutil
import sys

import tokenizers
import torch


def stub_torchvision():
    """This venv's torchvision (PyPI's) does not match the CPU-only torch (its C ops fail to register on
    import). Nothing here runs it, but timm imports names from it: stand-in modules whose every attribute
    is an inert class."""
    import importlib.abc
    import importlib.machinery
    import types

    class Inert(type(torch.nn.Module)):
        def __getattr__(cls, name):
            if name.startswith("__"):
                raise AttributeError(name)
            return f"{cls.__name__}.{name}"

    class Stub(types.ModuleType):
        def __getattr__(self, name):
            if name.startswith("__"):
                raise AttributeError(name)
            return Inert(name, (torch.nn.Module,), {})

    class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
        def find_spec(self, name, path=None, target=None):
            if name == "torchvision" or name.startswith("torchvision."):
                return importlib.machinery.ModuleSpec(name, self, is_package=True)
            return None

        def create_module(self, spec):
            module = Stub(spec.name)
            module.__path__ = []
            return module

        def exec_module(self, module):
            pass

    sys.meta_path.insert(0, Finder())


stub_torchvision()
import transformers  # noqa: E402
from safetensors.torch import save_file
from scipy.io import wavfile

sys.path.insert(0, os.path.dirname(__file__))
from official_families import load_portable, random_state  # noqa: E402

AUDIO = ["short_chirp", "five_sec_tone_noise", "ten_sec_mod"]
LABELS = ["dog_bark", "rain", "church_bells", "vacuum_cleaner", "crying_baby", "sea_waves", "clock_tick"]
TEXTS = ["a dog barks", "Rain falls on the ROOF!", "church bells ring", "clock ticking, 3 times.",
         "the sea", "crying baby and a vacuum cleaner", "x"]
WORDS = ("a the and of in on is are can be heard dog bark barks rain falls roof church bell bells ring clock "
         "tick ticking times sea wave waves crying baby vacuum cleaner sound noise music speech bird birds sing "
         "water car engine door knock wind").split()


def write_vocab(path):
    # Specials away from BERT's ids (a runtime that hard-codes 101/102 fails), pieces to spell any ASCII word.
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + [str(d) for d in range(10)]
    punct = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")
    vocab = ["[PAD]", "[unused0]", "[UNK]", "[MASK]", "[unused1]", "[CLS]", "[unused2]", "[SEP]"]
    vocab += punct + letters + WORDS + ["##" + p for p in letters] + ["##s", "##ing", "##ed", "##er", "##ly"]
    with open(path, "w") as f:
        f.write("\n".join(vocab) + "\n")
    return len(vocab)


def random_bert(vocab_size, seed, layers=2, hidden=128, heads=2, intermediate=256, positions=40):
    torch.manual_seed(seed)
    config = transformers.BertConfig(
        vocab_size=vocab_size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=intermediate, max_position_embeddings=positions, type_vocab_size=2,
        layer_norm_eps=1e-12, hidden_act="gelu")
    model = transformers.BertModel(config, add_pooling_layer=True).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm.weight" in name:
                p.copy_(1 + 0.2 * torch.randn_like(p))
            else:
                p.copy_(0.1 * torch.randn_like(p))
    return model


def save_folder(model, vocab, folder):
    os.makedirs(folder, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    # A Hub BERT folder's tokenizer files. (transformers 5's BertTokenizer(vocab_file=...) ignores the file and
    # saves a vocabulary of the special tokens alone, so nothing is saved through it.)
    shutil.copyfile(vocab, os.path.join(folder, "vocab.txt"))
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"tokenizer_class": "BertTokenizer", "do_lower_case": True, "model_max_length": 512}, f)
    loaded = transformers.AutoTokenizer.from_pretrained(folder)
    reference = tokenizers.BertWordPieceTokenizer(vocab, lowercase=True)
    for text in TEXTS:
        assert loaded(text)["input_ids"] == reference.encode(text).ids, text


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--portable", required=True, help="path to nttcslab/m2d examples/portable_m2d.py")
    ap.add_argument("--audio", default="Tests/Fixtures/golden/audio")
    ap.add_argument("--out", default="Tests/Fixtures/text/official")
    args = ap.parse_args()
    torch.set_num_threads(1)
    os.makedirs(args.out, exist_ok=True)
    vocab = os.path.join(args.out, "vocab.txt")
    vocab_size = write_vocab(vocab)
    local = {}  # hub name -> local folder, for the patched loaders
    for name in ["from_pretrained"]:
        auto_model, auto_tok = transformers.AutoModel.from_pretrained, transformers.AutoTokenizer.from_pretrained
        transformers.AutoModel.from_pretrained = lambda n, *a, **k: auto_model(local.get(n, n), *a, **k)
        transformers.AutoTokenizer.from_pretrained = lambda n, *a, **k: auto_tok(local.get(n, n), *a, **k)
    sizes = dict(dim=128, depth=1, heads=2)
    cases = [("clap2025", "m2d_clap_vit_base-80x608p16x16p16kpBpTI-2025", "google-bert/bert-base-uncased"),
             ("clap2024", "m2d_clap_vit_base-80x608p16x16-240128", "thenlper/gte-base")]
    for seed, (case, dirname, hub) in enumerate(cases, start=41):
        portable = load_portable(args.portable, sizes)
        state = random_state(portable, dict(stats=[-7.2, 4.4]), [80, 608], [16, 16], seed)
        torch.manual_seed(seed + 1)
        d = sizes["dim"]
        proj = (portable.AudioToSemantic(embed_dim=d, sem_depth=1, sem_heads=1, sem_mlp_ratio=1) if case == "clap2025"
                else portable.get_MLP_projector(d, d, d))
        with torch.no_grad():
            for name, p in proj.named_parameters():
                p.copy_(0.1 * torch.randn_like(p))
        model = {"backbone." + k: v for k, v in state.items()}
        model.update({"backbone.audio_proj." + k: v for k, v in proj.state_dict().items()})
        bert = random_bert(vocab_size, seed + 2)
        folder = os.path.join(args.out, case, "gte" if case == "clap2024" else "bert-base-uncased-local")
        save_folder(bert, vocab, folder)
        local[hub] = folder
        if case == "clap2025":
            model.update({"text_encoder.text_encoder." + k: v for k, v in bert.state_dict().items()})
        else:
            text_proj = portable.get_MLP_projector(bert.config.hidden_size, bert.config.hidden_size, d)
            with torch.no_grad():
                for p in text_proj.parameters():
                    p.copy_(0.1 * torch.randn_like(p))
            model.update({"backbone.text_proj." + k: v for k, v in text_proj.state_dict().items()})
        pth_dir = os.path.join(args.out, case, dirname)
        os.makedirs(pth_dir, exist_ok=True)
        weight_file = os.path.join(pth_dir, "checkpoint-300.pth")
        torch.save({"model": model, "epoch": 300}, weight_file)

        m2d = portable.PortableM2D(weight_file, flat_features=True).eval()
        tensors = {}
        with torch.no_grad():
            tensors["text"] = m2d.encode_clap_text(TEXTS)
            prompts = ["{} can be heard".format(label.replace("_", " ")) for label in LABELS]
            label_emb = m2d.encode_clap_text(prompts)
            audio = []
            for name in AUDIO:
                rate, data = wavfile.read(f"{args.audio}/{name}.wav")
                emb = m2d.encode_clap_audio(torch.tensor(data)[None])[0]
                tensors[f"audio.{name}"] = emb
                audio.append(emb)
            a = torch.nn.functional.normalize(torch.stack(audio), dim=-1)
            t = torch.nn.functional.normalize(label_emb, dim=-1)
            tensors["scores"] = a @ t.T
        tensors = {k: v.contiguous().float() for k, v in tensors.items()}
        save_file(tensors, os.path.join(args.out, case, "expected.safetensors"))
        print(case, {k: list(v.shape) for k, v in tensors.items()}, file=sys.stderr)
        if case == "clap2025":
            shutil.rmtree(folder)  # the same weights are inside the .pth
    with open(os.path.join(args.out, "texts.json"), "w") as f:
        json.dump({"texts": TEXTS, "labels": LABELS, "audio": AUDIO, "template": "{} can be heard",
                   "runtime": {"torch": torch.__version__, "transformers": transformers.__version__}}, f, indent=1)


if __name__ == "__main__":
    main()
