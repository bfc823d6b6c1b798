#!/bin/sh
# HAProxy external check for PING health monitors: $3 is the server address.
# Uses ping when installed, else a one-shot ICMP echo through python3 (root or ping_group_range).
if command -v ping >/dev/null 2>&1; then
    case "$3" in *:*) exec ping -6 -q -n -c 1 -W 2 "$3" >/dev/null 2>&1 ;; esac
    exec ping -q -n -c 1 -W 2 "$3" >/dev/null 2>&1
fi
exec python3 - "$3" <<'PY'
import socket, struct, sys
addr = sys.argv[1]
v6 = ":" in addr
fam, proto, typ = ((socket.AF_INET6, socket.IPPROTO_ICMPV6, 128) if v6
                   else (socket.AF_INET, socket.IPPROTO_ICMP, 8))
try:
    s = socket.socket(fam, socket.SOCK_DGRAM, proto)
except OSError:
    s = socket.socket(fam, socket.SOCK_RAW, proto)
s.settimeout(2)
body = struct.pack("!BBHHH", typ, 0, 0, 0, 1) + b"statera!"
words = sum(struct.unpack("!8H", body))
words = (words >> 16) + (words & 0xFFFF)
words += words >> 16
s.sendto(body[:2] + struct.pack("!H", ~words & 0xFFFF) + body[4:], (addr, 0))
try:
    s.recvfrom(1024)
except OSError:
    sys.exit(1)
PY
