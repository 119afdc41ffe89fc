#!/usr/bin/env bash
# Installs what the build and the tests need from Debian's packages: clang for the native AOT build, binutils-aarch64-linux-gnu for the linux-arm64 cross build of scripts/publish.sh and qemu-user-static to run that binary, the real cluster (PostgreSQL, Patroni, etcd, HAProxy), systemd-analyze for the unit
# file, dpkg-dev and lintian for the .deb of scripts/release.sh, rpm, rpmlint and cpio for its .rpm, man-db for the man page,
# debootstrap for the Debian 11 root the .deb is installed into, python3-seccomp to test a host without IPv6, prometheus for promtool (the alert rules' tests). Run as root to install; as another user it only checks and names what is missing.
set -euo pipefail

packages=(prometheus clang gcc binutils-aarch64-linux-gnu qemu-user-static dpkg-dev lintian rpm rpmlint cpio man-db debootstrap haproxy patroni etcd-server postgresql python3-psycopg2 python3-seccomp socat curl procps systemd)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ! command -v dotnet >/dev/null 2>&1; then
    echo "install-deps: the .NET 10 SDK (dotnet) is not on PATH; install it first" >&2
    exit 1
fi

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing Debian packages: ${missing[*]}" >&2
    echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
