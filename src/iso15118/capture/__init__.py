"""Reading V2G sessions out of packet captures (pcap/pcapng), TLS included.

:func:`read_capture` is the one call most users need; the modules underneath each do
one step (file format, packet dissection, TCP reassembly, TLS, session decoding) and
work on bytes alone, so each can be tested and reused without the others.
"""

from iso15118.capture.keylog import KeyLog, KeyLogError
from iso15118.capture.pcapfile import CaptureFormatError
from iso15118.capture.reader import CaptureResult, Connection, Entry, read_capture

__all__ = ["CaptureFormatError", "CaptureResult", "Connection", "Entry", "KeyLog",
           "KeyLogError", "read_capture"]
