#!/usr/bin/env python3
"""An example autoscaler for one veer pool (Python standard library only).

Every --interval it reads GET /api/v1/pools/{pool} and looks at the pool's routable
backends: their mean in-flight requests and their highest latency EWMA.

  scale up    when in-flight per backend > --up-in-flight, or latency > --up-latency-ms,
              and the pool has fewer than --max replicas
  scale down  when in-flight per backend < --down-in-flight and latency < --down-latency-ms
              (or unknown), and the pool has more than --min replicas
  cooldown    no action until --cooldown has passed since the last one

The replicas themselves are made by --scale-command, a shell command in which {replicas}
stands for the wanted count. It prints the address (host:port, as veer should reach it)
of every replica after the change, one per line, oldest first; scaling down stops the
last one(s) it listed, as `docker compose up --scale` does. The autoscaler then steers
veer through the admin API (docs/OPERATIONS.md, "Admin API"):

  up:    run the command with N+1, then PUT /api/v1/pools/{pool}/backends/{address}
         for each new address ({"weight": 1})
  down:  PATCH the last replica {"state": "drain"}, wait until its in-flight requests
         are done (at most --drain), DELETE it (?drain=0s: nothing is left to finish),
         then run the command with N-1

It logs one JSON line per decision on stdout. docker/README.md runs it under compose.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def log(event, **fields):
    fields = {"time": round(time.time(), 3), "event": event, **fields}
    print(json.dumps(fields, sort_keys=False), flush=True)


def duration(text):
    """'30s', '500ms', '2m' -> seconds."""
    units = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    for unit in ("ms", "s", "m", "h"):
        if text.endswith(unit) and text[: -len(unit)].replace(".", "", 1).isdigit():
            return float(text[: -len(unit)]) * units[unit]
    raise argparse.ArgumentTypeError(f"expected a duration such as 30s or 500ms, got {text!r}")


class Admin:
    """The few admin API calls the autoscaler makes."""

    def __init__(self, base_url, token, timeout=5.0):
        self.base = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, method=method)
        if self.token:
            request.add_header("Authorization", "Bearer " + self.token)
        if method != "GET":  # veer refuses a mutation without it (415), bodiless ones too
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                text = answer.read().decode()
                return answer.status, json.loads(text) if text.strip() else {}
        except urllib.error.HTTPError as error:
            return error.code, {"error": error.read().decode(errors="replace")}

    def pool(self, name):
        status, body = self.call("GET", "/api/v1/pools/" + quote(name))
        if status != 200:
            raise RuntimeError(f"GET pool {name}: {status} {body}")
        return body

    def backend(self, method, pool, address, body=None, query=""):
        path = f"/api/v1/pools/{quote(pool)}/backends/{quote(address)}{query}"
        status, answer = self.call(method, path, body)
        log("admin", method=method, path=path, status=status)
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {answer}")
        return answer


def quote(segment):
    return urllib.parse.quote(segment, safe=":")


def load(pool):
    """(routable backends, mean in-flight, highest latency EWMA in ms or None)."""
    routable = [b for b in pool.get("backends", []) if b.get("state") == "up"]
    if not routable:
        return routable, 0.0, None
    in_flight = sum(b.get("in_flight", 0) for b in routable) / len(routable)
    latencies = [b["latency_ewma_ms"] for b in routable if b.get("latency_ewma_ms") is not None]
    return routable, in_flight, (max(latencies) if latencies else None)


class Scaler:
    def __init__(self, args, admin):
        self.args = args
        self.admin = admin
        self.replicas = []  # addresses, oldest first, as the scale command printed them
        self.last_action = float("-inf")
        self.at_limit = None  # the action last held back by --min or --max, logged once

    def run_scale_command(self, count):
        command = self.args.scale_command.replace("{replicas}", str(count))
        log("scale_command", replicas=count, command=command)
        result = subprocess.run(command, shell=True, capture_output=True, text=True,
                                timeout=self.args.command_timeout)
        if result.returncode != 0:
            raise RuntimeError(f"scale command exited {result.returncode}: {result.stderr.strip()}")
        addresses = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        if len(addresses) != count:
            raise RuntimeError(f"scale command listed {len(addresses)} replicas, wanted {count}")
        return addresses

    def start(self):
        """Adopt what runs: as many replicas as the pool has backends, within bounds.

        Every backend counts, whatever its state: one unhealthy at a restart is still a
        replica, and leaving it out would stop it undrained."""
        backends = self.admin.pool(self.args.pool).get("backends", [])
        count = min(max(len(backends), self.args.min), self.args.max)
        self.replicas = self.run_scale_command(count)
        for address in self.replicas:
            self.admin.backend("PUT", self.args.pool, address, {"weight": 1})
        log("started", pool=self.args.pool, replicas=len(self.replicas))

    def scale_up(self):
        before = set(self.replicas)
        self.replicas = self.run_scale_command(len(self.replicas) + 1)
        for address in self.replicas:
            if address not in before:
                self.admin.backend("PUT", self.args.pool, address, {"weight": 1})

    def scale_down(self):
        victim = self.replicas[-1]
        self.admin.backend("PATCH", self.args.pool, victim, {"state": "drain"})
        deadline = time.monotonic() + self.args.drain
        while time.monotonic() < deadline and self.in_flight_of(victim) > 0:
            time.sleep(0.1)
        self.admin.backend("DELETE", self.args.pool, victim, query="?drain=0s")
        self.replicas = self.run_scale_command(len(self.replicas) - 1)

    def in_flight_of(self, address):
        for backend in self.admin.pool(self.args.pool).get("backends", []):
            if backend.get("address") == address:
                return backend.get("in_flight", 0)
        return 0

    def decide(self, in_flight, latency):
        """"up", "down" or None; logs once when --max or --min holds an action back."""
        a, n = self.args, len(self.replicas)
        hot = in_flight > a.up_in_flight or (latency is not None and latency > a.up_latency_ms)
        cold = in_flight < a.down_in_flight and (latency is None or latency < a.down_latency_ms)
        wanted = "up" if hot else "down" if cold else None
        if (wanted == "up" and n >= a.max) or (wanted == "down" and n <= a.min):
            if self.at_limit != wanted:
                log("at_limit", wanted=wanted, replicas=n)
            self.at_limit = wanted
            return None
        self.at_limit = None
        return wanted

    def tick(self):
        routable, in_flight, latency = load(self.admin.pool(self.args.pool))
        if self.args.verbose:
            log("tick", replicas=len(self.replicas), routable=len(routable),
                in_flight_per_backend=round(in_flight, 2), latency_ms=latency)
        wanted = self.decide(in_flight, latency)
        if wanted is None:
            return
        waited = time.monotonic() - self.last_action
        if waited < self.args.cooldown:
            log("cooldown", wanted=wanted, remaining_s=round(self.args.cooldown - waited, 2))
            return
        before = len(self.replicas)
        log("scale_" + wanted, replicas=before, routable=len(routable),
            in_flight_per_backend=round(in_flight, 2), latency_ms=latency)
        self.scale_up() if wanted == "up" else self.scale_down()
        self.last_action = time.monotonic()
        log("scaled", replicas_before=before, replicas=len(self.replicas))


def read_token(args):
    if args.token_file:
        with open(args.token_file, encoding="utf-8") as f:
            return f.read().strip()
    return os.environ.get("VEER_ADMIN_TOKEN", "")


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--admin", default=os.environ.get("VEER_ADMIN_URL", "http://127.0.0.1:9901"))
    p.add_argument("--token-file", help="the admin token (else $VEER_ADMIN_TOKEN)")
    p.add_argument("--pool", default="green")
    p.add_argument("--scale-command", required=True,
                   help="shell command; {replicas} is the wanted count; prints the addresses")
    p.add_argument("--min", type=int, default=1)
    p.add_argument("--max", type=int, default=4)
    p.add_argument("--up-in-flight", type=float, default=8.0)
    p.add_argument("--down-in-flight", type=float, default=2.0)
    p.add_argument("--up-latency-ms", type=float, default=500.0)
    p.add_argument("--down-latency-ms", type=float, default=100.0)
    p.add_argument("--cooldown", type=duration, default=duration("60s"))
    p.add_argument("--interval", type=duration, default=duration("2s"))
    p.add_argument("--drain", type=duration, default=duration("30s"),
                   help="longest wait for a drained replica's requests")
    p.add_argument("--verbose", action="store_true", help="log every measurement")
    p.add_argument("--command-timeout", type=duration, default=duration("120s"))
    args = p.parse_args(argv)
    if not 0 <= args.min <= args.max:
        p.error("need 0 <= --min <= --max")
    if args.down_in_flight > args.up_in_flight or args.down_latency_ms > args.up_latency_ms:
        p.error("the down thresholds must not exceed the up thresholds")
    return args


def main(argv):
    args = parse_args(argv)
    scaler = Scaler(args, Admin(args.admin, read_token(args)))
    while True:  # veer may start after us (compose): retry until the pool answers
        try:
            scaler.start()
            break
        except (OSError, RuntimeError) as error:
            log("error", detail=str(error))
            time.sleep(args.interval)
    while True:
        time.sleep(args.interval)
        try:
            scaler.tick()
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as error:
            log("error", detail=str(error))


def stop(signum, frame):
    """SIGTERM (docker stop): exit at once; a scale step cut short is redone at the next start."""
    log("stopped", signal=signum)
    sys.exit(0)


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, stop)
    try:
        main(sys.argv[1:])
    except KeyboardInterrupt:
        pass
