#!/usr/bin/env bash
# The .deb and the .rpm, checked as the tools that install and use them would (run by .ci/run).
#
#   tests/package/test_packages.sh [BINARY]     # default target/debug/planledger
#   PLANLEDGER_TEST_RPM=0 tests/package/…       # the .deb only (no cargo-generate-rpm, no rpm)
#
# Packages BINARY with scripts/package.sh (cargo-deb, cargo-generate-rpm; no rebuild: CI
# packages the debug binary `cargo test` built), then: the .deb's control, conffiles and
# maintainer scripts (dpkg-deb -I, -e); its files, extracted into a throwaway root (dpkg -x);
# `systemd-analyze verify` on the extracted units, with ExecStart pointing at the extracted
# binary and the extracted manual pages on MANPATH; `man -l` on planledger.1.gz; the bash
# completion sourced in bash and asked to complete `planledger st`; the extracted binary's
# --version; the .rpm's files, config file, scripts and architecture (rpm -qp). A missing tool
# (dpkg-deb, systemd-analyze, man, rpm …) is a failure, not a skip; cargo-deb and
# cargo-generate-rpm are installed by scripts/package.sh when missing (cargo install --locked). Ends with `package test: N passed, M failed`; exits 1 on a failure.
set -uo pipefail
cd "$(dirname "$0")/../.."

bin=$(realpath "${1:-target/debug/planledger}")
with_rpm=${PLANLEDGER_TEST_RPM:-1}
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

# check NAME COMMAND...: runs COMMAND, its output kept; prints it when it fails.
check() {
    local name=$1
    shift
    if "$@" >"$work/out" 2>&1; then
        passed=$((passed + 1))
        echo "ok     $name"
    else
        failed=$((failed + 1))
        echo "FAILED $name"
        sed 's/^/       | /' "$work/out" | head -40
    fi
}
finish() {
    echo "package test: $passed passed, $failed failed"
    [ "$failed" -eq 0 ] || exit 1
    exit 0
}

# ---- tools -------------------------------------------------------------------------------
missing=()
for tool in dpkg-deb systemd-analyze man col bash readelf strip gzip $([ "$with_rpm" = 1 ] && echo rpm); do
    command -v "$tool" >/dev/null || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    failed=$((failed + 1))
    echo "FAILED the tools are installed: missing ${missing[*]}"
    finish
fi
passed=$((passed + 1))
echo "ok     the tools are installed"

# ---- build -------------------------------------------------------------------------------
# Packaged without its symbols: half the bytes to compress (a debug binary is ~75 MB).
strip -o "$work/planledger" "$bin"
check "scripts/package.sh packages $bin (stripped)" \
    scripts/package.sh --bin "$work/planledger" --out "$work/out-pkg" --fast $([ "$with_rpm" = 1 ] || echo --no-rpm)
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)
deb=$work/out-pkg/planledger_${version}-1_${arch}.deb
rpmfile=$(ls "$work"/out-pkg/planledger-"$version"-1.*.rpm 2>/dev/null | head -1)
check "the .deb is made" test -s "$deb"
[ "$with_rpm" = 1 ] && check "the .rpm is made" test -s "$rpmfile"
[ -s "$deb" ] || finish

# ---- .deb: control and maintainer scripts ------------------------------------------------
dpkg-deb -I "$deb" >"$work/info" 2>&1
dpkg-deb -e "$deb" "$work/control"
check "control: Package planledger, version $version-1, Depends on libc6 (>= 2.17)" \
    grep -qzP "Package: planledger\n(.|\n)*Version: $version-1\n(.|\n)*Depends: libc6 \(>= 2.17\)" "$work/info"
check "conffiles: /etc/planledger/planledger.toml" grep -qx /etc/planledger/planledger.toml "$work/control/conffiles"
check "postinst, prerm, postrm are executable and parse" \
    bash -c 'for s in postinst prerm postrm; do test -x "$1/$s" && sh -n "$1/$s" || exit 1; done' _ "$work/control"
check "postinst makes the user planledger and /var/lib/planledger 0750" \
    bash -c 'grep -q "useradd --system" "$1" && grep -q "groupadd --system planledger" "$1" &&
             grep -q "install -d -o planledger -g planledger -m 0750 /var/lib/planledger" "$1" &&
             grep -q "chown root:planledger /etc/planledger/planledger.toml" "$1"' _ "$work/control/postinst"
check "postinst starts and enables nothing" \
    bash -c '! grep -Eq "systemctl (start|enable|restart)|deb-systemd-invoke" "$1"' _ "$work/control/postinst"

# ---- .deb: its files ---------------------------------------------------------------------
root=$work/root
dpkg -x "$deb" "$root"
check "the files are there" bash -c 'cd "$1" && for f in usr/bin/planledger \
    usr/share/man/man1/planledger.1.gz usr/share/man/man1/planledger-serve.1.gz \
    usr/share/man/man1/planledger-verify.1.gz \
    usr/share/bash-completion/completions/planledger usr/share/zsh/vendor-completions/_planledger \
    usr/share/fish/vendor_completions.d/planledger.fish \
    lib/systemd/system/planledger.service lib/systemd/system/planledger-verify.service \
    lib/systemd/system/planledger-verify.timer etc/planledger/planledger.toml \
    usr/share/doc/planledger/copyright; do test -s "$f" || { echo "missing $f"; exit 1; }; done' _ "$root"
check "a manual page for every command (at least 40, all gzipped)" \
    bash -c 'n=$(ls "$1"/usr/share/man/man1/*.1.gz | wc -l); echo "$n pages"; [ "$n" -ge 40 ] &&
             [ -z "$(ls "$1"/usr/share/man/man1 | grep -v "\.1\.gz$")" ]' _ "$root"
check "planledger is 0755, the settings 0640" \
    bash -c 'test "$(stat -c %a "$1/usr/bin/planledger")" = 755 &&
             test "$(stat -c %a "$1/etc/planledger/planledger.toml")" = 640' _ "$root"
check "the service reads /etc/planledger/planledger.toml" \
    grep -qx "ExecStart=/usr/bin/planledger serve --config /etc/planledger/planledger.toml" \
    "$root/lib/systemd/system/planledger.service"
check "the settings name the store and the gRPC address" \
    bash -c 'grep -qx "store = \"/var/lib/planledger\"" "$1" && grep -q "^listen = " "$1"' _ "$root/etc/planledger/planledger.toml"
check "planledger --version (extracted) says $version" \
    bash -c '"$1/usr/bin/planledger" --version | grep -qx "planledger $2"' _ "$root" "$version"

# systemd-analyze verify: the units as installed, ExecStart pointing at the extracted binary
# and the extracted manual pages on MANPATH (Documentation=man:… is checked too).
units=$work/units
mkdir -p "$units"
for u in planledger.service planledger-verify.service planledger-verify.timer; do
    sed "s#/usr/bin/planledger#$root/usr/bin/planledger#g" "$root/lib/systemd/system/$u" >"$units/$u"
done
for u in planledger.service planledger-verify.service planledger-verify.timer; do
    check "systemd-analyze verify $u" bash -c 'cd "$1" && out=$(MANPATH="$2" systemd-analyze verify "$3" 2>&1);
        echo "$out"; ! grep -q . <<<"$out"' _ "$units" "$root/usr/share/man" "$units/$u"
done
check "the verify service runs \`verify\` as planledger, on the store, read-only" \
    bash -c 'grep -qx "ExecStart=/usr/bin/planledger --store /var/lib/planledger verify" "$1" &&
             grep -qx "User=planledger" "$1" && grep -qx "ReadOnlyPaths=/var/lib/planledger" "$1" &&
             grep -qx "ProtectSystem=strict" "$1" && ! grep -q "^ReadWritePaths" "$1"' _ \
    "$root/lib/systemd/system/planledger-verify.service"

# The manual: man renders the page, without a warning from groff.
check "man -l renders planledger.1.gz" \
    bash -c 'out=$(MANWIDTH=80 MAN_KEEP_FORMATTING=0 man --warnings -l "$1" 2>"$2/man.err" | col -b);
             cat "$2/man.err"; [ ! -s "$2/man.err" ] && grep -q "^NAME" <<<"$out" &&
             grep -q "planledger" <<<"$out" && grep -q "serve" <<<"$out"' _ \
    "$root/usr/share/man/man1/planledger.1.gz" "$work"

# The bash completion: sourced, registered for planledger, completes `planledger st`.
check "bash completion: sourced, complete -p planledger, \`planledger st\` → state" \
    bash -c 'source "$1" || exit 1
        complete -p planledger | grep -q "_planledger" || { complete -p planledger; exit 1; }
        COMP_WORDS=(planledger st); COMP_CWORD=1; COMP_LINE="planledger st"; COMP_POINT=${#COMP_LINE}
        _planledger planledger st planledger
        printf "%s\n" "${COMPREPLY[@]}"
        printf "%s\n" "${COMPREPLY[@]}" | grep -qx state &&
            ! printf "%s\n" "${COMPREPLY[@]}" | grep -qv "^st"' _ \
    "$root/usr/share/bash-completion/completions/planledger"
check "bash completion: \`planledger su\` → submit, subscribe, summary" \
    bash -c 'source "$1"
        COMP_WORDS=(planledger su); COMP_CWORD=1; COMP_LINE="planledger su"; COMP_POINT=${#COMP_LINE}
        _planledger planledger su planledger
        got=$(printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " "); echo "$got"
        [ "$got" = "submit subscribe summary " ]' _ \
    "$root/usr/share/bash-completion/completions/planledger"

# ---- .rpm --------------------------------------------------------------------------------
if [ "$with_rpm" = 1 ] && [ -s "$rpmfile" ]; then
    rpm -qlp "$rpmfile" >"$work/rpm-files" 2>&1
    check "rpm -qlp: the binary, the units, the settings, the manual, the completions" \
        bash -c 'for f in /usr/bin/planledger /usr/lib/systemd/system/planledger.service \
            /usr/lib/systemd/system/planledger-verify.service /usr/lib/systemd/system/planledger-verify.timer \
            /etc/planledger/planledger.toml /usr/share/man/man1/planledger.1.gz \
            /usr/share/bash-completion/completions/planledger /usr/share/zsh/site-functions/_planledger \
            /usr/share/fish/vendor_completions.d/planledger.fish; do
            grep -qx "$f" "$1" || { echo "missing $f"; cat "$1"; exit 1; }; done
            n=$(grep -c "^/usr/share/man/man1/.*\.1\.gz$" "$1"); [ "$n" -ge 40 ]' _ "$work/rpm-files"
    check "rpm -qcp: the settings are a config file, root:planledger 0640" \
        bash -c 'rpm -qcp "$1" | grep -qx /etc/planledger/planledger.toml &&
            rpm -qp --qf "[%{FILENAMES} %{FILEMODES:perms} %{FILEUSERNAME}:%{FILEGROUPNAME}\n]" "$1" |
            grep -qx "/etc/planledger/planledger.toml -rw-r----- root:planledger"' _ "$rpmfile"
    check "rpm --scripts: pre makes the user, post the store directory, preun stops on erase" \
        bash -c 's=$(rpm -qp --scripts "$1"); echo "$s" | grep -q "useradd --system" &&
            echo "$s" | grep -q "install -d -o planledger -g planledger -m 0750 /var/lib/planledger" &&
            echo "$s" | grep -q "systemctl stop planledger-verify.timer" &&
            ! echo "$s" | grep -Eq "systemctl (start|enable|restart)"' _ "$rpmfile"
    check "rpm: name planledger, version $version, architecture $(uname -m)" \
        bash -c 'test "$(rpm -qp --qf "%{NAME} %{VERSION} %{ARCH}" "$1")" = "planledger $2 $(uname -m)"' _ \
        "$rpmfile" "$version"
fi

finish
