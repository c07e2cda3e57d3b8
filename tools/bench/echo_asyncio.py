#!/usr/bin/python3
"""A peer of the TCP echo benchmark (tools/bench/echo): an asyncio streams echo server.

asyncio.start_server, then per connection: reader.read, writer.write, await writer.drain,
until EOF. TCP_NODELAY on every connection. One thread.

Usage: /usr/bin/python3 tools/bench/echo_asyncio.py [--host 127.0.0.1] [--port 0] [--uvloop]
  --uvloop  run it on uvloop (Debian's python3-uvloop) instead of the stock event loop
The first line on stdout is the bound port.

Run it with Debian's /usr/bin/python3 (it has uvloop); the python3 first on PATH may not.

Stock asyncio as it is, untuned: note that in Python 3.11 its socket transport reads with
sock.recv(256 KiB), above glibc's mmap threshold, so every message costs an mmap, an mremap
(shrinking the bytes object) and a munmap. On a VM where those are dear (PTI) that dominates
the per-message cost (MALLOC_MMAP_THRESHOLD_=1048576 in the environment removes it).
"""
import argparse
import asyncio
import socket
import sys


async def echo(reader, writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()
        try:
            await writer.wait_closed()
        except ConnectionError:
            pass


async def main(host, port):
    server = await asyncio.start_server(echo, host, port, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--uvloop", action="store_true")
    args = ap.parse_args()
    if args.uvloop:
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    try:
        asyncio.run(main(args.host, args.port))
    except KeyboardInterrupt:
        sys.exit(0)
