#!/usr/bin/env bash
# Makes this machine ready to run hgym sandboxes:
#   1. a Docker engine that answers (on a Debian host, as root, installs and starts docker.io);
#   2. a Debian bookworm base image (pulled, or bootstrapped from Debian's archive with
#      mmdebstrap + docker import when no registry can be reached);
#   3. the sandbox image built from docker/Dockerfile, rebuilt only when its context changed.
# Idempotent: a second run on a ready machine takes about a second.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
image=${HGYM_IMAGE:-hgym/sandbox:latest}
base=${HGYM_BASE_IMAGE:-}
local_base=hgym/debian-base:bookworm
log() { printf 'hgym setup: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

engine_answers() { timeout 10 docker info >/dev/null 2>&1; }

ensure_engine() {
  engine_answers && return 0
  if [ "$(id -u)" != 0 ] || [ ! -f /etc/debian_version ]; then
    die "no Docker engine answers ('docker info' fails). Start one (or set DOCKER_HOST), then run this again. On a Debian host, running this as root installs and starts docker.io."
  fi
  if ! command -v dockerd >/dev/null 2>&1; then
    log "installing docker.io from Debian's archive"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
  fi
  # Only the default engine's pidfile counts: another dockerd (a test's second engine, with its
  # own pidfile and socket) is not this one.
  if ! { [ -f /var/run/docker.pid ] && kill -0 "$(cat /var/run/docker.pid)" 2>/dev/null; }; then
    log "starting dockerd (log: /var/log/hgym-dockerd.log)"
    (setsid dockerd >/var/log/hgym-dockerd.log 2>&1 &)
  fi
  for _ in $(seq 1 120); do
    engine_answers && { log "Docker engine is up"; return 0; }
    sleep 0.5
  done
  die "dockerd did not answer within 60 s; see /var/log/hgym-dockerd.log"
}

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

bootstrap_base() {
  command -v mmdebstrap >/dev/null 2>&1 || {
    [ "$(id -u)" = 0 ] || die "mmdebstrap is missing; install it (apt-get install mmdebstrap) or set HGYM_BASE_IMAGE to a Debian bookworm image"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mmdebstrap >/dev/null
  }
  local tar
  tar=$(mktemp --suffix=.tar)
  log "bootstrapping $local_base from Debian's archive (about a minute)"
  # The same packages the Dockerfile installs, so its apt step has nothing left to fetch.
  mmdebstrap --quiet --variant=apt \
    --include=python3,python3-pytest,git,ripgrep,ca-certificates,procps,less,file,patch,tree,gawk \
    bookworm "$tar"
  docker import "$tar" "$local_base" >/dev/null
  rm -f "$tar"
}

ensure_base() {
  if [ -n "$base" ]; then
    have_image "$base" || docker pull "$base" || die "cannot get base image $base"
    return 0
  fi
  if have_image "$local_base"; then base=$local_base; return 0; fi
  if have_image debian:bookworm-slim || timeout 30 docker pull -q debian:bookworm-slim >/dev/null 2>&1; then
    base=debian:bookworm-slim; return 0
  fi
  log "debian:bookworm-slim cannot be pulled here"
  bootstrap_base
  base=$local_base
}

context_hash() {
  (cd "$here" && cat Dockerfile executor/*.py testing/*.py; printf '%s' "$base") | sha256sum | cut -c1-16
}

ensure_image() {
  local want have
  want=$(context_hash)
  have=$(docker image inspect -f '{{ index .Config.Labels "hgym.context" }}' "$image" 2>/dev/null || true)
  if [ "$have" = "$want" ]; then log "$image is up to date ($want)"; return 0; fi
  log "building $image from $base"
  docker build -q --build-arg "BASE=$base" --label "hgym.context=$want" -t "$image" "$here" >/dev/null
  log "built $image ($want)"
}

ensure_engine
ensure_base
ensure_image
