"""Fleet-scale log analytics: V2G messages from captures and logs as Parquet tables.

Readers (:mod:`.pcap`, :mod:`.hexlog` with the layouts of :mod:`.layouts`, :mod:`.ocpp`)
yield :class:`MessageRecord` objects; :mod:`.tables` builds the *messages* and *sessions*
tables (columns in :mod:`.schema`); :mod:`.tasks` cuts an export into independent tasks
that :mod:`.engines` runs in-process or on dask.distributed; :mod:`.writer` writes the
part files. The ``iso15118 export`` command (:mod:`iso15118.cli_export`) ties them up.

pyarrow is needed for the tables, dask[distributed] for the dask engine (the ``export``
extra); the readers need neither.
"""

from iso15118.export.hexlog import read_log
from iso15118.export.layouts import Layout
from iso15118.export.ocpp import read_ocpp
from iso15118.export.pcap import read_pcap
from iso15118.export.records import ExportInputError, MessageRecord

__all__ = ["ExportInputError", "Layout", "MessageRecord", "read_log", "read_ocpp", "read_pcap"]
