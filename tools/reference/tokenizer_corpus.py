"""Writes the tokenizer corpus: strings and Hugging Face's ids for them, the reference of BertTokenizer.swift.

Each line of --out is one JSON object (ASCII only: json.dumps(ensure_ascii=True)):
    {"text": "...", "ids": [101, ..., 102]}
with ids from tokenizers' BertWordPieceTokenizer(vocab, lowercase=True).encode(text).ids ([CLS] ... [SEP]).
Every string is also run through transformers' BertTokenizer(do_lower_case=True), and the script fails if
one id differs.

The first --count lines (default 12,000) are seeded random strings from every kind a tokenizer meets: audio
labels and captions, accents and combining sequences, cased non-ASCII (İ, final sigma), CJK with Latin, kana,
Hangul, emoji sequences (ZWJ, skin tones, flags), control and format chars, every kind of space, punctuation
runs, numbers, words of 100 and 101 chars, unknown words, the special tokens written in text, empty and
blank strings, and random scalars of many Unicode blocks. After them come the sweep lines: every code point
outside the large uniform ranges (those sampled), as "a<c>a" units 64 to a line, which also carry
    "normalized": tokenizers' BertNormalizer(lowercase=True).normalize_str(text)
so that the Swift normalizer is checked scalar for scalar, not only through the vocabulary.

Run (the venv of scripts/venv.sh text; scripts/text-fixtures.sh does this):
    $(scripts/venv.sh text)/python tools/reference/tokenizer_corpus.py \
        --vocab Tests/Fixtures/text/generated/vocab.txt --out Tests/Fixtures/text/generated/tokenizer_corpus.jsonl
"""
import argparse
import json
import os
import random
import sys

from tokenizers import BertWordPieceTokenizer
from tokenizers.normalizers import BertNormalizer
from transformers import BertTokenizer
from transformers.models.bert.tokenization_bert import load_vocab

SEED = 20260611
SWEEP_UNIT_PER_LINE = 64

LABELS = [
    "Speech", "Dog", "Bark", "Vacuum cleaner", "Vacuum_cleaner", "Rain on surface", "Church bell", "Chainsaw",
    "Music", "Siren", "Car passing by", "Baby cry, infant cry", "Walk, footsteps", "Door_knock", "Frying (food)",
    "Keys jangling", "Glass_shatter", "Hammer", "Thunderstorm", "Wind noise (microphone)", "Cat_meow",
    "Acoustic_guitar", "Bass drum", "Hi-hat", "Helicopter", "Mechanical fan", "Toilet flush", "Applause",
    "Chewing, mastication", "Electric shaver, electric razor", "Writing", "Microwave oven", "Typing",
    "Cough", "Sneeze", "Laughter", "Whispering", "Crackle", "Fireworks", "Gunshot, gunfire", "Zipper (clothing)",
]
WORDS = (
    "a the dog dogs barking barks loudly while car passes by in distance someone is talking quietly rain falls on "
    "metal roof birds chirp outside window vacuum cleaner running kitchen baby crying woman laughs man coughs "
    "music plays softly engine idles truck horn honks footsteps on gravel door slams shut water drips from tap "
    "wind blows through trees thunder rumbles far away keyboard typing clock ticks crowd cheers applause "
    "unaffable unbelievably antidisestablishmentarianism hyperventilation electroencephalography "
    "recording microphone ambience reverb echo hum buzz hiss crackle whistle chime ring beep static noise "
    "orchestra violin piano guitar drums synthesizer saxophone trumpet cello flute harmonica accordion"
).split()
ACCENTED = [
    "café", "naïve", "résumé", "jalapeño", "Ångström", "straße", "Øresund", "smørrebrød", "façade", "über",
    "Crème brûlée", "señor", "São Paulo", "Kraków", "Dvořák", "Ærø", "Œuvre", "Mötley Crüe", "Zürich",
    "e\u0301", "cafe\u0301", "a\u030a", "n\u0303", "o\u0308\u0304", "a\u0323\u0301", "a\u0301\u0323",
    "u\u0308\u0301", "Z\u0327\u030c", "i\u0307", "q\u0307\u0323", "x\u20dd", "e\u0301\u0301\u0301",
    "ﬁ ﬂ ﬀ", "ǅ ǈ ǋ", "Ǆ Ǉ Ǌ", "Ĳssel", "ŉ", "ǰ", "ΐ", "ᾳ ᾼ ῼ", "Ḱ ḱ Ṩ ṩ", "Vi\u1ec7t Nam", "Tiếng Việt",
]
CASED = [
    "İstanbul", "İSTANBUL", "ISTANBUL", "ı", "ΟΔΟΣ", "Σ", "ΣΑΣ", "ΌΣΟΣ", "σς", "ς", "ΑΣ.", "ΣΑΣ ΣΑΣ", "ẞ",
    "ΜΆΪΟΣ", "ПРИВЕТ МИР", "Ёлка", "ԵՒ", "ՄԱՍ", "ႠႡႢ", "ᲐᲑᲒ", "𐐀𐐁𐐂", "𐒰𐒱", "𖹀𖹁", "𞤀𞤁𞤢", "ＡＢＣ ｄｅｆ",
    "ᏸᏹ Ᏸ", "Ꭰ", "ꭰ", "ÀÉÎÕÜ", "ǱǲǳDZ", "ᾈ ᾏ", "Ω Ω", "K K", "Å Å", "ⅠⅡⅢ ⅰⅱ", "ⓐⒶ", "🄰🅐", "Ⱥ Ⱦ", "ꞫꞬ",
]
CJK = [
    "我爱北京天安门", "東京タワー tower", "漢字kanji", "中文English混合", "你好，世界！", "日本語のテキスト",
    "ひらがな カタカナ ｶﾀｶﾅ", "한국어 텍스트", "안녕하세요 world", "ᄒᆞᆫ글", "\u1100\u1161\u11a8",
    "㐀㐁", "𠀀𠀁𪜀", "𫝀𫠠𫠡", "𬺰𬺱", "豈更", "丽丸", "〇一二三", "々〆〤", "ㄅㄆㄇ", "ꀀꀁ", "ᠮᠣᠩᠭᠣᠯ",
    "狗叫 dog barking 狗", "a中b", "1年2月", "東京2020", "中\u0301", "日本\u3000語",
]
SCRIPTS = [
    "مرحبا بالعالم", "שָׁלוֹם עוֹלָם", "नमस्ते दुनिया", "ক্ষ", "สวัสดีครับ", "བོད་ཡིག", "ሰላም", "ᐊᐃᐅ",
    "Привет, мир!", "Γειά σου Κόσμε", "ܫܠܡܐ", "ދިވެހި", "ⴰⵣⵓⵍ", "ꦲꦏ꧀ꦱꦫ", "𑀅𑀲𑁄𑀓", "𓀀𓀁", "ᚠᚢᚦ", "ꓐꓑ",
    "١٢٣٤٥", "۱۲۳", "०१२३", "๑๒๓",
]
EMOJI = [
    "😀", "👍", "👍🏽", "👍🏿", "👨\u200d👩\u200d👧\u200d👦", "👩🏽\u200d💻", "🏳️\u200d🌈", "🇯🇵", "🇺🇸🇫🇷",
    "1️⃣", "#️⃣", "❤️", "❤\ufe0f\u200d🔥", "🐶 barking", "dog🐕", "🎵🎶", "☺", "☺️", "🫠", "🧑‍🤝‍🧑",
    "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f", "✌🏻", "🔊 loud", "©®™",
]
CONTROL = [
    "\x00", "\x07", "\x1b", "\x7f", "\x85", "\x0b", "\x0c", "\x1c", "\u200b", "\u200c", "\u200d", "\u200e",
    "\ufeff", "\ufffd", "\u00ad", "\u2060", "\u2066", "\u061c", "\U000e0001", "\ufff9", "\ue000", "\U000f0000",
    "\u180e", "\u0600", "\U0001d173", "\u08e2", "\U000110cd", "\u0890",
]
SPACES = [
    " ", "  ", "\t", "\n", "\r", "\r\n", "\u00a0", "\u1680", "\u2000", "\u2002", "\u2007", "\u2009", "\u200a",
    "\u2028", "\u2029", "\u202f", "\u205f", "\u3000", "\x85", "\x0b", "\x0c",
]
PUNCT = [
    "!!!", "...", "$+<=>^|~", "«»", "¿¡", "—", "–", "“quoted”", "‘single’", "…", "@#%&*", "_-_", "?!?", "()[]{}",
    "\\", "`", "·", "•", "§¶", "※", "‼", "⁉", "、。", "「」", "【】", "《》", "፧", "।", "؟", "⸘", "⹅", "⹏", "꙳",
    "𑁇", "°", "±", "×÷", "€£¥₹", "→←", "∑∞", "♪♫", "★☆",
]
NUMBERS = [
    "1,234,567.89", "3.14", "10%", "1/2", "½", "²³", "¹", "①②", "1e-5", "0x1F", "+49 (0) 30 1234", "12:30pm",
    "2024-06-11", "1'000'000", "1 000 000", "1\u00a0000", "$5.99", "−5", "45°C", "v2.3.1", "#1", "No.5",
]
SPECIAL_IN_TEXT = [
    "[MASK]", "hello [MASK] world", "[CLS]", "[SEP]", "[PAD]", "[UNK]", "a[CLS]b", "[CLS][CLS]", "[cls]",
    "[ MASK ]", "[MASK", "MASK]", "[[UNK]]", "x[PAD]y", "[SEP][SEP]", "[MASK]s", "the [mask] barks",
    "[UNK]nown", "Dog [SEP] cat", "[M\u0301ASK]", "[MA\x00SK]", "[CLS]\u200b",
    # a special token starting or ending inside a grapheme cluster (after a prepended mark, before a combining one)
    "\u0600[MASK]", "x\u0600[CLS]y", "[MASK]\u0301", "dog[SEP]\u0301s", "👍\u200d[SEP]\u200d👍", "\u0e33[PAD]",
]
# Blocks for random scalars: (first, last) inclusive, valid scalars only (no surrogates).
BLOCKS = [
    (0x0020, 0x007E), (0x00A0, 0x024F), (0x0250, 0x036F), (0x0370, 0x052F), (0x0530, 0x058F), (0x0590, 0x06FF),
    (0x0700, 0x08FF), (0x0900, 0x0DFF), (0x0E00, 0x0FFF), (0x1000, 0x10FF), (0x1100, 0x11FF), (0x1200, 0x13FF),
    (0x1400, 0x167F), (0x1680, 0x18AF), (0x1AB0, 0x1AFF), (0x1C80, 0x1CFF), (0x1D00, 0x1DFF), (0x1E00, 0x1FFF),
    (0x2000, 0x206F), (0x2070, 0x20CF), (0x20D0, 0x20FF), (0x2100, 0x21FF), (0x2200, 0x22FF), (0x2300, 0x27FF),
    (0x2C00, 0x2E7F), (0x2E80, 0x2FDF), (0x3000, 0x30FF), (0x3100, 0x33FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF),
    (0xA000, 0xA4CF), (0xA4D0, 0xA82F), (0xA830, 0xABFF), (0xAC00, 0xD7FF), (0xE000, 0xF8FF), (0xF900, 0xFAFF),
    (0xFB00, 0xFDFF), (0xFE00, 0xFE6F), (0xFE70, 0xFFFF), (0x10000, 0x1077F), (0x10780, 0x10FFF),
    (0x11000, 0x11FFF), (0x12000, 0x1342F), (0x16800, 0x16FFF), (0x17000, 0x18D08), (0x1B000, 0x1BCAF),
    (0x1D000, 0x1D24F), (0x1D400, 0x1D7FF), (0x1E000, 0x1E95F), (0x1F000, 0x1F2FF), (0x1F300, 0x1FAFF),
    (0x20000, 0x2A6DF), (0x2A700, 0x2CEAF), (0x2CEB0, 0x2FA1F), (0x30000, 0x3134F), (0xE0000, 0xE01EF),
    (0xF0000, 0x10FFFF), (0x40000, 0xDFFFF),
]
# Large uniform ranges the sweep samples (every 97th and both ends) instead of taking whole.
SAMPLED = [
    (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0xE000, 0xF8FF), (0x20000, 0x3FFFF),
    (0x40000, 0xDFFFF), (0xE0200, 0xEFFFF), (0xF0000, 0x10FFFF),
]


def random_scalar(rng):
    first, last = rng.choice(BLOCKS)
    while True:
        cp = rng.randint(first, last)
        if not 0xD800 <= cp <= 0xDFFF:
            return chr(cp)


def random_word(rng):
    length = rng.randint(2, 12)
    return "".join(rng.choice("bcdfghjklmnpqrstvwxzaeiouy") for _ in range(length))


def sentence(rng):
    words = [rng.choice(WORDS) for _ in range(rng.randint(1, 14))]
    words = [w.capitalize() if rng.random() < 0.15 else (w.upper() if rng.random() < 0.05 else w) for w in words]
    text = " ".join(words)
    if rng.random() < 0.5:
        text = text[0].upper() + text[1:] + rng.choice([".", "!", "?", "...", "", ","])
    return text


def long_word(rng):
    kind = rng.randrange(10)
    if kind == 0:
        return "a" * rng.choice([99, 100, 101, 150])
    if kind == 1:  # 100 / 101 chars made of vocab pieces, so only the length decides [UNK]
        return ("dog" * 34)[: rng.choice([99, 100, 101, 102])]
    if kind == 2:  # accents: 100 scalars after the marks are stripped, more before
        return "e\u0301" * rng.choice([50, 100, 101])
    if kind == 3:
        return "é" * rng.choice([100, 101])
    if kind == 4:  # emoji sequences count their scalars, not their graphemes
        return "👍🏽" * rng.choice([33, 50, 51])
    if kind == 5:
        return "".join(rng.choice(WORDS) for _ in range(rng.randint(8, 30)))
    if kind == 6:
        return "x" * 100 + "!" + "y" * 101
    if kind == 8:  # NFD makes each Hangul syllable 2 or 3 jamo, all in the vocabulary: 99 to 102 scalars
        return rng.choice(["한" * 33, "한" * 34, "가" * 50, "가" * 51, "한국어" * 11])
    if kind == 9:  # a spacing vowel sign (Mc) stays: 2 scalars in 1 grapheme
        return rng.choice(["का" * 50, "का" * 51, "कि" * 50, "ab" * 50 + "\u0903"])
    return " ".join(rng.choice(["unbelievably", "antidisestablishmentarianism"]) * rng.randint(1, 9) for _ in "ab")


def fragment(rng):
    kind = rng.randrange(16)
    if kind == 0:
        return sentence(rng)
    if kind == 1:
        label = rng.choice(LABELS)
        return rng.choice([label, label.lower(), label.upper(), label.replace(" ", "_"), label.replace("_", " ")])
    if kind == 2:
        return rng.choice(ACCENTED)
    if kind == 3:
        return rng.choice(CASED)
    if kind == 4:
        return rng.choice(CJK)
    if kind == 5:
        return rng.choice(SCRIPTS)
    if kind == 6:
        return rng.choice(EMOJI)
    if kind == 7:
        return rng.choice(CONTROL).join([rng.choice(WORDS), rng.choice(WORDS)]) if rng.random() < 0.7 else \
            rng.choice(CONTROL)
    if kind == 8:
        return rng.choice(SPACES).join([rng.choice(WORDS), rng.choice(WORDS)])
    if kind == 9:
        return rng.choice(PUNCT) if rng.random() < 0.5 else rng.choice(WORDS) + rng.choice(PUNCT) + rng.choice(WORDS)
    if kind == 10:
        return rng.choice(NUMBERS)
    if kind == 11:
        return long_word(rng)
    if kind == 12:
        return random_word(rng)
    if kind == 13:
        return rng.choice(SPECIAL_IN_TEXT)
    if kind == 14:
        return "".join(random_scalar(rng) for _ in range(rng.randint(1, 12)))
    return "".join(rng.choice(SPACES) for _ in range(rng.randint(1, 4)))


def random_text(rng):
    roll = rng.random()
    if roll < 0.02:
        return rng.choice(["", " ", "\t\n", "\u3000", "\x00", "\u200b", "\r\n\r\n", "\u00a0\u2009"])
    if roll < 0.3:
        return fragment(rng)
    if roll < 0.4:  # random scalars from one to three blocks, spaces and punctuation among them
        blocks = [rng.choice(BLOCKS) for _ in range(rng.randint(1, 3))]
        out = []
        for _ in range(rng.randint(1, 40)):
            r = rng.random()
            if r < 0.15:
                out.append(rng.choice([" ", " ", ".", ",", "-", "\u0301", "\u200d"]))
            else:
                first, last = rng.choice(blocks)
                cp = rng.randint(first, last)
                out.append(chr(cp) if not 0xD800 <= cp <= 0xDFFF else "?")
        return "".join(out)
    glue = [" ", " ", " ", "", ", ", "_", "-", "\n", "/"]
    return "".join(fragment(rng) + rng.choice(glue) for _ in range(rng.randint(2, 6))).strip(" ")


def sweep_code_points():
    def sampled(cp):
        return any(first <= cp <= last for first, last in SAMPLED)

    for cp in range(0x110000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        if sampled(cp) and cp % 97 != 0 and not any(cp in (first, last) for first, last in SAMPLED):
            continue
        yield cp


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vocab", required=True, help="vocab.txt of a BERT uncased model")
    parser.add_argument("--out", required=True, help="the .jsonl to write")
    parser.add_argument("--count", type=int, default=12000, help="random strings before the sweep (>= 10000)")
    args = parser.parse_args()
    if args.count < 10000:
        sys.exit("--count must be at least 10000 (the Swift test asks for that many)")

    rng = random.Random(SEED)
    texts = [random_text(rng) for _ in range(args.count)]
    cps = list(sweep_code_points())
    sweep = [" ".join("a" + chr(cp) + "a" for cp in cps[i:i + SWEEP_UNIT_PER_LINE])
             for i in range(0, len(cps), SWEEP_UNIT_PER_LINE)]

    reference = BertWordPieceTokenizer(args.vocab, lowercase=True)
    # transformers 5's BertTokenizer is backed by tokenizers, and ignores vocab_file= (it would silently build
    # a five-token vocabulary): pass the vocabulary itself, and check it took.
    checker = BertTokenizer(vocab=load_vocab(args.vocab), do_lower_case=True)
    if checker.get_vocab() != reference.get_vocab():
        sys.exit("transformers' BertTokenizer did not load the same vocabulary as tokenizers")
    normalizer = BertNormalizer(lowercase=True)

    all_texts = texts + sweep
    ids = [encoding.ids for encoding in reference.encode_batch(all_texts)]
    checked = checker(all_texts)["input_ids"]
    bad = [(t, a, b) for t, a, b in zip(all_texts, ids, checked) if a != b]
    if bad:
        for text, a, b in bad[:5]:
            print(f"MISMATCH {text!r}: tokenizers {a} transformers {b}", file=sys.stderr)
        sys.exit(f"transformers' BertTokenizer disagrees with tokenizers on {len(bad)} strings")

    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="ascii") as out:
        for i, (text, line_ids) in enumerate(zip(all_texts, ids)):
            entry = {"text": text, "ids": line_ids}
            if i >= len(texts):
                entry["normalized"] = normalizer.normalize_str(text)
            out.write(json.dumps(entry, ensure_ascii=True) + "\n")
    print(f"{args.out}: {len(texts)} strings and {len(sweep)} sweep lines ({len(cps)} code points); "
          f"transformers agrees on all", file=sys.stderr)


if __name__ == "__main__":
    main()
