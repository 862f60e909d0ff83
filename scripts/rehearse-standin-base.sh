#!/usr/bin/env bash
# A local stand-in for databricksruntime/standard, for rehearsing a cluster
# launch (npm run rehearse) where Docker Hub cannot be reached: a Debian
# bookworm root file system (debootstrap --variant=minbase) with bash,
# Debian's Dask (python3-distributed, python3-dask 2022.12) and numpy, and the
# Databricks layout, a virtualenv /databricks/python3 with pip made with
# --system-site-packages (so its Python sees Debian's Dask), imported with
# `docker import` as dcs-rehearsal-standin:<hash of this script>.
#
# Built once per version of this script and kept as that image: a later call
# prints the reference at once. Calls at the same time wait for one another
# (flock). Older stand-ins this script made (label dcs.rehearsal.standin with
# another hash) are removed; nothing else is touched.
#
# Prints the image reference on stdout, progress on stderr.
# Needs root, debootstrap, flock, a Docker engine, and a Debian mirror: the
# one apt uses on this machine, or DCS_DEBIAN_MIRROR.
#
# Usage: scripts/rehearse-standin-base.sh
set -euo pipefail
export LC_ALL=C

(($# == 0)) || { echo "usage: $0" >&2; exit 2; }
log() { printf 'standin-base: %s\n' "$*" >&2; }
docker="${DOCKER:-docker}"

recipe="$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-12)"
ref="dcs-rehearsal-standin:$recipe"
label=dcs.rehearsal.standin

exists() { "$docker" image inspect "$ref" >/dev/null 2>&1; }
if exists; then
  printf '%s\n' "$ref"
  exit 0
fi

((EUID == 0)) || { log "building $ref needs root (debootstrap, chroot)"; exit 1; }
command -v debootstrap >/dev/null || { log "debootstrap is missing: apt-get install debootstrap"; exit 1; }
"$docker" info >/dev/null 2>&1 || { log "the Docker engine does not answer ($docker info failed)"; exit 1; }

lock="${TMPDIR:-/tmp}/dcs-rehearsal-standin.lock"
exec 9>"$lock"
if ! flock -n 9; then
  log "another build of the stand-in is under way; waiting for it"
  flock 9
fi
if exists; then
  printf '%s\n' "$ref"
  exit 0
fi

mirror="${DCS_DEBIAN_MIRROR:-}"
if [[ -z "$mirror" ]]; then
  # The mirror apt uses here (deb822 or one-line sources), else Debian's CDN.
  mirror="$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/\{0,1\}$/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n 1 || true)"
  [[ -n "$mirror" ]] || mirror="$(sed -n 's/^deb[[:space:]]\+\(\[[^]]*\][[:space:]]\+\)\{0,1\}\([^[:space:]]*\/debian\)\/\{0,1\}[[:space:]]\+bookworm[[:space:]].*/\2/p' /etc/apt/sources.list 2>/dev/null | head -n 1 || true)"
  [[ -n "$mirror" ]] || mirror=http://deb.debian.org/debian
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/dcs-standin.XXXXXX")"
rootfs="$work/rootfs"
cleanup() {
  mountpoint -q "$rootfs/proc" 2>/dev/null && umount "$rootfs/proc"
  rm -rf "$work"
}
trap cleanup EXIT

start=$SECONDS
log "building $ref: debootstrap bookworm (minbase) from $mirror with Debian's Dask"
if ! debootstrap --variant=minbase --include=python3-distributed,python3-numpy,python3-venv \
  bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log" >&2
  log "debootstrap failed (its log is above)"
  exit 1
fi
log "root file system ready after $((SECONDS - start)) s; creating /databricks/python3"
# psutil (imported by distributed) reads /proc.
mount -t proc proc "$rootfs/proc"
chroot "$rootfs" /usr/bin/python3 -m venv --system-site-packages /databricks/python3
chroot "$rootfs" /databricks/python3/bin/python -c 'import distributed, numpy, pip' >&2
umount "$rootfs/proc"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

tar --numeric-owner -C "$rootfs" -c . | "$docker" import \
  --change 'ENV LANG=C.UTF-8' \
  --change "LABEL $label=$recipe" \
  --message "stand-in for databricksruntime/standard: Debian bookworm, Debian's Dask, /databricks/python3" \
  - "$ref" >/dev/null

# Stand-ins of earlier versions of this script.
while read -r old; do
  [[ -n "$old" && "$old" != "$ref" ]] || continue
  log "removing the older stand-in $old"
  "$docker" image rm "$old" >/dev/null || true
done < <("$docker" image ls --filter "label=$label" --format '{{.Repository}}:{{.Tag}}')

log "built $ref in $((SECONDS - start)) s"
printf '%s\n' "$ref"
