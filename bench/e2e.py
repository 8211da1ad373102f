#!/usr/bin/env python3
"""End-to-end comparison of veer with nginx and HAProxy (Debian's packages).

Each proxy runs one worker with an equivalent round-robin configuration in front of
the same fast backends (an nginx answering a fixed 13-byte body on two ports). The
proxy is pinned to CPU 0; wrk and the backends share CPU 1. Rounds are interleaved
(veer epoll, veer io_uring, nginx, haproxy, static, veer epoll, ...) and every figure is
the median over the rounds, so drift on a noisy machine hits all columns alike.

Columns (--only takes a comma list of them):
  veer-epoll      build/veer (Asio's epoll reactor)
  veer-io_uring   build/veer-io_uring next to --veer (io_engine = "io_uring")
  nginx           nginx 1.22 as a proxy
  haproxy         HAProxy 2.6 as a proxy
  static          nginx answering the 13-byte body by itself (`return 200`), no
                  proxying: a proxy does at least this work on each side, so
                  "2 x static" (printed as a reference column) is its practical floor

Measured per column:
  keep-alive req/s, p50 and p99 latency   wrk -c CONNS over keep-alive connections
  CPU per 100k requests, user and kernel  utime and stime of the proxy's processes
  context switches per request            voluntary + nonvoluntary, every thread
  Connection: close req/s and CPU         wrk with "Connection: close"
  syscalls per request                    strace -c -f during a short run, keep-alive
                                          and Connection: close
  RSS per idle client connection          10,000 idle keep-alive clients held
  RSS per idle WebSocket tunnel           2,000 idle tunnels held (not for static)

--workers N (N > 1): every column runs N workers (threads for HAProxy) and nothing is
pinned, so the load generator (wrk with N threads) and the backends share the cores;
reports req/s and CPU per 100k in its own section (e2e-workersN), without the strace
and idle parts.

Usage: bench/e2e.py [--rounds 3] [--duration 10] [--veer build/veer] [--out bench/RESULTS.md]
                    [--workers 1] [--skip-idle] [--only veer-epoll,nginx,...]
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
PORTS = {"veer-epoll": 28080, "nginx": 28081, "haproxy": 28082, "veer-io_uring": 28083, "static": 28084}
NAMES = ["veer-epoll", "veer-io_uring", "nginx", "haproxy", "static"]
BACKEND_PORTS = (28090, 28091)
WS_BACKEND_PORT = 28092
CLK_TCK = os.sysconf("SC_CLK_TCK")
# False in --workers mode: there every process may run on every core, as operators run a
# multi-worker proxy on a small machine.
PINNING = True


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
    return ["taskset", "-c", cpu] + argv if PINNING else list(argv)


def worker_count():
    """--workers; bench/syscalls.py sets `args` without it."""
    return getattr(args, "workers", 1)


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


def veer_toml(port, engine, route_keys="", workers=1):
    """veer's benchmark configuration: `workers` workers (one by default), round robin over the
    backends, metrics on.
    `route_keys`: more lines of the catch-all route (bench/ab.py's "#route:" lines)."""
    return f"""
[server]
workers = {workers}
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


def io_uring_binary(veer, required=True):
    """build/veer-io_uring beside `veer`. Run directly rather than through veer's execv of
    its sibling, so a missing sibling fails here, loudly, and not as a veer start error.
    Not `required` (callers that may not run it): `veer` itself, which execs the sibling."""
    path = os.path.join(os.path.dirname(os.path.abspath(veer)), "veer-io_uring")
    if not required and not os.access(path, os.X_OK):
        return veer
    if not os.access(path, os.X_OK):
        raise SystemExit(f"{path} not found: build it (cmake --build build --target veer-io_uring)"
                         " or leave veer-io_uring out with --only")
    return path


def static_nginx_conf(work, workers):
    """nginx answering by itself: what the backends answer, on the proxies' CPU."""
    return work.write("static.conf", f"""
daemon off;
worker_processes {workers};
worker_rlimit_nofile {descriptor_limit()};
pid {work.path}/static.pid;
error_log {work.path}/static-error.log warn;
events {{ worker_connections {descriptor_limit()}; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  server {{
    listen 127.0.0.1:{PORTS['static']} backlog=65535;
    location / {{ return 200 "hello, world\\n"; }}
  }}
}}
""")


def proxy_configs(work, names=None):
    """argv per column; `names`: only these (so a missing veer-io_uring matters only when
    it is asked for)."""
    required = names is not None
    names = names or NAMES
    workers = worker_count()
    backends = [f"127.0.0.1:{p}" for p in BACKEND_PORTS]

    def veer_config(name, engine):
        return work.write(f"{name}.toml", veer_toml(PORTS[name], engine, workers=workers))

    nginx = work.write("nginx.conf", f"""
daemon off;
worker_processes {workers};
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
  nbthread {workers}
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
    commands = {
        "veer-epoll": lambda: [args.veer, veer_config("veer-epoll", "epoll")],
        "veer-io_uring": lambda: [io_uring_binary(args.veer, required), veer_config("veer-io_uring", "io_uring")],
        "nginx": lambda: ["nginx", "-c", nginx, "-p", work.path],
        "haproxy": lambda: ["haproxy", "-f", haproxy],
        "static": lambda: ["nginx", "-c", static_nginx_conf(work, workers), "-p", work.path],
    }
    return {n: commands[n]() for n in names if n in commands}


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
        user, kernel = self.cpu_split()
        return user + kernel

    def cpu_split(self):
        """(user, kernel) CPU seconds of every process of the proxy: utime and stime of
        /proc/PID/stat, which cover all of a process's threads, live and exited."""
        user = kernel = 0
        for pid in self.pids():
            try:
                fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue  # exited between the listing and the read
            user += int(fields[11])
            kernel += int(fields[12])
        return user / CLK_TCK, kernel / CLK_TCK

    def context_switches(self):
        """Voluntary + nonvoluntary switches of every thread of the proxy's processes
        (/proc/PID/status alone would give only the main thread's)."""
        total = 0
        for pid in self.pids():
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tids:
                try:
                    lines = open(f"/proc/{pid}/task/{tid}/status").read().splitlines()
                except OSError:
                    continue
                total += sum(int(line.split()[1]) for line in lines
                             if line.split(":")[0] in ("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"))
        return total

    def counters(self):
        user, kernel = self.cpu_split()
        return {"user": user, "kernel": kernel, "switches": self.context_switches()}

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


def wrk(port, duration, connections, close=False, script=None, threads=1):
    """`script`: a wrk Lua script (bench/ab.py --post writes one that POSTs a body)."""
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s"]
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


def syscalls_per_request(proxy, duration, close=False):
    """System calls of the proxy per request over `duration` s with 16 connections
    (strace slows the proxy several-fold, so fewer connections than the CPU runs)."""
    out_file = os.path.join(tempfile.gettempdir(), f"strace-{proxy.name}-{os.getpid()}.txt")
    pids = proxy.pids()
    argv = ["strace", "-c", "-f", "-o", out_file] + sum((["-p", str(p)] for p in pids), [])
    tracer = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
    time.sleep(0.5)  # let strace attach before load starts
    result = wrk(proxy.port, duration, 16, close=close)
    tracer.send_signal(signal.SIGINT)
    tracer.wait(timeout=30)
    total = 0
    for line in open(out_file):
        fields = line.split()
        if fields and fields[-1] == "total":
            total = int(fields[3])  # % time, seconds, usecs/call, calls, [errors], total
    os.unlink(out_file)
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


def measured_run(proxy, close):
    """One bounded wrk run with the proxy's CPU (user, kernel) and context switches per
    100k requests and per request, from /proc deltas around it."""
    threads = worker_count() if not PINNING else 1
    before = proxy.counters()
    r = wrk(proxy.port, args.duration, args.connections, close=close, threads=threads)
    after = proxy.counters()
    requests = max(r["requests"], 1)
    if r["bad"]:
        print(f"warning: {proxy.name}: {r['bad']} non-2xx responses", file=sys.stderr)
    r["user100k"] = (after["user"] - before["user"]) / requests * 100_000
    r["kernel100k"] = (after["kernel"] - before["kernel"]) / requests * 100_000
    r["cpu100k"] = r["user100k"] + r["kernel100k"]
    r["switches"] = (after["switches"] - before["switches"]) / requests
    return r


def one_round(proxy, samples):
    """Keep-alive then Connection: close on one column; appends to `samples`."""
    r = measured_run(proxy, close=False)
    c = measured_run(proxy, close=True)
    for key in ("rps", "p50", "p99", "cpu100k", "user100k", "kernel100k", "switches"):
        samples.setdefault(key, []).append(r[key])
    for key in ("rps", "cpu100k", "kernel100k"):
        samples.setdefault("close_" + key, []).append(c[key])
    return r, c


def start_backends(work):
    backend = subprocess.Popen(pinned(LOAD_CPU, ["nginx", "-c", backend_nginx_conf(work), "-p", work.path]),
                               stderr=subprocess.DEVNULL)
    ws_backend = subprocess.Popen(pinned(LOAD_CPU, [sys.executable, os.path.join(HERE, "ws_backend.py"),
                                                    str(WS_BACKEND_PORT)]))
    for port in BACKEND_PORTS + (WS_BACKEND_PORT,):
        wait_port(port)
    return [backend, ws_backend]


def load_rounds(proxies, names):
    """Interleaved rounds over every column, then medians."""
    samples = {n: {} for n in names}
    for n in names:
        wrk(proxies[n].port, 1, args.connections)  # warm-up
    for round_index in range(args.rounds):
        for n in names:
            r, c = one_round(proxies[n], samples[n])
            print(f"round {round_index + 1} {n:13} keep-alive {r['rps']:9.0f} req/s "
                  f"p50 {r['p50']:.3f} ms p99 {r['p99']:.3f} ms cpu/100k {r['cpu100k']:.3f} s "
                  f"(kernel {r['kernel100k']:.3f}) cs/req {r['switches']:.4f} | "
                  f"close {c['rps']:8.0f} req/s cpu/100k {c['cpu100k']:.3f} s", flush=True)
    return {n: {k: statistics.median(v) for k, v in samples[n].items()} for n in names}


def idle_figures(commands, work, results, names):
    """RSS per idle client and tunnel, each on a fresh process; static has no tunnels."""
    for n in names:
        clients = args.idle_clients if n != "haproxy" else min(args.idle_clients, HAPROXY_MAXCONN - 100)
        results[n]["idle_clients"] = clients
        kinds = [("idle_conn_kib", "http", clients)]
        if n != "static":
            kinds.append(("idle_ws_kib", "ws", args.idle_tunnels))
        for key, kind, count in kinds:
            p = Proxy(n, commands[n], work)
            try:
                results[n][key] = idle_cost(p, kind, count)
            finally:
                p.stop()
        tunnel = results[n].get("idle_ws_kib")
        print(f"{n:13} idle client {results[n]['idle_conn_kib']:.2f} KiB, idle tunnel "
              + (f"{tunnel:.2f} KiB" if tunnel is not None else "-"), flush=True)


def main():
    global PINNING
    names = [n.strip() for n in args.only.split(",")] if args.only else list(NAMES)
    unknown = [n for n in names if n not in NAMES]
    if unknown:
        raise SystemExit(f"--only: unknown column(s) {', '.join(unknown)}; known: {', '.join(NAMES)}")
    if args.workers < 1:
        raise SystemExit("--workers: at least 1")
    PINNING = args.workers == 1
    # SIGTERM (a timeout around the run) unwinds through the finally below, so no
    # backend or proxy outlives the benchmark.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    work = Workdir()
    commands = proxy_configs(work, names)
    helpers, proxies = [], {}
    try:
        helpers = start_backends(work)
        for n in names:
            proxies[n] = Proxy(n, commands[n], work)
        results = load_rounds(proxies, names)
        if PINNING:
            for n in names:
                results[n]["syscalls"] = syscalls_per_request(proxies[n], 3)
                results[n]["close_syscalls"] = syscalls_per_request(proxies[n], 3, close=True)
        for p in proxies.values():
            p.stop()
        proxies = {}
        if PINNING and not args.skip_idle:
            idle_figures(commands, work, results, names)
    finally:
        for p in proxies.values():
            p.stop()
        for h in helpers:
            h.terminate()
        for h in helpers:
            h.wait(timeout=10)
        shutil.rmtree(work.path, ignore_errors=True)
    report(results, names)


def per_request(key):
    return lambda r: r.get(key)


def syscalls_and_switches(r):
    if r.get("syscalls") is None or r.get("switches") is None:
        return None
    return (r["syscalls"], r["switches"])


# (label, value from one column's results, format, scaled by "2 x static"). Values that
# are pairs print as "a / b" and compare to nginx by their first member.
ROWS = [
    ("keep-alive req/s", per_request("rps"), "{:.0f}", False),
    ("keep-alive p50 (ms)", per_request("p50"), "{:.3f}", False),
    ("keep-alive p99 (ms)", per_request("p99"), "{:.3f}", False),
    ("proxy CPU s per 100k requests", per_request("cpu100k"), "{:.3f}", True),
    ("of which kernel", per_request("kernel100k"), "{:.3f}", True),
    ("syscalls / context switches per request", syscalls_and_switches, "{:.2f} / {:.3f}", True),
    ("Connection: close req/s", per_request("close_rps"), "{:.0f}", False),
    ("Connection: close, CPU s per 100k", per_request("close_cpu100k"), "{:.3f}", True),
    ("of which kernel (close)", per_request("close_kernel100k"), "{:.3f}", True),
    ("syscalls per closed connection's request", per_request("close_syscalls"), "{:.2f}", True),
    ("RSS per idle keep-alive client (KiB)", per_request("idle_conn_kib"), "{:.2f}", False),
    ("RSS per idle WebSocket tunnel (KiB)", per_request("idle_ws_kib"), "{:.2f}", False),
]
# --workers N: throughput and CPU only (no strace, no idle figures).
WORKER_ROWS = ["keep-alive req/s", "keep-alive p50 (ms)", "keep-alive p99 (ms)",
               "proxy CPU s per 100k requests", "of which kernel", "Connection: close req/s",
               "Connection: close, CPU s per 100k"]
HEADINGS = {"veer-epoll": "veer epoll", "veer-io_uring": "veer io_uring", "nginx": "nginx 1.22",
            "haproxy": "HAProxy 2.6", "static": "static (nginx alone)"}


def cell(value, fmt, factor=1):
    if value is None:
        return "-"
    if isinstance(value, tuple):
        return fmt.format(*(v * factor for v in value))
    return fmt.format(value * factor)


def ratio(value, nginx):
    if value is None or nginx is None:
        return "-"
    a, n = (value[0], nginx[0]) if isinstance(value, tuple) else (value, nginx)
    return f"{a / n:.2f}x" if n else "-"


def table(results, names):
    """Markdown: one column per name, "2 x static" when static ran, ratios to nginx."""
    doubled = "static" in names
    compared = [n for n in names if n not in ("nginx", "static")] if "nginx" in names else []
    header = (["metric"] + [HEADINGS[n] for n in names] + (["2 x static"] if doubled else [])
              + [f"{HEADINGS[n]} / nginx" for n in compared])
    lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * (len(header) - 1)]
    rows = [r for r in ROWS if PINNING or r[0] in WORKER_ROWS]
    for label, get, fmt, scaled in rows:
        values = {n: get(results[n]) for n in names}
        if all(v is None for v in values.values()):
            continue  # a part not run (--skip-idle)
        cells = [cell(values[n], fmt) for n in names]
        if doubled:
            cells.append(cell(values["static"], fmt, 2) if scaled else "-")
        cells += [ratio(values[n], values.get("nginx")) for n in compared]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def minutes(names):
    per_round = len(names) * 2 * args.duration
    strace = len(names) * 2 * 5 if PINNING else 0
    idle = len(names) * 2 * 0.5 if PINNING and not args.skip_idle else 0
    return int((args.rounds * per_round + strace) / 60 + idle + 1)


def report(results, names):
    text = table(results, names)
    print("\n" + text)
    command = " ".join(["bench/e2e.py"] + sys.argv[1:])
    machine = f"{os.cpu_count()} CPUs, {os.uname().sysname}"
    measured = f"Measured {time.strftime('%Y-%m-%d')} on kernel {os.uname().release} ({machine})."
    if PINNING:
        title, name, setup = "## End to end: veer, nginx and HAProxy", "e2e", f"""Setup: one worker per proxy, round-robin over two backend ports of one nginx that
answers a 13-byte body; proxy pinned to CPU 0, wrk (1 thread, {args.connections}
connections) and backends on CPU 1; {args.rounds} interleaved rounds of {args.duration} s,
medians. veer runs twice, once per I/O engine (build/veer, build/veer-io_uring).
"static" is nginx answering the 13-byte body by itself on CPU 0, no proxying: a proxy
does that work on the client side and about as much again on the upstream side, so
"2 x static" is a practical floor for the cost rows. Lower is better except for req/s.
With two cores the load side saturates near the fastest proxy, so req/s differences
understate proxy differences: proxy CPU per request separates them."""
    else:
        title = f"## End to end with {args.workers} workers: veer, nginx and HAProxy"
        name = f"e2e-workers{args.workers}"
        setup = f"""Setup: {args.workers} workers per proxy (HAProxy: threads), nothing pinned: the proxy,
wrk ({args.workers} threads, {args.connections} connections) and the backends share the
machine's cores, as a small multi-worker deployment runs; {args.rounds} interleaved
rounds of {args.duration} s, medians. "static": nginx answering by itself with
{args.workers} workers."""
    section = f"""{title}

Reproduce: `{command}` (after `scripts/setup` and a Release build; about
{minutes(names)} minutes).

{setup}

{text}

{measured}
"""
    if PINNING:
        section += notes(results, names)
    replace_section(args.out, name, section)


def notes(results, names):
    held = ", ".join(f"{HEADINGS[n]} {results[n]['idle_clients']}" for n in names if "idle_clients" in results[n])
    idle = "" if not held else f"""
Idle clients held: {held} (HAProxy reserves two descriptors per maxconn and this
machine's hard limit is {descriptor_limit()} descriptors). Idle tunnels held: {args.idle_tunnels}.
"""
    return f"""
Reading the rows: CPU is utime + stime of the proxy's processes over the wrk run,
"of which kernel" its stime. Syscalls are counted by strace -c -f in separate 3 s runs
with 16 connections (keep-alive, then Connection: close); io_uring submits most of its
I/O without one, so for it compare the CPU rows instead. Context switches: voluntary +
nonvoluntary of every thread, over the keep-alive run. Idle figures are the RSS added
per held connection, measured on a fresh process after the holder has been quiet for 3 s
(veer parks an idle client after 1 s: it gives back its read buffer and exchange state).
{idle}"""


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
    parser.add_argument("--workers", type=int, default=1,
                        help="workers per proxy; above 1 nothing is pinned and only req/s and CPU are measured")
    parser.add_argument("--skip-idle", action="store_true", help="skip the idle RSS figures (quick runs)")
    parser.add_argument("--only", default="", help=f"comma list of columns among {','.join(NAMES)}")
    args = parser.parse_args()
    main()
