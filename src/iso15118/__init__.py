"""ISO 15118-2, ISO 15118-20 and DIN SPEC 70121 for Python."""

from iso15118.errors import Iso15118Error

__all__ = ["Iso15118Error"]
__version__ = "0.1.0"
