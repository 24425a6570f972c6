"""atheris harness: the incremental V2GTP stream parser and the datagram parser.

The input is a TCP byte stream. It is fed three ways (whole, byte by byte, and in chunks
whose sizes come from the stream's own bytes) with two payload limits, and checked for:

* only the library's errors;
* the same events whatever the chunking (reassembly must not depend on TCP segmentation);
* never more buffered than header + limit, however the peer behaves;
* every frame re-encodes to exactly the bytes it came from;
* ``parse_datagram`` agrees with the stream parser on a single-frame input;
* after a protocol violation, more input is refused with LocalProtocolError.

    python fuzz/fuzz_v2gtp.py fuzz/corpus/v2gtp -max_total_time=60
"""

from __future__ import annotations

from typing import Any

import _harness


def main() -> None:
    args, argv = _harness.parse_args()
    with _harness.instrumented(args):
        from iso15118.errors import Iso15118Error
        from iso15118.v2gtp import (
            HEADER_LENGTH,
            Frame,
            FrameDiscarded,
            LocalProtocolError,
            ProtocolViolation,
            RemoteProtocolError,
            V2GTPParser,
            parse_datagram,
        )

    def run(data: bytes, chunks: list[int], limit: int) -> tuple[list[Any], str]:
        parser = V2GTPParser(max_payload_length=limit)
        events: list[Any] = []
        pos = 0
        for size in chunks:
            if pos >= len(data):
                break
            try:
                events.extend(parser.feed(data[pos:pos + size]))
            except LocalProtocolError:
                assert parser.violation is not None, "refused input without a violation"
                return events, "violation"
            pos += size
            if parser.buffered > HEADER_LENGTH + limit:
                raise AssertionError(f"buffered {parser.buffered} > header + {limit}")
        if parser.violation is not None:
            assert isinstance(events[-1], ProtocolViolation)
            try:
                parser.feed(b"\x00")
            except LocalProtocolError:
                return events, "violation"
            raise AssertionError("input accepted after a protocol violation")
        try:
            parser.feed_eof()
        except RemoteProtocolError:
            assert not parser.at_boundary
            return events, "truncated"
        assert parser.at_boundary
        return events, "clean"

    def comparable(result: tuple[list[Any], str]) -> tuple[list[Any], str]:
        """Events as values: the error objects inside them compare by identity."""
        out: list[Any] = []
        for e in result[0]:
            if isinstance(e, Frame):
                out.append(e)
            elif isinstance(e, FrameDiscarded):
                out.append((e.header, e.reason, str(e.error)))
            else:
                out.append((type(e.error).__name__, str(e.error)))
        return out, result[1]

    def test_one_input(data: bytes) -> None:
        sizes = [1 + b % 13 for b in data] or [1]
        whole = [len(data) or 1]
        for limit in (64 * 1024, 16):
            reference = run(data, whole, limit)
            for chunks in ([1] * max(1, len(data)), sizes * (1 + len(data) // len(sizes))):
                got = run(data, chunks, limit)
                if comparable(got) != comparable(reference):
                    raise AssertionError(f"chunking changes the events for {data.hex()}: "
                                         f"{reference} != {got}")
            events, _ = reference
            offset = 0
            for event in events:
                if isinstance(event, Frame):
                    wire = event.encode()
                    assert data[offset:offset + len(wire)] == wire, "frame re-encoding"
                    offset += len(wire)
                elif isinstance(event, FrameDiscarded):
                    offset += HEADER_LENGTH + event.header.payload_length
        try:
            frame = parse_datagram(data)
        except Iso15118Error:
            return
        events, end = run(data, whole, 64 * 1024)
        assert events == [frame] and end == "clean", f"datagram/stream disagree: {data.hex()}"

    _harness.fuzz(args, argv, test_one_input)


if __name__ == "__main__":
    main()
