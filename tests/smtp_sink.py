#!/usr/bin/env python3
"""A real SMTP server for amtspost's integration tests.

Listens on 127.0.0.1 (plain SMTP, no TLS), stores every accepted message as
``<NNNNNN>.eml`` (the raw bytes exactly as received) next to ``<NNNNNN>.json``
(the envelope: MAIL FROM, RCPT TO, peer). The ``.json`` file is written first
and the ``.eml`` file is renamed into place last, so a reader that sees the
``.eml`` file can rely on both being complete.

Usage:
    python3 tests/smtp_sink.py --dir DIR [--port PORT] [--rcpt-code CODE] [--delay-ms MS]

    --port 0 (the default) picks a free port. Once listening, the server prints
    exactly one line ``READY <port>`` to stdout. With ``--rcpt-code 450`` (or
    550, ...) every RCPT TO is answered with that code, so no message is ever
    accepted. With ``--delay-ms 50`` the server waits that long before it
    stores a message and before it answers the end of DATA, so that a client
    killed at a random moment is often killed in the middle of the SMTP
    conversation. The server exits when stdin is closed or on SIGTERM/SIGINT.

Requires aiosmtpd:  python3 -m pip install aiosmtpd
"""

import argparse
import asyncio
import json
import os
import signal
import sys
import threading

try:
    from aiosmtpd.smtp import SMTP
except ImportError:  # pragma: no cover - reported to the Rust side via stderr
    sys.stderr.write(
        "smtp_sink: the Python package 'aiosmtpd' is missing; "
        "install it with: python3 -m pip install aiosmtpd\n"
    )
    sys.exit(3)


class SinkHandler:
    def __init__(self, directory, rcpt_code, delay):
        self.directory = directory
        self.rcpt_code = rcpt_code
        self.delay = delay
        self.counter = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_code is not None:
            if self.rcpt_code >= 500:
                return f"{self.rcpt_code} 5.1.1 <{address}>: Recipient address rejected (smtp_sink test mode)"
            return f"{self.rcpt_code} 4.2.0 <{address}>: Mailbox temporarily unavailable (smtp_sink test mode)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        self.counter += 1
        stem = os.path.join(self.directory, f"{self.counter:06d}")
        meta = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "peer": str(session.peer),
        }
        with open(stem + ".json", "w", encoding="utf-8") as f:
            json.dump(meta, f)
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8", "surrogateescape")
        with open(stem + ".eml.tmp", "wb") as f:
            f.write(raw)
        os.replace(stem + ".eml.tmp", stem + ".eml")
        if self.delay:
            # Accepted and stored, not yet answered: the window in which a
            # killed client cannot know the message arrived.
            await asyncio.sleep(self.delay)
        return "250 Message accepted for delivery"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", required=True, help="folder to write received messages into")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--rcpt-code", type=int, default=None, help="answer every RCPT TO with this SMTP code")
    parser.add_argument("--delay-ms", type=int, default=0, help="wait this long before storing and before answering DATA")
    args = parser.parse_args()
    if args.rcpt_code is not None and not 400 <= args.rcpt_code <= 599:
        parser.error("--rcpt-code must be a 4xx or 5xx SMTP code")
    os.makedirs(args.dir, exist_ok=True)

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    handler = SinkHandler(args.dir, args.rcpt_code, args.delay_ms / 1000.0)
    server = loop.run_until_complete(
        loop.create_server(
            lambda: SMTP(handler, hostname="smtp-sink.localhost", decode_data=False, timeout=30),
            host="127.0.0.1",
            port=args.port,
        )
    )
    port = server.sockets[0].getsockname()[1]

    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    def watch_stdin():
        # Returns when the parent closes our stdin (or dies).
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except (OSError, ValueError):
            pass
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=watch_stdin, daemon=True).start()

    print(f"READY {port}", flush=True)
    loop.run_until_complete(stop.wait())
    server.close()
    loop.run_until_complete(server.wait_closed())
    loop.close()


if __name__ == "__main__":
    main()
