# cython: language_level=3
"""Compiled core of the EXI codec: bit stream, datatypes and the grammar walk.

The grammars come in as flat tables (see :mod:`exi_codec.tables`); this module walks
them over model objects (instances of per-type classes with one attribute per member)
in both directions. Options are the ones ISO 15118 uses and EXI 1.0 calls non-strict
with default fidelity: bit-packed, no string-table insertion on encode
(valuePartitionCapacity 0), header byte 0x80 (EXI 1.0, 5 and 8.5.4.4.1).

Decoding is defensive: every length is checked against what is left of the stream,
recursion is bounded, and every failure is a :class:`exi_codec.errors.DecodeError`
carrying the bit offset and the grammar position.
"""

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from libc.stdint cimport int64_t, uint64_t, uint8_t
from libc.string cimport memcpy

from exi_codec.errors import DecodeError, EncodeError

# event types (grammar.py)
DEF EV_AT = 3
DEF EV_AT_NS = 4
DEF EV_AT_ANY = 5
DEF EV_SE = 9
DEF EV_SE_NS = 10
DEF EV_SE_ANY = 11
DEF EV_EE = 13
DEF EV_CH = 15
DEF EV_CH_ANY = 16
DEF EV_ED = 18

DEF KIND_FIRST_START_TAG = 0
DEF KIND_START_TAG = 1
DEF KIND_ELEMENT = 2
DEF KIND_DOC_CONTENT = 3
DEF KIND_DOC_END = 4
DEF KIND_FRAGMENT_CONTENT = 5

# second-level (undeclared) events of non-strict grammars (EXI 1.0, 8.5.4.4.1)
DEF U_EE = 0
DEF U_XSI_TYPE = 1
DEF U_XSI_NIL = 2
DEF U_AT_ANY = 3
DEF U_AT_INVALID = 4
DEF U_SE_ANY = 5
DEF U_CH = 6
DEF U_NONE = 99

# datatype kinds (datatypes.py)
DEF DT_STRING = 0
DEF DT_BOOLEAN = 1
DEF DT_NBIT = 2
DEF DT_UNSIGNED = 3
DEF DT_INTEGER = 4
DEF DT_ENUM = 5
DEF DT_BINARY_HEX = 6
DEF DT_BINARY_BASE64 = 7
DEF DT_DECIMAL = 8
DEF DT_FLOAT = 9
DEF DT_LIST = 10
DEF DT_DATETIME = 11

DEF M_ATTRIBUTE = 0
DEF M_ELEMENT = 1
DEF M_VALUE = 2
DEF M_CHILDREN = 3

DEF MAX_DEPTH = 256

cdef struct CProd:
    int event
    int qname
    int target
    int child
    int member

cdef struct CState:
    int kind
    int owner
    int first
    int count
    int width1
    int n2
    int width2
    int ee  # index (relative) of the first-level EE, -1 if none
    int u[8]  # second-level events in code order


cdef inline int _bits_for(int count):
    cdef int n = 0
    count -= 1
    while count > 0:
        n += 1
        count >>= 1
    return n


# ----------------------------------------------------------------------------- writer

cdef class BitWriter:
    cdef uint8_t* buf
    cdef Py_ssize_t cap
    cdef Py_ssize_t pos  # bytes completed
    cdef uint64_t acc
    cdef int nacc  # bits in acc (< 8 after flush)

    def __cinit__(self):
        self.cap = 256
        self.buf = <uint8_t*>PyMem_Malloc(self.cap)
        if self.buf == NULL:
            raise MemoryError()
        self.pos = 0
        self.acc = 0
        self.nacc = 0

    def __dealloc__(self):
        if self.buf != NULL:
            PyMem_Free(self.buf)

    cdef inline void _ensure(self, Py_ssize_t extra) except *:
        cdef Py_ssize_t need = self.pos + extra + 16
        cdef uint8_t* nb
        if need > self.cap:
            while self.cap < need:
                self.cap *= 2
            nb = <uint8_t*>PyMem_Realloc(self.buf, self.cap)
            if nb == NULL:
                raise MemoryError()
            self.buf = nb

    cdef inline void bits(self, int n, uint64_t value) except *:
        # n <= 32
        if n == 0:
            return
        self.acc = (self.acc << n) | (value & ((<uint64_t>1 << n) - 1))
        self.nacc += n
        if self.nacc >= 8:
            self._ensure(8)
            while self.nacc >= 8:
                self.nacc -= 8
                self.buf[self.pos] = <uint8_t>((self.acc >> self.nacc) & 0xFF)
                self.pos += 1
            self.acc &= (<uint64_t>1 << self.nacc) - 1

    cdef void wbits(self, int n, object value) except *:
        cdef int chunk
        while n > 32:
            chunk = n - 32
            self.bits(32, <uint64_t>((value >> chunk) & 0xFFFFFFFF))
            n = chunk
        self.bits(n, <uint64_t>(value & ((1 << n) - 1)))

    cdef inline void uint_small(self, uint64_t v) except *:
        while v >= 128:
            self.bits(8, (v & 0x7F) | 0x80)
            v >>= 7
        self.bits(8, v)

    cdef void uint(self, object v) except *:
        if v < 0x7FFFFFFFFFFFFFFF:
            self.uint_small(<uint64_t>v)
            return
        while v >= 128:
            self.bits(8, <uint64_t>((v & 0x7F) | 0x80))
            v >>= 7
        self.bits(8, <uint64_t>v)

    cdef void raw(self, const uint8_t* data, Py_ssize_t n) except *:
        cdef Py_ssize_t i
        if self.nacc == 0:
            self._ensure(n)
            memcpy(self.buf + self.pos, data, n)
            self.pos += n
            return
        for i in range(n):
            self.bits(8, data[i])

    cdef bytes getvalue(self):
        if self.nacc > 0:
            self.bits(8 - self.nacc, 0)
        return PyBytes_FromStringAndSize(<char*>self.buf, self.pos)


# ----------------------------------------------------------------------------- reader

cdef class BitReader:
    cdef const uint8_t* data
    cdef Py_ssize_t nbytes
    cdef Py_ssize_t bit  # absolute bit position
    cdef bytes keep
    cdef public object where  # callable giving the grammar position for errors

    def __cinit__(self, bytes data):
        self.keep = data
        self.data = <const uint8_t*>(<char*>data)
        self.nbytes = len(data)
        self.bit = 0
        self.where = None

    cdef inline Py_ssize_t remaining(self):
        return self.nbytes * 8 - self.bit

    cdef object fail(self, str msg):
        pos = self.where() if self.where is not None else ""
        raise DecodeError(msg, self.bit, pos)

    cdef inline uint64_t bits(self, int n) except? 0xFFFFFFFFFFFFFFFF:
        # n <= 32
        cdef uint64_t v = 0
        cdef Py_ssize_t byte
        cdef int off, take
        if n == 0:
            return 0
        if self.bit + n > self.nbytes * 8:
            self.fail("unexpected end of the EXI stream")
        while n > 0:
            byte = self.bit >> 3
            off = self.bit & 7
            take = 8 - off
            if take > n:
                take = n
            v = (v << take) | ((self.data[byte] >> (8 - off - take)) & ((1 << take) - 1))
            self.bit += take
            n -= take
        return v

    cdef object rbits(self, int n):
        cdef object v = 0
        cdef int chunk
        while n > 32:
            v = (v << 32) | self.bits(32)
            n -= 32
        return (v << n) | self.bits(n)

    cdef object uint(self):
        cdef uint64_t v = 0
        cdef uint64_t b
        cdef int shift = 0
        cdef object big
        while True:
            b = self.bits(8)
            if shift < 56:
                v |= (b & 0x7F) << shift
            else:
                # beyond 63 bits: continue in Python integers
                big = v
                big |= (<object>(b & 0x7F)) << shift
                while b & 0x80:
                    shift += 7
                    b = self.bits(8)
                    big |= (<object>(b & 0x7F)) << shift
                return big
            if not (b & 0x80):
                return v
            shift += 7

    cdef Py_ssize_t length(self, int unit_bits) except -1:
        """A length field, checked against what is left (no unbounded allocation)."""
        v = self.uint()
        if unit_bits > 0 and v * unit_bits > self.remaining():
            self.fail(f"length {v} exceeds the remaining stream")
        if v > 0x7FFFFFFF:
            self.fail(f"length {v} is too large")
        return v


# ----------------------------------------------------------------------------- grammar

cdef class Grammar:
    """The frozen tables of one schema set, ready to be walked by encode and decode."""

    cdef CState* states
    cdef CProd* prods
    cdef int nstates
    cdef int nprods
    cdef readonly list uris
    cdef readonly list local_names
    cdef readonly list qname_uri
    cdef readonly list qname_local
    cdef readonly dict qname_index  # (uri, local) -> qname id
    cdef list qname_text  # "{uri}local" per qname id
    cdef list qname_short  # local name per qname id (paths in messages)
    # datatypes
    cdef list dt_kind
    cdef list dt_info
    # types
    cdef list t_simple
    cdef list t_dt
    cdef list t_start
    cdef list t_empty
    cdef list t_class
    cdef list t_names
    cdef list t_kinds
    cdef list t_islist
    cdef list t_qnames
    cdef list t_classmap
    cdef list t_typename
    cdef list t_ordered
    cdef readonly int doc_content
    cdef readonly int fragment_content
    cdef readonly dict element_types
    cdef readonly dict fragment_types
    cdef readonly int anytype
    cdef readonly dict xsd_type_index  # (uri id, local id) -> type id, for xsi:type
    cdef int xsi_uri
    cdef int xsi_type_local
    cdef int xsi_nil_local

    def __cinit__(self):
        self.states = NULL
        self.prods = NULL

    def __dealloc__(self):
        if self.states != NULL:
            PyMem_Free(self.states)
        if self.prods != NULL:
            PyMem_Free(self.prods)

    def __init__(self, dict tables, list classes):
        cdef int i, j, k, n, s
        cdef CState* st
        states = tables["states"]
        self.nstates = len(states)
        self.nprods = sum(len(x[2]) for x in states)
        self.states = <CState*>PyMem_Malloc(sizeof(CState) * max(self.nstates, 1))
        self.prods = <CProd*>PyMem_Malloc(sizeof(CProd) * max(self.nprods, 1))
        if self.states == NULL or self.prods == NULL:
            raise MemoryError()
        k = 0
        for i in range(self.nstates):
            kind, owner, plist = states[i]
            st = &self.states[i]
            st.kind = kind
            st.owner = owner
            st.first = k
            st.count = len(plist)
            st.ee = -1
            for j in range(len(plist)):
                ev, q, tgt, child, mem = plist[j]
                self.prods[k].event = ev
                self.prods[k].qname = q
                self.prods[k].target = tgt
                self.prods[k].child = child
                self.prods[k].member = mem
                if ev == EV_EE and st.ee < 0:
                    st.ee = j
                k += 1
            n = 0
            if kind == KIND_FIRST_START_TAG:
                if st.ee < 0:
                    st.u[n] = U_EE; n += 1
                for s in (U_XSI_TYPE, U_XSI_NIL, U_AT_ANY, U_AT_INVALID, U_SE_ANY, U_CH):
                    st.u[n] = s; n += 1
            elif kind == KIND_START_TAG:
                if st.ee < 0:
                    st.u[n] = U_EE; n += 1
                for s in (U_AT_ANY, U_AT_INVALID, U_SE_ANY, U_CH):
                    st.u[n] = s; n += 1
            elif kind == KIND_ELEMENT:
                if st.ee < 0:
                    st.u[n] = U_EE; n += 1
                for s in (U_SE_ANY, U_CH):
                    st.u[n] = s; n += 1
            st.n2 = n
            st.width1 = _bits_for(st.count + (1 if n > 0 else 0))
            st.width2 = _bits_for(n)
        self.uris = list(tables["uris"])
        self.local_names = [list(x) for x in tables["local_names"]]
        self.qname_uri = [q[0] for q in tables["qnames"]]
        self.qname_local = [q[1] for q in tables["qnames"]]
        self.qname_index = {}
        self.qname_text = []
        self.qname_short = []
        for i in range(len(self.qname_uri)):
            u = self.uris[self.qname_uri[i]]
            ln = self.local_names[self.qname_uri[i]][self.qname_local[i]]
            self.qname_index[(u, ln)] = i
            self.qname_text.append("{%s}%s" % (u, ln) if u else ln)
            self.qname_short.append(ln)
        self.dt_kind = []
        self.dt_info = []
        for d in tables["datatypes"]:
            self.dt_kind.append(d["kind"])
            info = dict(d)
            if d["kind"] == DT_ENUM:
                info["index"] = {v: i for i, v in enumerate(d["values"])}
            self.dt_info.append(info)
        self.t_simple = []
        self.t_dt = []
        self.t_start = []
        self.t_empty = []
        self.t_names = []
        self.t_kinds = []
        self.t_islist = []
        self.t_qnames = []
        self.t_typename = []
        self.t_ordered = []
        self.xsd_type_index = {}
        for i, t in enumerate(tables["types"]):
            self.t_simple.append(t["simple"])
            self.t_dt.append(t["datatype"])
            self.t_start.append(t["start"])
            self.t_empty.append(t["empty_start"])
            self.t_names.append(tuple(m["name"] for m in t["members"]))
            self.t_kinds.append(tuple(m["kind"] for m in t["members"]))
            self.t_islist.append(tuple(m["is_list"] for m in t["members"]))
            self.t_qnames.append(tuple(tuple(m["qnames"]) for m in t["members"]))
            self.t_typename.append(t["name"])
            self.t_ordered.append(t["ordered"])
            if not t["anonymous"]:
                key = (t["namespace"], t["name"])
                if key[0] in self.uris:
                    ui = self.uris.index(key[0])
                    if key[1] in self.local_names[ui]:
                        self.xsd_type_index[(ui, self.local_names[ui].index(key[1]))] = i
        self.doc_content = tables["doc_content"]
        self.fragment_content = tables["fragment_content"]
        self.element_types = dict(tables["element_types"])
        self.fragment_types = dict(tables["fragment_types"])
        self.anytype = tables["anytype"]
        self.xsi_uri = self.uris.index("http://www.w3.org/2001/XMLSchema-instance")
        self.xsi_type_local = self.local_names[self.xsi_uri].index("type")
        self.xsi_nil_local = self.local_names[self.xsi_uri].index("nil")
        self.set_classes(classes)

    def set_classes(self, list classes):
        """Bind the model class of every complex type (index = type id)."""
        self.t_class = list(classes)
        self.t_classmap = []
        for i in range(len(self.t_names)):
            maps = []
            for mi in range(len(self.t_names[i])):
                m = {}
                qids = self.t_qnames[i][mi]
                if len(qids) > 1:
                    for q in qids:
                        tid = self._child_type_of(i, q)
                        if tid >= 0 and not self.t_simple[tid] and self.t_class[tid] is not None:
                            m.setdefault(self.t_class[tid], q)
                maps.append(m)
            self.t_classmap.append(tuple(maps))

    cdef int _child_type_of(self, int t, int q):
        cdef int s, j
        cdef CProd* p
        for s in range(self.nstates):
            if self.states[s].owner != t:
                continue
            for j in range(self.states[s].count):
                p = &self.prods[self.states[s].first + j]
                if p.event == EV_SE and p.qname == q:
                    return p.child
        return -1

    def qname_of(self, int qid):
        return self.qname_text[qid]

    def expected(self, int s):
        """Human-readable list of the events a state accepts (for error messages)."""
        cdef int j
        cdef CProd* p
        out = []
        for j in range(self.states[s].count):
            p = &self.prods[self.states[s].first + j]
            if p.event == EV_EE:
                out.append("end of element")
            elif p.event == EV_SE or p.event == EV_AT:
                out.append(self.qname_short[p.qname])
            elif p.event == EV_CH:
                out.append("character content")
            elif p.event == EV_SE_ANY:
                out.append("any element")
            else:
                out.append("event %d" % p.event)
        return out

    # ------------------------------------------------------------------ encoding

    cdef inline void _write_code(self, BitWriter w, int s, int j) except *:
        w.bits(self.states[s].width1, j)

    cdef void _write_undeclared(self, BitWriter w, int s, int u) except *:
        cdef CState* st = &self.states[s]
        cdef int i
        for i in range(st.n2):
            if st.u[i] == u:
                w.bits(st.width1, st.count)
                w.bits(st.width2, i)
                return
        raise EncodeError("undeclared event not allowed here")

    cdef int _find(self, int s, int event, int qname):
        cdef CState* st = &self.states[s]
        cdef int j
        cdef CProd* p
        for j in range(st.count):
            p = &self.prods[st.first + j]
            if p.event == event and (qname < 0 or p.qname == qname):
                return j
        return -1

    cdef void _value(self, BitWriter w, int dt, object v, str path) except *:
        cdef int kind = self.dt_kind[dt]
        cdef dict info
        cdef Py_ssize_t n, i
        cdef const uint8_t* raw
        if kind == DT_STRING:
            if not isinstance(v, str):
                v = self._coerce_str(dt, v, path)
            info = self.dt_info[dt]
            n = len(<str>v)
            if info["min_length"] is not None and n < info["min_length"]:
                raise EncodeError("string %r is shorter than %s characters" % (v, info["min_length"]), path)
            if info["max_length"] is not None and n > info["max_length"]:
                raise EncodeError("string of %d characters exceeds maxLength %s" % (n, info["max_length"]), path)
            self._string(w, <str>v)
        elif kind == DT_NBIT:
            info = self.dt_info[dt]
            if isinstance(v, bool) or not isinstance(v, int):
                v = self._coerce_int(v, path)
            if v < info["minimum"] or v > info["maximum"]:
                raise EncodeError("%r is outside [%s, %s] (%s)" % (v, info["minimum"], info["maximum"], info["name"]), path)
            w.bits(info["width"], <uint64_t>(v - info["minimum"]))
        elif kind == DT_BOOLEAN:
            if v is True or v is False:
                w.bits(1, 1 if v else 0)
            elif v in (0, 1):
                w.bits(1, v)
            elif v in ("true", "1", "false", "0"):
                w.bits(1, 1 if v in ("true", "1") else 0)
            else:
                raise EncodeError("%r is not a boolean" % (v,), path)
        elif kind == DT_UNSIGNED or kind == DT_INTEGER:
            info = self.dt_info[dt]
            if isinstance(v, bool) or not isinstance(v, int):
                v = self._coerce_int(v, path)
            if info["minimum"] is not None and v < info["minimum"]:
                raise EncodeError("%r is below the minimum %s (%s)" % (v, info["minimum"], info["name"]), path)
            if info["maximum"] is not None and v > info["maximum"]:
                raise EncodeError("%r is above the maximum %s (%s)" % (v, info["maximum"], info["name"]), path)
            if kind == DT_UNSIGNED:
                w.uint(v)
            elif v < 0:
                w.bits(1, 1)
                w.uint(-v - 1)
            else:
                w.bits(1, 0)
                w.uint(v)
        elif kind == DT_ENUM:
            info = self.dt_info[dt]
            try:
                idx = info["index"][v]
            except (KeyError, TypeError):
                idx = self._enum_coerce(info, v)
                if idx < 0:
                    raise EncodeError("%r is not one of the values of %s" % (v, info["name"]), path) from None
            w.bits(info["width"], idx)
        elif kind == DT_BINARY_HEX or kind == DT_BINARY_BASE64:
            if not isinstance(v, bytes):
                v = self._coerce_bytes(kind, v, path)
            info = self.dt_info[dt]
            n = len(<bytes>v)
            if info["min_length"] is not None and n < info["min_length"]:
                raise EncodeError("%d bytes is shorter than minLength %s" % (n, info["min_length"]), path)
            if info["max_length"] is not None and n > info["max_length"]:
                raise EncodeError("%d bytes exceeds maxLength %s" % (n, info["max_length"]), path)
            w.uint_small(n)
            raw = <const uint8_t*>(<char*>(<bytes>v))
            w.raw(raw, n)
        elif kind == DT_LIST:
            item = self.dt_info[dt]["item"]
            if isinstance(v, (str, bytes)):
                v = v.split()
            w.uint(len(v))
            for i, x in enumerate(v):
                self._value(w, item, x, path)
        elif kind == DT_DECIMAL:
            self._decimal(w, v, path)
        elif kind == DT_FLOAT:
            self._float(w, v, path)
        else:
            raise EncodeError("datatype %s is not supported" % self.dt_info[dt]["name"], path)

    cdef object _coerce_str(self, int dt, object v, str path):
        if v is None:
            raise EncodeError("a value is required", path)
        return str(v.value if hasattr(v, "value") else v)

    cdef object _coerce_int(self, object v, str path):
        if isinstance(v, bool):
            raise EncodeError("%r is not an integer" % (v,), path)
        try:
            if isinstance(v, str):
                return int(v.strip())
            if isinstance(v, float) and v != int(v):
                raise ValueError
            return int(v)
        except (TypeError, ValueError):
            raise EncodeError("%r is not an integer" % (v,), path) from None

    cdef object _coerce_bytes(self, int kind, object v, str path):
        import base64
        import binascii
        if isinstance(v, (bytearray, memoryview)):
            return bytes(v)
        if isinstance(v, str):
            try:
                if kind == DT_BINARY_HEX:
                    return bytes.fromhex(v.strip())
                return base64.b64decode("".join(v.split()), validate=True)
            except (ValueError, binascii.Error):
                pass
        raise EncodeError("%r is not binary data" % (v,), path)

    cdef int _enum_coerce(self, dict info, object v):
        if hasattr(v, "value"):
            v = v.value
        idx = info["index"].get(v, -1) if isinstance(v, (str, int, bytes)) else -1
        if idx < 0 and isinstance(v, str):
            for i, x in enumerate(info["values"]):
                if str(x) == v or (isinstance(x, bool) and v in ("true", "false") and x == (v == "true")):
                    return i
                if isinstance(x, int) and not isinstance(x, bool):
                    try:
                        if int(v) == x:
                            return i
                    except ValueError:
                        pass
        return idx

    cdef void _string(self, BitWriter w, str v) except *:
        cdef Py_ssize_t n = len(v)
        cdef Py_UCS4 c
        w.uint_small(n + 2)
        for c in v:
            if c < 128:
                w.bits(8, c)
            else:
                w.uint_small(c)

    cdef void _decimal(self, BitWriter w, object v, str path) except *:
        from decimal import Decimal, InvalidOperation
        try:
            d = Decimal(v) if not isinstance(v, float) else Decimal(repr(v))
        except (InvalidOperation, TypeError, ValueError):
            raise EncodeError("%r is not a decimal" % (v,), path) from None
        if not d.is_finite():
            raise EncodeError("%r is not a finite decimal" % (v,), path)
        sign, digits, exp = d.as_tuple()
        s = "".join(str(x) for x in digits)
        if exp >= 0:
            ip, fp = s + "0" * exp, ""
        else:
            k = len(s) + exp
            ip = s[:k] if k > 0 else "0"
            fp = ("0" * (-k) + s) if k < 0 else s[k:]
        fp = fp.rstrip("0")
        w.bits(1, 1 if sign and (int(ip or "0") or fp) else 0)
        w.uint(int(ip or "0"))
        w.uint(int(fp[::-1]) if fp else 0)

    cdef void _float(self, BitWriter w, object v, str path) except *:
        import math
        from decimal import Decimal
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise EncodeError("%r is not a float" % (v,), path) from None
        if math.isnan(f):
            mant, exp = 0, -(1 << 14)
        elif math.isinf(f):
            mant, exp = (1 if f > 0 else -1), -(1 << 14)
        else:
            d = Decimal(repr(f)).normalize()
            sign, digits, e = d.as_tuple()
            mant = int("".join(str(x) for x in digits) or "0")
            if sign:
                mant = -mant
            exp = e
            if mant == 0:
                exp = 0
        for x in (mant, exp):
            if x < 0:
                w.bits(1, 1)
                w.uint(-x - 1)
            else:
                w.bits(1, 0)
                w.uint(x)

    cdef void _element(self, BitWriter w, int t, object v, str path, bint empty_as_ch,
                       int depth) except *:
        """Encode the content of one element of type ``t`` (after its SE)."""
        cdef int s, j, mi, nm, q, tgt
        cdef CProd* p
        cdef tuple names, kinds, islist, qnames, classmap
        cdef object val, item
        if depth > MAX_DEPTH:
            raise EncodeError("nesting too deep", path)
        s = self.t_start[t]
        if self.t_simple[t]:
            if v is None:
                raise EncodeError("a value is required", path)
            dt = self.t_dt[t]
            if (v == "" or v == b"") and not empty_as_ch and isinstance(v, (str, bytes)):
                self._write_undeclared(w, s, U_EE)
                return
            j = self._find(s, EV_CH, -1)
            self._write_code(w, s, j)
            self._value(w, dt, v, path)
            s = self.prods[self.states[s].first + j].target
            j = self.states[s].ee
            self._write_code(w, s, j)
            return
        names = self.t_names[t]
        kinds = self.t_kinds[t]
        islist = self.t_islist[t]
        qnames = self.t_qnames[t]
        classmap = self.t_classmap[t]
        nm = len(names)
        for mi in range(nm):
            try:
                val = getattr(v, names[mi])
            except AttributeError:
                raise EncodeError("%s has no field %r (expected a %s)" % (
                    type(v).__name__, names[mi], self.t_typename[t]), path) from None
            if val is None:
                continue
            kind = kinds[mi]
            if kind == M_ATTRIBUTE:
                q = qnames[mi][0]
                j = self._find(s, EV_AT, q)
                if j < 0:
                    raise EncodeError("attribute %s not allowed here" % names[mi], path)
                self._write_code(w, s, j)
                p = &self.prods[self.states[s].first + j]
                self._value(w, p.child, val, path + "/@" + self.qname_short[q])
                s = p.target
            elif kind == M_VALUE:
                if (val == "" or val == b"") and not empty_as_ch and isinstance(val, (str, bytes)):
                    self._write_undeclared(w, s, U_EE)
                    return
                j = self._find(s, EV_CH, -1)
                if j < 0:
                    raise EncodeError("character content not allowed here", path)
                self._write_code(w, s, j)
                p = &self.prods[self.states[s].first + j]
                self._value(w, p.child, val, path)
                s = p.target
            elif kind == M_ELEMENT:
                if islist[mi]:
                    if not isinstance(val, (list, tuple)):
                        raise EncodeError("expected a list", path + "/" + names[mi])
                    for i, item in enumerate(val):
                        s = self._child(w, s, t, mi, item, "%s/%s[%d]" % (path, names[mi], i),
                                        empty_as_ch, depth, qnames, classmap)
                else:
                    s = self._child(w, s, t, mi, val, path + "/" + names[mi], empty_as_ch,
                                    depth, qnames, classmap)
            else:  # M_CHILDREN: ordered content [(qname, value) | str]
                for i, item in enumerate(val):
                    s = self._ordered_child(w, s, item, "%s[%d]" % (path, i), empty_as_ch, depth)
        j = self.states[s].ee
        if j < 0:
            raise EncodeError("missing %s" % " or ".join(self.expected(s)), path)
        self._write_code(w, s, j)

    cdef int _child(self, BitWriter w, int s, int t, int mi, object item, str path,
                    bint empty_as_ch, int depth, tuple qnames, tuple classmap) except -1:
        cdef int q, j
        cdef CProd* p
        cdef tuple qs = qnames[mi]
        if len(qs) == 1:
            q = qs[0]
        else:
            q = classmap[mi].get(type(item), -1)
            if q < 0:
                q = self._qname_for_item(qs, item, path)
        j = self._find(s, EV_SE, q)
        if j < 0:
            raise EncodeError("%s not allowed here (expected %s)" % (
                self.qname_short[q], " or ".join(self.expected(s))), path)
        self._write_code(w, s, j)
        p = &self.prods[self.states[s].first + j]
        try:
            self._element(w, p.child, item, path, empty_as_ch, depth + 1)
        except RecursionError:
            raise EncodeError("nesting too deep", path) from None
        return p.target

    cdef int _qname_for_item(self, tuple qs, object item, str path) except -1:
        el = getattr(item, "_element", None)
        if el is not None:
            for q in qs:
                if self.qname_text[q] == el or self.qname_short[q] == el:
                    return q
        names = [self.qname_short[q] for q in qs]
        raise EncodeError("%s cannot stand here (one of %s expected)" % (
            type(item).__name__, ", ".join(names)), path)

    cdef int _ordered_child(self, BitWriter w, int s, object item, str path, bint empty_as_ch,
                            int depth) except -1:
        cdef int q, j
        cdef CProd* p
        if isinstance(item, str):
            j = self._find(s, EV_CH_ANY, -1)
            if j < 0:
                raise EncodeError("text not allowed here", path)
            self._write_code(w, s, j)
            self._string(w, item)
            return self.prods[self.states[s].first + j].target
        try:
            qn, value = item
        except (TypeError, ValueError):
            raise EncodeError("ordered content items are (qname, value) pairs or text", path) from None
        q = self._lookup_qname(qn)
        if q >= 0:
            j = self._find(s, EV_SE, q)
            if j >= 0:
                self._write_code(w, s, j)
                p = &self.prods[self.states[s].first + j]
                self._element(w, p.child, value, path + "/" + str(qn), empty_as_ch, depth + 1)
                return p.target
        raise EncodeError("element %s not allowed here (expected %s)" % (
            qn, " or ".join(self.expected(s))), path)

    cdef int _lookup_qname(self, object qn):
        if isinstance(qn, int):
            return qn
        qn = str(qn)
        if qn.startswith("{"):
            u, ln = qn[1:].split("}", 1)
        else:
            u, ln = "", qn
        return self.qname_index.get((u, ln), -1)

    def encode(self, int qname, object value, bint fragment=False, bint empty_as_ch=False,
               bint header=True):
        """Encode one element (document) or a list of (qname, value) (fragment)."""
        cdef BitWriter w = BitWriter()
        cdef int s, j, tid
        if header:
            w.bits(8, 0x80)
        if not fragment:
            s = self.doc_content
            j = self._find(s, EV_SE, qname)
            if j < 0:
                raise EncodeError("%s is not a global element of this schema" % self.qname_text[qname])
            self._write_code(w, s, j)
            tid = self.prods[self.states[s].first + j].child
            self._element(w, tid, value, self.qname_short[qname], empty_as_ch, 0)
            # DocEnd: ED is the only production (0 bits)
            return w.getvalue()
        s = self.fragment_content
        for qn, v in value:
            q = self._lookup_qname(qn)
            j = self._find(s, EV_SE, q) if q >= 0 else -1
            if j < 0:
                raise EncodeError("%s is not an element of this schema" % (qn,))
            tid = self.prods[self.states[s].first + j].child
            if tid < 0:
                raise EncodeError("%s is declared with several types; the fragment grammar for it is not supported" % (qn,))
            self._write_code(w, s, j)
            self._element(w, tid, v, self.qname_short[q], empty_as_ch, 0)
        j = self._find(s, EV_ED, -1)
        self._write_code(w, s, j)
        return w.getvalue()

    # ------------------------------------------------------------------ decoding

    def decode(self, bytes data, bint fragment=False, bint strict=False):
        """Decode a document (-> (qname id, value)) or a fragment (-> list of pairs).

        ``strict`` also rejects out-of-range n-bit values and unused trailing bytes,
        which protocol auto-detection relies on.
        """
        cdef Decoder d = Decoder(self, data, strict)
        result = d.run(fragment)
        if strict:
            d.check_end()
        return result


cdef class Decoder:
    """One decoding run: the reader, the per-stream string tables, the position."""

    cdef Grammar g
    cdef BitReader r
    cdef list path
    cdef int state
    cdef list uris  # per-stream copies, made on the first table miss
    cdef list local_names
    cdef bint tables_copied
    cdef dict local_values
    cdef list global_values
    cdef bint strict

    def __init__(self, Grammar g, bytes data, bint strict=False):
        self.g = g
        self.strict = strict
        self.r = BitReader(data)
        self.r.where = self._where
        self.path = []
        self.state = -1
        self.uris = g.uris
        self.local_names = g.local_names
        self.tables_copied = False
        self.local_values = {}
        self.global_values = []

    cdef void check_end(self) except *:
        cdef Py_ssize_t rest = self.r.remaining()
        if rest >= 8:
            self.r.fail("%d unused bytes after the end of the document" % (rest // 8))
        if rest > 0 and self.r.bits(rest) != 0:
            self.r.fail("non-zero padding after the end of the document")

    def _where(self):
        return "/" + "/".join(self.path) + (" (state %d)" % self.state if self.state >= 0 else "")

    cdef object run(self, bint fragment):
        cdef Grammar g = self.g
        cdef int s, code, tid
        cdef CProd* p
        hdr = self.r.bits(8)
        if (hdr >> 6) != 2:
            if hdr == 0x24:
                self.r.fail("EXI cookie '$EXI' is not supported")
            self.r.fail("not an EXI stream: header byte 0x%02x" % hdr)
        if hdr & 0x20:
            self.r.fail("EXI options in the header are not supported")
        if hdr & 0x1F != 0:
            self.r.fail("unsupported EXI version in the header")
        if not fragment:
            s = g.doc_content
            self.state = s
            code = self.r.bits(g.states[s].width1)
            if code >= g.states[s].count:
                self.r.fail("invalid event code %d at document start" % code)
            p = &g.prods[g.states[s].first + code]
            if p.event == EV_SE_ANY:
                q = self._read_qname()
                tid = g.element_types.get(q, -1)
                if tid < 0:
                    self.r.fail("undeclared root element %s" % (q,))
            else:
                q = p.qname
                tid = p.child
            self.path.append(g.qname_short[q])
            value = self._element(tid, q, 0)
            self.path.pop()
            return q, value
        out = []
        s = g.fragment_content
        while True:
            self.state = s
            code = self.r.bits(g.states[s].width1)
            if code >= g.states[s].count:
                self.r.fail("invalid event code %d in fragment content" % code)
            p = &g.prods[g.states[s].first + code]
            if p.event == EV_ED:
                return out
            if p.event == EV_SE_ANY:
                q = self._read_qname()
                tid = g.fragment_types.get(q, -1)
            else:
                q = p.qname
                tid = p.child
            if tid < 0:
                self.r.fail("element %s has no unique grammar in fragments" % g.qname_text[q])
            self.path.append(g.qname_short[q])
            out.append((q, self._element(tid, q, 0)))
            self.path.pop()

    cdef object _read_qname(self):
        """A qname from the string tables (EXI 1.0, 7.1.7); returns a qname id or text."""
        cdef int w = _bits_for(len(self.uris) + 1)
        cdef object u = self.r.bits(w)
        cdef str uri, local
        if u == 0:
            uri = self._literal()
            self._copy_tables()
            self.uris.append(uri)
            self.local_names.append([])
            ui = len(self.uris) - 1
        else:
            ui = u - 1
            if ui >= len(self.uris):
                self.r.fail("invalid URI index")
            uri = self.uris[ui]
        n = self.r.uint()
        names = self.local_names[ui]
        if n == 0:
            idx = self.r.bits(_bits_for(len(names)))
            if idx >= len(names):
                self.r.fail("invalid local-name index")
            local = names[idx]
        else:
            if (n - 1) * 8 > self.r.remaining():
                self.r.fail("local-name length exceeds the stream")
            local = self._chars(n - 1)
            self._copy_tables()
            self.local_names[ui].append(local)
        q = self.g.qname_index.get((uri, local))
        return q if q is not None else ("{%s}%s" % (uri, local) if uri else local)

    cdef void _copy_tables(self):
        if not self.tables_copied:
            self.uris = list(self.uris)
            self.local_names = [list(x) for x in self.local_names]
            self.tables_copied = True

    cdef str _chars(self, Py_ssize_t n):
        cdef list out = []
        cdef Py_ssize_t i
        cdef object c
        for i in range(n):
            c = self.r.uint()
            if c > 0x10FFFF:
                self.r.fail("invalid code point %d" % c)
            out.append(chr(c))
        return "".join(out)

    cdef str _literal(self):
        cdef Py_ssize_t n = self.r.length(8)
        return self._chars(n)

    cdef object _string_value(self, object q):
        """A string value with the value tables (EXI 1.0, 7.3.3)."""
        cdef object n = self.r.uint()
        cdef list lv
        cdef str s
        if n == 0:
            lv = self.local_values.get(q)
            if not lv:
                self.r.fail("string-table local hit with an empty local partition")
            idx = self.r.bits(_bits_for(len(lv)))
            if idx >= len(lv):
                self.r.fail("invalid local value index")
            return lv[idx]
        if n == 1:
            if not self.global_values:
                self.r.fail("string-table global hit with an empty table")
            idx = self.r.rbits(_bits_for(len(self.global_values)))
            if idx >= len(self.global_values):
                self.r.fail("invalid global value index")
            return self.global_values[idx]
        n -= 2
        if n * 8 > self.r.remaining():
            self.r.fail("string length %d exceeds the remaining stream" % n)
        s = self._chars(n)
        if n > 0:
            # Other encoders may add values (default EXI options); mirror them so
            # their later hits resolve. Our own encoder never emits hits.
            self.local_values.setdefault(q, []).append(s)
            self.global_values.append(s)
        return s

    cdef object _value(self, int dt, object q):
        cdef Grammar g = self.g
        cdef int kind = g.dt_kind[dt]
        cdef dict info
        cdef Py_ssize_t n, i
        if kind == DT_STRING:
            return self._string_value(q)
        if kind == DT_NBIT:
            info = g.dt_info[dt]
            v = self.r.bits(info["width"]) + info["minimum"]
            # Out-of-range n-bit values decode as written (as the reference does), so
            # captures with bit errors stay readable; strict mode rejects them.
            if self.strict and v > info["maximum"]:
                self.r.fail("n-bit integer %d above the maximum %s" % (v, info["maximum"]))
            return v
        if kind == DT_BOOLEAN:
            return self.r.bits(1) == 1
        if kind == DT_UNSIGNED:
            return self.r.uint()
        if kind == DT_INTEGER:
            if self.r.bits(1):
                return -self.r.uint() - 1
            return self.r.uint()
        if kind == DT_ENUM:
            info = g.dt_info[dt]
            idx = self.r.bits(info["width"])
            if idx >= len(info["values"]):
                self.r.fail("enumeration index %d out of range for %s" % (idx, info["name"]))
            return info["decoded"][idx]
        if kind == DT_BINARY_HEX or kind == DT_BINARY_BASE64:
            n = self.r.length(8)
            return self._bytes(n)
        if kind == DT_LIST:
            n = self.r.length(1)
            item = g.dt_info[dt]["item"]
            return [self._value(item, q) for i in range(n)]
        if kind == DT_DECIMAL:
            from decimal import Decimal
            neg = self.r.bits(1)
            ip = self.r.uint()
            fp = self.r.uint()
            txt = ("-" if neg else "") + str(ip) + ("." + str(fp)[::-1] if fp else "")
            return Decimal(txt)
        if kind == DT_FLOAT:
            mant = -self.r.uint() - 1 if self.r.bits(1) else self.r.uint()
            exp = -self.r.uint() - 1 if self.r.bits(1) else self.r.uint()
            if exp == -(1 << 14):
                if mant == 0:
                    return float("nan")
                return float("inf") if mant > 0 else float("-inf")
            if exp < -(1 << 14) or exp > (1 << 14):
                self.r.fail("float exponent out of range")
            return float(mant) * (10.0 ** exp) if exp < 300 else float(str(mant) + "e" + str(exp))
        self.r.fail("datatype %s is not supported" % g.dt_info[dt]["name"])

    cdef bytes _bytes(self, Py_ssize_t n):
        cdef bytearray out
        cdef Py_ssize_t i
        if (self.r.bit & 7) == 0:
            start = self.r.bit >> 3
            self.r.bit += n * 8
            return self.r.keep[start:start + n]
        out = bytearray(n)
        for i in range(n):
            out[i] = self.r.bits(8)
        return bytes(out)

    cdef object _element(self, int t, object q, int depth):
        """Decode an element's content with the grammar of type ``t`` (after SE)."""
        cdef Grammar g = self.g
        cdef int s, code, ec2, u, mi, nm
        cdef CState* st
        cdef CProd* p
        cdef object obj = None
        cdef object value = None
        cdef tuple names, islist
        cdef bint simple
        if depth > MAX_DEPTH:
            self.r.fail("elements nested too deeply")
        simple = g.t_simple[t]
        names = g.t_names[t]
        islist = g.t_islist[t]
        if not simple:
            klass = g.t_class[t]
            if klass is None:
                self.r.fail("type %s cannot be instantiated" % g.t_typename[t])
            obj = klass.__new__(klass)
            nm = len(names)
            for mi in range(nm):
                setattr(obj, names[mi], [] if islist[mi] else None)
        s = g.t_start[t]
        while True:
            self.state = s
            st = &g.states[s]
            code = self.r.bits(st.width1)
            if code < st.count:
                p = &g.prods[st.first + code]
                ev = p.event
                if ev == EV_EE:
                    return value if simple else obj
                if ev == EV_SE:
                    self.path.append(g.qname_short[p.qname])
                    child = self._element(p.child, p.qname, depth + 1)
                    self.path.pop()
                    self._store(obj, t, p.member, p.qname, child)
                elif ev == EV_CH:
                    v = self._value(p.child, q)
                    if simple:
                        value = v
                    else:
                        setattr(obj, names[p.member], v)
                elif ev == EV_AT:
                    v = self._value(p.child, p.qname)
                    setattr(obj, names[p.member], v)
                elif ev == EV_SE_ANY or ev == EV_SE_NS:
                    cq = self._read_qname() if ev == EV_SE_ANY else self._read_local_in(p.qname)
                    child = self._wildcard_element(cq, depth + 1)
                    getattr(obj, names[p.member]).append((g.qname_text[cq] if isinstance(cq, int) else cq, child))
                elif ev == EV_CH_ANY:
                    v = self._string_value(q)
                    getattr(obj, names[p.member]).append(v)
                elif ev == EV_AT_ANY:
                    self.r.fail("attribute wildcards are not supported")
                else:
                    self.r.fail("unexpected event %d" % ev)
                s = p.target
                continue
            if st.n2 == 0 or code > st.count:
                self.r.fail("invalid event code %d" % code)
            ec2 = self.r.bits(st.width2)
            if ec2 >= st.n2:
                self.r.fail("invalid second-level event code %d" % ec2)
            u = st.u[ec2]
            if u == U_EE:
                # An empty element written as EE (EXIficient): empty string/bytes value.
                if simple:
                    return self._empty_value(g.t_dt[t])
                if obj is not None:
                    self._empty_simple_content(obj, t)
                return obj
            if u == U_XSI_TYPE:
                tq = self._read_qname()
                if not isinstance(tq, int):
                    self.r.fail("xsi:type names an unknown type %s" % tq)
                key = (g.qname_uri[tq], g.qname_local[tq])
                nt = g.xsd_type_index.get(key, -1)
                if nt < 0:
                    self.r.fail("xsi:type names an unknown type %s" % g.qname_text[tq])
                return self._element_from(nt, q, depth, g.t_start[nt])
            if u == U_XSI_NIL:
                nil = self.r.bits(1)
                if nil:
                    return self._element_from(t, q, depth, g.t_empty[t], True)
                continue
            self.r.fail("undeclared content (second-level event %d) is not supported" % u)

    cdef object _element_from(self, int t, object q, int depth, int start, bint nil=False):
        """Continue an element with another grammar (after xsi:type or xsi:nil)."""
        cdef Grammar g = self.g
        cdef int s = start
        cdef CState* st
        cdef CProd* p
        cdef int code
        obj = None
        if not g.t_simple[t]:
            klass = g.t_class[t]
            obj = klass.__new__(klass)
            for mi in range(len(g.t_names[t])):
                setattr(obj, g.t_names[t][mi], [] if g.t_islist[t][mi] else None)
        if not nil:
            # re-enter the normal loop of the new type
            return self._element_typed(t, q, depth)
        while True:
            self.state = s
            st = &g.states[s]
            code = self.r.bits(st.width1)
            if code >= st.count:
                self.r.fail("undeclared content after xsi:nil is not supported")
            p = &g.prods[st.first + code]
            if p.event == EV_EE:
                return obj
            if p.event == EV_AT and obj is not None:
                setattr(obj, g.t_names[t][p.member], self._value(p.child, p.qname))
                s = p.target
                continue
            self.r.fail("unexpected event after xsi:nil")

    cdef object _element_typed(self, int t, object q, int depth):
        return self._element(t, q, depth)

    cdef object _read_local_in(self, int uri_id):
        cdef object n = self.r.uint()
        names = self.local_names[uri_id]
        if n == 0:
            idx = self.r.bits(_bits_for(len(names)))
            if idx >= len(names):
                self.r.fail("invalid local-name index")
            local = names[idx]
        else:
            local = self._chars(n - 1)
            self._copy_tables()
            self.local_names[uri_id].append(local)
        uri = self.uris[uri_id]
        qq = self.g.qname_index.get((uri, local))
        return qq if qq is not None else "{%s}%s" % (uri, local)

    cdef object _wildcard_element(self, object cq, int depth):
        cdef Grammar g = self.g
        if isinstance(cq, int):
            t = g.element_types.get(cq, -1)
            if t >= 0:
                self.path.append(g.qname_short[cq])
                v = self._element(t, cq, depth)
                self.path.pop()
                return v
        # undeclared element: the reference writes xsi:type="xs:anyType" first
        self.path.append(str(cq))
        v = self._element(g.anytype, cq, depth)
        self.path.pop()
        return v

    cdef object _empty_value(self, int dt):
        cdef int kind = self.g.dt_kind[dt]
        if kind == DT_STRING:
            return ""
        if kind == DT_BINARY_HEX or kind == DT_BINARY_BASE64:
            return b""
        if kind == DT_LIST:
            return []
        self.r.fail("empty content for a %s value" % self.g.dt_info[dt]["name"])

    cdef void _empty_simple_content(self, object obj, int t) except *:
        cdef Grammar g = self.g
        cdef tuple kinds = g.t_kinds[t]
        for mi in range(len(kinds)):
            if kinds[mi] == M_VALUE:
                setattr(obj, g.t_names[t][mi], self._empty_value(g.t_dt[t]))

    cdef void _store(self, object obj, int t, int member, int q, object child) except *:
        cdef Grammar g = self.g
        if member < 0:
            self.r.fail("element without a model field")
        if g.t_kinds[t][member] == M_CHILDREN:
            getattr(obj, g.t_names[t][member]).append((g.qname_text[q], child))
        elif g.t_islist[t][member]:
            getattr(obj, g.t_names[t][member]).append(child)
        else:
            setattr(obj, g.t_names[t][member], child)
