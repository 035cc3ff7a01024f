#!/usr/bin/env bash
# Builds a labelled instrument-family task from Debian-packaged sounds: short random melodies and
# chord sequences (MIDI written with python3's stdlib, fixed seeds) rendered by fluidsynth through
# the FluidR3_GM soundfont (fluid-soundfont-gm), 16 kHz mono WAV, peak-normalized to -3 dBFS.
# 8 General MIDI families; per family the first 4 programs are train, the 5th valid and the rest
# test, so test instruments are never heard in train or valid. 16 clips of 2-4 s per program.
# Never uses the MuseScore General soundfonts, hydrogen-drumkits, tuxpaint-stamps-default or
# hedgewars-data (reserved), nor the system default soundfont: FluidR3_GM.sf2 is named explicitly.
#   scripts/make-instrument-task.sh [OUT_DIR]    (default $M2D_CACHE/tasks/instruments, M2D_CACHE ~/.cache/m2d-serve)
# Then: m2d-train eval --model models/m2d-small-debian OUT_DIR/instruments.csv
set -euo pipefail
OUT=${1:-${M2D_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/m2d-serve}/tasks/instruments}
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
need() { dpkg -s "$1" >/dev/null 2>&1 || { $SUDO apt-get install -y -qq "$1" >/dev/null; }; }
# The soundfont first, so that libfluidsynth3's soundfont dependency is already satisfied by it.
need fluid-soundfont-gm; need fluidsynth; need sox
SF=/usr/share/sounds/sf2/FluidR3_GM.sf2
[ -s "$SF" ] || { echo "missing $SF"; exit 1; }
mkdir -p "$OUT/wav" "$OUT/mid"
# Writes the missing .mid files and prints one "file,label,split,seconds" row per clip.
python3 - "$OUT" > "$OUT/rows.tmp" <<'EOF'
import os, random, struct, sys
out = sys.argv[1]
# family: (GM program 0-127, lowest, highest MIDI note); 4 train, 1 valid, then test programs.
families = {
    "piano": [(0, 36, 88), (1, 36, 88), (4, 36, 84), (6, 41, 84), (2, 36, 84), (3, 36, 84), (5, 36, 84), (7, 41, 79)],
    "chromatic_percussion": [(8, 60, 96), (11, 53, 89), (13, 65, 96), (14, 60, 77), (10, 60, 96), (9, 67, 96), (12, 45, 84), (15, 55, 84)],
    "organ": [(16, 36, 84), (19, 36, 84), (21, 48, 84), (22, 60, 84), (17, 36, 84), (18, 36, 84), (20, 41, 84), (23, 48, 84)],
    "guitar": [(24, 40, 76), (25, 40, 76), (27, 40, 79), (30, 40, 76), (26, 40, 76), (28, 40, 72), (29, 40, 76)],
    "bass": [(32, 28, 55), (33, 28, 55), (36, 28, 55), (38, 28, 55), (34, 28, 55), (35, 28, 55), (37, 28, 55), (39, 28, 55)],
    "strings": [(40, 55, 88), (42, 36, 67), (45, 36, 76), (48, 40, 79), (41, 48, 76), (43, 28, 55), (44, 40, 79), (49, 40, 79)],
    "brass": [(56, 55, 82), (57, 40, 70), (60, 41, 72), (62, 41, 77), (59, 55, 82), (58, 28, 55), (61, 41, 77), (63, 41, 77)],
    "woodwind": [(65, 49, 78), (68, 58, 89), (71, 50, 86), (73, 60, 93), (74, 60, 86), (66, 44, 73), (70, 34, 67), (72, 74, 100)],
}
def vlq(n):
    b = [n & 0x7F]
    while n > 0x7F:
        n >>= 7; b.append(0x80 | (n & 0x7F))
    return bytes(reversed(b))
for fam, progs in families.items():
    for k, (prog, lo, hi) in enumerate(progs):
        split = "train" if k < 4 else "valid" if k == 4 else "test"
        for i in range(16):
            name = f"{fam}_p{prog:03d}_{i:02d}"
            r = random.Random(name)
            key, scale = r.randrange(12), r.choice([(0, 2, 4, 5, 7, 9, 11), (0, 2, 3, 5, 7, 8, 10), (0, 2, 4, 7, 9)])
            a = r.randint(lo, max(lo, hi - 12)); b = min(hi, a + r.randint(12, 19))
            pool = [p for p in range(a, b + 1) if (p - key) % 12 in scale]
            beat, length, chords = r.choice([0.15, 0.2, 0.25, 0.3, 0.4]), r.uniform(1.6, 3.4), r.random() < 0.3
            notes, t, j = [], 0.0, r.randrange(len(pool))  # (start s, end s, pitch, velocity)
            while t < length - 0.1:
                d = beat * (r.choice([2, 3, 4]) if chords else r.choice([0.5, 1, 1, 1, 2]))
                d, vel = min(d, length - t), r.randint(60, 110)
                chord = [pool[j]] + [pool[j + s] for s in (2, 4) if chords and j + s < len(pool)]
                notes += [(t, t + d * r.uniform(0.7, 1.0), p, vel) for p in chord]
                t += d; j = min(max(j + r.choice([-3, -2, -1, -1, 1, 1, 2, 3]), 0), len(pool) - 1)
            ev = [(round(s * 960), 1, bytes([0x90, p, v])) for s, e, p, v in notes]
            ev += [(round(e * 960), 0, bytes([0x80, p, 0])) for s, e, p, v in notes]
            ev += [(round((length + 0.5) * 960), 2, b"\xff\x2f\x00")]  # end of track after the release
            print(f"wav/{name}.wav,{fam},{split},{length + 0.5:.2f}")
            mid = f"{out}/mid/{name}.mid"
            if os.path.exists(mid): continue
            data, now = b"\x00\xff\x51\x03\x07\xa1\x20" + bytes([0, 0xC0, prog]), 0  # 120 bpm, 480 ticks/beat
            for tick, _, msg in sorted(ev):
                data += vlq(tick - now) + msg; now = tick
            with open(mid + ".tmp", "wb") as f:
                f.write(b"MThd" + struct.pack(">IHHH", 6, 0, 1, 480) + b"MTrk" + struct.pack(">I", len(data)) + data)
            os.replace(mid + ".tmp", mid)
EOF
echo "file,label,split" > "$OUT/instruments.csv.tmp"
while IFS=, read -r f label split secs; do
  if [ ! -s "$OUT/$f" ]; then
    mid="$OUT/mid/$(basename "${f%.wav}").mid"
    fluidsynth -n -i -q -r 44100 -g 0.2 -o synth.dynamic-sample-loading=1 -F "$OUT/tmp.wav" "$SF" "$mid" </dev/null
    # fluidsynth renders until every voice has died away: cut 0.5 s after the last note-off.
    # -R: repeatable dither (byte-identical reruns). -g 0.2 leaves >= 3 dB headroom on every clip.
    sox -R "$OUT/tmp.wav" -b 16 -t wav "$OUT/$f.tmp" remix - rate 16k trim 0 "$secs" fade 0 "$secs" 0.15 norm -3
    mv "$OUT/$f.tmp" "$OUT/$f"
  fi
  echo "$f,$label,$split" >> "$OUT/instruments.csv.tmp"
done < "$OUT/rows.tmp"
rm -f "$OUT/tmp.wav" "$OUT/rows.tmp"
mv "$OUT/instruments.csv.tmp" "$OUT/instruments.csv"
echo "fluidsynth $(dpkg-query -W -f='${Version}' fluidsynth), fluid-soundfont-gm $(dpkg-query -W -f='${Version}' fluid-soundfont-gm)," \
  "sox $(dpkg-query -W -f='${Version}' sox) -> $OUT/instruments.csv ($(($(wc -l < "$OUT/instruments.csv") - 1)) clips)"
