#!/usr/bin/env python3
"""Sends COUNT sequential GET requests over one keep-alive connection.

    keepalive.py PORT PATH COUNT COOKIES COOKIE_FILE

COOKIES = 0: no cookie. COOKIES = N > 0: the requests rotate N session
cookies, request by request; they are read from COOKIE_FILE, or made first
(one GET /counter without a cookie each) and written there, so that a later
call with the same file reuses the same sessions. Exits with status 1 on any
response other than 200. Used by instructions.sh, where the server runs
under valgrind and only the server's work counts.
"""

import http.client
import os
import sys


def main() -> int:
    port, path, count, cookies, cookie_file = sys.argv[1:6]
    count, cookies = int(count), int(cookies)
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=120)
    jar = []
    if cookies > 0:
        if os.path.exists(cookie_file):
            with open(cookie_file) as f:
                jar = f.read().split()
        else:
            for _ in range(cookies):
                conn.request("GET", "/counter")
                resp = conn.getresponse()
                resp.read()
                set_cookie = resp.getheader("set-cookie")
                if resp.status != 200 or not set_cookie:
                    print(f"keepalive.py: GET /counter gave {resp.status} without a cookie", file=sys.stderr)
                    return 1
                jar.append(set_cookie.split(";")[0])
            with open(cookie_file, "w") as f:
                f.write("\n".join(jar))
    for i in range(count):
        headers = {"Cookie": jar[i % len(jar)]} if jar else {}
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        resp.read()
        if resp.status != 200:
            print(f"keepalive.py: GET {path} gave {resp.status}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
