#!/usr/bin/env bash
# Portable release builds of planledger: one binary per target, linked against glibc 2.17
# (CentOS 7, Kylin V10, UOS 20, Debian 8 and every later Linux run it), built with
# cargo-zigbuild (zig as the C compiler and linker, with glibc 2.17's symbol versions).
#
#   scripts/release.sh                 # x86_64 and aarch64, into target/dist/
#   TARGETS="x86_64-unknown-linux-gnu.2.17" scripts/release.sh
#
# From a fresh clone it installs what is missing: zig (PyPI's ziglang, with pip), cargo-zigbuild
# (cargo install --locked), the Rust targets (rustup), and from Debian's apt qemu-user (to run
# the aarch64 binary), libc6-arm64-cross (the aarch64 loader and libc qemu runs it with) and
# binutils (objdump). Each binary is then checked: the highest GLIBC_ symbol version it needs
# (objdump -T) must be at most 2.17 (the target's suffix), and `planledger --store TMP demo` then `verify` must
# succeed (natively, or under qemu-aarch64). It fails on the first check that does not hold and
# ends with a summary: target, size, highest GLIBC. docs/operations.md: Release builds.
#
# Builds run under `nice -n 19`. CARGO_TARGET_DIR is respected (the binaries are copied to
# target/dist/ of this checkout whatever it is).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)

# A target's suffix (.2.17) is the glibc version it is linked against and the highest GLIBC_
# symbol version its binary may need.
TARGETS=${TARGETS:-"x86_64-unknown-linux-gnu.2.17 aarch64-unknown-linux-gnu.2.17"}
# The versions these figures were measured with (docs/operations.md).
ZIGLANG_VERSION=${ZIGLANG_VERSION:-0.17.1}
CARGO_ZIGBUILD_VERSION=${CARGO_ZIGBUILD_VERSION:-0.24.1}

target_dir=${CARGO_TARGET_DIR:-$PWD/target}
dist=$PWD/target/dist
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)

say() { printf 'release: %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
    as_root apt-get install -y -q "$@" >/dev/null 2>&1 ||
        { as_root apt-get update -q >/dev/null && as_root apt-get install -y -q "$@" >/dev/null; }
}

for t in $TARGETS; do
    [[ "$t" =~ ^[a-z0-9_]+-unknown-linux-gnu[a-z0-9]*\.2\.[0-9]+$ ]] ||
        die "target $t names no glibc version (as in x86_64-unknown-linux-gnu.2.17)"
done

# ---- tools -------------------------------------------------------------------------------
if ! command -v zig >/dev/null && ! python3 -m ziglang version >/dev/null 2>&1; then
    say "installing zig (PyPI ziglang==$ZIGLANG_VERSION)"
    python3 -m pip install --quiet --disable-pip-version-check "ziglang==$ZIGLANG_VERSION"
fi
if ! command -v cargo-zigbuild >/dev/null; then
    say "installing cargo-zigbuild $CARGO_ZIGBUILD_VERSION (cargo install --locked)"
    nice -n 19 cargo install --locked --quiet cargo-zigbuild --version "$CARGO_ZIGBUILD_VERSION"
fi
installed=$(rustup target list --installed)
for t in $TARGETS; do
    triple=${t%.2.*}
    grep -qx "$triple" <<<"$installed" || rustup target add "$triple"
done
need_apt=()
command -v objdump >/dev/null || need_apt+=(binutils)
if grep -q aarch64 <<<"$TARGETS"; then
    command -v qemu-aarch64 >/dev/null || need_apt+=(qemu-user)
    [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || need_apt+=(libc6-arm64-cross)
fi
if [ ${#need_apt[@]} -gt 0 ]; then
    say "installing ${need_apt[*]} (apt-get)"
    apt_install "${need_apt[@]}"
fi
say "zig $(zig version 2>/dev/null || python3 -m ziglang version), $(cargo-zigbuild --version), $(rustc --version)"

# ---- build -------------------------------------------------------------------------------
mkdir -p "$dist"
for t in $TARGETS; do
    say "building $t"
    nice -n 19 cargo zigbuild --locked --release -p planledger-cli --bin planledger --target "$t"
done

# ---- check -------------------------------------------------------------------------------
# The highest GLIBC_x.y among the versions of the dynamic symbols the binary imports.
highest_glibc() {
    objdump -T "$1" | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1
}
# Runs the binary (under qemu for a foreign architecture): demo, then verify, on a new store.
run_check() {
    local bin=$1 triple=$2 store
    local -a run=("$bin")
    case "$triple" in
        x86_64-*) [ "$(uname -m)" = x86_64 ] || run=() ;;
        aarch64-*) [ "$(uname -m)" = aarch64 ] || run=(qemu-aarch64 -L /usr/aarch64-linux-gnu "$bin") ;;
        *) run=() ;;
    esac
    [ ${#run[@]} -gt 0 ] || { echo "not run"; return 0; }
    store=$(mktemp -d)
    if ! "${run[@]}" --lang en --store "$store/s" demo >"$store/demo.out" 2>&1; then
        cat "$store/demo.out" >&2; rm -rf "$store"; return 1
    fi
    if ! "${run[@]}" --lang en --store "$store/s" verify >"$store/verify.out" 2>&1; then
        cat "$store/verify.out" >&2; rm -rf "$store"; return 1
    fi
    local events
    events=$(grep -o '[0-9][0-9]* events' "$store/verify.out" | head -1 || true)
    rm -rf "$store"
    echo "demo+verify ok${events:+ ($events)}${run[1]:+ under ${run[0]}}"
}

summary=()
for t in $TARGETS; do
    triple=${t%.2.*}
    arch=${triple%%-*}
    bin=$target_dir/$triple/release/planledger
    [ -x "$bin" ] || die "$bin was not built"
    out=$dist/planledger-$version-$arch-linux-gnu
    cp "$bin" "$out"
    glibc=$(highest_glibc "$out") || die "objdump -T $out"
    [ -n "$glibc" ] || die "$out: no GLIBC_ symbol versions found (is it dynamically linked?)"
    glibc_max=${t#"$triple".}
    if [ "$(printf '%s\n%s\n' "$glibc" "$glibc_max" | sort -V | tail -1)" != "$glibc_max" ]; then
        objdump -T "$out" | grep "GLIBC_$glibc" >&2
        die "$out needs GLIBC_$glibc, more than $glibc_max"
    fi
    say "running $arch: demo, verify"
    ran=$(run_check "$out" "$triple") || die "$out: demo or verify failed"
    size=$(stat -c %s "$out")
    summary+=("$(printf '%-32s %10d bytes %6.2f MB  GLIBC_%-5s %s' "$t" "$size" "$(awk -v s="$size" 'BEGIN { print s / 1e6 }')" "$glibc" "$ran")")
done
(cd "$dist" && sha256sum planledger-"$version"-*-linux-gnu >SHA256SUMS)

echo
echo "release: planledger $version, in ${dist#"$PWD"/}"
printf '%s\n' "${summary[@]}"
echo "release: done in $(($(date +%s) - started)) s"
