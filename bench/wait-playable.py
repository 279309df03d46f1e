#!/usr/bin/python3
# bench/wait-playable.py: how long until HLS playlists are playable.
#
#   wait-playable.py [--t0 EPOCH] [--segments 1,3] [--timeout 30] URL...
#
# Polls every URL every 50 ms (127.0.0.1 only) until it answers 200 with at
# least N "#EXTINF" lines, for each N of --segments.  Prints one JSON object:
#   {"URL": {"1": seconds, "3": seconds}, ...}
# seconds counted from --t0 (a time.time() epoch, e.g. `date +%s.%N` taken
# just before nginx was started) or from this script's start.  A threshold
# not reached within --timeout is null, and the exit code is then 1.

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--t0', type=float)
    p.add_argument('--segments', default='1')
    p.add_argument('--timeout', type=float, default=30)
    p.add_argument('urls', nargs='+')
    a = p.parse_args()

    for u in a.urls:
        host = urllib.parse.urlsplit(u).hostname
        if host not in ('127.0.0.1', 'localhost'):
            sys.exit('wait-playable.py: %s is not on 127.0.0.1' % u)

    t0 = a.t0 if a.t0 is not None else time.time()
    want = sorted({int(x) for x in a.segments.split(',')})
    got = {u: {n: None for n in want} for u in a.urls}
    deadline = time.time() + a.timeout
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    while time.time() < deadline:
        pending = [u for u in a.urls if None in got[u].values()]
        if not pending:
            break
        for u in pending:
            try:
                with opener.open(u, timeout=2) as r:
                    body = r.read().decode('utf-8', 'replace')
                    code = r.status
            except (urllib.error.URLError, OSError):
                continue
            now = time.time()
            if code != 200:
                continue
            nseg = body.count('#EXTINF')
            for n in want:
                if got[u][n] is None and nseg >= n:
                    got[u][n] = round(now - t0, 3)
        time.sleep(0.05)

    print(json.dumps({u: {str(n): v for n, v in d.items()}
                      for u, d in got.items()}))
    sys.exit(0 if all(None not in d.values() for d in got.values()) else 1)


if __name__ == '__main__':
    main()
