#!/usr/bin/env python3
"""TLS termination: veer against nginx 1.22 (Debian), same certificates, same ciphers.

Both proxies terminate TLS on two listeners (an ECDSA P-256 and an RSA 2048 self-signed
certificate, made here with the openssl CLI) and forward plain HTTP to the same fast
backends as bench/e2e.py (an nginx answering a 13-byte body on two ports). Both allow
TLS 1.2 and 1.3 with one suite each (TLS_AES_128_GCM_SHA256; ECDHE-ECDSA/RSA-AES128-
GCM-SHA256), session tickets on, server-side session cache off (veer session_cache = 0,
nginx ssl_session_cache off), SO_REUSEPORT listeners, no access log.

Scenarios (each proxy runs once per scenario, all started at once):
  1w         one worker, proxy pinned to CPU 0, load and backends on CPU 1
  2w-cpu0    two workers (veer threads, nginx processes), all on CPU 0, load on CPU 1
  2w-spread  two workers on CPUs 0-1, load on CPUs 0-1 (backends stay on CPU 1): the
             only placement on this machine where workers run in parallel, so the one
             that shows lock contention between threads of one process
Measurements, interleaved round by round (veer, nginx, veer, nginx, ...), medians:
  keep-alive TLS 1.3 / 1.2   wrk -t1 -c64 over https; the client side (OPENSSL_CONF)
                             pins the version and suite
  new connections            bench/tls_load (C++, OpenSSL, one thread, epoll): connect,
                             handshake, one request with "Connection: close", read the
                             response, close; full handshakes, resumed with the newest
                             ticket (each once), resumed with one ticket over and over;
                             ECDSA and RSA; TLS 1.3
  proxy CPU                  utime+stime of the proxy's processes from /proc, divided by
                             requests or handshakes: independent of the client's speed
  RSS per idle TLS client    N idle keep-alive TLS connections after one request each,
                             on a fresh one-worker proxy, RSS delta / N

Usage: bench/tls.py [--rounds 3] [--duration 8] [--veer build/veer] [--out bench/RESULTS.md]
                    [--scenarios 1w,2w-cpu0,2w-spread] [--idle 5000] [--no-write]
All traffic stays on 127.0.0.1; every run is bounded by --duration.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402

HERE = e2e.HERE
ROOT = e2e.ROOT
BACKEND_PORTS = (28190, 28191)
FIRST_PORT = 28200
CIPHERS12 = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
SUITE13 = "TLS_AES_128_GCM_SHA256"
PROXIES = ["veer", "nginx"]
SCENARIOS = {
    # name: (workers, proxy CPUs, load CPUs)
    "1w": (1, "0", "1"),
    "2w-cpu0": (2, "0", "1"),
    "2w-spread": (2, "0,1", "0,1"),
}
# (key, label, kind, certificate, tls_load arguments)
KEEPALIVE = [("ka13", "keep-alive TLS 1.3", "1.3"), ("ka12", "keep-alive TLS 1.2", "1.2")]
HANDSHAKES = [
    ("full_ec", "full handshake, ECDSA P-256", "ec", []),
    ("resumed_ec", "resumption, newest ticket, ECDSA", "ec", ["--resume"]),
    ("full_rsa", "full handshake, RSA 2048", "rsa", []),
    ("resumed_rsa", "resumption, newest ticket, RSA", "rsa", ["--resume"]),
    ("same_ec", "resumption, one ticket reused, ECDSA", "ec", ["--resume-same"]),
]


def make_certificates(work):
    paths = {}
    for kind, newkey in (("ec", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]),
                         ("rsa", ["-newkey", "rsa:2048"])):
        cert, key = os.path.join(work.path, f"{kind}.pem"), os.path.join(work.path, f"{kind}.key")
        subprocess.run(["openssl", "req", "-x509", *newkey, "-nodes", "-keyout", key, "-out", cert,
                        "-days", "30", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost"],
                       check=True, capture_output=True)
        os.chmod(key, 0o600)
        paths[kind] = (cert, key)
    return paths


def client_openssl_conf(work, version):
    """An OPENSSL_CONF for wrk: this version and suite only (wrk has no TLS options)."""
    lines = ["openssl_conf = conf", "[conf]", "ssl_conf = ssl", "[ssl]", "system_default = sys", "[sys]",
             f"MinProtocol = TLSv{version}", f"MaxProtocol = TLSv{version}"]
    lines += [f"CipherString = {CIPHERS12}"] if version == "1.2" else [f"Ciphersuites = {SUITE13}"]
    return work.write(f"client-tls{version}.cnf", "\n".join(lines) + "\n")


def veer_conf(work, name, ports, workers, certs):
    listeners = ""
    for kind, port in ports.items():
        cert, key = certs[kind]
        listeners += f"""
[listeners.{kind}]
address = "127.0.0.1:{port}"
tls = {{ cert = "{cert}", key = "{key}", min_version = "1.2", ciphers = "{CIPHERS12}", ciphersuites = "{SUITE13}", session_cache = 0 }}
  [[listeners.{kind}.routes]]
  target = "app"
"""
    return work.write(f"{name}.toml", f"""
[server]
workers = {workers}
io_engine = "epoll"
access_log = "off"
{listeners}
[pools.app]
strategy = "round_robin"
backends = [{", ".join(f'"127.0.0.1:{p}"' for p in BACKEND_PORTS)}]
# As operators run it (and as bench/e2e.py does): the admin API up, metrics counted.
[admin]
address = "127.0.0.1:0"
""")


def nginx_conf(work, name, ports, workers, certs):
    limit = e2e.descriptor_limit()
    servers = ""
    for kind, port in ports.items():
        cert, key = certs[kind]
        servers += f"""
  server {{
    listen 127.0.0.1:{port} ssl reuseport backlog=65535;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    location / {{
      proxy_pass http://app;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}"""
    return work.write(f"{name}.conf", f"""
daemon off;
worker_processes {workers};
worker_rlimit_nofile {limit};
pid {work.path}/{name}.pid;
error_log {work.path}/{name}-error.log warn;
events {{ worker_connections {limit // workers}; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_ciphers {CIPHERS12};
  ssl_conf_command Ciphersuites {SUITE13};
  ssl_prefer_server_ciphers on;
  ssl_session_cache off;
  ssl_session_tickets on;
  upstream app {{
    {" ".join(f"server 127.0.0.1:{p};" for p in BACKEND_PORTS)}
    keepalive 512;
    keepalive_requests 100000000;
  }}
{servers}
}}
""")


class Proxy(e2e.Proxy):
    """A proxy with one TLS listener per certificate kind, pinned to `cpus`."""

    def __init__(self, name, argv, work, ports, cpus):
        self.name = name
        self.ports = ports
        self.port = ports["ec"]
        log = open(os.path.join(work.path, f"{name}.log"), "w")
        self.process = subprocess.Popen(e2e.pinned(cpus, argv), stdout=log, stderr=log,
                                        stdin=subprocess.DEVNULL)
        for port in ports.values():
            e2e.wait_port(port)


def wrk_https(port, duration, connections, cpus, conf):
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "--timeout", "5s",
            f"https://127.0.0.1:{port}/"]
    env = dict(os.environ, OPENSSL_CONF=conf)
    out = subprocess.run(e2e.pinned(cpus, argv), capture_output=True, text=True, env=env,
                         timeout=duration + 30).stdout
    try:
        return e2e.parse_wrk(out, False)
    except (AttributeError, ValueError) as e:
        raise RuntimeError(f"unexpected wrk output on port {port}:\n{out}") from e


def tls_load(tool, port, duration, cpus, extra, conns):
    argv = [tool, "--port", str(port), "--conns", str(conns), "--duration", str(duration),
            "--ciphers", CIPHERS12, "--ciphersuites", SUITE13] + extra
    done = subprocess.run(e2e.pinned(cpus, argv), capture_output=True, text=True, timeout=duration + 30)
    if done.returncode != 0 or not done.stdout.strip():
        raise RuntimeError(f"tls_load on port {port} failed:\n{done.stdout}{done.stderr}")
    if done.stderr.strip():
        print(done.stderr.strip(), file=sys.stderr)
    return json.loads(done.stdout.strip().splitlines()[-1])


def build_tool(work):
    tool = os.path.join(work.path, "tls_load")
    subprocess.run(["g++", "-O2", "-std=c++20", os.path.join(HERE, "tls_load.cpp"), "-lssl", "-lcrypto",
                    "-o", tool], check=True)
    return tool


def measure(proxy, key, scenario, tool, confs):
    """One sample of one measurement: (throughput, proxy CPU microseconds per operation, note)."""
    _, _, load_cpus = SCENARIOS[scenario]
    cpu_before = proxy.cpu_seconds()
    if key.startswith("ka"):
        version = "1.3" if key == "ka13" else "1.2"
        r = wrk_https(proxy.ports["ec"], args.duration, args.connections, load_cpus, confs[version])
        cpu = proxy.cpu_seconds() - cpu_before
        if r["bad"] or r.get("socket_errors"):
            print(f"warning: {proxy.name} {key}: {r['bad']} bad responses, socket errors "
                  f"{r.get('socket_errors')}", file=sys.stderr)
        return r["rps"], cpu / r["requests"] * 1e6, None
    _, _, kind, extra = next(h for h in HANDSHAKES if h[0] == key)
    r = tls_load(tool, proxy.ports[kind], args.duration, load_cpus, extra, args.handshake_conns)
    cpu = proxy.cpu_seconds() - cpu_before
    if r["errors"]:
        print(f"warning: {proxy.name} {key}: {r['errors']} failed connections", file=sys.stderr)
    if not extra and r["resumed"]:
        print(f"warning: {proxy.name} {key}: {r['resumed']} resumed in a full-handshake run", file=sys.stderr)
    return r["done"] / r["seconds"], cpu / max(r["done"], 1) * 1e6, r["resumed"] / max(r["done"], 1)


def idle_cost(proxy, tool, count):
    """RSS added per idle keep-alive TLS client (KiB), on a fresh, warmed-up proxy."""
    tls_load(tool, proxy.ports["ec"], 1, e2e.LOAD_CPU, [], 16)  # warm-up
    before = proxy.rss_kib()
    holder = subprocess.Popen(e2e.pinned(e2e.LOAD_CPU, [tool, "--port", str(proxy.ports["ec"]), "--hold",
                                                        str(count), "--ciphersuites", SUITE13]),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = holder.stdout.readline()
    held = int(line.split()[1]) if line.startswith("held") else 0
    if held < count * 0.99:
        holder.kill()
        holder.wait()
        raise RuntimeError(f"{proxy.name}: held only {line.strip()!r} of {count} TLS connections")
    time.sleep(3.0)  # veer parks an idle client's read buffer after 1 s
    after = proxy.rss_kib()
    holder.stdin.close()
    holder.wait(timeout=30)
    return (after - before) / held, held


def main():
    work = e2e.Workdir()
    certs = make_certificates(work)
    tool = build_tool(work)
    confs = {v: client_openssl_conf(work, v) for v in ("1.2", "1.3")}
    backend = subprocess.Popen(e2e.pinned(e2e.LOAD_CPU, ["nginx", "-c", e2e.backend_nginx_conf(work, BACKEND_PORTS), "-p", work.path]),
                               stderr=subprocess.DEVNULL)
    scenarios = args.scenarios.split(",")
    PROXIES[:] = args.proxies.split(",")
    keys = [k for k, _, _ in KEEPALIVE] + [h[0] for h in HANDSHAKES]
    keys = [k for k in keys if not args.only or k in args.only.split(",")]
    samples = {(p, s, k): [] for p in PROXIES for s in scenarios for k in keys}
    proxies = {}
    results = {}
    try:
        for port in BACKEND_PORTS:
            e2e.wait_port(port)
        port = FIRST_PORT
        for s in scenarios:
            workers, proxy_cpus, _ = SCENARIOS[s]
            for p in PROXIES:
                name = f"{p}-{s}"
                ports = {"ec": port, "rsa": port + 1}
                port += 2
                if p == "veer":
                    argv = [args.veer, veer_conf(work, name, ports, workers, certs)]
                else:
                    argv = ["nginx", "-c", nginx_conf(work, name, ports, workers, certs), "-p", work.path]
                proxies[(p, s)] = Proxy(name, argv, work, ports, proxy_cpus)
        for (p, s), proxy in proxies.items():  # warm-up
            wrk_https(proxy.ports["ec"], 1, args.connections, SCENARIOS[s][2], confs["1.3"])
            tls_load(tool, proxy.ports["ec"], 1, SCENARIOS[s][2], [], args.handshake_conns)
        for round_index in range(args.rounds):
            LOADS.append(os.getloadavg()[0])
            for s in scenarios:
                for k in keys:
                    # Alternate which proxy goes first, so that neither always runs
                    # on the heels of the other.
                    for p in (PROXIES if round_index % 2 == 0 else PROXIES[::-1]):
                        rate, cpu_us, resumed = measure(proxies[(p, s)], k, s, tool, confs)
                        samples[(p, s, k)].append((rate, cpu_us, resumed))
                        print(f"round {round_index + 1} {s:9} {k:11} {p:5} {rate:9.0f}/s "
                              f"{cpu_us:8.1f} us CPU/op" +
                              (f", {resumed:.0%} resumed" if resumed is not None else ""), flush=True)
        for key, values in samples.items():
            results[key] = tuple(statistics.median(v[i] for v in values) if values[0][i] is not None else None
                                 for i in range(3))
        # veer/nginx ratios paired round by round (the two ran back to back, under the
        # same background load), then the median and the quartiles of those ratios.
        if PROXIES == ["veer", "nginx"]:
            for s in scenarios:
                for k in keys:
                    pairs = list(zip(samples[("veer", s, k)], samples[("nginx", s, k)]))
                    results[("ratio", s, k)] = (spread([v[0] / n[0] for v, n in pairs]),
                                                spread([v[1] / n[1] for v, n in pairs]))
        for proxy in proxies.values():
            proxy.stop()
        proxies = {}
        idle = {}
        if args.idle:
            for p in PROXIES:
                workers, proxy_cpus, _ = SCENARIOS["1w"]
                name = f"{p}-idle"
                ports = {"ec": FIRST_PORT + 40, "rsa": FIRST_PORT + 41}
                argv = ([args.veer, veer_conf(work, name, ports, 1, certs)] if p == "veer" else
                        ["nginx", "-c", nginx_conf(work, name, ports, 1, certs), "-p", work.path])
                proxies[p] = Proxy(name, argv, work, ports, proxy_cpus)
                idle[p] = idle_cost(proxies[p], tool, args.idle)
                proxies.pop(p).stop()
                print(f"{p:5} RSS per idle TLS client {idle[p][0]:.2f} KiB ({idle[p][1]} held)", flush=True)
    finally:
        for proxy in proxies.values():
            proxy.stop()
        backend.terminate()
        backend.wait(timeout=10)
        shutil.rmtree(work.path, ignore_errors=True)
    if PROXIES == ["veer", "nginx"]:
        report(results, scenarios, keys, idle)


def spread(values):
    """(median, first quartile, third quartile)."""
    if len(values) < 4:
        return statistics.median(values), min(values), max(values)
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return statistics.median(values), q1, q3


LOADS = []  # 1-minute load average at the start of each round


def load_note():
    seen = LOADS + [os.getloadavg()[0]]
    return (f"1-minute load average {min(seen):.2f} to {max(seen):.2f} at round starts and the end "
            f"(2.0 is both CPUs busy; above that, other work shared the machine)")


def report(results, scenarios, keys, idle):
    labels = {k: l for k, l, _ in KEEPALIVE}
    labels.update({h[0]: h[1] for h in HANDSHAKES})
    tables = []
    for s in scenarios:
        workers, proxy_cpus, load_cpus = SCENARIOS[s]
        lines = [f"**{s}**: {workers} worker{'s' if workers > 1 else ''}, proxy on CPU {proxy_cpus}, "
                 f"load on CPU {load_cpus}", "",
                 "| measurement | veer /s | nginx /s | veer/nginx /s | veer CPU µs/op | nginx CPU µs/op | "
                 "veer/nginx CPU (quartiles) | veer ops per CPU-s | nginx ops per CPU-s | resumed veer / nginx |",
                 "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for k in keys:
            (vr, vc, vres), (nr, nc, nres) = results[("veer", s, k)], results[("nginx", s, k)]
            rate_ratio, cpu_ratio = results[("ratio", s, k)]
            resumed = f"{vres:.0%} / {nres:.0%}" if vres is not None else "-"
            lines.append(f"| {labels[k]} | {vr:.0f} | {nr:.0f} | {rate_ratio[0]:.2f}x | {vc:.1f} | {nc:.1f} | "
                         f"**{cpu_ratio[0]:.2f}x** ({cpu_ratio[1]:.2f}-{cpu_ratio[2]:.2f}) | {1e6 / vc:.0f} | "
                         f"{1e6 / nc:.0f} | {resumed} |")
        tables.append("\n".join(lines))
    # Scaling: per-op CPU with two workers against one, per proxy (contention shows here).
    scaling = []
    if "1w" in scenarios:
        lines = ["| measurement | " + " | ".join(f"veer {s}/1w CPU | nginx {s}/1w CPU" for s in scenarios
                                                    if s != "1w") + " |",
                 "| --- |" + " ---: | ---: |" * (len(scenarios) - 1)]
        for k in keys:
            cells = []
            for s in scenarios:
                if s == "1w":
                    continue
                for p in PROXIES:
                    cells.append(f"{results[(p, s, k)][1] / results[(p, '1w', k)][1]:.2f}x")
            lines.append(f"| {labels[k]} | " + " | ".join(cells) + " |")
        if len(scenarios) > 1:
            scaling.append("\n".join(lines))
    idle_table = ""
    if idle:
        v, n = idle["veer"][0], idle["nginx"][0]
        idle_table = ("| RSS per idle TLS client (KiB) | veer | nginx | veer/nginx |\n| --- | ---: | ---: | ---: |\n"
                      f"| {idle['veer'][1]} idle keep-alive TLS 1.3 clients, one worker | {v:.2f} | {n:.2f} | "
                      f"{v / n:.2f}x |\n")
    command = " ".join(["bench/tls.py"] + sys.argv[1:])
    machine = f"{os.cpu_count()} CPUs, {os.uname().sysname} {os.uname().release}"
    text = "\n\n".join(tables)
    scale_text = ("\n\nPer-operation proxy CPU with two workers against one (above 1.00x: the second "
                  "worker costs CPU per operation; threads contending on a lock would show here, "
                  "in the spread placement):\n\n" + scaling[0]) if scaling else ""
    section = f"""## TLS termination: veer against nginx (issue 13)

Reproduce: `{command}` (after a Release build).

Setup: veer and nginx 1.22 with the same self-signed ECDSA P-256 and RSA 2048
certificates (openssl CLI), TLS 1.2 and 1.3 enabled, one suite each
({SUITE13}; {CIPHERS12.replace(':', ', ')}), tickets on, server session cache
off on both (veer `session_cache = 0`, nginx `ssl_session_cache off`), SO_REUSEPORT
listeners, no access log, in front of the e2e backends. Keep-alive: wrk -t1
-c{args.connections} over https, the client pinned to the version and suite by OPENSSL_CONF,
ECDSA certificate. New connections: bench/tls_load.cpp (C++, OpenSSL, one thread,
{args.handshake_conns} connections in flight): connect, TLS 1.3 handshake, one GET with
`Connection: close`, read the response, close. Handshakes are full (no ticket offered),
or resumed: "newest ticket" offers the latest ticket the server sent, each ticket once, as
browsers (and OpenSSL's client) do, so a server that sends no fresh ticket after a
resumption gets a full handshake on the next connection; "one ticket reused" offers the
first ticket on every connection: the cost of a resumption alone. The last column is the
share of connections that resumed.
"CPU µs/op" is utime+stime of the proxy's processes (/proc) per request or per
handshake+request, which does not depend on the client's speed; "ops per CPU-s" is its
inverse (handshakes per second per core). {args.rounds} interleaved rounds of {args.duration} s
(veer and nginx back to back in each, the order alternating), medians; the veer/nginx
columns are the medians of the ratios paired round by round, with their quartiles in
brackets: the spread that the machine's background load left. Machine: {machine}; {time.strftime('%Y-%m-%d')}; {load_note()}.
Target: veer/nginx CPU at most 1.00x.

{text}{scale_text}

{idle_table}"""
    print("\n" + section)
    if not args.no_write:
        e2e.replace_section(args.out, "tls", section)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--handshake-conns", type=int, default=32)
    parser.add_argument("--scenarios", default="1w,2w-cpu0,2w-spread")
    parser.add_argument("--proxies", default="veer,nginx", help="for trying the script: nginx alone")
    parser.add_argument("--only", default="", help="comma-separated measurement keys (ka13, ka12, full_ec, ...)")
    parser.add_argument("--idle", type=int, default=5000, help="idle TLS clients held; 0 skips")
    parser.add_argument("--veer", default=os.path.join(ROOT, "build", "veer"))
    parser.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    parser.add_argument("--no-write", action="store_true", help="print the section, leave RESULTS.md alone")
    args = parser.parse_args()
    main()
