"""Step latency through hgym.Client next to a raw keep-alive http.client connection sending
the same POST, in one episode, alternating (the order flipped every round) so both share
the server's and the machine's noise. Prints one JSON object of samples in milliseconds.

Usage: python3 bench/python-client.py URL SAMPLES WARMUP (run by bench/python-client.ts)
"""

import http.client
import json
import sys
import time
import urllib.parse
from typing import Callable, Dict, List

import hgym

ACTION = {"tool": "think", "arguments": {"thought": "benchmark"}}


def main(url: str, samples: int, warmup: int) -> None:
    client = hgym.Client(url, timeout=60)
    episode = client.reset(task="dep_search", seed=1, options={"max_steps": 2 * (samples + warmup) + 10})
    parts = urllib.parse.urlsplit(url)
    raw = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=60)
    path = f"/v1/episodes/{episode.episode_id}/step"
    body = json.dumps({"action": ACTION}).encode()
    headers = {"content-type": "application/json", "accept": "application/json"}

    def by_client() -> None:
        result = client.step(episode.episode_id, ACTION)
        if result.done:
            raise SystemExit("the episode ended before the benchmark did")

    def by_raw() -> None:
        raw.request("POST", path, body, headers)
        response = raw.getresponse()
        response.read()  # the whole answer, as the client reads it, but not decoded
        if response.status != 200:
            raise SystemExit(f"the raw step was answered {response.status}")

    times: Dict[str, List[float]] = {"client": [], "raw": []}
    runs: Dict[str, Callable[[], None]] = {"client": by_client, "raw": by_raw}
    for i in range(warmup + samples):
        order = ("client", "raw") if i % 2 == 0 else ("raw", "client")
        for name in order:
            started = time.perf_counter()
            runs[name]()
            if i >= warmup:
                times[name].append((time.perf_counter() - started) * 1000)
    client.close(episode.episode_id)
    client.disconnect()
    raw.close()
    print(json.dumps({"python": sys.version.split()[0], "client_ms": times["client"], "raw_ms": times["raw"]}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
