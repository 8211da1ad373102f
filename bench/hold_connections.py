#!/usr/bin/env python3
"""Opens N connections to a proxy and holds them idle, for memory measurements.

  hold_connections.py http PORT N    each connection sends one GET, reads the
                                     response, then stays open (idle keep-alive)
  hold_connections.py ws PORT N      each connection completes a WebSocket
                                     upgrade, then stays open (idle tunnel)

Prints "held N" once every connection is established, then waits for SIGTERM.
Bounded: gives up after 120 s."""
import asyncio
import signal
import sys


async def open_http(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n")
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    await reader.readexactly(length)
    return writer


async def open_ws(port):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /ws HTTP/1.1\r\nHost: bench\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                 b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError("upgrade refused: " + head.decode(errors="replace"))
    return writer


async def main(kind, port, count):
    opener = open_http if kind == "http" else open_ws
    writers = []
    batch = 200  # open in batches: a proxy's accept queue is finite
    for start in range(0, count, batch):
        writers += await asyncio.gather(*(opener(port) for _ in range(min(batch, count - start))))
    print("held", len(writers), flush=True)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await asyncio.wait_for(stop.wait(), 120)
    for w in writers:
        w.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
