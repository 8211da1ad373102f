#!/usr/bin/env python3
"""End-to-end comparison of veer with nginx and HAProxy (Debian's packages).

Each proxy runs one worker with an equivalent round-robin configuration in front of
the same fast backends (an nginx answering a fixed 13-byte body on two ports). The
proxy is pinned to CPU 0; wrk and the backends share CPU 1. Rounds are interleaved
(veer, nginx, haproxy, veer, ...) and every figure is the median over the rounds, so
drift on a noisy machine hits all three alike.

Measured per proxy:
  keep-alive req/s, p50 and p99 latency   wrk -c CONNS over keep-alive connections
  new-connection req/s                    wrk with "Connection: close"
  proxy CPU per 100k requests             utime+stime of the proxy's processes
  syscalls per request                    strace -c -f during a short keep-alive run
  RSS per idle client connection          10,000 idle keep-alive clients held
  RSS per idle WebSocket tunnel           2,000 idle tunnels held

Usage: bench/e2e.py [--rounds 3] [--duration 10] [--veer build/veer] [--out bench/RESULTS.md]
All traffic stays on 127.0.0.1; every run is bounded by --duration.
"""
import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PROXY_CPU = "0"
LOAD_CPU = "1"
PORTS = {"veer-epoll": 28080, "nginx": 28081, "haproxy": 28082, "veer-io_uring": 28083}
NAMES = ["veer-epoll", "veer-io_uring", "nginx", "haproxy"]
BACKEND_PORTS = (28090, 28091)
WS_BACKEND_PORT = 28092
CLK_TCK = os.sysconf("SC_CLK_TCK")


def wait_port(port, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def pinned(cpu, argv):
    return ["taskset", "-c", cpu] + argv


def descriptor_limit():
    import resource
    return resource.getrlimit(resource.RLIMIT_NOFILE)[1]


# HAProxy reserves two descriptors per maxconn and refuses to start beyond the hard
# limit; where that limit is low (20,000 on some sandboxes) it cannot hold 10,000
# clients, so it holds what its maxconn allows and the figure stays per connection.
HAPROXY_MAXCONN = min(65535, (descriptor_limit() - 200) // 2)


class Workdir:
    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="veer-bench-")

    def write(self, name, text):
        path = os.path.join(self.path, name)
        with open(path, "w") as f:
            f.write(text)
        return path


def backend_nginx_conf(work, ports=BACKEND_PORTS, body="hello, world\\n"):
    """`body`: what every request gets, in nginx's quoting (bench/ab.py --backend-body)."""
    servers = "\n".join(
        f"""  server {{
    listen 127.0.0.1:{port} reuseport backlog=65535;
    keepalive_requests 100000000;
    location / {{ return 200 "{body}"; }}
  }}""" for port in ports)
    return work.write("backend-nginx.conf", f"""
daemon off;
master_process off;
worker_processes 1;
pid {work.path}/backend.pid;
error_log {work.path}/backend-error.log warn;
events {{ worker_connections 65535; }}
http {{
  access_log off;
{servers}
}}
""")


def veer_toml(port, engine, route_keys=""):
    """veer's benchmark configuration: one worker, round robin over the backends, metrics on.
    `route_keys`: more lines of the catch-all route (bench/ab.py's "#route:" lines)."""
    return f"""
[server]
workers = 1
io_engine = "{engine}"
access_log = "off"
[listeners.bench]
address = "127.0.0.1:{port}"
  [[listeners.bench.routes]]
  path_prefix = "/ws"
  target = "ws"
  [[listeners.bench.routes]]
  target = "app"
{route_keys}
[pools.app]
strategy = "round_robin"
backends = [{", ".join(f'"127.0.0.1:{p}"' for p in BACKEND_PORTS)}]
[pools.ws]
backends = ["127.0.0.1:{WS_BACKEND_PORT}"]
# As operators run it: the admin API up, workers counting for /metrics. Last, so that
# keys bench/ab.py appends (metrics = false) land in this table.
[admin]
address = "127.0.0.1:0"
"""


def proxy_configs(work):
    backends = [f"127.0.0.1:{p}" for p in BACKEND_PORTS]

    def veer_config(name, engine):
        return work.write(f"{name}.toml", veer_toml(PORTS[name], engine))

    nginx = work.write("nginx.conf", f"""
daemon off;
worker_processes 1;
worker_rlimit_nofile {descriptor_limit()};
pid {work.path}/nginx.pid;
error_log {work.path}/nginx-error.log warn;
events {{ worker_connections {descriptor_limit()}; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  upstream app {{
    {" ".join(f"server {b};" for b in backends)}
    keepalive 512;
    keepalive_requests 100000000;
  }}
  upstream ws {{ server 127.0.0.1:{WS_BACKEND_PORT}; }}
  server {{
    listen 127.0.0.1:{PORTS['nginx']} backlog=65535;
    location /ws {{
      proxy_pass http://ws;
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_read_timeout 1h;
    }}
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
""")
    haproxy = work.write("haproxy.cfg", f"""
global
  nbthread 1
  maxconn {HAPROXY_MAXCONN}
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout tunnel 1h
  option http-keep-alive
  http-reuse always
frontend bench
  bind 127.0.0.1:{PORTS['haproxy']}
  maxconn {HAPROXY_MAXCONN}
  use_backend ws if {{ path_beg /ws }}
  default_backend app
backend app
  balance roundrobin
  {chr(10).join(f"  server b{i} {b}" for i, b in enumerate(backends))}
backend ws
  server w 127.0.0.1:{WS_BACKEND_PORT}
""")
    return {
        "veer-epoll": [args.veer, veer_config("veer-epoll", "epoll")],
        "veer-io_uring": [args.veer, veer_config("veer-io_uring", "io_uring")],
        "nginx": ["nginx", "-c", nginx, "-p", work.path],
        "haproxy": ["haproxy", "-f", haproxy],
    }


class Proxy:
    def __init__(self, name, argv, work):
        self.name = name
        self.port = PORTS[name]
        log = open(os.path.join(work.path, f"{name}.log"), "w")
        self.process = subprocess.Popen(pinned(PROXY_CPU, argv), stdout=log, stderr=log,
                                        stdin=subprocess.DEVNULL)
        wait_port(self.port)

    def pids(self):
        """The proxy process and its children (nginx's worker), from /proc."""
        pids = [self.process.pid]
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = open(f"/proc/{entry}/stat").read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == self.process.pid:
                pids.append(int(entry))
        return pids

    def cpu_seconds(self):
        total = 0
        for pid in self.pids():
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / CLK_TCK

    def rss_kib(self):
        total = 0
        for pid in self.pids():
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        return total

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def parse_latency(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def wrk(port, duration, connections, close=False, script=None):
    """`script`: a wrk Lua script (bench/ab.py --post writes one that POSTs a body)."""
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s"]
    if close:
        argv += ["-H", "Connection: close"]
    if script:
        argv += ["-s", script]
    out = subprocess.run(pinned(LOAD_CPU, argv + [f"http://127.0.0.1:{port}/"]),
                         capture_output=True, text=True, timeout=duration + 30).stdout
    try:
        return parse_wrk(out, close)
    except (AttributeError, ValueError) as e:
        raise RuntimeError(f"unexpected wrk output on port {port}:\n{out}") from e


def parse_wrk(out, close):
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    result = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "requests": requests,
        "p50": parse_latency(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)),
        "p99": parse_latency(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)),
        "bad": int(errors.group(1)) if errors else 0,
    }
    if socket_errors and not close:
        result["socket_errors"] = socket_errors.group(1)
    return result


def syscalls_per_request(proxy, duration):
    out_file = os.path.join(tempfile.gettempdir(), f"strace-{proxy.name}.txt")
    pids = proxy.pids()
    argv = ["strace", "-c", "-f", "-o", out_file] + sum((["-p", str(p)] for p in pids), [])
    tracer = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # let strace attach before load starts
    result = wrk(proxy.port, duration, 16)
    tracer.send_signal(signal.SIGINT)
    tracer.wait(timeout=30)
    total = 0
    for line in open(out_file):
        fields = line.split()
        if fields and fields[-1] == "total":
            total = int(fields[3])  # % time, seconds, usecs/call, calls, [errors], total
    return total / max(result["requests"], 1)


def idle_cost(proxy, kind, count):
    """RSS added per held connection (KiB), measured on a warmed-up proxy."""
    wrk(proxy.port, 1, 16)  # warm-up: pools and caches as in steady state
    before = proxy.rss_kib()
    holder = subprocess.Popen(pinned(LOAD_CPU, [sys.executable, os.path.join(HERE, "hold_connections.py"),
                                                kind, str(proxy.port), str(count)]),
                              stdout=subprocess.PIPE, text=True)
    line = holder.stdout.readline()
    if not line.startswith("held"):
        holder.kill()
        raise RuntimeError(f"{proxy.name}: could not hold {count} {kind} connections")
    time.sleep(3.0)  # let the proxy settle: veer parks idle clients' buffers after 1 s
    after = proxy.rss_kib()
    holder.send_signal(signal.SIGTERM)
    holder.wait(timeout=30)
    return (after - before) / count


def main():
    work = Workdir()
    backend = subprocess.Popen(pinned(LOAD_CPU, ["nginx", "-c", backend_nginx_conf(work), "-p", work.path]),
                               stderr=subprocess.DEVNULL)
    ws_backend = subprocess.Popen(pinned(LOAD_CPU, [sys.executable, os.path.join(HERE, "ws_backend.py"),
                                                    str(WS_BACKEND_PORT)]))
    for port in BACKEND_PORTS + (WS_BACKEND_PORT,):
        wait_port(port)
    commands = proxy_configs(work)
    names = NAMES
    samples = {n: {"rps": [], "p50": [], "p99": [], "close_rps": [], "cpu100k": []} for n in names}
    proxies = {}
    try:
        for n in names:
            proxies[n] = Proxy(n, commands[n], work)
        for n in names:
            wrk(proxies[n].port, 1, args.connections)  # warm-up
        for round_index in range(args.rounds):
            for n in names:
                p = proxies[n]
                cpu_before = p.cpu_seconds()
                r = wrk(p.port, args.duration, args.connections)
                cpu = p.cpu_seconds() - cpu_before
                if r["bad"]:
                    print(f"warning: {n}: {r['bad']} non-2xx responses", file=sys.stderr)
                samples[n]["rps"].append(r["rps"])
                samples[n]["p50"].append(r["p50"])
                samples[n]["p99"].append(r["p99"])
                samples[n]["cpu100k"].append(cpu / r["requests"] * 100_000)
                c = wrk(p.port, args.duration, args.connections, close=True)
                samples[n]["close_rps"].append(c["rps"])
                print(f"round {round_index + 1} {n:13} keep-alive {r['rps']:9.0f} req/s "
                      f"p50 {r['p50']:.3f} ms p99 {r['p99']:.3f} ms cpu/100k {cpu / r['requests'] * 1e5:.3f} s | "
                      f"close {c['rps']:8.0f} req/s", flush=True)
        results = {n: {k: statistics.median(v) for k, v in samples[n].items()} for n in names}
        for n in names:
            results[n]["syscalls"] = syscalls_per_request(proxies[n], 3)
        for p in proxies.values():
            p.stop()
        proxies = {}
        for n in names:  # a fresh process for each memory figure
            clients = args.idle_clients if n != "haproxy" else min(args.idle_clients, HAPROXY_MAXCONN - 100)
            results[n]["idle_clients"] = clients
            for key, kind, count in (("idle_conn_kib", "http", clients), ("idle_ws_kib", "ws", args.idle_tunnels)):
                p = proxies[n] = Proxy(n, commands[n], work)
                results[n][key] = idle_cost(p, kind, count)
                p.stop()
                del proxies[n]
            print(f"{n:13} idle client {results[n]['idle_conn_kib']:.2f} KiB, "
                  f"idle tunnel {results[n]['idle_ws_kib']:.2f} KiB", flush=True)
    finally:
        for p in proxies.values():
            p.stop()
        backend.terminate()
        ws_backend.terminate()
        backend.wait(timeout=10)
        ws_backend.wait(timeout=10)
        shutil.rmtree(work.path, ignore_errors=True)
    report(results)


ROWS = [
    ("keep-alive req/s", "rps", "{:.0f}", True),
    ("keep-alive p50 (ms)", "p50", "{:.3f}", False),
    ("keep-alive p99 (ms)", "p99", "{:.3f}", False),
    ("new-connection req/s", "close_rps", "{:.0f}", True),
    ("proxy CPU s per 100k requests", "cpu100k", "{:.3f}", False),
    ("syscalls per request", "syscalls", "{:.2f}", False),
    ("RSS per idle client (KiB)", "idle_conn_kib", "{:.2f}", False),
    ("RSS per idle WebSocket tunnel (KiB)", "idle_ws_kib", "{:.2f}", False),
]


def report(results):
    columns = ["veer-epoll", "veer-io_uring", "nginx", "haproxy"]
    header = ("| metric | veer (epoll) | veer (io_uring) | nginx 1.22 | HAProxy 2.6 | "
              "veer epoll / nginx | veer io_uring / nginx | HAProxy / nginx |")
    lines = [header, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for label, key, fmt, _ in ROWS:
        values = {c: results[c][key] for c in columns}
        n = values["nginx"]
        ratio = lambda a: f"{a / n:.2f}x" if n else "-"
        lines.append(f"| {label} | " + " | ".join(fmt.format(values[c]) for c in columns) + " | "
                     + " | ".join(ratio(values[c]) for c in ("veer-epoll", "veer-io_uring", "haproxy")) + " |")
    table = "\n".join(lines)
    print("\n" + table)
    command = " ".join(["bench/e2e.py"] + sys.argv[1:])
    machine = f"{os.cpu_count()} CPUs, {os.uname().sysname} {os.uname().release}"
    section = f"""## End to end: veer, nginx and HAProxy

Reproduce: `{command}` (after `scripts/setup` and a Release build; about
{args.rounds * 4 * 2 * args.duration // 60 + 8} minutes).

Setup: one worker per proxy, round-robin over two backend ports of one nginx that
answers a 13-byte body; proxy pinned to CPU 0, wrk (1 thread, {args.connections}
connections) and backends on CPU 1; {args.rounds} interleaved rounds of {args.duration} s,
medians. veer runs twice, once per I/O engine. Machine: {machine};
{time.strftime('%Y-%m-%d')}. Lower is better except for req/s. With two cores the load
side saturates near the fastest proxy, so req/s differences understate proxy
differences: proxy CPU per request separates them.

{table}

Reading the rows: "syscalls per request" counts system calls only (strace); io_uring
submits most of its I/O without one, so for it compare the CPU row instead. Idle figures
are the RSS added per held connection, measured on a fresh process after the holder has
been quiet for 3 s (veer returns an idle client's read buffer after 1 s). Floors set for
the first release: keep-alive req/s at least 0.8x nginx, proxy CPU per request at most
1.25x nginx, p99 at most 2x nginx, at most 4 KiB per idle client.

Idle clients held: veer {results['veer-epoll']['idle_clients']}, nginx {results['nginx']['idle_clients']},
HAProxy {results['haproxy']['idle_clients']} (HAProxy reserves two descriptors per maxconn and this
machine's hard limit is {descriptor_limit()} descriptors). Idle tunnels held: {args.idle_tunnels}.
"""
    replace_section(args.out, "e2e", section)


def replace_section(path, name, text):
    """Rewrites the part of RESULTS.md between this section's markers, keeping the rest."""
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    try:
        current = open(path).read()
    except OSError:
        current = "# veer benchmark results\n"
    block = f"{begin}\n{text}{end}\n"
    if begin in current and end in current:
        head, rest = current.split(begin, 1)
        tail = rest.split(end, 1)[1].lstrip("\n")
        current = head + block + ("\n" + tail if tail else "")
    else:
        current = current.rstrip("\n") + "\n\n" + block
    with open(path, "w") as f:
        f.write(current)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--idle-clients", type=int, default=10000)
    parser.add_argument("--idle-tunnels", type=int, default=2000)
    parser.add_argument("--veer", default=os.path.join(ROOT, "build", "veer"))
    parser.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    args = parser.parse_args()
    main()
