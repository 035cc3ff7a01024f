#!/usr/bin/env bash
# Pre-training audio from Debian packages, outside the repo (default $M2D_CACHE/pretrain-audio; M2D_CACHE is
# ~/.cache/m2d-serve unless set),
# in four folders of 16 kHz mono 16-bit WAV clips of 1 to 10 s (longer files are cut into 10 s
# segments; segments under 1 s and near-silent ones are dropped, but a whole file of 0.3-1 s is
# padded with silence to 1 s so short sound effects are kept), for
# `--data OUT/speech OUT/effects OUT/music OUT/rendered`:
#  - speech: sentences of Debian's license texts (/usr/share/common-licenses) read by espeak-ng in
#    many voices, variants, speeds and pitches (SPEECH_CLIPS clips of two sentences, ~2.5 h), and
#    optionally NATIVE_CLIPS clips (default 0, the shipped model's set; 840 make ~2.9 h) of two
#    sentences of the translated man pages (manpages-de, -fr, -es, -it, -pl, -nl, -pt-br) read by
#    the voice of their own language;
#  - effects and music: the audio files (.ogg .oga .wav .flac .mp3 .opus .au .aiff, also inside
#    .pk3 archives and OpenTTD's .cat sample pack) of sound themes and games: sound-theme-freedesktop,
#    oxygen-sounds, sound-icons, yaru-theme-sound, tuxpaint-data, chromium-bsu-data, kobodeluxe-data,
#    pingus-data, openttd-opensfx, openarena-data, neverball-data/-common, frozen-bubble-data,
#    extremetuxracer-data, xmoto-data, lincity-ng-data, wesnoth-1.16-music, warzone2100-music and
#    nexuiz-music. Files of 30 s or more, or under a music/bgm folder, go to music/, others to effects/;
#  - rendered: MIDI_CLIPS random General MIDI sequences (8.5-10 s each: random programs 0-127, tempo,
#    scale, melody/chord/bass/arpeggio parts, drums on channel 10 in some), written with python3 and
#    rendered by fluidsynth through the TimGM6mb soundfont (timgm6mb-soundfont), plus the MIDI files
#    the packages above ship.
# Packages are fetched with `apt-get download` and unpacked with `dpkg-deb -x` under OUT/debs (never
# installed); one that can't be downloaded is skipped with a message. Each package contributes at most
# PKG_CAP seconds (default 2 h) and everything together at most TOTAL_CAP seconds (default 14 h),
# taking files in sorted order. Re-running skips finished work; names are <source>_<path>-NNN.wav.
# SOURCES.txt lists every package and version used.
# Reserved for held-out evaluation and never used here: hydrogen-drumkits, hydrogen-data,
# tuxpaint-stamps-default, hedgewars-data, the MuseScore General soundfonts (musescore-general-
# soundfont*) and FluidR3_GM (fluid-soundfont-gm, kept for the instrument evaluation task).
#   scripts/pretrain-audio.sh [OUT_DIR] [SPEECH_CLIPS] [MIDI_CLIPS] [NATIVE_CLIPS]
set -euo pipefail
OUT=${1:-${M2D_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/m2d-serve}/pretrain-audio}
CLIPS=${2:-600}
MIDIS=${3:-240}
NATIVE=${4:-0}
PKG_CAP=${PKG_CAP:-7200}
TOTAL_CAP=${TOTAL_CAP:-50400}
export LC_ALL=C
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
need() { dpkg -s "$1" >/dev/null 2>&1 || { $SUDO apt-get install -y -qq "$1" >/dev/null; }; }
need espeak-ng; need sox; need libsox-fmt-all; need fluidsynth; need opus-tools; need python3
W=$OUT/work
mkdir -p "$OUT"/{speech,effects,music,rendered,debs} "$W"/{done,speech-raw,midi,tmp}
: > "$OUT/SOURCES.txt.tmp"
ver() { dpkg-query -W -f='${Version}' "$1"; }
for p in espeak-ng espeak-ng-data sox fluidsynth opus-tools; do echo "$p $(ver $p)" >> "$OUT/SOURCES.txt.tmp"; done
echo "base-files (license texts) $(ver base-files)" >> "$OUT/SOURCES.txt.tmp"
used=0   # seconds of source audio taken so far, against TOTAL_CAP
add() { used=$(awk -v a="$used" -v b="$1" 'BEGIN {printf "%.3f", a + b}'); }
fits() { awk -v a="$1" -v b="$2" -v c="$3" 'BEGIN {exit !(a + b <= c)}'; }

# segment SRC PREFIX [EFFECTS...]: 16 kHz mono 16-bit, cut into <= 10 s pieces PREFIX-NNN.wav,
# keeping pieces of at least 1 s whose RMS is above -60 dBFS; a whole file of 0.3 to 1 s (a short
# sound effect) is padded with silence to 1 s instead of dropped. Fails if sox can't read SRC.
segment() {
  local src=$1 pre=$2 t=$W/tmp/seg g l r; shift 2
  rm -rf "$t"; mkdir -p "$t"
  nice -n 10 sox -R -V1 -G "$src" -r 16000 -c 1 -b 16 "$t/x.wav" "$@" trim 0 10 : newfile : restart 2>/dev/null || return 1
  for g in "$t"/x*.wav; do
    [ -e "$g" ] || continue
    read -r l r < <(sox "$g" -n stat 2>&1 | awk '/^Length/ {l=$3} /^RMS +amplitude/ {r=$3} END {print l + 0, r + 0}')
    awk -v r="$r" 'BEGIN {exit !(r >= 0.001)}' || continue
    if awk -v l="$l" 'BEGIN {exit !(l >= 1)}'; then
      mv "$g" "$pre-$(basename "${g%.wav}" | sed 's/^x//').wav"
    elif [ "${g##*/}" = x001.wav ] && [ ! -e "$t/x002.wav" ] && awk -v l="$l" 'BEGIN {exit !(l >= 0.3)}'; then
      sox -R "$g" "$pre-001.wav" pad 0 "$(awk -v l="$l" 'BEGIN {printf "%.3f", 1.01 - l}')"
    fi
  done
  rm -rf "$t"
}
done_mark() { echo "$2" > "$W/done/$1"; }
# speak ID I VOICE TEXT: espeak-ng reads TEXT in VOICE (speed and pitch vary with I) into a raw WAV
# kept under work/, cut into OUT/speech/ID-NNN.wav; counts its seconds. A finished ID is only counted,
# and one that fails is skipped.
speak() {
  local id=$1 i=$2 raw=$W/speech-raw/$1.wav
  if [ ! -e "$W/done/$id" ]; then
    if [ ! -s "$raw" ]; then
      nice -n 10 espeak-ng -v "$3" -s $((130 + (i * 13) % 80)) -p $((30 + (i * 17) % 50)) -w "$W/tmp/e.wav" "$4" 2>/dev/null || return 0
      sox -R "$W/tmp/e.wav" -r 16000 -c 1 -b 16 "$raw" 2>/dev/null || return 0
    fi
    segment "$raw" "$OUT/speech/$id" || return 0
    done_mark "$id" "$(soxi -D "$raw")"
  fi
  add "$(cat "$W/done/$id")"
}
# kept PREFIX: seconds in the PREFIX-NNN.wav pieces that segment kept (counted for rendered MIDI, whose
# renders end in silence).
kept() { find "$(dirname "$1")" -name "$(basename "$1")-*.wav" -printf '%s\n' | awk '{s += ($1 - 44) / 32000} END {printf "%.3f", s}'; }

# --- speech: sentences from the license texts --------------------------------------------------
cat /usr/share/common-licenses/{GPL-3,LGPL-3,Apache-2.0,MPL-2.0,Artistic,GFDL-1.3} 2>/dev/null \
  | tr '\n' ' ' | sed 's/  */ /g' | tr '.;:' '\n\n\n' | awk 'length($0) > 40 && length($0) < 220' > "$OUT/sentences.txt"
mapfile -t sentences < "$OUT/sentences.txt"
voices=(en-us en en-gb-scotland en-029 en-gb-x-rp de fr es it pt nl pl sv)
variants=("" +m1 +m2 +m3 +m4 +f1 +f2 +f3 +f4 +klatt +klatt2)
n=${#sentences[@]}
for i in $(seq 0 $((CLIPS - 1))); do
  speak espeak-ng_s$(printf %05d $i) $i \
    "${voices[$((i % ${#voices[@]}))]}${variants[$(((i / ${#voices[@]}) % ${#variants[@]}))]}" \
    "${sentences[$(((i * 7) % n))]}. ${sentences[$(((i * 7 + 3) % n))]}."
done
echo "speech: $CLIPS clips, $(printf %.0f "$used") s"

# --- packages: fetch (apt-get download) and unpack (dpkg-deb -x) --------------------------------
# fetch PKG: unpacks into OUT/debs/PKG, records the version; fails (with a message) if unavailable.
fetch() {
  local pkg=$1 deb
  deb=$(ls "$OUT"/debs/"${pkg}"_*.deb 2>/dev/null | head -1)
  if [ -z "$deb" ]; then
    (cd "$OUT/debs" && nice -n 10 apt-get download -qq "$pkg" >/dev/null 2>&1) \
      || { echo "skipping $pkg: could not download it (run apt-get update?)"; return 1; }
    deb=$(ls "$OUT"/debs/"${pkg}"_*.deb | head -1)
  fi
  if [ ! -e "$W/done/unpacked-$pkg" ]; then
    rm -rf "$OUT/debs/$pkg"; mkdir -p "$OUT/debs/$pkg"
    nice -n 10 dpkg-deb -x "$deb" "$OUT/debs/$pkg"
    extract_archives "$OUT/debs/$pkg"
    touch "$W/done/unpacked-$pkg"
  fi
  echo "$pkg $(dpkg-deb -f "$deb" Version)" >> "$OUT/SOURCES.txt.tmp"
}
# Audio inside Quake-style .pk3 (zip) archives and OpenTTD's .cat sample pack, written beside them
# under DIR/x-archives/.
extract_archives() {
  nice -n 10 python3 - "$1" <<'EOF'
import os, struct, sys, zipfile
root = sys.argv[1]; dest = os.path.join(root, "x-archives")
audio = (".ogg", ".oga", ".wav", ".flac", ".mp3", ".opus", ".au", ".aiff")
for d, _, files in sorted(os.walk(root)):
    for f in sorted(files):
        p = os.path.join(d, f)
        if os.path.islink(p): continue
        if f.lower().endswith(".pk3"):
            with zipfile.ZipFile(p) as z:
                for m in z.infolist():
                    if m.filename.lower().endswith(audio) and not m.is_dir():
                        q = os.path.join(dest, f[:-4], os.path.normpath(m.filename).lstrip("./"))
                        os.makedirs(os.path.dirname(q), exist_ok=True)
                        with open(q, "wb") as o: o.write(z.read(m))
        elif f.lower().endswith(".cat"):
            data = open(p, "rb").read()
            count = (struct.unpack_from("<I", data, 0)[0] & 0x7FFFFFFF) // 8
            for k in range(count):
                off, size = struct.unpack_from("<II", data, 8 * k); off &= 0x7FFFFFFF
                start = off + 1 + data[off]
                if data[start:start + 4] != b"RIFF": continue
                length = struct.unpack_from("<I", data, start + 4)[0] + 8
                os.makedirs(os.path.join(dest, f[:-4]), exist_ok=True)
                with open(os.path.join(dest, f[:-4], "%03d.wav" % k), "wb") as o: o.write(data[start:start + length])
EOF
}
# --- speech in its own language: sentences of the translated man pages --------------------------
# Each language's voice reads its own text (the license texts above are English even in a German
# voice). Variants avoid those of the language task's valid and test voices (f3; m4, f4, klatt).
native_langs=(de fr es it pl nl pt)
native_variants=("" +m1 +m2 +m3 +m5 +m6 +m7 +f1 +f2 +f5 +klatt2 +klatt3)
[ "$NATIVE" -gt 0 ] || native_langs=()   # the shipped model's set has none: fetch nothing
for l in "${native_langs[@]}"; do
  pkg=manpages-$l; [ "$l" = pt ] && pkg=manpages-pt-br
  fetch "$pkg" || continue
  [ -s "$OUT/sentences-$l.txt" ] || nice -n 10 python3 - "$OUT/debs/$pkg/usr/share/man" > "$OUT/sentences-$l.txt" <<'EOF2'
import gzip, os, re, sys
# Plain sentences out of groff sources: no macros, escapes, code, paths, options or long numbers.
seen = set()
for d, _, files in sorted(os.walk(sys.argv[1])):
    for f in sorted(files):
        try:
            text = gzip.open(os.path.join(d, f), "rt", encoding="utf-8").read()
        except (OSError, UnicodeDecodeError):
            continue
        parts = []
        for line in text.split("\n"):
            if line.startswith((".", "'")) or not line.strip():
                parts.append("\n")  # a macro line or a blank line ends a paragraph
                continue
            line = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", line)
            parts.append(re.sub(r"\\\*?\(..|\\\[[^]]*\]|\\\*.|\\[&|^/,-]|\\e", " ", line))
        for para in " ".join(parts).split("\n"):
            for s in re.split(r"(?<=[.!?])\s+", re.sub(r"\s+", " ", para).strip()):
                if not 40 < len(s) < 220 or not s[0].isupper() or not s.endswith(".") or s in seen:
                    continue
                if re.search(r"[/\\=$<>{}\[\]_@#*|~`\"]|--|\d{3,}", s):
                    continue
                if sum(c.isalpha() or c in " ,.;:'!?()-" for c in s) < 0.97 * len(s):
                    continue
                seen.add(s)
                print(s)
EOF2
done
# sentence L K: sentence K (0-based, modulo their count) of language L's sentences.
sentence() { local m; m=$(wc -l < "$OUT/sentences-$1.txt"); sed -n "$(($2 % m + 1))p" "$OUT/sentences-$1.txt"; }
for i in $(seq 0 $((NATIVE - 1))); do
  l=${native_langs[$((i % ${#native_langs[@]}))]}
  [ -s "$OUT/sentences-$l.txt" ] || continue
  speak espeak-ng-native_s$(printf %05d $i) $i "$l${native_variants[$(((i / ${#native_langs[@]}) % ${#native_variants[@]}))]}" \
    "$(sentence $l $((i * 7919))) $(sentence $l $((i * 7919 + 104729)))"
done
rm -f "$W/tmp/e.wav"
[ "$NATIVE" = 0 ] || echo "speech in its own language: $NATIVE clips, $(printf %.0f "$used") s in all so far"

# --- rendered: random General MIDI through TimGM6mb ----------------------------------------------
SF2=""
if fetch timgm6mb-soundfont; then
  SF2=$(find "$OUT/debs/timgm6mb-soundfont" -name '*.sf2' | head -1)
fi
# render MID WAV: fluidsynth, file renderer only (no audio driver), 44.1 kHz stereo.
render() { nice -n 10 fluidsynth -n -i -q -g 0.5 -r 44100 -F "$2" "$SF2" "$1" >/dev/null 2>&1 && [ -s "$2" ]; }
if [ -n "$SF2" ]; then
  nice -n 10 python3 - "$W/midi" "$MIDIS" <<'EOF'
import os, random, struct, sys
out, count = sys.argv[1], int(sys.argv[2])
SCALES = [[0, 2, 4, 5, 7, 9, 11], [0, 2, 3, 5, 7, 8, 10], [0, 2, 4, 7, 9], [0, 3, 5, 6, 7, 10],
          [0, 2, 3, 5, 7, 9, 10], [0, 2, 4, 6, 8, 10], list(range(12)), [0, 1, 4, 5, 7, 8, 10]]
ROLES = {  # low, high, note lengths in beats
    "melody": (60, 88, [0.25, 0.5, 0.5, 1, 1, 1.5, 2]), "chords": (48, 76, [1, 2, 2, 4]),
    "bass": (28, 50, [0.5, 1, 1, 2]), "arpeggio": (48, 84, [0.25, 0.5]), "pad": (40, 76, [2, 4, 8]),
    "single": (36, 96, [0.5, 1, 2, 3])}
def vlq(x):
    b = [x & 0x7F]; x >>= 7
    while x: b.append(0x80 | (x & 0x7F)); x >>= 7
    return bytes(reversed(b))
for i in range(count):
    path = os.path.join(out, "r%05d.mid" % i)
    if os.path.exists(path): continue
    r = random.Random(7919 * i + 17)
    tpq, bpm = 480, r.randint(50, 200)
    end = int(r.uniform(7.5, 9.0) * bpm / 60 * tpq)
    scale, root = r.choice(SCALES), r.randrange(12)
    inscale = lambda lo, hi: [n for n in range(lo, hi + 1) if (n - root) % 12 in scale]
    ev = [(0, 0, b"\xff\x51\x03" + (60000000 // bpm).to_bytes(3, "big"))]
    def note(ch, t, length, n, v):
        if t >= end: return
        ev.append((t, 2, bytes([0x90 | ch, n, v])))
        ev.append((min(t + max(1, length), end), 1, bytes([0x80 | ch, n, 0])))
    parts = r.choice([1, 1, 1, 2, 2, 3, 4])
    for ch in range(parts):
        ev.append((0, 0, bytes([0xC0 | ch, r.randrange(128)])))
        ev.append((0, 0, bytes([0xB0 | ch, 7, r.randint(70, 120)])))
        role = "single" if parts == 1 and r.random() < 0.5 else r.choice(list(ROLES)[:5])
        lo, hi, lengths = ROLES[role]
        pool, legato, t = inscale(lo, hi), r.uniform(0.4, 1.0), 0
        step = r.choice(lengths)
        while t < end:
            if role != "arpeggio": step = r.choice(lengths)
            dur = int(step * tpq)
            if r.random() < 0.12: t += dur; continue
            v = r.randint(40, 120)
            if role in ("chords", "pad"):
                k = r.randrange(len(pool) - 6)
                for j in range(r.choice([2, 3, 3, 4])): note(ch, t, int(dur * legato), pool[k + 2 * j], v)
            else:
                note(ch, t, int(dur * legato), r.choice(pool), v)
            t += dur
    if r.random() < 0.4:  # drums on channel 10
        sub = r.choice([2, 4]); stepd = tpq // sub
        for s in range(end // stepd):
            t, beat = s * stepd, s // sub
            if s % sub == 0 and (beat % 2 == 0 or r.random() < 0.3): note(9, t, stepd, r.choice([35, 36]), r.randint(80, 120))
            if s % sub == 0 and beat % 2 == 1 and r.random() < 0.85: note(9, t, stepd, r.choice([38, 40, 39]), r.randint(70, 115))
            if r.random() < 0.8: note(9, t, stepd // 2, r.choice([42, 42, 44, 46, 51]), r.randint(40, 90))
            if r.random() < 0.08: note(9, t, stepd, r.randint(35, 81), r.randint(50, 110))
    ev.sort(key=lambda e: (e[0], e[1]))
    track, last = b"", 0
    for t, _, data in ev:
        track += vlq(t - last) + data; last = t
    track += vlq(end + int(bpm / 60 * tpq) - last) + b"\xff\x2f\x00"  # ~1 s of release tail
    with open(path, "wb") as f:
        f.write(b"MThd" + struct.pack(">IHHH", 6, 0, 1, tpq) + b"MTrk" + struct.pack(">I", len(track)) + track)
EOF
  for i in $(seq 0 $((MIDIS - 1))); do
    id=randmidi_r$(printf %05d $i)
    if [ ! -e "$W/done/$id" ]; then
      render "$W/midi/r$(printf %05d $i).mid" "$W/tmp/r.wav" || { echo "could not render r$i"; continue; }
      segment "$W/tmp/r.wav" "$OUT/rendered/$id" gain -n -3 || continue
      done_mark "$id" "$(kept "$OUT/rendered/$id")"
    fi
    add "$(cat "$W/done/$id")"
  done
  rm -f "$W/tmp/r.wav"
  echo "rendered: $MIDIS random MIDI sequences"
else
  echo "skipping rendered music: no TimGM6mb soundfont"
fi

# --- effects and music from game and sound-theme packages -----------------------------------------
# Small and effect-heavy packages first, the big soundtracks last, so TOTAL_CAP trims soundtracks.
PKGS=(sound-theme-freedesktop oxygen-sounds sound-icons yaru-theme-sound tuxpaint-data chromium-bsu-data
  kobodeluxe-data pingus-data openttd-opensfx openarena-data neverball-data neverball-common
  frozen-bubble-data extremetuxracer-data xmoto-data lincity-ng-data
  wesnoth-1.16-music warzone2100-music nexuiz-music)
unreadable=0
for pkg in "${PKGS[@]}"; do
  fetch "$pkg" || continue
  base=$OUT/debs/$pkg; pused=0
  # MIDI files the package ships, rendered through TimGM6mb like the random ones.
  mids=()
  [ -n "$SF2" ] && mapfile -t mids < <(find "$base" -type f \( -iname '*.mid' -o -iname '*.midi' \) | sort)
  for s in ${mids[@]+"${mids[@]}"}; do
    id=${pkg}_$(echo "${s#"$base"/}" | sed 's#^usr/share/##; s#^games/##; s#/#__#g; s#[^A-Za-z0-9_-]#_#g')
    if [ ! -e "$W/done/$id" ]; then
      render "$s" "$W/tmp/m.wav" || { echo "could not render $s"; continue; }
      segment "$W/tmp/m.wav" "$OUT/rendered/$id" || continue
      done_mark "$id" "$(kept "$OUT/rendered/$id")"; rm -f "$W/tmp/m.wav"
    fi
    d=$(cat "$W/done/$id"); add "$d"; pused=$(awk -v a="$pused" -v b="$d" 'BEGIN {print a + b}')
  done
  mapfile -t files < <(find "$base" -type f \( -iname '*.ogg' -o -iname '*.oga' -o -iname '*.wav' -o -iname '*.flac' \
    -o -iname '*.mp3' -o -iname '*.opus' -o -iname '*.au' -o -iname '*.aiff' \) | sort)
  for s in ${files[@]+"${files[@]}"}; do
    rel=${s#"$base"/}
    id=${pkg}_$(echo "$rel" | sed 's#^usr/share/##; s#^games/##; s#^x-archives/##; s#/#__#g; s#[^A-Za-z0-9_-]#_#g')
    if [ -e "$W/done/$id" ]; then
      d=$(cat "$W/done/$id")
    else
      src=$s
      if [[ ${s,,} == *.opus ]]; then  # sox has no Opus reader: opusinfo for the length, opusdec
        d=$({ opusinfo "$s" 2>/dev/null || true; } | awk '/Playback length:/ {n = split($3, p, ":")
          for (i = 1; i <= n; i++) t += (p[i] + 0) * (p[i] ~ /h$/ ? 3600 : p[i] ~ /m$/ ? 60 : 1); print t}')
        [ -n "$d" ] || { unreadable=$((unreadable + 1)); continue; }
      else
        d=$(soxi -D "$src" 2>/dev/null) || { unreadable=$((unreadable + 1)); continue; }
      fi
      fits "$pused" "$d" "$PKG_CAP" && fits "$used" "$d" "$TOTAL_CAP" || continue
      if [[ ${s,,} == *.opus ]]; then
        src=$W/tmp/opus.wav
        nice -n 10 opusdec --quiet --rate 16000 "$s" "$src" 2>/dev/null || { unreadable=$((unreadable + 1)); continue; }
      fi
      cat=effects
      if [[ $pkg == *-music ]] || [[ ${rel,,} =~ (^|/)(music|musics|bgm|cdtracks|soundtrack)(/|$) ]] \
        || awk -v d="$d" 'BEGIN {exit !(d >= 30)}'; then cat=music; fi
      segment "$src" "$OUT/$cat/$id" || { unreadable=$((unreadable + 1)); continue; }
      done_mark "$id" "$d"
      rm -f "$W/tmp/opus.wav"
    fi
    fits "$pused" "$d" "$PKG_CAP" && fits "$used" "$d" "$TOTAL_CAP" || continue
    add "$d"; pused=$(awk -v a="$pused" -v b="$d" 'BEGIN {print a + b}')
  done
  echo "$pkg: $(printf %.0f "$pused") s of source audio (total $(printf %.0f "$used") s)"
done
[ "$unreadable" = 0 ] || echo "skipped $unreadable files sox could not read"
mv "$OUT/SOURCES.txt.tmp" "$OUT/SOURCES.txt"

# --- summary (16 kHz 16-bit mono: 32000 bytes a second after the 44-byte header) -----------------
for c in speech effects music rendered; do
  find "$OUT/$c" -name '*.wav' -printf "$c %f %s\n"
done | awk '{n[$1]++; x = ($3 - 44) / 32000; s[$1] += x; t += x; split($2, a, "_"); src[$1 " " a[1]] += x}
  END {split("speech effects music rendered", cs, " ")
       for (i = 1; i <= 4; i++) {
         c = cs[i]; printf "%-9s %6d clips %6.2f h\n", c, n[c], s[c] / 3600
         for (k in src) if (index(k, c " ") == 1) printf "    %-28s %6.2f h\n", substr(k, length(c) + 2), src[k] / 3600
       }
       printf "total     %6d clips %6.2f h (%.0f minutes)\n", NR, t / 3600, t / 60}'
echo "-> --data $OUT/speech $OUT/effects $OUT/music $OUT/rendered"
cat "$OUT/SOURCES.txt"
