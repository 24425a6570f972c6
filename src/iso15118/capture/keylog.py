"""NSS key log files: the TLS secrets a capture needs to be decrypted.

The format (one ``LABEL <client random hex> <secret hex>`` per line, ``#`` comments) is
the one browsers, OpenSSL's ``SSL_CTX_set_keylog_callback`` and Python's
``SSLContext.keylog_filename`` write, and that Wireshark reads. The client random of the
ClientHello ties each secret to its TLS session:

* TLS 1.2: ``CLIENT_RANDOM`` gives the 48-byte master secret (RFC 5246 clause 8.1);
* TLS 1.3: ``CLIENT_HANDSHAKE_TRAFFIC_SECRET``, ``SERVER_HANDSHAKE_TRAFFIC_SECRET``,
  ``CLIENT_TRAFFIC_SECRET_0`` and ``SERVER_TRAFFIC_SECRET_0`` give the traffic secrets
  of RFC 8446 clause 7.1; ``CLIENT_EARLY_TRAFFIC_SECRET`` the key of 0-RTT early data
  (clause 7.1, ``client_early_traffic_secret``). The ``EXPORTER_SECRET`` labels are not
  needed, and secrets after a KeyUpdate are derived, not looked up.
"""

from __future__ import annotations

from collections.abc import Iterable

from iso15118.errors import Iso15118Error

__all__ = ["KeyLog", "KeyLogError"]


class KeyLogError(Iso15118Error):
    """A key log line is not ``LABEL <hex> <hex>``."""


class KeyLog:
    """Secrets by client random, then by label."""

    def __init__(self) -> None:
        self._secrets: dict[bytes, dict[str, bytes]] = {}

    @classmethod
    def parse(cls, text: str) -> KeyLog:
        log = cls()
        log.add_lines(text.splitlines())
        return log

    def add_lines(self, lines: Iterable[str]) -> None:
        for number, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            if len(parts) != 3:
                raise KeyLogError(f"key log line {number} is not 'LABEL <hex> <hex>'")
            label, random_hex, secret_hex = parts
            try:
                random, secret = bytes.fromhex(random_hex), bytes.fromhex(secret_hex)
            except ValueError:
                raise KeyLogError(f"key log line {number} holds non-hex values") from None
            self._secrets.setdefault(random, {})[label.upper()] = secret

    def secret(self, client_random: bytes, label: str) -> bytes | None:
        return self._secrets.get(client_random, {}).get(label)

    def labels(self, client_random: bytes) -> frozenset[str]:
        """The labels logged for one session: tells "no entry" from "entry incomplete"."""
        return frozenset(self._secrets.get(client_random, {}))

    def __len__(self) -> int:
        return len(self._secrets)

    def __bool__(self) -> bool:
        return bool(self._secrets)
