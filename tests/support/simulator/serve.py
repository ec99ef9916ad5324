"""The simulated internet: a static HTTPS server for the repository host names (tests/support/simulator).

Started by the simulator inside a cluster's network namespace, where nothing but that cluster's
hosts can reach it: `python -m tests.support.simulator.serve DOCROOT CERT KEY ADDRESS PORT`. It serves
files only (GET/HEAD), logs each request to stderr and stops when its parent test process dies.
"""

from __future__ import annotations

import ctypes
import functools
import http.server
import signal
import ssl
import sys


def main(argv: list[str]) -> int:
    docroot, cert, key, address, port = argv
    # Die with the test process that started it (PR_SET_PDEATHSIG), so a crashed run leaves no server.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=docroot)
    server = http.server.ThreadingHTTPServer((address, int(port)), handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    print(f"serving {docroot} on https://{address}:{port}", file=sys.stderr, flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
