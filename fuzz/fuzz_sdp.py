"""atheris harness: SDP datagram parsing and both sides' state machines.

Per input (one UDP datagram): ``sdp.decode`` must give a message or the library's error;
a decoded message must re-encode to exactly the datagram (decoding is lossless, reserved
values included); the SECC side must answer only requests it parsed, with a response
that itself decodes; the EVCC side must take only well-formed responses.

    python fuzz/fuzz_sdp.py fuzz/corpus/sdp -max_total_time=60
"""

from __future__ import annotations

import _harness


def main() -> None:
    args, argv = _harness.parse_args()
    with _harness.instrumented(args):
        from iso15118 import sdp
        from iso15118.errors import Iso15118Error

    server = sdp.SDPServer("fe80::1", {sdp.Security.TLS: 50000, sdp.Security.NO_TLS: 50001})

    def test_one_input(data: bytes) -> None:
        message: sdp.SDPMessage | None = None
        try:
            message = sdp.decode(data)
        except Iso15118Error:
            pass
        else:
            if sdp.encode(message) != data:
                raise AssertionError(f"SDP decoding is not lossless for {data.hex()}")
        request, answer = server.datagram_received(data)
        if request is not None:
            assert request == message
        if answer is not None:
            assert request is not None, "answered a datagram that did not parse"
            assert isinstance(sdp.decode(answer), sdp.SDPResponse)
        for wireless in (False, True):
            req: sdp.SDPRequest | sdp.SDPRequestWireless = (
                sdp.SDPRequestWireless(sdp.Security.TLS, sdp.TransportProtocol.TCP, 0, 0,
                                       "0" * 20, " " * 36)
                if wireless else sdp.SDPRequest())
            client = sdp.SDPClient(req)
            client.start(0.0)
            got = client.datagram_received(data, 0.1)
            if got is not None:
                assert got == message and client.finished

    _harness.fuzz(args, argv, test_one_input)


if __name__ == "__main__":
    main()
