#!/usr/bin/python3
"""A peer of the HTTP benchmark (tools/bench/http): an aiohttp hello-world server.

One GET "/" route answering "Hello, World!" (text/plain), served by web.run_app on a socket
bound here, so that port 0 works. The access log is switched off (access_log=None), as the
other servers log nothing either: aiohttp 3.8 formats every access-log line even when the
logger would drop it. Everything else is aiohttp's default. One thread.

Usage: /usr/bin/python3 tests/bench/http/aiohttp_hello.py [--host 127.0.0.1] [--port 0] [--uvloop]
                                                        [--tls-cert C --tls-key K]
  --uvloop  run it on uvloop (Debian's python3-uvloop) instead of the stock event loop
  --tls-cert, --tls-key  serve HTTPS with this certificate and key (PEM), Python's ssl module
The first line on stdout is the bound port. SIGINT or SIGTERM stops it (aiohttp's handlers).

Run it with Debian's /usr/bin/python3 (python3-aiohttp, python3-uvloop); the python3 first
on PATH may not have them.
"""
import argparse
import asyncio
import socket
import ssl

from aiohttp import web


async def hello(request):
    return web.Response(text="Hello, World!")


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--uvloop", action="store_true")
    ap.add_argument("--tls-cert")
    ap.add_argument("--tls-key")
    args = ap.parse_args()
    tls = None
    if args.tls_cert:
        tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        tls.load_cert_chain(args.tls_cert, args.tls_key)

    # Bind before the loop starts, print the port, then hand the socket to aiohttp:
    # connections that arrive in between wait in the backlog.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(1024)
    print(sock.getsockname()[1], flush=True)

    if args.uvloop:
        import uvloop
        loop = uvloop.new_event_loop()
    else:
        loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)

    app = web.Application()
    app.router.add_get("/", hello)
    web.run_app(app, sock=sock, print=None, access_log=None, loop=loop, ssl_context=tls)


if __name__ == "__main__":
    main()
