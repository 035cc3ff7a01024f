#!/usr/bin/env bash
# make check-image: the Dockerfile's runtime stage, checked without a container engine. Builds a
# bookworm root filesystem with debootstrap (minbase), installs the runtime stage's package list read
# from the Dockerfile, copies the binaries built as the build stage builds them (release,
# --static-swift-stdlib) and the model, creates the image's user, and starts m2d-server in a chroot as
# that user (uid 10001). It must answer /health/ready and one /embed: a library missing from the
# runtime stage fails here. The mirror is the one this machine's apt uses.
#   scripts/check-image.sh   (ROOTFS=DIR: where the root filesystem is kept; default $M2D_CACHE/image-rootfs)
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "check-image needs root (debootstrap and chroot)" >&2; exit 1; }
ROOTFS=${ROOTFS:-${M2D_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/m2d-serve}/image-rootfs}
command -v debootstrap >/dev/null || apt-get install -y -qq debootstrap >/dev/null
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/*.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list)
# The runtime stage: the last FROM to the end of the Dockerfile.
stage=$(awk '/^FROM /{buf=""} {buf=buf $0 "\n"} END {printf "%s", buf}' Dockerfile)
packages=$(echo "$stage" | sed -n '/apt-get install/,/rm -rf/p' | tr '\\' ' ' | tr ' ' '\n' |
  grep -E '^[a-z0-9][a-z0-9.+-]+$' | grep -vE '^(apt-get|install|rm|useradd|DEBIAN_FRONTEND|no-install-recommends)$')
uid=$(echo "$stage" | grep -o -- '--uid [0-9]*' | awk '{print $2}')
model_src=$(echo "$stage" | awk '/^COPY models\// {print $2}')
model_dst=$(echo "$stage" | awk '/^COPY models\// {print $3}')
echo "runtime packages: $(echo $packages)" >&2
# A pristine minbase is kept as a tarball; every run starts from a fresh copy of it, so a package
# dropped from the Dockerfile is really absent.
if [ ! -f "$ROOTFS.tar" ]; then
  echo "debootstrap bookworm (minbase) into $ROOTFS.tar" >&2
  rm -rf "$ROOTFS.new"
  debootstrap --variant=minbase bookworm "$ROOTFS.new" "$mirror" >/dev/null
  tar -C "$ROOTFS.new" -cf "$ROOTFS.tar" . && rm -rf "$ROOTFS.new"
fi
mountpoint -q "$ROOTFS/proc" && umount "$ROOTFS/proc"
rm -rf "$ROOTFS"; mkdir -p "$ROOTFS"; tar -C "$ROOTFS" -xf "$ROOTFS.tar"
mount -t proc proc "$ROOTFS/proc"
trap 'kill "${server:-}" 2>/dev/null || true; umount "$ROOTFS/proc" 2>/dev/null || true' EXIT
chroot "$ROOTFS" apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive chroot "$ROOTFS" apt-get install -y -qq --no-install-recommends $packages >/dev/null
chroot "$ROOTFS" id -u m2d >/dev/null 2>&1 ||
  chroot "$ROOTFS" useradd --system --uid "$uid" --home /nonexistent --shell /usr/sbin/nologin m2d
# As the build stage: release, the Swift runtime linked statically (the runtime stage has none).
swift build -c release --static-swift-stdlib --scratch-path .build-image --product m2d-server >/dev/null
bin=$(swift build -c release --static-swift-stdlib --scratch-path .build-image --show-bin-path)
install -m 755 "$bin/m2d-server" "$ROOTFS/usr/local/bin/m2d-server"
rm -rf "${ROOTFS:?}$model_dst"; mkdir -p "$(dirname "$ROOTFS$model_dst")"; cp -r "$model_src" "$ROOTFS$model_dst"
port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
chroot --userspec="$uid:$uid" "$ROOTFS" env M2D_MODEL="$model_dst" HOME=/nonexistent \
  /usr/local/bin/m2d-server --host 127.0.0.1 --port "$port" --no-admin-port > "$ROOTFS/tmp/server.log" 2>&1 &
server=$!
for _ in $(seq 1 300); do curl -fs "127.0.0.1:$port/health/ready" >/dev/null 2>&1 && break; sleep 0.2; done
curl -fs "127.0.0.1:$port/health/ready" >/dev/null || { cat "$ROOTFS/tmp/server.log" >&2; echo "FAIL: not ready" >&2; exit 1; }
code=$(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: audio/wav' \
  --data-binary @Tests/Fixtures/golden/audio/ten_sec_mod.wav "127.0.0.1:$port/embed")
[ "$code" = 200 ] || { cat "$ROOTFS/tmp/server.log" >&2; echo "FAIL: /embed answered $code" >&2; exit 1; }
owner=$(stat -c %u "/proc/$(pgrep -f "port $port" | head -1)")
echo "PASS: the runtime stage (packages: $(echo $packages)) serves /health/ready and /embed as uid $owner"
