"""ISO 15118-20 (CommonMessages, AC, DC) as a session dialect: both halves together.

The charger's half is :mod:`.iso20_charger`, the vehicle's :mod:`.iso20_vehicle`, what both
share :mod:`.iso20_base`; the rules are :mod:`.rules_iso20`.
"""

from __future__ import annotations

from iso15118.session.iso20_charger import Iso20Charger
from iso15118.session.iso20_vehicle import Iso20Vehicle
from iso15118.session.rules_iso20 import RULES

__all__ = ["DIALECT", "Iso20Dialect"]


class Iso20Dialect(Iso20Charger, Iso20Vehicle):
    rules = RULES
    names: dict[type, str] = {}


DIALECT = Iso20Dialect()
