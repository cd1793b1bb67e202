"""A real SMTP server on loopback for storedesk's alert tests (aiosmtpd, an implementation independent of lettre).

Prints `listening PORT` once it accepts connections, then one JSON line per message it took:
{"mail_from": ..., "rcpt_tos": [...], "data": "..."}. It stops when its standard input closes.

Options:
  --user NAME --password SECRET   require AUTH (PLAIN or LOGIN) with these credentials (over the plain connection:
                                  the test talks to loopback only)
  --refuse-first N                answer the first N messages with 451 (a temporary failure) before taking any
"""

import argparse
import asyncio
import json
import sys

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--user")
    parser.add_argument("--password")
    parser.add_argument("--refuse-first", type=int, default=0)
    args = parser.parse_args()
    asyncio.run(serve(args))


class Handler:
    def __init__(self, refuse_first: int) -> None:
        self.refuse_left = refuse_first

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's hook name)
        if self.refuse_left > 0:
            self.refuse_left -= 1
            return "451 4.3.0 Try again later (the test asked for it)"
        data = envelope.content.decode("utf-8", errors="replace")
        line = {"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos, "data": data}
        print(json.dumps(line), flush=True)
        return "250 OK"


def authenticator(user: str, password: str):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == user
            and auth_data.password.decode() == password
        )
        # handled=False: aiosmtpd answers the refusal (535) itself.
        return AuthResult(success=ok, handled=False)

    return check


async def serve(args) -> None:
    handler = Handler(args.refuse_first)
    loop = asyncio.get_running_loop()
    auth = {}
    if args.user is not None:
        auth = {
            "authenticator": authenticator(args.user, args.password or ""),
            "auth_required": True,
            "auth_require_tls": False,
        }
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="sink.test", **auth), host="127.0.0.1", port=0
    )
    port = server.sockets[0].getsockname()[1]
    print(f"listening {port}", flush=True)
    # Runs until the test ends it (or closes our standard input).
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    main()
