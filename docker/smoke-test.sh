#!/usr/bin/env bash
# The container smoke test: builds the image and runs it as a sidecar in front of a demo
# backend, with the runtime's default seccomp profile. Checks that
#   - veer answers through the published port,
#   - the image's HEALTHCHECK passes,
#   - the log names the I/O engine (and, when the profile refuses io_uring, the fallback),
#   - SIGTERM (docker stop) drains an in-flight request and veer exits 0.
# Needs podman or a Docker engine that can run containers; exits 77 (ctest: skipped)
# with the reason otherwise.
#
#   docker/smoke-test.sh            (from anywhere; ENGINE=podman|docker to choose)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
skip() { echo "SKIP: $*" >&2; exit 77; }

engine=${ENGINE:-}
if [ -z "$engine" ]; then
  for candidate in podman docker; do
    command -v "$candidate" >/dev/null || continue
    # `info` asks the engine itself: a docker client without a daemon fails here.
    if "$candidate" info >/dev/null 2>&1 &&
       "$candidate" run --rm debian:bookworm-slim true >/dev/null 2>&1; then
      engine=$candidate
      break
    fi
  done
fi
[ -n "$engine" ] || skip "no container engine can run containers here (podman absent or refused," \
  "no Docker daemon: \`docker info\` fails); the image is checked without one by veer_docker_tests"

tag=veer-smoke:$$
net=veer-smoke-$$
work=$(mktemp -d)
cleanup() {
  "$engine" rm -f "$net-veer" "$net-node" >/dev/null 2>&1 || true
  "$engine" rmi -f "$tag" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; "$engine" logs "$net-veer" >&2 2>&1 || true; exit 1; }
# Waits (bounded) until "$@" succeeds.
until_ok() {
  local tries=$1; shift
  for _ in $(seq 1 "$tries"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.5; done
  return 1
}

echo "== building the image with $engine"
start=$(date +%s)
"$engine" build -q -f "$root/docker/Dockerfile" -t "$tag" "$root" >/dev/null
echo "   built in $(($(date +%s) - start)) s; size: $("$engine" image inspect -f '{{.Size}}' "$tag") bytes"

# The node: a demo backend in its own container; veer joins its network namespace as a
# sidecar (as in a Kubernetes pod) and reaches it on 127.0.0.1:18545. The ports are
# published on the node's container, which owns the namespace.
openssl rand -hex 24 >"$work/token" 2>/dev/null || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$work/token"
chmod 644 "$work/token"
"$engine" run -d --name "$net-node" -p 127.0.0.1::8545 -p 127.0.0.1::9901 \
  "$tag" demo-backend --listen 127.0.0.1:18545 --name node >/dev/null
"$engine" run -d --name "$net-veer" --network "container:$net-node" \
  -v "$work/token:/run/secrets/veer_admin_token:ro" "$tag" >/dev/null
rpc=$("$engine" port "$net-node" 8545 | head -n1)
admin=$("$engine" port "$net-node" 9901 | head -n1)

echo "== veer answers through the published port $rpc"
until_ok 60 curl -sf "http://$admin/readyz" || fail "not ready within 30 s"
answer=$(curl -sf -X POST -H 'Content-Type: application/json' \
  -d '{"jsonrpc":"2.0","id":1,"method":"web3_clientVersion"}' "http://$rpc/")
echo "   $answer"
[[ $answer == *veer-demo/node* ]] || fail "unexpected answer: $answer"

echo "== the healthcheck passes"
status=""
for _ in $(seq 1 60); do
  status=$("$engine" inspect -f '{{.State.Health.Status}}' "$net-veer" 2>/dev/null || true)
  [ "$status" = healthy ] && break
  sleep 0.5
done
# podman runs healthchecks from systemd timers: run it directly where none ran.
if [ "$status" != healthy ] && [ "$engine" = podman ]; then
  podman healthcheck run "$net-veer" && status=healthy
fi
[ "$status" = healthy ] || fail "health status: ${status:-none}"
echo "   healthy"

echo "== the I/O engine under the default seccomp profile"
engine_line=$("$engine" logs "$net-veer" 2>&1 | grep -m1 'io engine:' || true)
[ -n "$engine_line" ] || fail "no 'io engine:' line in the log"
echo "   $engine_line"
case "$engine_line" in
  *"io engine: io_uring"*) echo "   (this engine's profile allows io_uring)" ;;
  *"io engine: epoll (io_uring refused by the kernel:"*) echo "   (fell back to epoll, and says why)" ;;
  *) fail "the log does not say which engine runs and why: $engine_line" ;;
esac

echo "== SIGTERM drains an in-flight request, then veer exits 0"
# A request whose body is still arriving is in flight; it completes after the stop.
exec 3<>"/dev/tcp/${rpc%:*}/${rpc##*:}"
printf 'POST / HTTP/1.1\r\nHost: smoke\r\nContent-Type: application/json\r\nContent-Length: 47\r\n\r\n{"jsonrpc":"2.0","id":7,' >&3
"$engine" stop --time 30 "$net-veer" >/dev/null &
stopper=$!
until_ok 40 sh -c "curl -s -o /dev/null -w '%{http_code}' http://$admin/readyz | grep -q 503" ||
  fail "/readyz did not turn 503 while draining"
printf '"method":"eth_chainId"}' >&3
response=$(timeout 10 cat <&3 || true)
exec 3<&-
[[ $response == *'"result":"0x1"'* ]] || fail "the in-flight request did not complete: $response"
echo "   the in-flight request completed during the drain"
wait "$stopper"
code=$("$engine" inspect -f '{{.State.ExitCode}}' "$net-veer")
[ "$code" = 0 ] || fail "exit status $code after SIGTERM"
echo "   exit status 0"
echo "PASS"
