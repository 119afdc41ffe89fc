#!/bin/sh
# Installs patroni-agent from this tarball on a host without dpkg or rpm, the same files as the .deb:
#   /usr/bin/patroni-agent, /lib/systemd/system/patroni-agent.service and patroni-agent@.service,
#   /etc/patroni-agent/patroni-agent.conf, /usr/share/man/man1/patroni-agent.1.gz,
#   /usr/share/bash-completion/completions/patroni-agent, /usr/share/doc/patroni-agent/,
#   /usr/share/patroni-agent/monitoring/ (the Prometheus alert rules and the Grafana dashboard)
# Usage: [DESTDIR=/some/root] ./install.sh
# An existing /etc/patroni-agent/patroni-agent.conf is kept; the shipped one is then written next to
# it as patroni-agent.conf.new. Only without DESTDIR, as root, it also creates the patroni-agent
# system user and group and reloads systemd; it never enables or starts the unit.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=${DESTDIR:-}

install -d -m 0755 "$root/usr/bin" "$root/lib/systemd/system" "$root/etc/patroni-agent" "$root/usr/share/doc/patroni-agent" \
    "$root/usr/share/man/man1" "$root/usr/share/bash-completion/completions" "$root/usr/share/patroni-agent/monitoring"
install -m 0755 "$here/usr/bin/patroni-agent" "$root/usr/bin/patroni-agent"
for unit in patroni-agent.service patroni-agent@.service; do
    install -m 0644 "$here/lib/systemd/system/$unit" "$root/lib/systemd/system/$unit"
done
install -m 0644 "$here/usr/share/man/man1/patroni-agent.1.gz" "$root/usr/share/man/man1/"
install -m 0644 "$here/usr/share/bash-completion/completions/patroni-agent" "$root/usr/share/bash-completion/completions/"
for doc in "$here"/usr/share/doc/patroni-agent/*; do
    install -m 0644 "$doc" "$root/usr/share/doc/patroni-agent/"
done
for file in "$here"/usr/share/patroni-agent/monitoring/*; do
    install -m 0644 "$file" "$root/usr/share/patroni-agent/monitoring/"
done

conf=etc/patroni-agent/patroni-agent.conf
if [ -e "$root/$conf" ]; then
    install -m 0644 "$here/$conf" "$root/$conf.new"
    echo "install.sh: kept /$conf; the shipped one is /$conf.new" >&2
else
    install -m 0644 "$here/$conf" "$root/$conf"
fi

if [ -z "$root" ] && [ "$(id -u)" -eq 0 ]; then
    if ! getent passwd patroni-agent >/dev/null; then
        useradd --system --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin patroni-agent
    fi
    if [ -d /run/systemd/system ]; then
        systemctl daemon-reload
    fi
    echo "install.sh: installed; start with: systemctl enable --now patroni-agent" >&2
fi
