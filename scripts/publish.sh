#!/usr/bin/env bash
# Publishes the native AOT binary of patroni-agent for linux-x64 or linux-arm64 so that it runs on glibc 2.28
# and later (RHEL 8, Debian 10, Ubuntu 18.04 and newer): it links against a sysroot made from Debian 11
# (bullseye) packages instead of this machine's glibc, with log and pow bound to their oldest versions
# (src/PatroniAgent/Native/glibc-compat.c), fails on any build warning, and checks that the binary needs no
# GLIBC_ symbol version above 2.28. arm64 is cross-compiled (clang --target, aarch64-linux-gnu-ld and -objcopy).
# Usage: scripts/publish.sh ARCH OUTDIR [extra dotnet publish args...]
#   ARCH     x64 or arm64
#   OUTDIR   where dotnet publish writes patroni-agent
# The sysroot is kept in artifacts/sysroot/bullseye-ARCH (or $PATRONI_AGENT_SYSROOT_DIR) and reused once complete;
# its packages are fetched with a private apt configuration, so the machine's own apt state is left alone.
# Missing Debian build packages are installed when run as root. Prints the binary's path; the build log goes to stderr.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
usage="usage: scripts/publish.sh x64|arm64 OUTDIR [extra dotnet publish args...]"
max_glibc=2.28
sysroot_packages=(libc6 libc6-dev linux-libc-dev libgcc-10-dev libgcc-s1)

die() { echo "publish: $*" >&2; exit 1; }

[ $# -ge 2 ] || die "$usage"
arch=$1 out=$2
shift 2
case $arch in
    x64) deb_arch=amd64; triple=x86_64-linux-gnu; tools=(clang binutils); props=() ;;
    # The ILCompiler package sets TargetTriple (aarch64-linux-gnu) itself when the RID's architecture is not the host's.
    arm64) deb_arch=arm64; triple=aarch64-linux-gnu; tools=(clang binutils-aarch64-linux-gnu); props=(-p:ObjCopyName=aarch64-linux-gnu-objcopy) ;;
    *) die "$usage" ;;
esac
sysroot=$(realpath -m "${PATRONI_AGENT_SYSROOT_DIR:-$repo/artifacts/sysroot/bullseye-$arch}")
stamp="bullseye $deb_arch: ${sysroot_packages[*]}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The build tools, as scripts/install-deps.sh installs its packages.
missing=()
for p in "${tools[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || die "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
    echo "publish: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# The sysroot: bullseye's packages for ARCH, fetched with an apt of its own (own sources, lists, cache and an
# empty dpkg status) and unpacked with dpkg -x; absolute symlinks are made relative so that they stay inside it.
if [ "$(head -n 1 "$sysroot/.sysroot" 2>/dev/null)" != "$stamp" ]; then
    if [ -e "$sysroot" ]; then
        [ -e "$sysroot/.sysroot" ] || [ -z "$(ls -A "$sysroot")" ] || die "$sysroot exists and was not made by this script; remove it"
        rm -rf "$sysroot"
    fi
    echo "publish: making the bullseye $deb_arch sysroot in $sysroot" >&2
    apt=$work/apt
    mkdir -p "$apt/etc/apt.conf.d" "$apt/etc/preferences.d" "$apt/etc/sources.list.d" "$apt/lists/partial" \
        "$apt/cache/archives/partial" "$apt/debs"
    : > "$apt/status"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] http://deb.debian.org/debian bullseye main" \
        > "$apt/etc/sources.list"
    cat > "$apt/apt.conf" <<CONF
Dir "$apt/";
Dir::Etc "$apt/etc/";
Dir::State::lists "$apt/lists/";
Dir::State::status "$apt/status";
Dir::Cache "$apt/cache/";
APT::Architecture "$deb_arch";
APT::Architectures { "$deb_arch"; };
APT::Sandbox::User "root";
Acquire::Languages "none";
CONF
    export APT_CONFIG=$apt/apt.conf
    apt-get update -qq >&2 || die "apt-get update of bullseye failed"
    (cd "$apt/debs" && apt-get download -qq "${sysroot_packages[@]}" >&2) || die "apt-get download from bullseye failed"
    unset APT_CONFIG
    mkdir -p "$(dirname "$sysroot")"
    staging=$(mktemp -d "$sysroot.XXXXXX")
    trap 'rm -rf "$work" "$staging"' EXIT
    for deb in "$apt"/debs/*.deb; do
        dpkg -x "$deb" "$staging"
    done
    find "$staging" -type l -lname '/*' -print0 | while IFS= read -r -d '' link; do
        ln -sfn "$(realpath -sm --relative-to="$(dirname "$link")" "$staging$(readlink "$link")")" "$link"
    done
    # .sysroot marks it complete: the stamp, then the packages' versions.
    {
        echo "$stamp"
        # shellcheck disable=SC2016 # dpkg-deb's own ${fields}
        for deb in "$apt"/debs/*.deb; do dpkg-deb -W --showformat='${Package} ${Version} ${Architecture}\n' "$deb"; done
    } > "$staging/.sysroot"
    chmod 0755 "$staging"
    mv "$staging" "$sysroot"
fi

# The binary. Its own NativeOutputPath: the native link's inputs do not include the sysroot, so a binary that a
# plain publish linked against this machine's glibc would otherwise be taken as up to date.
mkdir -p "$out" || die "cannot create the output directory $out"
out=$(cd "$out" && pwd)
# log and pow at their oldest versions: glibc 2.29's would raise the floor above RHEL 8's 2.28. (lld keeps a
# wrapped symbol's default version among the binary's needs, so arm64 links with binutils' ld too.)
native=$repo/artifacts/native/linux-$arch-bullseye
mkdir -p "$native"
clang --target="$triple" --sysroot="$sysroot" -O2 -fPIC -Wall -Werror -c "$repo/src/PatroniAgent/Native/glibc-compat.c" \
    -o "$native/glibc-compat.o" || die "cannot compile src/PatroniAgent/Native/glibc-compat.c"
dotnet publish "$repo/src/PatroniAgent" -c Release -r "linux-$arch" -o "$out" -nologo \
    -p:SysRoot="$sysroot" -p:NativeOutputPath="$native/" -p:GlibcCompatObject="$native/glibc-compat.o" "${props[@]}" "$@" \
    2>&1 | tee "$work/publish.log" >&2 || die "dotnet publish failed"
if grep -qiE "warning [A-Z]+[0-9]+" "$work/publish.log"; then
    die "the build gave warnings"
fi

binary=$out/patroni-agent
[ -x "$binary" ] || die "dotnet publish made no $binary"
glibc=$(objdump -T "$binary" | grep -o 'GLIBC_[0-9.]*' | sort -uV | tail -n 1)
glibc=${glibc#GLIBC_}
[ -n "$glibc" ] || die "found no GLIBC_ symbol version in $binary"
[ "$(printf '%s\n' "$glibc" "$max_glibc" | sort -V | tail -n 1)" = "$max_glibc" ] \
    || die "$binary needs GLIBC_$glibc, above $max_glibc"
echo "$binary"
