#!/usr/bin/env bash
# Builds a release of patroni-agent: the native AOT binary (failing on any build warning), then
#   patroni-agent_V_amd64.deb            for Debian and Ubuntu (dpkg-deb)
#   patroni-agent-V-linux-x64.tar.gz     the same files and an install.sh, for other hosts
# Usage: scripts/release.sh [--version V] [--out DIR]
#   --version V   X.Y.Z (default: <Version> of src/PatroniAgent/PatroniAgent.csproj)
#   --out DIR     where the two files are written (default: artifacts/release)
# The package's files come from src/PatroniAgent/Packaging/; docs/operations.md says what it does.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
packaging=$repo/src/PatroniAgent/Packaging
maintainer="PatroniAgent maintainers <patroni-agent@example.org>"

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

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The binary, with the release's version (patroni-agent --version prints it).
dotnet publish "$repo/src/PatroniAgent" -c Release -r linux-x64 -p:Version="$version" -o "$work/publish" -nologo \
    | tee "$work/publish.log" >&2
if grep -qiE "warning [A-Z]+[0-9]+" "$work/publish.log"; then
    die "the build gave warnings"
fi

# The installed tree, shared by the .deb and the tarball.
tree=$work/tree
doc=$tree/usr/share/doc/patroni-agent
install -d -m 0755 "$tree/usr/bin" "$tree/lib/systemd/system" "$tree/etc/patroni-agent" "$doc"
install -m 0755 "$work/publish/patroni-agent" "$tree/usr/bin/patroni-agent"
install -m 0644 "$packaging/patroni-agent.service" "$tree/lib/systemd/system/"
install -m 0644 "$packaging/patroni-agent.conf" "$tree/etc/patroni-agent/"
install -m 0644 "$repo/README.md" "$repo"/docs/*.md "$packaging/copyright" "$doc/"
# Debian wants a changelog; this one names the release and the commit it was built from.
commit=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
date=$(git -C "$repo" log -1 --format=%cD 2>/dev/null || date -R)
printf '%s\n' "patroni-agent ($version) unstable; urgency=medium" "" \
    "  * Release $version, built from commit $commit." "" " -- $maintainer  $date" | gzip -9n > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

# The .deb: the tree, the conffile, the maintainer scripts and the control file.
deb=$work/debian/patroni-agent
mkdir -p "$work/debian"
cp -a "$tree" "$deb"
install -d -m 0755 "$deb/DEBIAN"
install -m 0755 "$packaging"/deb/postinst "$packaging"/deb/prerm "$packaging"/deb/postrm "$deb/DEBIAN/"
echo /etc/patroni-agent/patroni-agent.conf > "$deb/DEBIAN/conffiles"
# dpkg-shlibdeps reads debian/control and names the packages (and least versions) of the
# libraries the binary links: libc6 (libc and libm).
printf '%s\n' "Source: patroni-agent" "" "Package: patroni-agent" "Architecture: amd64" > "$work/debian/control"
depends=$(cd "$work" && dpkg-shlibdeps -O debian/patroni-agent/usr/bin/patroni-agent)
depends=${depends#shlibs:Depends=}
cat > "$deb/DEBIAN/control" <<CONTROL
Package: patroni-agent
Version: $version
Architecture: amd64
Maintainer: $maintainer
Installed-Size: $(du -sk --exclude=DEBIAN "$deb" | cut -f1)
Depends: $depends, adduser
Section: database
Priority: optional
Description: HAProxy agent-check daemon for Patroni clusters
 patroni-agent runs next to Patroni on every database host and answers
 HAProxy's agent checks (and Patroni-style HTTP health checks) from one
 background poll of the local Patroni REST API: ready for the primary,
 maint for the replicas of a read-write backend, down when PostgreSQL is
 not running. It is a native binary and needs no .NET runtime.
CONTROL
chmod 0644 "$deb/DEBIAN/control" "$deb/DEBIAN/conffiles"
dpkg-deb --root-owner-group -Zxz --build "$deb" "$out/patroni-agent_${version}_amd64.deb" >&2

# The tarball: the same tree and install.sh, under patroni-agent-V/.
name=patroni-agent-$version-linux-x64
mv "$tree" "$work/$name"
install -m 0755 "$packaging/install.sh" "$work/$name/install.sh"
tar -C "$work" --owner=0 --group=0 --numeric-owner --sort=name -czf "$out/$name.tar.gz" "$name"

echo "$out/patroni-agent_${version}_amd64.deb"
echo "$out/$name.tar.gz"
