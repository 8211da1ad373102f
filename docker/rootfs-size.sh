#!/usr/bin/env bash
# The image's runtime stage without a container engine: a Debian 12 minbase rootfs
# (debootstrap), slimmed as debian:bookworm-slim is (docs, man pages and locales left
# out), the runtime stage's packages installed from docker/Dockerfile's own list, the
# stripped binaries and docker/veer.toml. Prints the sizes (du) and runs veer inside it
# (chroot, as user 10001, in a network namespace of its own) in front of a demo backend:
# it answers, its healthcheck command passes, SIGTERM makes it exit 0.
#
# Not part of CI: needs root, debootstrap and a Debian mirror; takes a few minutes.
#   sudo docker/rootfs-size.sh [DIR]        (BUILD=build dir with veer and veer-io_uring)
# The sizes are those of a fresh DIR (default /tmp/veer-rootfs); a second run over the
# same DIR reuses it and only repeats the smoke run.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$src/build}
rootfs=${1:-/tmp/veer-rootfs}
mirror=${MIRROR:-http://deb.debian.org/debian}

# The packages of the runtime stage's `apt-get install`: continuation lines joined, the
# words after `install` up to `&&`, options left out.
packages=$(sed -n '/^FROM debian:bookworm-slim/,$p' "$src/docker/Dockerfile" |
  sed -e ':a' -e '/\\$/N; s/\\\n//; ta' | grep '^RUN .*apt-get .*install' |
  tr ' ' '\n' | awk '$0 == "install" { on = 1; next } $0 == "&&" { on = 0 } on && $0 !~ /^-/ && NF')
echo "runtime packages: $(echo $packages)"

mib() { du -sx --block-size=1 "$1" | awk '{ printf "%.1f MiB", $1 / 1048576 }'; }

if [ ! -e "$rootfs/etc/debian_version" ]; then
  debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >/dev/null
fi
# What debian:bookworm-slim leaves out (debuerreotype's slimify), now and for later installs.
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
path-exclude /usr/share/man/*
EOF
find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$rootfs"/usr/share/{groff,info,linda,lintian,man}/*
find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb
base=$(mib "$rootfs")

cleanup() { umount "$rootfs/proc" 2>/dev/null || true; }
trap cleanup EXIT
mount -t proc proc "$rootfs/proc"
chroot "$rootfs" apt-get update -qq
# shellcheck disable=SC2086
DEBIAN_FRONTEND=noninteractive chroot "$rootfs" apt-get install -y -qq --no-install-recommends $packages >/dev/null
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/*
with_packages=$(mib "$rootfs")

install -m 0755 "$build/veer" "$build/veer-io_uring" "$rootfs/usr/local/bin/"
strip "$rootfs/usr/local/bin/veer" "$rootfs/usr/local/bin/veer-io_uring"
binaries=$(du -cb "$rootfs/usr/local/bin/veer" "$rootfs/usr/local/bin/veer-io_uring" | tail -n1 |
  awk '{ printf "%.1f MiB", $1 / 1048576 }')
chroot "$rootfs" sh -c 'getent group veer >/dev/null || groupadd --system --gid 10001 veer
  getent passwd veer >/dev/null || useradd --system --uid 10001 --gid veer --home-dir /var/lib/veer --no-create-home --shell /usr/sbin/nologin veer
  install -d -o veer -g veer -m 0750 /var/lib/veer; install -d -m 0755 /etc/veer /run/secrets'
install -m 0644 "$src/docker/veer.toml" "$rootfs/etc/veer/veer.toml"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$rootfs/run/secrets/veer_admin_token"
chmod 0644 "$rootfs/run/secrets/veer_admin_token"
total=$(mib "$rootfs")

echo "sizes (du, uncompressed):"
echo "  minbase slimmed as bookworm-slim: $base"
echo "  + runtime packages:               $with_packages"
echo "  + stripped veer and veer-io_uring ($binaries), user, config: $total"

# The smoke run, in a network namespace of its own (nothing of the host's ports used).
unshare --net bash -s "$rootfs" <<'RUN'
set -euo pipefail
rootfs=$1
ip link set lo up
as_veer() { chroot --userspec=10001:10001 "$rootfs" env VEER_ADMIN=127.0.0.1:9901 "$@"; }
# Started without a shell function in between: the PID that $! gives is veer itself
# (chroot and env exec), so the SIGTERM below reaches veer.
chroot --userspec=10001:10001 "$rootfs" /usr/local/bin/veer demo-backend \
  --listen 127.0.0.1:18545 --name node >/tmp/veer-rootfs-node.log 2>&1 &
node=$!
chroot --userspec=10001:10001 "$rootfs" /usr/local/bin/veer run /etc/veer/veer.toml \
  >/tmp/veer-rootfs-veer.log 2>&1 &
veer=$!
for _ in $(seq 1 100); do curl -sf http://127.0.0.1:9901/readyz >/dev/null && break; sleep 0.1; done
grep -m1 'io engine:' /tmp/veer-rootfs-veer.log
answer=$(curl -sf -X POST -H 'Content-Type: application/json' \
  -d '{"jsonrpc":"2.0","id":1,"method":"web3_clientVersion"}' http://127.0.0.1:8545/)
echo "through veer: $answer"
[[ $answer == *veer-demo/node* ]]
as_veer /usr/local/bin/veer ctl get /healthz >/dev/null && echo "healthcheck command: ok"
kill -TERM "$veer"
status=0; wait "$veer" || status=$?
echo "veer exit status after SIGTERM: $status"
kill -TERM "$node"; wait "$node" || true
[ "$status" = 0 ]
RUN
echo "PASS"
