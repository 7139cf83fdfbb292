"""pyftpdlib for the transport tests, as a process of its own (started by `servers.FtpServer`).

The password comes on standard input, not on the command line. When the control folder holds
`die-after`, the next data transfer kills this process once that many bytes are sent: a
server that dies in the middle of a download.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from pyftpdlib.authorizers import DummyAuthorizer
from pyftpdlib.handlers import DTPHandler, FTPHandler
from pyftpdlib.servers import FTPServer


def dying(base: type, control: Path) -> type:
    class DyingDTPHandler(base):  # type: ignore[misc, valid-type]
        def __init__(self, sock, cmd_channel):  # type: ignore[no-untyped-def]
            super().__init__(sock, cmd_channel)
            order = control / "die-after"
            self.die_after = int(order.read_text()) if order.exists() else None

        def send(self, data):  # type: ignore[no-untyped-def]
            sent = super().send(data)
            if self.die_after is not None and self.tot_bytes_sent >= self.die_after:
                (control / "die-after").unlink(missing_ok=True)
                os.kill(os.getpid(), signal.SIGKILL)
            return sent

    return DyingDTPHandler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--home", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--perm", default="elradfmw")
    parser.add_argument("--control", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--data-cert")  # another certificate on the data connections
    parser.add_argument("--data-key")
    parser.add_argument("--no-mlsd", action="store_true")
    parser.add_argument("--no-size-fact", action="store_true")  # MLSD without sizes
    args = parser.parse_args()
    password = sys.stdin.readline().strip()
    authorizer = DummyAuthorizer()
    authorizer.add_user(args.user, password, args.home, perm=args.perm)
    handler: type
    if args.cert:
        from pyftpdlib.handlers import TLS_DTPHandler, TLS_FTPHandler

        data_handler = dying(TLS_DTPHandler, Path(args.control))
        if args.data_cert:  # a server posing as another on its data port
            from OpenSSL import SSL

            data_context = SSL.Context(SSL.TLS_SERVER_METHOD)
            data_context.use_certificate_chain_file(args.data_cert)
            data_context.use_privatekey_file(args.data_key)

            class OtherCertificateDTPHandler(data_handler):  # type: ignore[misc, valid-type]
                def secure_connection(self, ssl_context):  # type: ignore[no-untyped-def]
                    super().secure_connection(data_context)

            data_handler = OtherCertificateDTPHandler

        class Handler(TLS_FTPHandler):  # type: ignore[misc, valid-type]
            certfile = args.cert
            keyfile = args.key
            tls_control_required = True
            tls_data_required = True
            dtp_handler = data_handler

        handler = Handler
    else:

        class PlainHandler(FTPHandler):  # type: ignore[misc, valid-type]
            dtp_handler = dying(DTPHandler, Path(args.control))
            use_sendfile = False  # every byte through DTPHandler.send, which may die

        handler = PlainHandler
    if args.no_mlsd:  # an old server: NLST and SIZE only
        handler.proto_cmds = {
            k: v for k, v in handler.proto_cmds.items() if k not in ("MLSD", "MLST")
        }
    if args.no_size_fact:

        class SizelessHandler(handler):  # type: ignore[misc, valid-type]
            def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
                super().__init__(*args, **kwargs)
                self._available_facts = [f for f in self._available_facts if f != "size"]
                self._current_facts = [f for f in self._current_facts if f != "size"]

        handler = SizelessHandler
    handler.authorizer = authorizer
    handler.auth_failed_timeout = 0  # a refused login is answered at once, not after 3 s
    handler.passive_ports = None
    server = FTPServer(("127.0.0.1", args.port), handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
