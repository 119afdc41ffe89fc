#!/usr/bin/env bash
# Builds a release of patroni-agent for linux-x64 and linux-arm64: the native AOT binaries, linked for
# glibc 2.28 and later (scripts/publish.sh, failing on any build warning), then for each CPU
#   patroni-agent_V_amd64.deb      patroni-agent_V_arm64.deb        Debian 10+, Ubuntu 18.04+ (dpkg-deb)
#   patroni-agent-V-1.x86_64.rpm   patroni-agent-V-1.aarch64.rpm    RHEL 8+ family, Fedora (rpmbuild)
#   patroni-agent-V-linux-x64.tar.gz  patroni-agent-V-linux-arm64.tar.gz   the files and an install.sh
# Usage: scripts/release.sh [--version V] [--out DIR]
#   --version V   X.Y.Z (default: <Version> of src/PatroniAgent/PatroniAgent.csproj)
#   --out DIR     where the files are written (default: artifacts/release)
# Prints the paths of the six files. The packages' files come from src/PatroniAgent/Packaging/; the man
# page and the bash completion are what the binary prints (patroni-agent manpage, completion bash).
# docs/operations.md says how to install each.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
packaging=$repo/src/PatroniAgent/Packaging
maintainer="PatroniAgent maintainers <patroni-agent@example.org>"
summary="HAProxy agent-check daemon for Patroni clusters"
description="patroni-agent runs next to Patroni on every database host and answers
HAProxy's agent checks (and Patroni-style HTTP health checks) from one
background poll of the local Patroni REST API: ready for the primary,
maint for the replicas of a read-write backend, down when PostgreSQL is
not running. It is a native binary and needs no .NET runtime."

die() { echo "release: $*" >&2; exit 1; }

version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$repo/src/PatroniAgent/PatroniAgent.csproj" | head -n 1)
out=$repo/artifacts/release
while [ $# -gt 0 ]; do
    case $1 in
        --version) [ $# -ge 2 ] || die "--version needs a value"; version=$2; shift 2 ;;
        --out) [ $# -ge 2 ] || die "--out needs a value"; out=$2; shift 2 ;;
        *) die "unknown argument: $1 (usage: scripts/release.sh [--version V] [--out DIR])" ;;
    esac
done
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "version must be X.Y.Z (digits), not '$version'"
echo "release: patroni-agent $version into $out" >&2
mkdir -p "$out" || die "cannot create the output directory $out"
out=$(cd "$out" && pwd)
command -v rpmbuild >/dev/null || die "rpmbuild is missing (scripts/install-deps.sh installs the rpm package)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The binaries, with the release's version (patroni-agent --version prints it).
for arch in x64 arm64; do
    "$repo/scripts/publish.sh" "$arch" "$work/publish-$arch" -p:Version="$version" >/dev/null
done

# What every package holds besides the binary. The man page and the completion come from the x64
# binary, which runs here; they are the same for both CPUs.
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
date=$(git -C "$repo" log -1 --format=%cD 2>/dev/null || date -R)
common=$work/common
install -d -m 0755 "$common/man" "$common/completion"
"$work/publish-x64/patroni-agent" manpage | gzip -9n > "$common/man/patroni-agent.1.gz"
"$work/publish-x64/patroni-agent" completion bash > "$common/completion/patroni-agent"

# The installed tree of one CPU, for the .deb and the tarball (systemd units in /lib/systemd/system)
# or the .rpm (units in /usr/lib/systemd/system, the licence in /usr/share/licenses).
make_tree() {
    local arch=$1 tree=$2 units=$3
    local doc=$tree/usr/share/doc/patroni-agent
    install -d -m 0755 "$tree/usr/bin" "$tree$units" "$tree/etc/patroni-agent" "$doc" \
        "$tree/usr/share/man/man1" "$tree/usr/share/bash-completion/completions" "$tree/usr/share/patroni-agent/monitoring"
    install -m 0755 "$work/publish-$arch/patroni-agent" "$tree/usr/bin/patroni-agent"
    install -m 0644 "$packaging/patroni-agent.service" "$packaging/patroni-agent@.service" "$tree$units/"
    install -m 0644 "$packaging/patroni-agent.conf" "$tree/etc/patroni-agent/"
    install -m 0644 "$common/man/patroni-agent.1.gz" "$tree/usr/share/man/man1/"
    install -m 0644 "$common/completion/patroni-agent" "$tree/usr/share/bash-completion/completions/"
    install -m 0644 "$repo/README.md" "$repo"/docs/*.md "$doc/"
    install -m 0644 "$packaging"/monitoring/* "$tree/usr/share/patroni-agent/monitoring/"
}

# The lowest glibc a binary runs on: its highest GLIBC_ symbol version.
glibc_floor() {
    objdump -T "$1" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -n 1
}

build_deb() {
    local arch=$1 deb_arch=$2
    local deb=$work/deb-$arch/patroni-agent
    make_tree "$arch" "$deb" /lib/systemd/system
    local doc=$deb/usr/share/doc/patroni-agent
    install -m 0644 "$packaging/copyright" "$doc/"
    # Debian wants a changelog; this one names the release and the commit it was built from.
    printf '%s\n' "patroni-agent ($version) unstable; urgency=medium" "" \
        "  * Release $version, built from commit $commit." "" " -- $maintainer  $date" | gzip -9n > "$doc/changelog.gz"
    chmod 0644 "$doc/changelog.gz"
    install -d -m 0755 "$deb/DEBIAN"
    install -m 0755 "$packaging"/deb/postinst "$packaging"/deb/prerm "$packaging"/deb/postrm "$deb/DEBIAN/"
    echo /etc/patroni-agent/patroni-agent.conf > "$deb/DEBIAN/conffiles"
    # The binary links libc and libm (libc6); it loads libssl at run time for https (Debian 11 has
    # libssl1.1, Debian 12 libssl3, Ubuntu 24.04 libssl3t64).
    cat > "$deb/DEBIAN/control" <<CONTROL
Package: patroni-agent
Version: $version
Architecture: $deb_arch
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$deb" | cut -f1)
Depends: libc6 (>= $(glibc_floor "$deb/usr/bin/patroni-agent")), libssl3 | libssl3t64 | libssl1.1, adduser
Section: database
Priority: optional
Description: $summary
$(sed 's/^/ /' <<<"$description")
CONTROL
    chmod 0644 "$deb/DEBIAN/control" "$deb/DEBIAN/conffiles"
    dpkg-deb --root-owner-group -Zxz --build "$deb" "$out/patroni-agent_${version}_${deb_arch}.deb" >&2
    echo "$out/patroni-agent_${version}_${deb_arch}.deb"
}

build_rpm() {
    local arch=$1 rpm_arch=$2
    local top=$work/rpm-$arch tree=$work/rpm-$arch/tree
    make_tree "$arch" "$tree" /usr/lib/systemd/system
    install -d -m 0755 "$tree/usr/share/licenses/patroni-agent"
    install -m 0644 "$repo/LICENSE" "$tree/usr/share/licenses/patroni-agent/"
    sed -e "s/@VERSION@/$version/g" -e "s/@COMMIT@/$commit/g" -e "s|@MAINTAINER@|$maintainer|g" \
        -e "s|@SUMMARY@|$summary|g" -e "s|@DATE@|$(date -d "$date" '+%a %b %d %Y')|g" "$packaging/rpm/patroni-agent.spec" > "$top/patroni-agent.spec"
    printf '%s\n' "$description" > "$top/description"
    # The binaries are built and stripped already: no debuginfo, no brp scripts (their strip is this
    # machine's, which cannot read an arm64 binary). rpm's ELF dependency generator adds the libc
    # symbol versions the binary needs.
    rpmbuild -bb --quiet --target "$rpm_arch-linux" \
        --define "_topdir $top" --define "_rpmdir $top/out" --define "_build_id_links none" \
        --define "debug_package %{nil}" --define "__os_install_post %{nil}" \
        --define "tree $tree" --define "description_file $top/description" \
        "$top/patroni-agent.spec" >&2
    local rpm=$top/out/$rpm_arch/patroni-agent-$version-1.$rpm_arch.rpm
    [ -f "$rpm" ] || die "rpmbuild made no $rpm"
    cp "$rpm" "$out/"
    echo "$out/$(basename "$rpm")"
}

build_tarball() {
    local arch=$1
    local name=patroni-agent-$version-linux-$arch
    make_tree "$arch" "$work/tar-$arch/$name" /lib/systemd/system
    install -m 0644 "$packaging/copyright" "$work/tar-$arch/$name/usr/share/doc/patroni-agent/"
    install -m 0755 "$packaging/install.sh" "$work/tar-$arch/$name/install.sh"
    tar -C "$work/tar-$arch" --owner=0 --group=0 --numeric-owner --sort=name -czf "$out/$name.tar.gz" "$name"
    echo "$out/$name.tar.gz"
}

build_deb x64 amd64
build_deb arm64 arm64
build_rpm x64 x86_64
build_rpm arm64 aarch64
build_tarball x64
build_tarball arm64
