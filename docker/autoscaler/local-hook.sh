#!/usr/bin/env bash
# A scale command for autoscaler.py without containers: keeps N `veer demo-backend`
# processes running on free ports of 127.0.0.1 and prints their addresses, oldest
# first. Scaling down stops the newest ones, as `docker compose up --scale` does.
#
#   local-hook.sh N        (VEER: the veer binary, default veer on PATH;
#                           HOOK_STATE: a directory for pid and address files, required)
#
# The integration test tests/integration/autoscaler_test.cpp drives autoscaler.py with it.
set -euo pipefail
want=${1:?usage: local-hook.sh REPLICAS}
veer=${VEER:-veer}
state=${HOOK_STATE:?set HOOK_STATE to a directory}
mkdir -p "$state"

count() { local n=0; while [ -e "$state/$((n + 1)).pid" ]; do n=$((n + 1)); done; echo "$n"; }

start() {  # replica number $1: a demo backend on a free port; its address once it listens
  local i=$1 out="$state/$1.out"
  : >"$out"
  setsid "$veer" demo-backend --listen 127.0.0.1:0 --name "green-$i" >"$out" 2>&1 </dev/null &
  echo $! >"$state/$i.pid"
  # It prints "demo backend NAME listening on 127.0.0.1:PORT" once bound (bounded: 10 s).
  for _ in $(seq 1 200); do
    if grep -q "listening on" "$out"; then
      sed -n 's/.*listening on \(127\.0\.0\.1:[0-9]*\).*/\1/p' "$out" | head -n1 >"$state/$i.addr"
      return 0
    fi
    sleep 0.05
  done
  echo "replica $i did not start: $(cat "$out")" >&2
  exit 1
}

stop() {  # replica number $1
  local i=$1 pid
  pid=$(cat "$state/$i.pid")
  kill "$pid" 2>/dev/null || true
  rm -f "$state/$i.pid" "$state/$i.addr" "$state/$i.out"
}

have=$(count)
while [ "$have" -lt "$want" ]; do have=$((have + 1)); start "$have"; done
while [ "$have" -gt "$want" ]; do stop "$have"; have=$((have - 1)); done
echo "$(date +%s.%N) $want" >>"$state/history"
for i in $(seq 1 "$want"); do cat "$state/$i.addr"; done
