"""Shared pieces of the decoder fuzz tests (tests/unit/test_fuzz_*.py): a fixed seed, a
bounded count, random and mutated valid inputs fed in random chunkings."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

SEED = 12345
CASES = 3000
MAX_INPUT = 4096


def mutate(rng: random.Random, data: bytes) -> bytes:
    """A valid input with a few random edits: flipped bytes, cut, duplicated or spliced
    spans, inserted line ends, NUL and high bytes."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 6)):
        op = rng.randrange(7)
        pos = rng.randint(0, len(out))
        if op == 0 and out:
            out[min(pos, len(out) - 1)] = rng.randrange(256)
        elif op == 1:
            del out[pos:pos + rng.randint(1, 32)]
        elif op == 2:
            span = bytes(out[pos:pos + rng.randint(1, 64)])
            out[pos:pos] = span * rng.randint(1, 4)
        elif op == 3:
            out[pos:pos] = rng.choice([b"\n", b"\r\n", b"\r\n\r\n", b"\n\n", b":", b"\x00"])
        elif op == 4:
            out[pos:pos] = rng.randbytes(rng.randint(1, 16))
        elif op == 5:
            out[pos:pos] = rng.choice([b"\xff\xfe", b"\xed\xa0\x80", "电话".encode(), b"\\ud800"])
        else:
            out = out[:pos]
    return bytes(out[:MAX_INPUT])


def chunkings(rng: random.Random, data: bytes) -> Iterator[bytes]:
    """``data`` in random pieces (single bytes, small and large)."""
    i = 0
    while i < len(data):
        size = rng.choice([1, 2, 3, 7, 64, rng.randint(1, 512), len(data)])
        yield data[i:i + size]
        i += size


def inputs(rng: random.Random, corpus: list[bytes]) -> Iterator[bytes]:
    """CASES inputs: a third random bytes, the rest mutated corpus entries (or joins)."""
    for n in range(CASES):
        if n % 3 == 0:
            yield rng.randbytes(rng.randint(0, 512))
        elif n % 3 == 1:
            yield mutate(rng, rng.choice(corpus))
        else:
            yield mutate(rng, rng.choice(corpus) + rng.choice(corpus))


def run(corpus: list[bytes], new_decoder: Callable[[], Callable[[bytes], list[object]]],
        own_error: type[Exception] | tuple[type[Exception], ...],
        events: tuple[type, ...]) -> dict[str, int]:
    """Feed every input; the decoder may only return ``events`` or raise ``own_error``.
    Returns counts (cases, events, errors) for the test to check it did something."""
    rng = random.Random(SEED)
    counts = {"cases": 0, "events": 0, "errors": 0}
    for data in inputs(rng, corpus):
        feed = new_decoder()
        counts["cases"] += 1
        try:
            for piece in chunkings(rng, data):
                for event in feed(piece):
                    assert isinstance(event, events), (event, data)
                    counts["events"] += 1
        except own_error:
            counts["errors"] += 1
        except Exception as exc:  # anything else is a decoder bug: show the input
            raise AssertionError(f"{type(exc).__name__}: {exc} on input {data!r}") from exc
    return counts
