#!/usr/bin/env python3
"""Writes the hand-made seeds of fuzz/corpus/<target>/ (seed-*; files the fuzzer added
are named by their SHA-1). Re-run after changing an input layout: python3 fuzz/make_seeds.py
"""
import pathlib
import ssl
import subprocess
import tempfile
import warnings

ROOT = pathlib.Path(__file__).resolve().parent
CORPUS = ROOT / "corpus"


def write(target, name, data):
    folder = CORPUS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"seed-{name}").write_bytes(data if isinstance(data, bytes) else data.encode())


# --- fuzz_admin_router: FuzzedDataProvider's layout (see fuzz_admin_router.cpp).
TOKEN = "fuzz-token-0123456789"


def fdp_string(s):
    # ConsumeRandomLengthString: "\\" is one backslash, "\\" + another byte ends it.
    # Characters below 256 are written as single bytes (latin-1), so "\x9b" is byte 0x9b.
    return s.encode("latin-1").replace(b"\\", b"\\\\") + b"\\ "


def admin_input(requests, tokens=False, fail=False):
    front, back = b"", []
    back += [int(tokens), int(fail)]  # consumed first, from the end
    for r in requests:
        fields = [r.get(k, "") for k in ("method", "target", "authorization", "if_match",
                                         "content_type", "host", "origin", "sec_fetch_site",
                                         "body")]
        front += b"".join(fdp_string(f) for f in fields)
        back.append(int(r.get("too_large", False)))
    return front + bytes(reversed(back))


JSON = "application/json"
AUTH = "Bearer " + TOKEN
admin_seeds = {
    "healthz": [{"method": "GET", "target": "/healthz"}],
    "readyz": [{"method": "GET", "target": "/readyz"}],
    "metrics": [{"method": "GET", "target": "/metrics"}],
    "config": [{"method": "GET", "target": "/api/v1/config"}],
    "pools": [{"method": "GET", "target": "/api/v1/pools"}],
    "pool": [{"method": "GET", "target": "/api/v1/pools/blue"}],
    "split": [{"method": "GET", "target": "/api/v1/splits/rpc"}],
    "reload": [{"method": "POST", "target": "/api/v1/reload", "content_type": JSON}],
    "drain": [{"method": "PATCH", "target": "/api/v1/pools/blue/backends/127.0.0.1:19001",
               "content_type": JSON, "body": '{"state":"drain"}'}],
    "down-up": [{"method": "PATCH", "target": "/api/v1/pools/green/backends/127.0.0.1:19011",
                 "content_type": JSON, "body": '{"state":"down"}'},
                {"method": "PATCH", "target": "/api/v1/pools/green/backends/127.0.0.1:19011",
                 "content_type": JSON, "if_match": '"2"', "body": '{"state":"up"}'}],
    "weight": [{"method": "PATCH", "target": "/api/v1/pools/blue/backends/127.0.0.1:19002",
                "content_type": JSON, "body": '{"weight":7}'}],
    "add": [{"method": "PUT", "target": "/api/v1/pools/green/backends/127.0.0.1:19013",
             "content_type": JSON, "body": '{"weight":2,"backup":false}'}],
    "add-ipv6": [{"method": "PUT", "target": "/api/v1/pools/blue/backends/%5B::1%5D:19004",
                  "content_type": JSON, "body": '{"backup":true}'}],
    "remove": [{"method": "DELETE",
                "target": "/api/v1/pools/blue/backends/127.0.0.1:19001?drain=5s",
                "content_type": JSON}],
    "split-put": [{"method": "PUT", "target": "/api/v1/splits/rpc", "content_type": JSON,
                   "body": '{"targets":{"blue":0,"green":100}}'},
                  {"method": "GET", "target": "/api/v1/splits/rpc"}],
    "split-bad": [{"method": "PUT", "target": "/api/v1/splits/rpc", "content_type": JSON,
                   "body": '{"targets":{"nope":1}}'}],
    "typo": [{"method": "PATCH", "target": "/api/v1/pools/blue/backends/127.0.0.1:19001",
              "content_type": JSON, "body": '{"wieght":5}'}],
    "three-segments": [{"method": "POST", "target": "/api/v1/pools", "content_type": JSON}],
    "cross-site": [{"method": "POST", "target": "/api/v1/reload",
                    "content_type": "application/x-www-form-urlencoded",
                    "origin": "https://evil.example", "sec_fetch_site": "cross-site",
                    "host": "127.0.0.1:9901"}],
    "too-large": [{"method": "PUT", "target": "/api/v1/splits/rpc", "content_type": JSON,
                   "body": '{"targets":', "too_large": True}],
    "if-match-stale": [{"method": "PATCH", "if_match": '"99"', "content_type": JSON,
                        "target": "/api/v1/pools/blue/backends/127.0.0.1:19001",
                        "body": '{"state":"down"}'}],
    "head": [{"method": "HEAD", "target": "/api/v1/pools"}],
    "options": [{"method": "OPTIONS", "target": "/api/v1/pools/blue"}],
    "nginx": [{"method": "GET", "target": "/api/v1/export/nginx"}],
    # Rate-limit policies: list, one with a key's state, changes, malformed keys and bodies.
    "limits": [{"method": "GET", "target": "/api/v1/limits"}],
    "limit-key": [{"method": "GET", "target": "/api/v1/limits/per_client?key=203.0.113.7"}],
    "limit-key-parts": [{"method": "GET",
                         "target": "/api/v1/limits/by_key?key=203.0.113.7%7C%5B::1%5D%7Cpublic:*/"}],
    "limit-key-bad": [{"method": "GET", "target": "/api/v1/limits/by_key?key=%7C%7C%7C%5B"}],
    "limit-put": [{"method": "PUT", "target": "/api/v1/limits/per_client", "content_type": JSON,
                   "body": '{"rate":"50/s","burst":10,"delay":2}'},
                  {"method": "GET", "target": "/api/v1/limits/per_client"},
                  {"method": "DELETE", "target": "/api/v1/overrides", "content_type": JSON}],
    "limit-put-bad": [{"method": "PUT", "target": "/api/v1/limits/by_key", "content_type": JSON,
                       "body": '{"rate":"18446744073709551616/s","burst":-1}'}],
    "limit-put-unknown": [{"method": "PUT", "target": "/api/v1/limits/%00nope",
                           "content_type": JSON, "body": '{"brust":1}'}],
    # Rollouts: start, read, act, a refused split change while steered, delete; bad bodies.
    "rollout-life": [{"method": "POST", "target": "/api/v1/rollouts", "content_type": JSON,
                      "body": '{"name":"r1","split":"rpc","stable":"blue","canary":"green",'
                              '"steps":[1,5,25,50,100],"min_step":"30s","max_step":"10m",'
                              '"guards":{"error_ratio":{"tolerance":0.01,"alpha":0.05},'
                              '"latency":{"quantile":0.99,"tolerance_ms":50,"alpha":0.05}}}'},
                     {"method": "GET", "target": "/api/v1/rollouts/r1"},
                     {"method": "PUT", "target": "/api/v1/splits/rpc", "content_type": JSON,
                      "body": '{"targets":{"blue":0,"green":100}}'},
                     {"method": "POST", "target": "/api/v1/rollouts/r1/pause",
                      "content_type": JSON},
                     {"method": "POST", "target": "/api/v1/rollouts/r1/promote",
                      "content_type": JSON},
                     {"method": "POST", "target": "/api/v1/rollouts/r1/abort",
                      "content_type": JSON},
                     {"method": "DELETE", "target": "/api/v1/rollouts/r1", "content_type": JSON},
                     {"method": "GET", "target": "/api/v1/rollouts"}],
    "rollout-bad": [{"method": "POST", "target": "/api/v1/rollouts", "content_type": JSON,
                     "body": '{"name":"r2","split":"rpc","stable":"blue","canary":"blue",'
                             '"steps":[50,5,1e308,-1],"guards":{"latency":{"quantile":2}}}'},
                    {"method": "POST", "target": "/api/v1/rollouts/r2/fly", "content_type": JSON},
                    {"method": "POST", "target": "/api/v1/rollouts", "content_type": JSON,
                     "body": '{"name":"r3","split":"rpc","stable":"blue","canary":"green",'
                             '"steps":[0.5,100],"stpes":[1]}'}],
    "status-page": [{"method": "GET", "target": "/"}],
}
for name, requests in admin_seeds.items():
    write("fuzz_admin_router", name, admin_input(requests))
for name in ("pools", "drain", "split-put"):
    with_token = [dict(r, authorization=AUTH) for r in admin_seeds[name]]
    write("fuzz_admin_router", name + "-token", admin_input(with_token, tokens=True))
write("fuzz_admin_router", "bad-token",
      admin_input([{"method": "GET", "target": "/api/v1/pools",
                    "authorization": "bearer wrong-token-0000000"}], tokens=True))
# Found by fuzzing: a 415 echoing a Content-Type with an invalid UTF-8 byte is not JSON.
write("fuzz_admin_router", "invalid-utf8-415",
      admin_input([{"method": "POST", "target": "/api/v1/reload",
                    "content_type": "a\x9bplication/json", "sec_fetch_site": "X "}]))
# ... and so is a 404 naming a percent-decoded pool name that is not UTF-8.
write("fuzz_admin_router", "invalid-utf8-404",
      admin_input([{"method": "GET", "target": "/api/v1/pools/%FF"}]))
write("fuzz_admin_router", "apply-fails", admin_input(admin_seeds["drain"], fail=True))
write("fuzz_admin_router", "reload-fails", admin_input(admin_seeds["reload"], fail=True))

# --- fuzz_http_head: one byte (piece size, HEAD flag) and a head.
heads = {
    "get": "GET /a/b?c=1 HTTP/1.1\r\nHost: rpc.example.com:8545\r\nX-A: 1\r\n\r\n",
    "post-jsonrpc": "POST / HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\n"
                    "Content-Length: 58\r\n\r\n",
    "chunked": "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
    "websocket": "GET /ws HTTP/1.1\r\nHost: node:8546\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                 "Sec-WebSocket-Version: 13\r\n\r\n",
    "absolute": "GET http://node:8545 HTTP/1.1\r\nHost: other\r\n\r\n",
    "absolute-path": "GET http://node:8545/x?y HTTP/1.1\r\n\r\n",
    "http10": "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "request-id": "GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: 4bf92f3577b34da6\r\n"
                  "Connection: close, X-Foo\r\nX-Foo: bar\r\n\r\n",
    "smuggle": "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n"
               "Transfer-Encoding: chunked\r\n\r\n",
    "obs-fold": "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
    "bare-lf": "GET / HTTP/1.1\nHost: a\n\n",
    "fragment": "GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n",
    "response-200": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: text/plain\r\n\r\n",
    "response-chunked": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
    "response-101": "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    "response-204": "HTTP/1.1 204 \r\n\r\n",
    "response-10": "HTTP/1.0 200 OK\r\n\r\n",
}
for i, (name, head) in enumerate(heads.items()):
    flag = 0x80 if name == "response-200" else 0
    write("fuzz_http_head", name, bytes([flag | (i * 7 % 64)]) + head.encode())

# --- fuzz_chunked: one byte (piece size, small line limit) and a body.
bodies = {
    "hello": "5\r\nhello\r\n0\r\n\r\n",
    "two": "3\r\nabc\r\nA\r\n0123456789\r\n0\r\n\r\n",
    "extension": "5;name=value;x\r\nhello\r\n0;last\r\n\r\n",
    "trailer": "4\r\nwxyz\r\n0\r\nX-Checksum: 1\r\nX-B: 2\r\n\r\n",
    "upper-hex": "1F\r\n" + "a" * 31 + "\r\n0\r\n\r\n",
    "leading-zeros": "0005\r\nhello\r\n0\r\n\r\n",
    "bws": "5 \r\nhello\r\n0\r\n\r\n",
    "bare-lf": "5\nhello\n0\n\n",
    "overflow": "ffffffffffffffffff\r\n",
    "sign": "+5\r\nhello\r\n0\r\n\r\n",
    "no-crlf-after-data": "5\r\nhelloX0\r\n\r\n",
}
for i, (name, body) in enumerate(bodies.items()):
    write("fuzz_chunked", name, bytes([i * 5 % 64]) + body.encode())
write("fuzz_chunked", "small-lines", bytes([0x83]) + b"5;a-long-extension-here\r\nhello\r\n0\r\n\r\n")

# --- fuzz_jsonrpc_ids: a request body as a JSON-RPC client sends it.
jsonrpc_bodies = {
    "single": '{"jsonrpc":"2.0","method":"eth_blockNumber","params":[],"id":1}',
    "string-id": '{"jsonrpc":"2.0","method":"eth_call","params":[{"to":"0x0"},"latest"],"id":"q-1"}',
    "escaped-id": '{"id":"a\\"b\\u00e9\\ud83d\\ude00","method":"x"}',
    "number-id": '{"id":-12.5e+3,"method":"x"}',
    "null-id": '{"id":null,"method":"x"}',
    "notification": '{"jsonrpc":"2.0","method":"eth_subscribe"}',
    "escaped-name": '{"\\u0069d":9}',
    "two-ids": '{"id":1,"id":2}',
    "batch": '[{"jsonrpc":"2.0","id":1,"method":"a"}, {"id":"two"}, {"method":"n"}, 5, {"id":[1]}]',
    "empty-batch": "[]",
    "nested": '{"id":7,"params":[[[{"a":[true,false,null,1.5e-3]}]]]}',
    "truncated": '{"jsonrpc":"2.0","id":1,"method":"a"',
    "utf8": '{"id":"caf\u00e9","method":"\u2603"}',
}
for name, body in jsonrpc_bodies.items():
    write("fuzz_jsonrpc_ids", name, body)
write("fuzz_jsonrpc_ids", "bad-utf8", b'{"id":"\xc0\xaf"}')

# --- fuzz_jsonrpc_request: a request body; fuzz_jsonrpc_response: a backend's answer.
rpc_requests = {
    "single": '{"jsonrpc":"2.0","method":"eth_blockNumber","params":[],"id":1}',
    "eth-call": '{"jsonrpc":"2.0","method":"eth_call","params":[{"to":"0x00000000000000000000000000000000000000aa","data":"0x70a08231"},"latest"],"id":"q-1"}',
    "get-logs": '{"jsonrpc":"2.0","method":"eth_getLogs","params":[{"fromBlock":"0x1","toBlock":"0x2710","topics":[["0xab",null]]}],"id":3}',
    "block-hash-param": '{"jsonrpc":"2.0","method":"eth_getBalance","params":["0xab",{"blockHash":"0x' + "a" * 64 + '","requireCanonical":true}],"id":4}',
    "block-number-param": '{"jsonrpc":"2.0","method":"eth_getCode","params":["0xab",{"blockNumber":"0x10"}],"id":5}',
    "notification": '{"jsonrpc":"2.0","method":"eth_subscribe","params":["newHeads"]}',
    "batch": '[{"jsonrpc":"2.0","method":"eth_chainId","id":1},{"jsonrpc":"2.0","method":"eth_getBlockByNumber","params":["latest",false],"id":2}]',
    "batch-invalid-items": '[1,"x",{"jsonrpc":"1.0","method":"a","id":1},{"jsonrpc":"2.0","id":2},{"jsonrpc":"2.0","method":"ok","id":3}]',
    "batch-long": "[" + ",".join('{"jsonrpc":"2.0","method":"eth_blockNumber","id":%d}' % i for i in range(12)) + "]",
    "empty-batch": "[]",
    "duplicates": '{"jsonrpc":"2.0","method":"a","\\u006dethod":"b","id":1,"id":2}',
    "escapes": '{"jsonrpc":"2\\u002e0","method":"eth_call","id":"a\\"b\\u00e9\\ud83d\\ude00","params":["\\n\\/"]}',
    "object-params": '{"jsonrpc":"2.0","method":"m","params":{"a":[1,{"b":null}]},"id":null}',
    "bad-params": '{"jsonrpc":"2.0","method":"m","params":3,"id":1}',
    "send-raw": '{"jsonrpc":"2.0","method":"eth_sendRawTransaction","params":["0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"],"id":9}',
    "deep": '{"jsonrpc":"2.0","method":"m","id":1,"params":' + "[" * 70 + "]" * 70 + "}",
    "truncated": '[{"jsonrpc":"2.0","method":"eth_call","params":[{"to":"0x1"},"lat',
    "scalar": '"eth_blockNumber"',
    "numbers": '{"jsonrpc":"2.0","method":"m","params":[0,-0,1.5e-3,1E+9,-12],"id":-1.5e3}',
}
for name, body in rpc_requests.items():
    write("fuzz_jsonrpc_request", name, body)
write("fuzz_jsonrpc_request", "bad-utf8", b'{"jsonrpc":"2.0","method":"m","id":"\xc0\xaf"}')

rpc_responses = {
    "result": '{"jsonrpc":"2.0","id":1,"result":"0x10"}',
    "null-result": '{"jsonrpc":"2.0","id":1,"result":null}',
    "object-result": '{"jsonrpc":"2.0","id":"a","result":{"number":"0x10","hash":"0x' + "b" * 64 + '","transactions":[]}}',
    "error": '{"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"header not found"}}',
    "error-data": '{"jsonrpc":"2.0","id":2,"error":{"code":3,"message":"execution reverted","data":"0x08c379a0"}}',
    "internal": '{"jsonrpc":"2.0","id":3,"error":{"code":-32603,"message":"Internal error"}}',
    "limited": '{"jsonrpc":"2.0","id":4,"error":{"code":-32005,"message":"rate limit exceeded","data":{"retry":1}}}',
    "already-known": '{"jsonrpc":"2.0","id":5,"error":{"code":-32000,"message":"already known"}}',
    "escaped-message": '{"jsonrpc":"2.0","id":6,"error":{"code":-32000,"message":"nonce too low: \\"4\\" \\u00e9"}}',
    "both": '{"jsonrpc":"2.0","id":1,"result":1,"error":{"code":1,"message":"x"}}',
    "neither": '{"jsonrpc":"2.0","id":1}',
    "error-null": '{"jsonrpc":"2.0","id":1,"result":"0x1","error":null}',
    "batch": '[{"jsonrpc":"2.0","id":1,"result":"0x1"},{"jsonrpc":"2.0","id":2,"error":{"code":-32601,"message":"the method x does not exist"}}]',
    "batch-bad-item": '[{"jsonrpc":"2.0","id":1,"result":"0x1"},{"id":2}]',
    "empty-batch": "[]",
    "float-code": '{"jsonrpc":"2.0","id":1,"error":{"code":1.5,"message":"x"}}',
    "truncated": '{"jsonrpc":"2.0","id":1,"result":{"number":"0x1',
    "subscription": '{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":"0x1","result":{"number":"0x10"}}}',
    "id-types": '[{"id":"x","result":1},{"id":null,"result":2},{"id":-1.5e3,"result":3}]',
}
for name, body in rpc_responses.items():
    write("fuzz_jsonrpc_response", name, body)
write("fuzz_jsonrpc_response", "bad-utf8", b'{"jsonrpc":"2.0","id":1,"result":"\xed\xa0\x80"}')

# --- fuzz_proxy_protocol: one byte (piece size) and what a connection starts with.
def be16(v):
    return bytes([v >> 8, v & 0xff])


def proxy_v2(ver_cmd, family, payload):
    return b"\r\n\r\n\x00\r\nQUIT\n" + bytes([ver_cmd, family]) + be16(len(payload)) + payload


tcp4 = bytes([192, 0, 2, 1, 198, 51, 100, 2]) + be16(56324) + be16(443)
tcp6 = (bytes.fromhex("20010db8000000000000000000000007") +
        bytes.fromhex("20010db8000000000000000000000001") + be16(40000) + be16(8443))
tlvs = b"\x01" + be16(2) + b"h2" + b"\x04" + be16(0) + b"\xea" + be16(9) + b"vpce-0123"
proxy_headers = {
    "v1-tcp4": b"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\nGET / HTTP/1.1\r\n\r\n",
    "v1-tcp6": b"PROXY TCP6 2001:db8::7 2001:db8::1 40000 8443\r\n\x16\x03\x01",
    "v1-longest": b"PROXY TCP6 " + b"ffff:" * 7 + b"ffff " + b"ffff:" * 7 + b"ffff 65535 65535\r\n",
    "v1-unknown": b"PROXY UNKNOWN\r\n",
    "v1-bad-port": b"PROXY TCP4 192.0.2.1 198.51.100.2 080 443\r\n",
    "v1-bare-lf": b"PROXY TCP4 192.0.2.1 198.51.100.2 1 2\n",
    "v1-too-long": b"PROXY UNKNOWN " + b"a" * 120 + b"\r\n",
    "v2-tcp4": proxy_v2(0x21, 0x11, tcp4) + b"GET / HTTP/1.1\r\n\r\n",
    "v2-tcp4-tlvs": proxy_v2(0x21, 0x11, tcp4 + tlvs),
    "v2-tcp6": proxy_v2(0x21, 0x21, tcp6) + b"\x16\x03\x01",
    "v2-local": proxy_v2(0x20, 0x00, b""),
    "v2-unspec": proxy_v2(0x21, 0x00, b"ignored"),
    "v2-udp": proxy_v2(0x21, 0x12, tcp4),
    "v2-short": proxy_v2(0x21, 0x21, tcp4),
    "v2-tlv-overrun": proxy_v2(0x21, 0x11, tcp4 + b"\x01" + be16(9) + b"abc"),
    "http": b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
}
for i, (name, data) in enumerate(proxy_headers.items()):
    write("fuzz_proxy_protocol", name, bytes([i * 5 % 64]) + data)

# --- fuzz_health_answer: one byte (0 http, 1 jsonrpc head tracking, 2 net_version;
# +4 a configured chain_id) and a backend's whole answer.
def health_answer(body, status="200 OK", chunked=False):
    if chunked:
        return (f"HTTP/1.1 {status}\r\nTransfer-Encoding: chunked\r\n\r\n"
                f"{len(body):x}\r\n{body}\r\n0\r\n\r\n")
    return f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\n\r\n{body}"


HEAD_BATCH = ('[{"jsonrpc":"2.0","id":1,"result":"0x64"},{"jsonrpc":"2.0","id":2,"result":false},'
              '{"jsonrpc":"2.0","id":3,"result":"0x1"}]')
for name, kind, answer in [
    ("http-ok", 0, health_answer("ok")),
    ("http-503", 0, health_answer("", "503 Unavailable")),
    ("heads-batch", 1, health_answer(HEAD_BATCH)),
    ("heads-batch-chain", 5, health_answer(HEAD_BATCH.replace('"0x1"}', '"0x5"}'))),
    ("heads-syncing", 1, health_answer('[{"id":1,"result":"0x64"},{"id":2,"result":'
                                       '{"currentBlock":"0x64","highestBlock":"0xc8"}}]')),
    ("heads-single", 1, health_answer('{"jsonrpc":"2.0","id":1,"result":"0x10"}')),
    ("heads-error", 1, health_answer('{"jsonrpc":"2.0","id":null,"error":{"code":-32600}}')),
    ("heads-chunked", 1, health_answer(HEAD_BATCH, chunked=True)),
    ("net-version", 2, health_answer('{"jsonrpc":"2.0","id":1,"result":"1"}')),
]:
    write("fuzz_health_answer", name, bytes([kind]) + answer.encode())

# --- fuzz_forwarded: one byte (bit 0: a trusted peer; bits 1-7: line i is Forwarded when
# bit 1 + i % 7 is set) and field values, one per line.
forwarded_inputs = {
    "xff-chain": (0x01, "1.1.1.1, 203.0.113.9, 10.9.9.9\n10.1.1.1"),
    "xff-ports": (0x01, "203.0.113.9:5555 ,, [2001:db8:ffff::5]:443 ,\n[2001:db8::1]"),
    "xff-unknown": (0x01, "203.0.113.9, unknown, 10.2.2.2"),
    "xff-untrusted": (0x00, "203.0.113.9"),
    "forwarded": (0x03, 'for="[2001:db8::1]:4711";proto=https, for=10.5.5.5'),
    "forwarded-quoted": (0x03, 'for=203.0.113.1, for=198.51.100.2;ext="a,b"'),
    "forwarded-escaped": (0x03, 'for="\\[2001:db8::5\\]"'),
    "forwarded-obfuscated": (0x03, "for=_hidden, for=10.3.3.3:_port"),
    "forwarded-broken": (0x03, 'for="203.0.113.1;for=2001:db8::1'),
    "mixed": (0x05, "for=1.1.1.1\n203.0.113.9, 10.0.0.5"),
    "long-chain": (0x01, ", ".join(["203.0.113.9"] + [f"10.0.0.{i}" for i in range(40)])),
}
for name, (control, text) in forwarded_inputs.items():
    write("fuzz_forwarded", name, bytes([control]) + text.encode())

# --- fuzz_config: the example, the fake runtime's config, a file with every table, errors.
write("fuzz_config", "veer-example", (ROOT.parent / "conf" / "veer.toml").read_text())
full = """[server]
workers = 2
io_engine = "epoll"
access_log = "off"
state_file = ""

[timeouts]
client_header = "10s"
client_idle = "60s"
client_body = "60s"
client_send = "60s"
upstream_connect = "500ms"
upstream_response = "30s"
upstream_idle = "60s"
tunnel_idle = "1h"
drain = "0s"

[limits]
max_header_bytes = 65536
max_body_bytes = 10485760
max_connections = 100000
max_idle_upstream = 1024

[listeners.public]
address = "127.0.0.1:0"
  [[listeners.public.routes]]
  host = "api.example.com"
  path_prefix = "/v1"
  target = "rpc"
  [[listeners.public.routes]]
  path_prefix = "/ws"
  target = "hashed"
  [[listeners.public.routes]]
  target = "blue"

[pools.blue]
strategy = "least_connections"
backends = ["127.0.0.1:19001", { address = "[::1]:19002", weight = 3, backup = true }]
health = { type = "http", path = "/health", method = "GET", expect = "200-399", body = "ok", headers = { "Authorization" = "Bearer x" }, host = "node", interval = "2s", timeout = "1s", jitter = "100ms", rise = 2, fall = 3 }
outlier = { consecutive_failures = 3, base_ejection = "10s", max_ejection = "300s", max_ejected_percent = 50 }
retries = { attempts = 2, budget_percent = 20, budget_min = 10 }
slow_start = "10s"
panic_threshold = 50

[pools.green]
strategy = "least_response_time"
backends = ["127.0.0.1:19011"]
health = { type = "jsonrpc", interval = "2s", timeout = "1s", rise = 2, fall = 2, max_lag_blocks = 8 }

[pools.hashed]
strategy = "ip_hash"
hash_key = "header:X-Key"
backends = [{ address = "127.0.0.1:19021", weight = 5 }, "127.0.0.1:19022"]
health = { type = "tcp", interval = "1s" }

[splits.rpc]
targets = { blue = 90, green = 10 }
sticky = "cookie:session"
override_header = "X-Veer-Version"
override_cookie = "veer-version"
failover = true
target_header = "X-Veer-Target"
drain_tunnels_after = "30s"

[admin]
address = "127.0.0.1:9901"
tokens = [ { name = "scaler", token = "0123456789abcdef0123" } ]
metrics = true
metrics_need_token = false

[limits.per_client]
rate = "100/s"
burst = 20
delay = 5
key = ["client_ip", "header:X-Api-Key", "cookie:session", "route"]
ipv4_prefix = 24
ipv6_prefix = 56
scope = "cluster"
dry_run = true
max_keys = 100000

[cluster]
redis = "127.0.0.1:6379"
instances = 2
lease = 5
timeout = "100ms"
key_prefix = "veer:"
"""
# Policies attached to a listener and a route, with the caps of both.
full = full.replace('address = "127.0.0.1:0"\n  [[listeners.public.routes]]\n  host',
                    'address = "127.0.0.1:0"\nlimits = ["per_client"]\n'
                    'max_connections_per_client = 64\n  [[listeners.public.routes]]\n'
                    '  max_in_flight = 100\n  limits = ["per_client"]\n  host')
write("fuzz_config", "every-table", full)
fake = (ROOT / "fake_runtime.hpp").read_text()
write("fuzz_config", "fake-runtime", fake.split('R"(', 1)[1].split(')"', 1)[0])
write("fuzz_config", "errors", """[server]
workers = "two"
worker = 3
[listeners.a]
address = "nowhere"
  [[listeners.a.routes]]
  target = "missing"
[pools.p]
strategy = "fastest"
backends = []
[splits.p]
targets = { p = 0 }
""")
write("fuzz_config", "limits-errors", """[limits]
max_conections = 1
[limits.p]
rate = "0/d"
burst = -1
key = ["header:x", "header:X", "ip"]
scope = "cluster"
[listeners.a]
address = "127.0.0.1:0"
limits = ["q", "p", "p"]
  [[listeners.a.routes]]
  target = "b"
  limits = "p"
[pools.b]
backends = ["127.0.0.1:1"]
[cluster]
redis = "127.0.0.1:0"
""")
# TLS on a listener (every key, both table forms) and to a pool's backends.
write("fuzz_config", "tls", """[timeouts]
tls_handshake = "5s"

[listeners.public]
address = "127.0.0.1:0"
tls = { cert = "/etc/veer/a.pem", key = "/etc/veer/a.key", certificates = [ { cert = "b.pem", key = "b.key" } ], min_version = "1.2", client_ca = "/etc/veer/clients.pem", verify = "optional", client_subject_header = "X-Client-Subject", client_fingerprint_header = "X-Client-Fingerprint" }
  [[listeners.public.routes]]
  target = "rpc"

[listeners.strict]
address = "127.0.0.1:0"
  [listeners.strict.tls]
  cert = "certs/a.pem"
  key = "certs/a.key"
  unknown_sni = "refuse"
  min_version = "1.3"
  ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256"
  ciphersuites = "TLS_AES_128_GCM_SHA256"
  curves = "X25519:P-256"
  session_tickets = true
  ticket_key_file = "/run/veer/tickets.key"
  ticket_key_rotation = "12h"
  session_cache = 0
  [[listeners.strict.routes]]
  target = "rpc"

[pools.rpc]
backends = ["127.0.0.1:19001"]
tls = { verify = true, ca = "/etc/veer/upstream-ca.pem", sni = "node.internal", cert = "c.pem", key = "c.key" }
""")
write("fuzz_config", "identity", """[timeouts]
proxy_protocol = "5s"

[listeners.edge]
address = "127.0.0.1:0"
trusted_proxies = ["10.0.0.0/8", "::1", "2001:db8::/32"]
proxy_protocol = true
  [[listeners.edge.routes]]
  target = "rpc"

[pools.rpc]
backends = ["127.0.0.1:19001"]
""")
# Rollouts on the fake runtime's split: one valid, one breaking each rule.
fake_toml = fake.split('R"(', 1)[1].split(')"', 1)[0]
write("fuzz_config", "rollouts", fake_toml + """[rollouts.r1]
split = "rpc"
stable = "blue"
canary = "green"
steps = [0.5, 5, 25, 50, 100]
min_step = "30s"
max_step = "10m"
guards = { error_ratio = { tolerance = 0.01, alpha = 0.05 },
           latency = { quantile = 0.99, tolerance_ms = 50, alpha = 0.05 } }
""")
write("fuzz_config", "rollouts-errors", fake_toml + """[rollouts."r 1"]
split = "rpc"
stable = "blue"
canary = "blue"
steps = [5, 1, 1.234, 101, "x"]
min_step = "1m"
max_step = "30s"
guards = { latncy = {}, error_ratio = { tolerance = 1, alpha = 0 } }
[rollouts.r2]
split = "rpc"
stable = "green"
canary = "purple"
stepz = [1]
[rollouts.r3]
split = "nope"
guards = 3
""")
write("fuzz_config", "unicode-string", '[server]\naccess_log = "/tmp/jöurnal.log"\n# cömment\n')
write("fuzz_config", "syntax", "[pools.x\nbackends = [\"127.0.0.1:1\",\n")
# toml++ 3.3.0 UB (TOML_UNREACHABLE): a non-ASCII byte in a bare key, or glued to a value.
write("fuzz_config", "toml-ub-bare-key", "[p\u00f6\u00f6ls]\n")
write("fuzz_config", "toml-ub-glued-value", "a = 1\"\u00f6\"\n")

# --- fuzz_state_file: what state_to_json writes, and near misses.
write("fuzz_state_file", "empty", '{"format":1,"pools":{},"splits":{},"disabled":{},"drained":{}}\n')
write("fuzz_state_file", "full",
      '{"format":1,"pools":{"blue":{"backends":[{"address":"127.0.0.1:19001","weight":1,'
      '"backup":false},{"address":"[::1]:19003","weight":4,"backup":true}]}},'
      '"splits":{"rpc":{"targets":{"blue":0,"green":100}}},'
      '"disabled":{"green":["127.0.0.1:19011"]},"drained":{"blue":["127.0.0.1:19001"]}}\n')
write("fuzz_state_file", "unknown-pool",
      '{"format":1,"pools":{"gone":{"backends":[]}},"splits":{"rpc":{"targets":{"gone":1}}}}')
write("fuzz_state_file", "wrong-types",
      '{"pools":{"blue":{"backends":[{"address":1,"weight":"x","backup":null}]}}}')
write("fuzz_state_file", "big-weight",
      '{"splits":{"rpc":{"targets":{"blue":18446744073709551615,"green":1.5e3}}}}')
write("fuzz_state_file", "not-object", '[1,2,3]')
# Format 2 (what veer writes now).
write("fuzz_state_file", "v2-empty", '{"format":2,"backends":{},"splits":{}}\n')
write("fuzz_state_file", "v2-full",
      '{"format":2,"backends":{"blue":{"127.0.0.1:19001":{"state":"drain"},'
      '"127.0.0.1:19002":{"weight":7,"file":{"weight":3,"backup":false}},'
      '"[::1]:19003":{"removed":true},"127.0.0.1:19004":{"added":true,"weight":2,"backup":true}},'
      '"green":{"127.0.0.1:19011":{"state":"down"}}},'
      '"splits":{"rpc":{"targets":{"blue":0,"green":100},"file":{"blue":90,"green":10}}}}\n')
write("fuzz_state_file", "v2-stale",
      '{"format":2,"backends":{"gone":{"127.0.0.1:1":{"added":true}}},'
      '"splits":{"rpc":{"targets":{"gone":1},"file":{"blue":1}}}}')
write("fuzz_state_file", "v2-limits",
      '{"format":2,"backends":{},"splits":{},"limits":{"per_client":{"rate":"50/s","burst":10,'
      '"file":{"rate":"100/s","burst":20,"delay":0}},"by_key":{"delay":3,'
      '"file":{"rate":"6000/m","burst":0,"delay":0}},"gone":{"burst":1,'
      '"file":{"rate":"1/h","burst":0,"delay":0}}}}\n')
write("fuzz_state_file", "v2-limits-bad",
      '{"format":2,"limits":{"per_client":{"rate":"0/s","burst":9223372036854775808,'
      '"file":{"rate":"100/s","burst":20}}}}')
write("fuzz_state_file", "v2-bad",
      '{"format":2,"backends":{"blue":{"127.0.0.1:19001":{"added":true,"removed":true,'
      '"state":"sleep","wieght":1}}}}')

# Rollouts beside the changes (admin/rollout_json.hpp): a record of each source, and
# near misses in the definition and the progress.
ROLLOUT_CONFIG = ('{"name":"r1","split":"rpc","stable":"blue","canary":"green",'
                  '"steps":[0.5,5,25,50,100],"min_step":"30s","max_step":"10m",'
                  '"guards":{"error_ratio":{"tolerance":0.01,"alpha":0.05},'
                  '"latency":{"quantile":0.99,"tolerance_ms":50,"alpha":0.05}}}')
ROLLOUT_PROGRESS = ('{"state":"running","step":1,"step_running_ms":12300,'
                    '"stable":{"requests":1980,"errors":2,"latency":[[0,1],[70,1900],[90,79]]},'
                    '"canary":{"requests":20,"errors":0,"latency":[[71,20]]},'
                    '"reason":"judging step 2 (5 %)",'
                    '"history":[{"unix_ms":1765083600123,"step":0,"weight_bp":50,'
                    '"event":"started","detail":"canary at 0.5 %"},'
                    '{"unix_ms":1765083630000,"step":1,"weight_bp":500,"event":"passed",'
                    '"detail":"n 1980/20"}]}')
write("fuzz_state_file", "v2-rollouts",
      '{"format":2,"backends":{},"splits":{"rpc":{"targets":{"blue":95,"green":5},'
      '"file":{"blue":90,"green":10}}},"rollouts":{"r1":{"source":"config","config":'
      + ROLLOUT_CONFIG + ',"progress":' + ROLLOUT_PROGRESS + '},'
      '"r2":{"source":"api","config":' + ROLLOUT_CONFIG.replace('"r1"', '"r2"')
      + ',"progress":{"state":"rolled_back","step":0}}}}\n')
write("fuzz_state_file", "v2-rollouts-bad",
      '{"format":2,"rollouts":{"r1":{"source":"file","config":'
      + ROLLOUT_CONFIG.replace('0.5,', '0.555,') + ',"progress":'
      + ROLLOUT_PROGRESS.replace('"running"', '"sideways"').replace('[90,79]', '[70,79]')
      + '}}}')

# --- fuzz_rollout_json: POST /api/v1/rollouts bodies, progress and evidence alone, a
# state file's record, and near misses.
write("fuzz_rollout_json", "body", ROLLOUT_CONFIG)
write("fuzz_rollout_json", "body-minimal",
      '{"name":"r","split":"rpc","stable":"blue","canary":"green","steps":[1,100]}')
write("fuzz_rollout_json", "body-bad",
      '{"name":"r 1","split":"rpc","stable":"blue","canary":"blue","steps":[5,1,1.234,101],'
      '"min_step":"1m","max_step":"30s","guards":{"latncy":{},"error_ratio":{"alpha":0}}}')
write("fuzz_rollout_json", "progress", ROLLOUT_PROGRESS)
write("fuzz_rollout_json", "evidence", '{"requests":3,"errors":1,"latency":[[0,1],[368,2]]}')
write("fuzz_rollout_json", "record",
      '{"source":"api","config":' + ROLLOUT_CONFIG + ',"progress":' + ROLLOUT_PROGRESS + '}')
write("fuzz_rollout_json", "record-bad",
      '{"source":"api","config":' + ROLLOUT_CONFIG + ',"progress":'
      + ROLLOUT_PROGRESS.replace('"step":1,', '"step":9,').replace('"errors":0', '"errors":21')
      + '}')

# --- fuzz_tls_handshake: one byte (piece size; 0 = all at once) and what a client sends.
# Real ClientHellos from Python's ssl module (the system OpenSSL) over memory BIOs; their
# randoms and key shares differ on every run, so re-running rewrites these seeds.
def client_flight(ctx, sni, server_ctx=None):
    """The client's bytes: its ClientHello, or with `server_ctx` every byte it sends in
    a whole handshake against that server (TLS 1.2: the client Certificate in the clear)."""
    c_in, c_out = ssl.MemoryBIO(), ssl.MemoryBIO()
    client = ctx.wrap_bio(c_in, c_out, server_hostname=sni)
    sent = b""
    server = None
    if server_ctx is not None:
        s_in, s_out = ssl.MemoryBIO(), ssl.MemoryBIO()
        server = server_ctx.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):
        try:
            client.do_handshake()
        except ssl.SSLWantReadError:
            pass
        out = c_out.read()
        sent += out
        if server is None:
            return sent
        s_in.write(out)
        try:
            server.do_handshake()
        except ssl.SSLWantReadError:
            pass
        c_in.write(s_out.read())
    return sent


def tls_client(minimum=ssl.TLSVersion.TLSv1_2, maximum=ssl.TLSVersion.TLSv1_3):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version, ctx.maximum_version = minimum, maximum
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    return ctx


def tls12_with_client_certificate():
    with tempfile.TemporaryDirectory() as d:
        for name in ("server", "client"):
            subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                            "ec_paramgen_curve:P-256", "-nodes", "-days", "3650", "-subj",
                            f"/CN={name}", "-keyout", f"{d}/{name}.key", "-out",
                            f"{d}/{name}.crt"], check=True, capture_output=True)
        server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server.load_cert_chain(f"{d}/server.crt", f"{d}/server.key")
        server.load_verify_locations(f"{d}/client.crt")
        server.verify_mode = ssl.CERT_OPTIONAL
        client = tls_client(maximum=ssl.TLSVersion.TLSv1_2)
        client.load_cert_chain(f"{d}/client.crt", f"{d}/client.key")
        return client_flight(client, "fuzz.example", server)


hello13 = client_flight(tls_client(), "fuzz.example")
write("fuzz_tls_handshake", "tls13-sni", b"\x00" + hello13)
write("fuzz_tls_handshake", "tls13-sni-in-pieces", b"\x07" + hello13)
write("fuzz_tls_handshake", "tls13-wildcard", b"\x00" + client_flight(tls_client(), "a.w.example"))
write("fuzz_tls_handshake", "tls13-no-sni", b"\x00" + client_flight(tls_client(), None))
write("fuzz_tls_handshake", "tls12-sni",
      b"\x00" + client_flight(tls_client(maximum=ssl.TLSVersion.TLSv1_2), "other.example"))
write("fuzz_tls_handshake", "tls12-client-certificate", b"\x00" + tls12_with_client_certificate())
with warnings.catch_warnings():  # TLS 1.0/1.1 are deprecated: that is the point
    warnings.simplefilter("ignore", DeprecationWarning)
    old = tls_client(ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_1)
old.set_ciphers("DEFAULT:@SECLEVEL=0")
write("fuzz_tls_handshake", "tls11", b"\x00" + client_flight(old, "fuzz.example"))
write("fuzz_tls_handshake", "plain-http", b"\x00GET / HTTP/1.1\r\nHost: fuzz.example\r\n\r\n")
write("fuzz_tls_handshake", "bad-record", b"\x05\x16\x03\x01\x00\x20" + b"\x7f" * 32)

# --- fuzz_redis_reply: byte 0 = units asked, then RESP2 bytes from the server.
write("fuzz_redis_reply", "lease-granted", b"\x05*3\r\n:5\r\n:0\r\n:50\r\n")
write("fuzz_redis_reply", "lease-partial", b"\x02*3\r\n:1\r\n:10\r\n:210\r\n")
write("fuzz_redis_reply", "lease-too-many", b"\x02*3\r\n:9\r\n:0\r\n:0\r\n")
write("fuzz_redis_reply", "lease-negative", b"\x02*3\r\n:-1\r\n:0\r\n:0\r\n")
write("fuzz_redis_reply", "noscript", b"\x02-NOSCRIPT No matching script. Please use EVAL.\r\n")
write("fuzz_redis_reply", "heartbeat", b"\x00:2\r\n")
write("fuzz_redis_reply", "nested", b"\x03*3\r\n*1\r\n:1\r\n$3\r\nabc\r\n+OK\r\n:7\r\n")
write("fuzz_redis_reply", "pipelined", b"\x02+PONG\r\n$40\r\n" + b"a" * 40 + b"\r\n*3\r\n:2\r\n:0\r\n:20\r\n")

# --- fuzz_websocket_frame: byte 0 = sender (0x80: client, masked) | read size - 1; then
# the wire.


def ws_frame(opcode, payload, fin=True, key=None):
    payload = payload if isinstance(payload, bytes) else payload.encode()
    head = bytes([(0x80 if fin else 0) | opcode])
    mask_bit = 0x80 if key is not None else 0
    n = len(payload)
    if n < 126:
        head += bytes([mask_bit | n])
    elif n <= 0xFFFF:
        head += bytes([mask_bit | 126]) + n.to_bytes(2, "big")
    else:
        head += bytes([mask_bit | 127]) + n.to_bytes(8, "big")
    if key is None:
        return head + payload
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


KEY = b"\x37\xfa\x21\x3d"
SUBSCRIBE = '{"jsonrpc":"2.0","id":1,"method":"eth_subscribe","params":["newHeads"]}'
NOTIFY = ('{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":'
          '"0x9cef478923ff08bf67fde6c64013158d","result":{"number":"0x1b4"}}}')
write("fuzz_websocket_frame", "client-subscribe", b"\x80" + ws_frame(1, SUBSCRIBE, key=KEY))
write("fuzz_websocket_frame", "client-in-pieces", b"\x83" + ws_frame(1, SUBSCRIBE, key=KEY))
write("fuzz_websocket_frame", "server-notification", b"\x05" + ws_frame(1, NOTIFY))
write("fuzz_websocket_frame", "server-fragmented",
      b"\x02" + ws_frame(1, NOTIFY[:20], fin=False) + ws_frame(9, "ping") +
      ws_frame(0, NOTIFY[20:50], fin=False) + ws_frame(0, NOTIFY[50:]))
write("fuzz_websocket_frame", "client-close", b"\x80" + ws_frame(8, b"\x03\xe8bye", key=KEY))
write("fuzz_websocket_frame", "server-close-1012", b"\x00" + ws_frame(8, b"\x03\xf4restart"))
write("fuzz_websocket_frame", "server-16bit", b"\x3f" + ws_frame(2, b"\x00" * 300))
write("fuzz_websocket_frame", "server-64bit", b"\x3f" + ws_frame(1, "a" * 70000))
write("fuzz_websocket_frame", "client-unmasked", b"\x80" + ws_frame(1, "hi"))
write("fuzz_websocket_frame", "reserved-bits", b"\x00\xc1\x00")
write("fuzz_websocket_frame", "bad-utf8", b"\x00" + ws_frame(1, b"\xc3\x28"))
