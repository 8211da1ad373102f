#!/usr/bin/env python3
"""System calls per request, by name, for veer and nginx (bench/e2e.py's setups).

Each proxy runs alone with one worker in front of bench/e2e.py's nginx backends; strace
-c -f counts its calls while wrk sends a bounded load, and every count is divided by
the requests wrk completed. Rows are sorted by the first proxy's count, so the calls veer
makes and nginx does not stand out; calls that failed (EAGAIN, ...) are shown apart.

Usage: bench/syscalls.py [--close] [--duration 3] [--connections 16]
                         [--veer build/veer] [--engine epoll] [--proxies veer-epoll,nginx]
--close sends "Connection: close" (a new client connection per request). Ports are
bench/e2e.py's plus 100, so both can run at once. All traffic stays on 127.0.0.1.
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

import e2e

OFFSET = 100  # away from bench/e2e.py's ports


def strace_counts(proxy, duration, connections, close):
    """{syscall: calls} and {syscall: failed calls} during a wrk run, and the number of
    requests wrk completed."""
    out_file = os.path.join(tempfile.gettempdir(), f"syscalls-{proxy.name}-{os.getpid()}.txt")
    argv = ["strace", "-c", "-f", "-o", out_file] + sum((["-p", str(p)] for p in proxy.pids()), [])
    tracer = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # let strace attach before load starts
    result = e2e.wrk(proxy.port, duration, connections, close=close)
    tracer.send_signal(signal.SIGINT)
    tracer.wait(timeout=30)
    counts, errors = {}, {}
    for line in open(out_file):
        fields = line.split()
        # % time, seconds, usecs/call, calls, [errors], syscall
        if len(fields) >= 5 and fields[0][0].isdigit() and fields[-1] != "total":
            counts[fields[-1]] = int(fields[3])
            errors[fields[-1]] = int(fields[4]) if len(fields) == 6 else 0
    os.unlink(out_file)
    return counts, errors, result["requests"]


def main():
    e2e.PORTS = {name: port + OFFSET for name, port in e2e.PORTS.items()}
    e2e.BACKEND_PORTS = tuple(p + OFFSET for p in e2e.BACKEND_PORTS)
    e2e.WS_BACKEND_PORT += OFFSET
    e2e.args = args
    work = e2e.Workdir()
    backend = subprocess.Popen(e2e.pinned(e2e.LOAD_CPU, ["nginx", "-c", e2e.backend_nginx_conf(work, e2e.BACKEND_PORTS),
                                                          "-p", work.path]), stderr=subprocess.DEVNULL)
    per_request, failed = {}, {}
    try:
        for port in e2e.BACKEND_PORTS:
            e2e.wait_port(port)
        commands = e2e.proxy_configs(work)
        for name in args.proxies.split(","):
            proxy = e2e.Proxy(name, commands[name], work)
            try:
                e2e.wrk(proxy.port, 1, args.connections, close=args.close)  # warm-up
                counts, errors, requests = strace_counts(proxy, args.duration, args.connections, args.close)
            finally:
                proxy.stop()
            per_request[name] = {call: n / max(requests, 1) for call, n in counts.items()}
            failed[name] = {call: n / max(requests, 1) for call, n in errors.items()}
            print(f"{name}: {requests} requests traced", file=sys.stderr)
    finally:
        backend.terminate()
        backend.wait(timeout=10)
    report(per_request, failed)


def report(per_request, failed):
    names = list(per_request)
    calls = sorted({c for counts in per_request.values() for c in counts},
                   key=lambda c: -per_request[names[0]].get(c, 0))
    print("| syscall | " + " | ".join(names) + " |")
    print("| --- |" + " ---: |" * len(names))
    for call in calls:
        cells = []
        for n in names:
            cell = f"{per_request[n].get(call, 0):.2f}"
            if failed[n].get(call, 0) >= 0.005:
                cell += f" ({failed[n][call]:.2f} failed)"
            cells.append(cell)
        print(f"| {call} | " + " | ".join(cells) + " |")
    print("| total | " + " | ".join(f"{sum(per_request[n].values()):.2f}" for n in names) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--close", action="store_true")
    parser.add_argument("--duration", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--veer", default=os.path.join(e2e.ROOT, "build", "veer"))
    parser.add_argument("--proxies", default="veer-epoll,nginx")
    args = parser.parse_args()
    main()
