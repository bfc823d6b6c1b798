"""Load for the namespace tests: ``python -m tests.netns.load VIP PORT`` sends one request on a
new connection every 20 ms until SIGTERM, printing ``<unix time> ok <body>`` or
``<unix time> fail <error>`` per request (line-buffered, for the test to read)."""

from __future__ import annotations

import http.client
import signal
import sys
import time

INTERVAL = 0.02
TIMEOUT = 0.5


def main() -> None:
    vip, port = sys.argv[1], int(sys.argv[2])
    running = True

    def stop(*_: object) -> None:
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    while running:
        started = time.time()
        conn = http.client.HTTPConnection(vip, port, timeout=TIMEOUT)
        try:
            conn.request("GET", "/", headers={"Connection": "close"})
            body = conn.getresponse().read().decode("latin-1")
            print(f"{started:.3f} ok {body}", flush=True)
        except (OSError, http.client.HTTPException) as exc:
            print(f"{started:.3f} fail {type(exc).__name__}", flush=True)
        finally:
            conn.close()
        time.sleep(max(0.0, INTERVAL - (time.time() - started)))


if __name__ == "__main__":
    main()
