#!/usr/bin/env python3
"""Echo check with the Python `websockets` client, a strict RFC 6455 / 7692 implementation.

Usage: echo_check.py URL [--count N] [--size BYTES] [--timeout S] [--no-compression]
                         [--require-compression] [--greeting TEXT] [--header 'Name: value']
                         [--expect-server-close CODE]

Connects to URL (offering permessage-deflate unless --no-compression), reads the greeting
first when --greeting says the endpoint sends one (the echo sample does), then sends N text
messages with non-ASCII characters and N binary messages of SIZE random bytes, checks that
every echo is identical and in order, pings and waits for the pong, and closes with 1000,
checking that the server answered the close handshake with 1000. With --expect-server-close,
it does not close but prints `waiting for the server to close` and waits for the server's close
frame, which must carry CODE (e.g. 1001 while the server shuts down).

Prints one line per step and a last line PASS or FAIL: reason. Exit 0 = pass, 1 = fail,
2 = usage. Every wait is bounded by --timeout. Needs `websockets` (clients/python/requirements.txt).
"""

import argparse
import asyncio
import os
import sys
import time

from websockets.asyncio.client import connect


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("url")
    ap.add_argument("--count", type=int, default=5, help="text and binary messages (default 5)")
    ap.add_argument("--size", type=int, default=65536, help="bytes per binary message")
    ap.add_argument("--timeout", type=float, default=15.0, help="seconds for the whole check")
    ap.add_argument("--no-compression", action="store_true", help="do not offer permessage-deflate")
    ap.add_argument("--require-compression", action="store_true",
                    help="fail unless the server accepts permessage-deflate")
    ap.add_argument("--greeting", default=None, help="the first message the server sends on open")
    ap.add_argument("--header", action="append", default=[], help="extra handshake header")
    ap.add_argument("--expect-server-close", type=int, default=None, metavar="CODE",
                    help="wait for the server to close with CODE instead of closing")
    return ap.parse_args()


class Failure(Exception):
    pass


def text_message(i):
    return f"hello #{i} héllo wörld ✓ 😀 Привет 日本語 " + "x" * (i * 100)


async def check(a):
    headers = []
    for h in a.header:
        name, sep, value = h.partition(":")
        if not sep:
            raise Failure(f"bad --header {h!r}: want 'Name: value'")
        headers.append((name.strip(), value.strip()))
    t0 = time.monotonic()
    async with connect(a.url, additional_headers=headers or None, max_size=None,
                       compression=None if a.no_compression else "deflate",
                       ping_interval=None, open_timeout=a.timeout,
                       close_timeout=a.timeout) as ws:
        ext = ws.response.headers.get("Sec-WebSocket-Extensions")
        print(f"connected {a.url} status={ws.response.status_code} extensions={ext!r} "
              f"in {1000 * (time.monotonic() - t0):.1f} ms", flush=True)
        if a.require_compression and not (ext and "permessage-deflate" in ext):
            raise Failure("the server did not accept permessage-deflate")
        if a.greeting is not None:
            got = await ws.recv()
            if got != a.greeting:
                raise Failure(f"greeting {got!r}, expected {a.greeting!r}")
            print(f"greeting ok: {got!r}", flush=True)
        for i in range(a.count):
            text = text_message(i)
            await ws.send(text)
            got = await ws.recv()
            if got != text:
                raise Failure(f"text echo #{i} differs: {got!r:.80} vs {text!r:.80}")
            blob = os.urandom(a.size)
            await ws.send(blob)
            got = await ws.recv()
            if got != blob:
                size = len(got) if isinstance(got, bytes) else f"text of {len(got)} chars"
                raise Failure(f"binary echo #{i} differs ({size} vs {len(blob)} bytes)")
        print(f"echoed {a.count} text + {a.count} binary ({a.size} B) messages", flush=True)
        pong = await ws.ping(b"berth-check")
        latency = time.monotonic()
        await pong
        print(f"ping/pong ok in {1000 * (time.monotonic() - latency):.1f} ms", flush=True)
        if a.expect_server_close is not None:
            print("waiting for the server to close", flush=True)
            await ws.wait_closed()
            return server_closed(ws, a.expect_server_close)
        await ws.close(1000, "done")
    received = ws.protocol.close_rcvd
    if received is None:
        raise Failure("the server did not answer the close handshake")
    if received.code != 1000:
        raise Failure(f"the server answered the close with {received.code} {received.reason!r}")
    print(f"closed cleanly: the server answered close {received.code}", flush=True)


def server_closed(ws, want):
    received = ws.protocol.close_rcvd
    if received is None:
        raise Failure(f"the connection ended without a close frame (expected {want})")
    if received.code != want:
        raise Failure(f"the server closed with {received.code} {received.reason!r}, expected {want}")
    print(f"the server closed with {received.code} {received.reason!r}", flush=True)


async def main(a):
    async with asyncio.timeout(a.timeout):
        await check(a)


def run():
    a = parse_args()
    try:
        asyncio.run(main(a))
    except Failure as e:
        print(f"FAIL: {e}", flush=True)
        return 1
    except TimeoutError:
        print(f"FAIL: no answer within {a.timeout} s", flush=True)
        return 1
    except Exception as e:  # a refused handshake, a reset connection, ...
        print(f"FAIL: {type(e).__name__}: {e}", flush=True)
        return 1
    print("PASS", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(run())
