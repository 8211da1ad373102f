#!/usr/bin/env python3
"""End-to-end memory of a rate-limit policy: distinct keys through one veer.

veer (one worker, epoll) runs a policy keyed by an API key (key = "header:X-Api-Key",
1/h: each key's state stays live for an hour, longer than the run) in front of
bench/e2e.py's nginx backends; every request carries a new key, so each one adds a live
key to the policy's table. Requests are pipelined over a few keep-alive
connections in batches; after each batch the script reads veer's resident size
(VmRSS, /proc) and the table's live keys (veer_rate_limit_keys from /metrics).

Two runs: max_keys above the number of keys (RSS grows with the keys until every page
of the table is touched), and max_keys below it (the table is full early and evicts:
RSS stays flat however many keys come).

Usage: bench/limits_memory.py [--veer build/veer] [--keys 300000] [--small-max-keys 50000]
All traffic stays on 127.0.0.1; each run is bounded by its key count.
"""
import argparse
import os
import re
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402

PORT = 28180
CONNECTIONS = 4
BATCH = 500  # pipelined requests per connection per round trip (within socket buffers)


def veer_toml(max_keys):
    backends = ", ".join(f'"127.0.0.1:{p}"' for p in e2e.BACKEND_PORTS)
    return f"""
[server]
workers = 1
io_engine = "epoll"
access_log = "off"
[limits.per_key]
rate = "1/h"
burst = 0
key = "header:X-Api-Key"
max_keys = {max_keys}
[listeners.bench]
address = "127.0.0.1:{PORT}"
  [[listeners.bench.routes]]
  target = "app"
  limits = ["per_key"]
[pools.app]
backends = [{backends}]
[admin]
address = "127.0.0.1:0"
"""


def admin_port(log_path, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        found = re.search(r"admin API on 127\.0\.0\.1:(\d+)", open(log_path).read())
        if found:
            return int(found.group(1))
        time.sleep(0.05)
    raise RuntimeError("veer did not log its admin port")


def table_stats(port):
    """(live keys, evictions) of the policy, from /metrics."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk

    def value(name):
        found = re.search(rb"^" + name + rb'\{policy="per_key"\} (\S+)', data, re.M)
        return int(float(found.group(1))) if found else -1
    return value(b"veer_rate_limit_keys"), value(b"veer_rate_limit_evictions_total")


def rss_kib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def send_batch(sockets, first_key, per_connection):
    """per_connection pipelined requests on each socket, each with its own key."""
    key = first_key
    for s in sockets:
        requests = []
        for _ in range(per_connection):
            requests.append(f"GET / HTTP/1.1\r\nHost: bench\r\nX-Api-Key: k{key}\r\n\r\n")
            key += 1
        s.sendall("".join(requests).encode())
    statuses = {}
    for s in sockets:
        seen, data = 0, b""
        while seen < per_connection:
            chunk = s.recv(1 << 20)
            if not chunk:
                raise RuntimeError("veer closed a connection")
            data += chunk
            # Each response is a short head and a 13-byte body: count the status lines.
            while True:
                at = data.find(b"HTTP/1.1 ")
                end = data.find(b"\r\n\r\n", at)
                if at < 0 or end < 0:
                    break
                length = int(re.search(rb"Content-Length: (\d+)", data[at:end]).group(1))
                if len(data) < end + 4 + length:
                    break
                status = data[at + 9:at + 12].decode()
                statuses[status] = statuses.get(status, 0) + 1
                data = data[end + 4 + length:]
                seen += 1
    return key, statuses


def run(veer_binary, work, max_keys, keys):
    config = work.write(f"memory-{max_keys}.toml", veer_toml(max_keys))
    log_path = os.path.join(work.path, f"veer-{max_keys}.log")
    log = open(log_path, "w")
    veer = subprocess.Popen(e2e.pinned(e2e.PROXY_CPU, [veer_binary, config]), stdout=log,
                            stderr=log, stdin=subprocess.DEVNULL)
    try:
        e2e.wait_port(PORT)
        admin = admin_port(log_path)
        sockets = [socket.create_connection(("127.0.0.1", PORT)) for _ in range(CONNECTIONS)]
        # Warm-up with one key (refused after its first request): buffers and pools reach
        # their steady size first.
        for _ in range(5):
            send_batch(sockets[:1], 0, 200)
        base_rss = rss_kib(veer.pid)
        rows = [(0, base_rss)]
        next_key, refused = 1, 0
        # Finer steps first: the table's pages are touched by the first keys.
        checkpoints = [1_000, 3_000, 10_000, 30_000] + list(range(60_000, keys + 1, 30_000))
        for target in [c for c in checkpoints if c < keys] + [keys]:
            while next_key - 1 < target:
                per_connection = min(BATCH, (target - (next_key - 1)) // CONNECTIONS) or 1
                next_key, statuses = send_batch(sockets, next_key, per_connection)
                refused += sum(n for s, n in statuses.items() if s != "200")
            rows.append((next_key - 1, rss_kib(veer.pid)))
        for s in sockets:
            s.close()
        # Scraped only at the end: the scrape's scan of the table (live keys) reads every
        # page of it, which makes the whole table resident at once.
        live, evictions = table_stats(admin)
        return base_rss, rows, refused, (live, evictions, rss_kib(veer.pid))
    finally:
        veer.terminate()
        veer.wait(timeout=10)


def main(args):
    work = e2e.Workdir()
    backend = subprocess.Popen(e2e.pinned(e2e.LOAD_CPU, ["nginx", "-c", e2e.backend_nginx_conf(work),
                                                         "-p", work.path]), stderr=subprocess.DEVNULL)
    try:
        for port in e2e.BACKEND_PORTS:
            e2e.wait_port(port)
        for max_keys in (args.large_max_keys, args.small_max_keys):
            base, rows, refused, end = run(os.path.abspath(args.veer), work, max_keys, args.keys)
            print(f"\nmax_keys = {max_keys:,}: {args.keys:,} distinct keys, one request each "
                  f"({refused} refused: the warm-up key's repeats)")
            print("| keys sent | RSS (MiB) | growth (MiB) | growth per key sent |")
            print("| ---: | ---: | ---: | ---: |")
            for sent, rss in rows:
                growth = (rss - base) * 1024
                per_key = f"{growth / sent:.1f} B" if sent else "-"
                print(f"| {sent:,} | {rss / 1024:.1f} | {growth / 1048576:.1f} | {per_key} |")
            live, evictions, rss = end
            print(f"at the end: {live:,} live keys, {evictions:,} evictions; RSS after a /metrics "
                  f"scrape {rss / 1024:.1f} MiB")
    finally:
        backend.terminate()
        backend.wait(timeout=10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--veer", default=os.path.join(e2e.ROOT, "build", "veer"))
    parser.add_argument("--keys", type=int, default=300_000)
    parser.add_argument("--large-max-keys", type=int, default=1_000_000)
    parser.add_argument("--small-max-keys", type=int, default=50_000)
    main(parser.parse_args())
