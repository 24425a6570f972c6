"""Typed errors of :mod:`iso15118.ocpp`.

Every function of the bridge raises one of these (never a bare ``KeyError`` or
``jsonschema`` exception) so that a charging-station adapter can answer the CSMS with a
CALLERROR and the EV with the protocol's FAILED code from one ``except`` clause.
"""

from __future__ import annotations

from iso15118.errors import Iso15118Error

__all__ = ["OcppConversionError", "OcppError", "OcppPayloadError", "OcppSchemasUnavailable"]


class OcppError(Iso15118Error):
    """Base class of every error raised by :mod:`iso15118.ocpp`."""


class OcppSchemasUnavailable(OcppError):
    """The OCA JSON schemas are not installed (they ship in the ``ocpp`` package)."""


class OcppPayloadError(OcppError, ValueError):
    """An OCPP payload violates the OCA JSON schema of its message and version.

    ``field`` is the dotted JSON path of the offending member (``chargingProfile.
    chargingSchedule[0].chargingRateUnit``; the missing member itself for a missing
    required one), ``message`` the OCPP action and direction (``SetChargingProfileRequest``).
    """

    def __init__(self, message: str, version: str, field: str, reason: str) -> None:
        super().__init__(f"{message} ({version}): {field or '<payload>'}: {reason}")
        self.message = message
        self.version = version
        self.field = field
        self.reason = reason


class OcppConversionError(OcppError, ValueError):
    """A valid payload or ISO 15118 message that cannot be carried to the other side
    (a charging profile with no period in force, a chain without an issuer for its leaf,
    an absolutePriceSchedule whose digest does not match its digestValue, ...)."""
