"""tern send across a link with real delay: a TCP proxy that holds every
chunk 2.5 ms in each direction (the seed's exercise; this kernel has no
netem). The time the dialogue takes must be the round-trip count times the
5 ms round-trip time, which is what PIPELINING and CHUNKING save."""

import asyncio
import re
import subprocess
import threading

import pytest

from conftest import TERN_BIN

ONE_WAY = 0.0025  # seconds


class DelayProxy:
    """Forwards 127.0.0.1:port to target, delaying each chunk by ONE_WAY
    while keeping order (each direction is a FIFO of timed deliveries)."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(5), "proxy did not start"

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    async def _pipe(self, reader, writer):
        queue = asyncio.Queue()

        async def deliver():
            while True:
                due, data = await queue.get()
                if data is None:
                    break
                delay = due - self.loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(data)
                await writer.drain()
            writer.close()

        task = asyncio.ensure_future(deliver())
        while True:
            data = await reader.read(65536)
            await queue.put((self.loop.time() + ONE_WAY, data or None))
            if not data:
                break
        await task

    async def _client(self, creader, cwriter):
        sreader, swriter = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(self._pipe(creader, swriter), self._pipe(sreader, cwriter), return_exceptions=True)

    def close(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


MESSAGE = b"From: alice@example.test\nTo: bob@example.test\nSubject: latency\n\nHello across the link.\n"


def _send(port, *extra):
    p = subprocess.run([TERN_BIN, "send", "--server", "127.0.0.1:%d" % port, "--ehlo", "client.test",
                        "--trace", *extra, "bob@example.test"], input=MESSAGE, capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr.decode()
    m = re.search(rb"round trips: (\d+), total: (\d+) ms", p.stderr)
    assert m, p.stderr.decode()
    return int(m.group(1)), int(m.group(2))


@pytest.mark.parametrize("flags, expected_rtt", [
    ((), 2),                                      # PIPELINING + CHUNKING
    (("--no-pipelining", "--no-chunking"), 6),    # the seed's six
])
def test_time_is_round_trips_times_rtt(server, flags, expected_rtt):
    """With 5 ms of round-trip time, N round trips cost N x 5 ms (plus the
    greeting's 2.5 ms one way and a little processing); the best of three
    runs is compared, as the machine is shared."""
    proxy = DelayProxy(server.port)
    try:
        runs = [_send(proxy.port, *flags) for _ in range(3)]
    finally:
        proxy.close()
    n = runs[0][0]
    assert all(r[0] == n for r in runs)
    assert n == expected_rtt
    best = min(r[1] for r in runs)
    floor = n * 2 * ONE_WAY * 1000          # the waiting the protocol cannot avoid
    assert floor <= best <= floor + 25, "round trips %d, best total %d ms, expected about %d" % (n, best, floor)
