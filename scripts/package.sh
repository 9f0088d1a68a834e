#!/usr/bin/env bash
# The .deb and the .rpm of planledger, into target/dist/ (docs/operations.md: Installing offline).
#
#   scripts/package.sh                  # builds the release binary for this machine, packages it
#   scripts/package.sh --dist           # packages each portable binary scripts/release.sh made
#                                       # (target/dist/planledger-VERSION-ARCH-linux-gnu)
#   scripts/package.sh --bin FILE       # packages FILE (tests/package: the debug binary)
#   ... --no-rpm                        # the .deb only
#   ... --out DIR                       # into DIR instead of target/dist/
#   ... --fast                          # faster, larger compression (the package test)
#
# Ends by writing DIR/SHA256SUMS over the binaries and packages there.
#
# The binary makes the manual pages (`planledger man`, gzipped) and the shell completions
# (`planledger completions bash|zsh|fish`) into target/dist/pkg/; cargo-deb and
# cargo-generate-rpm then package them with the binary, the systemd units and the settings
# file, as `[package.metadata.deb]` and `[package.metadata.generate-rpm]` in Cargo.toml list
# them. A foreign (aarch64) binary is run under qemu-aarch64 to make them. The binary is put
# where both tools look for it (CARGO_TARGET_DIR=target/dist/stage, [TRIPLE/]release/), so
# any binary can be packaged without rebuilding it. cargo-deb and cargo-generate-rpm are
# installed with `cargo install --locked` when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_DEB_VERSION=${CARGO_DEB_VERSION:-3.8.0}
CARGO_GENERATE_RPM_VERSION=${CARGO_GENERATE_RPM_VERSION:-0.21.1}

dist=$PWD/target/dist
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
say() { printf 'package: %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }

bins=()
rpm=1
out=$dist
fast=()
# xz, not cargo-generate-rpm's default zstd: rpm reads zstd payloads from 4.14 on only, and
# CentOS 7 (glibc 2.17, the portable build's floor) has rpm 4.11.
rpm_payload=xz
while [ $# -gt 0 ]; do
    case "$1" in
        --bin) bins+=("$(realpath "$2")"); shift 2 ;;
        --dist)
            for f in "$dist"/planledger-"$version"-*-linux-gnu; do [ -x "$f" ] && bins+=("$f"); done
            [ ${#bins[@]} -gt 0 ] || die "no $dist/planledger-$version-*-linux-gnu: run scripts/release.sh first"
            shift ;;
        --no-rpm) rpm=0; shift ;;
        --out) out=$(realpath -m "$2"); shift 2 ;;
        --fast) fast=(--fast); rpm_payload=gzip; shift ;;
        *) die "unknown argument $1 (--bin FILE, --dist, --no-rpm, --out DIR, --fast)" ;;
    esac
done

for tool in deb $([ $rpm = 1 ] && echo generate-rpm); do
    if ! command -v "cargo-$tool" >/dev/null; then
        v=$([ "$tool" = deb ] && echo "$CARGO_DEB_VERSION" || echo "$CARGO_GENERATE_RPM_VERSION")
        say "installing cargo-$tool $v (cargo install --locked)"
        nice -n 19 cargo install --locked --quiet "cargo-$tool" --version "$v"
    fi
done

if [ ${#bins[@]} -eq 0 ]; then
    say "building the release binary"
    nice -n 19 cargo build --locked --release -p planledger-cli --bin planledger
    bins=("${CARGO_TARGET_DIR:-$PWD/target}/release/planledger")
fi

# The Rust target of a binary, from its ELF header.
triple_of() {
    case "$(LC_ALL=C readelf -h "$1" | sed -n 's/^ *Machine: *//p')" in
        *X86-64*) echo x86_64-unknown-linux-gnu ;;
        *AArch64*) echo aarch64-unknown-linux-gnu ;;
        *) die "$1: not an x86_64 or aarch64 ELF binary" ;;
    esac
}

made=()
for bin in "${bins[@]}"; do
    [ -x "$bin" ] || die "$bin is not an executable"
    triple=$(triple_of "$bin")
    run=("$bin")
    if [ "${triple%%-*}" != "$(uname -m)" ]; then
        command -v qemu-aarch64 >/dev/null || die "qemu-aarch64 is needed to run $bin (apt-get install qemu-user libc6-arm64-cross)"
        run=(qemu-aarch64 -L /usr/aarch64-linux-gnu "$bin")
    fi

    # What the binary makes for the package.
    mkdir -p "$out"
    pkg=$dist/pkg
    rm -rf "$pkg"
    mkdir -p "$pkg/man" "$pkg/completions"
    "${run[@]}" man --out "$pkg/man" >/dev/null
    gzip -9n "$pkg"/man/*.1
    "${run[@]}" completions bash >"$pkg/completions/planledger.bash"
    "${run[@]}" completions zsh >"$pkg/completions/_planledger"
    "${run[@]}" completions fish >"$pkg/completions/planledger.fish"

    # The binary where both tools look for it.
    stage=$out/stage
    rm -rf "$stage"
    mkdir -p "$stage/$triple/release"
    cp "$bin" "$stage/$triple/release/planledger"

    say "$(basename "$bin") ($triple): $(ls "$pkg/man" | wc -l) manual pages"
    deb=$(CARGO_TARGET_DIR=$stage cargo deb --no-build --no-strip --quiet "${fast[@]}" \
        --target "$triple" -p planledger-cli --output "$out/")
    made+=("$deb")
    if [ $rpm = 1 ]; then
        CARGO_TARGET_DIR=$stage cargo generate-rpm --target "$triple" -p . --payload-compress "$rpm_payload" \
            --output "$out/" >/dev/null
        made+=("$(ls -t "$out"/planledger-"$version"*."${triple%%-*}".rpm | head -1)")
    fi
    rm -rf "$stage"
done

for f in "${made[@]}"; do
    printf '%s  %d bytes\n' "$f" "$(stat -c %s "$f")"
done
# One SHA256SUMS over the binaries (scripts/release.sh) and the packages in the directory.
(cd "$out" && sha256sum $(ls planledger-*-linux-gnu planledger_*.deb planledger-*.rpm 2>/dev/null) >SHA256SUMS)
