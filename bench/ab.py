#!/usr/bin/env python3
"""Side-by-side A/B of veer variants: binaries or configuration additions.

Each variant is NAME=BINARY, optionally with +FILE: a TOML fragment appended to the
benchmark configuration, whose last table is [admin] (keys at the top of the fragment
go there; bench/metrics-off.toml turns the metrics off; "#route: KEY = VALUE" lines go to
the catch-all route, as bench/limits-generous.toml attaches its policy). Every variant runs
one worker on epoll in front of the same backends as bench/e2e.py. Rounds interleave
the variants and figures are medians, so drift on a noisy machine hits all alike. The
first variant is the reference for the ratios.

Usage:
  bench/ab.py --variant before=/tmp/old/build/veer --variant after=build/veer
  bench/ab.py --variant on=build/veer --variant off=build/veer+bench/metrics-off.toml
  bench/ab.py --variant none=build/veer --variant policy=build/veer+bench/limits-generous.toml
  bench/ab.py --variant plain=build/veer --variant jsonrpc=build/veer+bench/jsonrpc-route.toml \
      --post bench/jsonrpc-call.json --backend-body '{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":\"0x1\"}'
    (--post: every request is a POST of that file, application/json; --backend-body: what
    the backends answer, in nginx's quoting)
All traffic stays on 127.0.0.1; every run is bounded by --duration.
"""
import argparse
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402

FIRST_PORT = 28100


def veer_config(work, name, port, extra):
    fragment = open(extra).read() if extra else ""
    # "#route: KEY = VALUE" lines of the fragment go to the catch-all route (limits = [...]).
    route_keys = "\n".join("  " + line[len("#route:"):].strip()
                           for line in fragment.splitlines() if line.startswith("#route:"))
    text = e2e.veer_toml(port, "epoll", route_keys)
    if fragment:
        text += "\n" + fragment
    return work.write(f"{name}.toml", text)


def parse_variant(text):
    name, _, spec = text.partition("=")
    binary, _, extra = spec.partition("+")
    if not name or not binary:
        raise SystemExit(f"--variant wants NAME=BINARY[+FILE], got {text!r}")
    return name, os.path.abspath(binary), extra or None


def post_script(work, body_file):
    """A wrk Lua script that POSTs the file's bytes as application/json."""
    body = open(body_file, "rb").read().decode().strip()
    lua = ('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
           f"wrk.body = [==[{body}]==]\n")
    return work.write("post.lua", lua)


def main(args):
    variants = [parse_variant(v) for v in args.variant]
    work = e2e.Workdir()
    script = post_script(work, args.post) if args.post else None
    backend_conf = (e2e.backend_nginx_conf(work, body=args.backend_body) if args.backend_body
                    else e2e.backend_nginx_conf(work))
    backend = subprocess.Popen(e2e.pinned(e2e.LOAD_CPU, ["nginx", "-c", backend_conf, "-p", work.path]),
                               stderr=subprocess.DEVNULL)
    proxies = {}
    samples = {name: {"rps": [], "cpu100k": [], "p99": []} for name, _, _ in variants}
    try:
        for port in e2e.BACKEND_PORTS:
            e2e.wait_port(port)
        for index, (name, binary, extra) in enumerate(variants):
            port = FIRST_PORT + index
            e2e.PORTS[name] = port
            proxies[name] = e2e.Proxy(name, [binary, veer_config(work, name, port, extra)], work)
        for p in proxies.values():
            e2e.wrk(p.port, 1, args.connections, script=script)  # warm-up
        for round_index in range(args.rounds):
            for name, p in proxies.items():
                cpu_before = p.cpu_seconds()
                r = e2e.wrk(p.port, args.duration, args.connections, script=script)
                cpu100k = (p.cpu_seconds() - cpu_before) / r["requests"] * 100_000
                if r["bad"]:
                    print(f"warning: {name}: {r['bad']} non-2xx responses", file=sys.stderr)
                samples[name]["rps"].append(r["rps"])
                samples[name]["cpu100k"].append(cpu100k)
                samples[name]["p99"].append(r["p99"])
                print(f"round {round_index + 1} {name:12} {r['rps']:9.0f} req/s p99 {r['p99']:.3f} ms "
                      f"cpu/100k {cpu100k:.3f} s", flush=True)
    finally:
        for p in proxies.values():
            p.stop()
        backend.terminate()
        backend.wait(timeout=10)
    reference = variants[0][0]
    medians = {n: {k: statistics.median(v) for k, v in s.items()} for n, s in samples.items()}
    print(f"\nmedians over {args.rounds} rounds of {args.duration} s (ratios against {reference}):")
    for name, m in medians.items():
        ref = medians[reference]
        print(f"{name:12} {m['rps']:9.0f} req/s ({m['rps'] / ref['rps']:.3f}x)  "
              f"cpu/100k {m['cpu100k']:.3f} s ({m['cpu100k'] / ref['cpu100k']:.3f}x)  p99 {m['p99']:.3f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", action="append", required=True)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--post", help="POST this file's bytes (application/json) instead of GET /")
    parser.add_argument("--backend-body", help="the backends' answer, in nginx's quoting")
    main(parser.parse_args())
