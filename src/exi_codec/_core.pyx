# cython: language_level=3
"""Compiled core of the EXI codec: bit stream, datatypes and the grammar walk.

The grammars come in as flat tables (see :mod:`exi_codec.tables`); this module walks
them over model objects (instances of per-type classes with one attribute per member)
in both directions. Options are the ones ISO 15118 uses and EXI 1.0 calls non-strict
with default fidelity: bit-packed, no string-table insertion on encode
(valuePartitionCapacity 0), header byte 0x80 (EXI 1.0, 5 and 8.5.4.4.1).

Speed: a charge-loop message is a few dozen elements, and the budget is about a
microsecond, so the walk avoids Python-level work per element. Grammar states,
productions, type layouts and datatype facets are C structs; model attributes are
read and written through their ``__slots__`` offsets when the bound class allows it
(plain slot classes, exact type); error paths and positions are built only when
something fails (both sides keep a stack of open elements for that, not a ``try`` per
element). A simple element whose value is an n-bit integer, an enumeration index or a
boolean is read and written as one bit field (its CH code, the value, its EE code); the
bit reader takes 8 bytes per load; each Grammar reuses one encoder and one decoder.
Anything unusual (other classes, big integers, coercions) takes a slower generic path
with the same results.

Decoding is defensive: every length is checked against what is left of the stream,
recursion is bounded, and every failure is a :class:`exi_codec.errors.DecodeError`
carrying the bit offset and the grammar position.
"""

cimport cython
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.list cimport PyList_Append
from cpython.long cimport PyLong_FromLongLong
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport PyObject, PyTypeObject
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.stdint cimport int64_t, uint64_t, uint8_t
from libc.string cimport memcpy, memset

from exi_codec.errors import DecodeError, EncodeError
from exi_codec.model import NIL, Model, Nil

# borrowed: the module keeps Nil alive; a C global keeps the per-element check cheap
cdef PyObject* _NIL_TYPE = <PyObject*>Nil

cdef extern from "Python.h":
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member
    ctypedef PyObject* (*allocfunc)(PyTypeObject*, Py_ssize_t)
    ctypedef struct _TypeAlloc "PyTypeObject":
        allocfunc tp_alloc
    PyTypeObject* Py_TYPE(object)
    void _incref "Py_INCREF"(PyObject*)
    void _xdecref "Py_XDECREF"(PyObject*)
    void _decref "Py_DECREF"(PyObject*)
    bint PyLong_CheckExact(object)
    bint PyUnicode_CheckExact(object)
    bint PyBytes_CheckExact(object)
    bint PyList_CheckExact(object)
    long long PyLong_AsLongLongAndOverflow(object, int*) except? -1
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    Py_ssize_t PyBytes_GET_SIZE(object)
    char* PyBytes_AS_STRING(object)
    PyObject* PyList_New(Py_ssize_t)
    Py_ssize_t PyList_GET_SIZE(object)
    PyObject* PyList_GET_ITEM(object, Py_ssize_t)
    PyObject* PyDict_GetItemWithError(object, object) except? NULL
    long PyLong_AsLong(object) except? -1

cdef extern from *:
    """
    /* The next 8 bytes as one big-endian word: the bit reader's fast path. */
    static inline uint64_t exi_load_be64(const uint8_t* p) {
    #if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        uint64_t v;
        memcpy(&v, p, 8);
        return __builtin_bswap64(v);
    #else
        return ((uint64_t)p[0] << 56) | ((uint64_t)p[1] << 48) | ((uint64_t)p[2] << 40)
            | ((uint64_t)p[3] << 32) | ((uint64_t)p[4] << 24) | ((uint64_t)p[5] << 16)
            | ((uint64_t)p[6] << 8) | (uint64_t)p[7];
    #endif
    }
    """
    uint64_t _load_be64 "exi_load_be64"(const uint8_t* p) noexcept nogil

DEF T_OBJECT_EX = 16

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
XSD_NS = "http://www.w3.org/2001/XMLSchema"

import re as _re

# XML 1.0 (5th ed.) NCName: names a stream defines must be names, or they would not
# survive a round trip (Clark notation "{uri}local" and XML both rely on it).
_NAME_START = ("A-Z_a-z\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u02FF\u0370-\u037D"
               "\u037F-\u1FFF\u200C-\u200D\u2070-\u218F\u2C00-\u2FEF\u3001-\uD7FF"
               "\uF900-\uFDCF\uFDF0-\uFFFD\U00010000-\U000EFFFF")
_NCNAME = _re.compile("[%s][%s\\-.0-9\u00B7\u0300-\u036F\u203F-\u2040]*\\Z"
                      % (_NAME_START, _NAME_START))
_BAD_URI = _re.compile("[{}\\x00-\\x20]")
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
DEF INT64_LIMIT = 4611686018427387904  # 2**62: bounds beyond go the generic way
DEF SMALL_STREAM = 1024  # streams up to this many bytes are read from a padded copy

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

cdef struct CMember:
    int kind
    int islist
    int nq  # number of qnames (several: a choice or substitution group)
    int q0
    Py_ssize_t offset  # slot offset in the bound class, -1: use getattr/setattr
    PyObject* classmap  # borrowed (Grammar.t_classmap): bound class -> qname, several qnames

cdef struct CType:
    int simple
    int dt
    int start
    int empty_start
    int first  # first member in Grammar.members
    int n
    int fast  # the bound class is a plain slot class: offsets are valid
    int base  # the type it derives from (-1: none known)
    PyObject* klass  # borrowed; Grammar.t_class holds the reference
    # simple types: the codes of their common shape, CH then EE (ch_code -1: none)
    int ch_code
    int ch_width
    int ch_dt  # the datatype of that CH
    int ch_target  # the state after it
    int ee_code
    int ee_width
    # ... and when the value is an n-bit integer, an enumeration index or a boolean, the
    # three as one read or write of one_width bits: CH and EE (one_mask) must match
    # one_pattern, the value sits above the EE code (one_kind -1: not this shape)
    int one_kind
    int one_width
    uint64_t one_mask
    uint64_t one_pattern
    uint64_t one_vmask

cdef struct CDt:
    int kind
    int width
    int has_min
    int has_max
    int big  # a bound does not fit the C fast path
    int64_t minimum
    int64_t maximum
    Py_ssize_t min_length  # -1: none
    Py_ssize_t max_length
    int item
    PyObject* decoded  # borrowed: Grammar.dt_decoded[i], what decoding returns per index
    int empty_value  # an enumeration with an empty str/bytes value (written as EE)


cdef inline int _bits_for(int count) noexcept:
    cdef int n = 0
    count -= 1
    while count > 0:
        n += 1
        count >>= 1
    return n


cdef inline object _slot_get(object obj, Py_ssize_t off):
    cdef PyObject* v = (<PyObject**>((<char*><PyObject*>obj) + off))[0]
    if v == NULL:
        raise AttributeError("unset field")
    return <object>v


cdef inline void _slot_set(object obj, Py_ssize_t off, object v) noexcept:
    cdef PyObject** p = <PyObject**>((<char*><PyObject*>obj) + off)
    cdef PyObject* old = p[0]
    _incref(<PyObject*>v)
    p[0] = <PyObject*>v
    _xdecref(old)


cdef inline int _slot_set_new_list(object obj, Py_ssize_t off) except -1:
    cdef PyObject** p = <PyObject**>((<char*><PyObject*>obj) + off)
    cdef PyObject* lst = PyList_New(0)
    cdef PyObject* old
    if lst == NULL:
        raise MemoryError()
    old = p[0]
    p[0] = lst
    _xdecref(old)
    return 0


cdef object _alloc(PyObject* klass):
    cdef PyObject* o = (<_TypeAlloc*>klass).tp_alloc(<PyTypeObject*>klass, 0)
    if o == NULL:
        raise MemoryError()
    r = <object>o
    _decref(o)
    return r


cdef Py_ssize_t _slot_offset(object klass, str name):
    """The ``__slots__`` offset of ``name`` in ``klass``, or -1 when not a plain slot."""
    import inspect
    import types
    try:
        d = inspect.getattr_static(klass, name)
    except AttributeError:
        return -1
    if not isinstance(d, types.MemberDescriptorType):
        return -1
    if (<PyMemberDescrObject*>d).d_member.type != T_OBJECT_EX:
        return -1
    return (<PyMemberDescrObject*>d).d_member.offset


def _plain_slot_class(klass):
    """Whether instances may be created and filled behind the class's back."""
    return (isinstance(klass, type)
            and klass.__new__ is object.__new__
            and klass.__setattr__ is object.__setattr__
            and klass.__getattribute__ is object.__getattribute__
            and not getattr(klass, "__abstractmethods__", None))


# ----------------------------------------------------------------------------- writer

@cython.final
@cython.freelist(4)
cdef class BitWriter:
    cdef uint8_t* buf
    cdef Py_ssize_t cap
    cdef Py_ssize_t pos  # bytes completed
    cdef uint64_t acc
    cdef int nacc  # bits waiting in acc (< 32 between writes)

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

    cdef int reset(self) except -1:
        """Start a new stream (a writer is reused; a buffer grown large is let go)."""
        cdef uint8_t* nb
        if self.cap > 65536:
            nb = <uint8_t*>PyMem_Realloc(self.buf, 256)
            if nb == NULL:
                raise MemoryError()
            self.buf = nb
            self.cap = 256
        self.pos = 0
        self.acc = 0
        self.nacc = 0
        return 0

    cdef inline int _ensure(self, Py_ssize_t extra) except -1:
        cdef Py_ssize_t need = self.pos + extra + 16
        cdef uint8_t* nb
        if need > self.cap:
            while self.cap < need:
                self.cap *= 2
            nb = <uint8_t*>PyMem_Realloc(self.buf, self.cap)
            if nb == NULL:
                raise MemoryError()
            self.buf = nb
        return 0

    cdef inline int bits(self, int n, uint64_t value) except -1:
        # n <= 32; fewer than 32 bits wait in acc (above them: stale bits, never written)
        self.acc = (self.acc << n) | (value & ((<uint64_t>1 << n) - 1))
        self.nacc += n
        if self.nacc >= 32:
            return self.flush32()
        return 0

    cdef int flush32(self) except -1:
        cdef uint8_t* out
        if self.pos + 4 > self.cap:
            self._ensure(4)
        self.nacc -= 32
        out = self.buf + self.pos
        out[0] = <uint8_t>(self.acc >> (self.nacc + 24))
        out[1] = <uint8_t>(self.acc >> (self.nacc + 16))
        out[2] = <uint8_t>(self.acc >> (self.nacc + 8))
        out[3] = <uint8_t>(self.acc >> self.nacc)
        self.pos += 4
        return 0

    cdef int flush_bytes(self) except -1:
        """Write the complete bytes waiting in acc (fewer than 8 bits stay)."""
        if self.pos + 4 > self.cap:
            self._ensure(4)
        while self.nacc >= 8:
            self.nacc -= 8
            self.buf[self.pos] = <uint8_t>(self.acc >> self.nacc)
            self.pos += 1
        return 0

    cdef int wbits(self, int n, object value) except -1:
        cdef int chunk
        while n > 32:
            chunk = n - 32
            self.bits(32, <uint64_t>((value >> chunk) & 0xFFFFFFFF))
            n = chunk
        self.bits(n, <uint64_t>(value & ((1 << n) - 1)))
        return 0

    cdef inline int uint_small(self, uint64_t v) except -1:
        cdef uint64_t w = 0
        cdef int n = 8
        # up to four 7-bit groups in one write (most values fit)
        while v >= 128 and n < 32:
            w = (w << 8) | (v & 0x7F) | 0x80
            v >>= 7
            n += 8
        if v < 128:
            return self.bits(n, (w << 8) | v)
        self.bits(n - 8, w)
        while v >= 128:
            self.bits(8, (v & 0x7F) | 0x80)
            v >>= 7
        self.bits(8, v)
        return 0

    cdef int uint(self, object v) except -1:
        if v < 0x7FFFFFFFFFFFFFFF:
            self.uint_small(<uint64_t>v)
            return 0
        while v >= 128:
            self.bits(8, <uint64_t>((v & 0x7F) | 0x80))
            v >>= 7
        self.bits(8, <uint64_t>v)
        return 0

    cdef int raw(self, const uint8_t* data, Py_ssize_t n) except -1:
        cdef Py_ssize_t i
        if (self.nacc & 7) == 0:
            self.flush_bytes()
            self._ensure(n)
            memcpy(self.buf + self.pos, data, n)
            self.pos += n
            return 0
        for i in range(n):
            self.bits(8, data[i])
        return 0

    cdef bytes getvalue(self):
        if self.nacc & 7:
            self.bits(8 - (self.nacc & 7), 0)
        self.flush_bytes()
        return PyBytes_FromStringAndSize(<char*>self.buf, self.pos)


# ----------------------------------------------------------------------------- reader

@cython.final
@cython.freelist(4)
cdef class BitReader:
    """Bits of one stream; failures carry the bit offset, the decoder adds the position."""

    cdef const uint8_t* data
    cdef Py_ssize_t nbytes
    cdef Py_ssize_t bit  # absolute bit position
    cdef bytes keep
    # Reads of up to 32 bits ending at or before fast_end are one 8-byte load at data.
    # A short stream is copied into ``small`` with 8 zero bytes after it, so that holds
    # up to its very end; a longer one is read in place, and its last 8 bytes again
    # from ``tail`` (zero-padded) by the out-of-line path.
    cdef Py_ssize_t fast_end
    cdef Py_ssize_t tail_start
    cdef uint8_t tail[16]
    cdef uint8_t small[SMALL_STREAM + 8]

    cdef int reset(self, bytes data) except -1:
        """Start reading ``data`` (a reader is reused from stream to stream)."""
        cdef Py_ssize_t n = len(data)
        self.keep = data
        self.nbytes = n
        self.bit = 0
        if n <= SMALL_STREAM:
            memcpy(self.small, <const char*>data, n)
            memset(self.small + n, 0, 8)
            self.data = self.small
            self.fast_end = n * 8
        else:
            self.data = <const uint8_t*>(<char*>data)
            self.fast_end = n * 8 - 57  # any read ending there starts 8 bytes before the end
            self.tail_start = n - 8
            memcpy(self.tail, self.data + self.tail_start, 8)
            memset(self.tail + 8, 0, 8)
        return 0

    cdef void release(self) noexcept:
        self.keep = None
        self.data = NULL
        self.nbytes = 0
        self.fast_end = -1

    cdef inline Py_ssize_t remaining(self) noexcept:
        return self.nbytes * 8 - self.bit

    cdef int fail(self, str msg) except -1:
        raise DecodeError(msg, self.bit, "")

    cdef inline uint64_t word(self) noexcept:
        """The 64 bits from the current byte on (callers check that they exist)."""
        if self.bit < self.fast_end:
            return _load_be64(self.data + (self.bit >> 3))
        return _load_be64(self.tail + ((self.bit >> 3) - self.tail_start))

    cdef inline uint64_t peek(self, int n) noexcept:
        """The next n <= 32 bits, without moving on (callers check that they exist)."""
        if self.bit + n <= self.fast_end:
            return ((_load_be64(self.data + (self.bit >> 3)) << (self.bit & 7)) >> 1) >> (63 - n)
        return ((self.word() << (self.bit & 7)) >> 1) >> (63 - n)

    cdef inline uint64_t bits(self, int n) except? 0xFFFFFFFFFFFFFFFF:
        # n <= 32: the at most 7 + 32 bits wanted lie in one big-endian word
        # (shifted right in two steps, so that n = 0 gives 0 without a branch)
        cdef uint64_t v
        if self.bit + n <= self.fast_end:
            v = ((_load_be64(self.data + (self.bit >> 3)) << (self.bit & 7)) >> 1) >> (63 - n)
            self.bit += n
            return v
        return self.bits_tail(n)

    cdef uint64_t bits_tail(self, int n) except? 0xFFFFFFFFFFFFFFFF:
        """``bits`` past ``fast_end``: within a long stream's last 8 bytes, or failing."""
        cdef uint64_t v
        if self.bit + n > self.nbytes * 8:
            self.fail("unexpected end of the EXI stream")
        v = ((self.word() << (self.bit & 7)) >> 1) >> (63 - n)
        self.bit += n
        return v

    cdef object rbits(self, int n):
        cdef object v = 0
        while n > 32:
            v = (v << 32) | self.bits(32)
            n -= 32
        return (v << n) | self.bits(n)

    cdef inline int uint_fast(self, uint64_t* out) noexcept:
        """An unsigned integer of at most 7 bytes from one word (1), or 0 when that
        does not decide it (longer integers, the end of the stream)."""
        cdef uint64_t w, b, v = 0
        cdef int i
        if self.bit >= self.nbytes * 8:
            return 0
        w = self.word() << (self.bit & 7)
        for i in range(7):
            b = w >> 56
            v |= (b & 0x7F) << (7 * i)
            if not (b & 0x80):
                if self.bit + 8 * (i + 1) > self.nbytes * 8:
                    return 0  # ran past the end: the byte-wise loop reports where
                self.bit += 8 * (i + 1)
                out[0] = v
                return 1
            w <<= 8
        return 0

    cdef inline uint64_t uint_small(self) except? 0xFFFFFFFFFFFFFFFF:
        """An unsigned integer that must fit 63 bits (lengths, code points)."""
        cdef uint64_t v = 0
        cdef uint64_t b
        cdef int shift = 0
        if self.uint_fast(&v):
            return v
        while True:
            b = self.bits(8)
            if shift > 56:
                self.fail("unsigned integer too large")
            v |= (b & 0x7F) << shift
            if not (b & 0x80):
                return v
            shift += 7

    cdef int uint63(self, uint64_t* out) except -1:
        """An unsigned integer into ``out`` if it fits 63 bits (1); else rewind and 0."""
        cdef uint64_t v = 0
        cdef uint64_t b
        cdef int shift = 0
        cdef Py_ssize_t save = self.bit
        if self.uint_fast(out):
            return 1
        while True:
            b = self.bits(8)
            if shift > 55:
                self.bit = save
                return 0
            v |= (b & 0x7F) << shift
            if not (b & 0x80):
                out[0] = v
                return 1
            shift += 7

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
        cdef uint64_t v = self.uint_small()
        if v > 0x7FFFFFFF:
            self.fail(f"length {v} is too large")
        if unit_bits > 0 and <Py_ssize_t>v * unit_bits > self.remaining():
            self.fail(f"length {v} exceeds the remaining stream")
        return <Py_ssize_t>v


# ----------------------------------------------------------------------------- grammar

cdef int _fits(object v):
    return v is not None and -INT64_LIMIT < v < INT64_LIMIT


cdef class Encoder
cdef class Decoder


cdef class Grammar:
    """The frozen tables of one schema set, ready to be walked by encode and decode."""

    cdef CState* states
    cdef CProd* prods
    cdef CType* types
    cdef CMember* members
    cdef CDt* dts
    cdef int nstates
    cdef int nprods
    cdef int ntypes
    cdef int ndts
    cdef readonly list uris
    cdef readonly list local_names
    cdef readonly list qname_uri
    cdef readonly list qname_local
    cdef readonly dict qname_index  # (uri, local) -> qname id
    cdef list qname_text  # "{uri}local" per qname id
    cdef list qname_short  # local name per qname id (paths in messages)
    # datatypes (Python side: names, enumeration values, the generic path)
    cdef list dt_info
    cdef list dt_decoded  # per datatype: tuple of the objects decoding returns
    # types
    cdef list t_class
    cdef list t_names
    cdef list t_qnames
    cdef list t_classmap
    cdef list t_typename
    cdef readonly int doc_content
    cdef readonly int fragment_content
    cdef readonly dict element_types
    cdef readonly dict fragment_types
    cdef readonly int anytype
    cdef readonly dict xsd_type_index  # (uri id, local id) -> type id, for xsi:type
    cdef readonly frozenset nillable  # qname ids of elements declared nillable
    cdef int xsi_uri
    # one idle encoder and decoder, reused call after call (their set-up and stacks
    # would otherwise cost as much as a small message); a call that finds none (nested
    # or concurrent use, or after an error) makes its own. Taking one is a read and a
    # clear with no Python code between them, so under the GIL no two calls share one.
    cdef Encoder idle_encoder
    cdef Decoder idle_decoder

    def __cinit__(self):
        self.states = NULL
        self.prods = NULL
        self.types = NULL
        self.members = NULL
        self.dts = NULL

    def __dealloc__(self):
        PyMem_Free(self.states)
        PyMem_Free(self.prods)
        PyMem_Free(self.types)
        PyMem_Free(self.members)
        PyMem_Free(self.dts)

    def __init__(self, dict tables, list classes):
        cdef int i, j, k, n, s, nmem
        cdef CState* st
        cdef CType* ct
        cdef CMember* cm
        cdef CDt* cd
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
        # datatypes
        dtabs = tables["datatypes"]
        self.ndts = len(dtabs)
        self.dts = <CDt*>PyMem_Malloc(sizeof(CDt) * max(self.ndts, 1))
        if self.dts == NULL:
            raise MemoryError()
        self.dt_info = []
        self.dt_decoded = []
        for i, d in enumerate(dtabs):
            info = dict(d)
            if d["kind"] == DT_ENUM:
                info["index"] = {v: x for x, v in enumerate(d["values"])}
            self.dt_info.append(info)
            self.dt_decoded.append(tuple(d.get("decoded", d["values"])))
            cd = &self.dts[i]
            cd.decoded = <PyObject*>self.dt_decoded[i]
            cd.empty_value = any(isinstance(x, (str, bytes)) and len(x) == 0
                                 for x in self.dt_decoded[i])
            cd.kind = d["kind"]
            cd.width = d["width"]
            cd.item = d["item"]
            mn, mx = d["minimum"], d["maximum"]
            cd.big = (mn is not None and not _fits(mn)) or (mx is not None and not _fits(mx))
            cd.has_min = mn is not None and not cd.big
            cd.has_max = mx is not None and not cd.big
            cd.minimum = mn if cd.has_min else 0
            cd.maximum = mx if cd.has_max else 0
            cd.min_length = d["min_length"] if d["min_length"] is not None else -1
            cd.max_length = d["max_length"] if d["max_length"] is not None else -1
            if cd.kind == DT_NBIT and cd.big:
                raise ValueError("n-bit integer bounds beyond 62 bits")
        # types
        ttabs = tables["types"]
        self.ntypes = len(ttabs)
        nmem = sum(len(t["members"]) for t in ttabs)
        self.types = <CType*>PyMem_Malloc(sizeof(CType) * max(self.ntypes, 1))
        self.members = <CMember*>PyMem_Malloc(sizeof(CMember) * max(nmem, 1))
        if self.types == NULL or self.members == NULL:
            raise MemoryError()
        memset(self.types, 0, sizeof(CType) * max(self.ntypes, 1))
        self.t_names = []
        self.t_qnames = []
        self.t_typename = []
        self.xsd_type_index = {}
        k = 0
        for i, t in enumerate(ttabs):
            ct = &self.types[i]
            ct.simple = t["simple"]
            ct.dt = t["datatype"]
            ct.start = t["start"]
            ct.empty_start = t["empty_start"]
            ct.base = t.get("base", -1)
            ct.first = k
            ct.n = len(t["members"])
            ct.fast = 0
            ct.klass = NULL
            ct.ch_code = -1
            ct.one_kind = -1
            if ct.simple:
                j = self._find(ct.start, EV_CH, -1)
                if j >= 0:
                    s = self.prods[self.states[ct.start].first + j].target
                    ct.ch_code = j
                    ct.ch_width = self.states[ct.start].width1
                    ct.ch_dt = self.prods[self.states[ct.start].first + j].child
                    ct.ch_target = s
                    ct.ee_code = self.states[s].ee
                    ct.ee_width = self.states[s].width1
                    self._one_shape(ct)
            for m in t["members"]:
                cm = &self.members[k]
                cm.kind = m["kind"]
                cm.islist = m["is_list"] or m["kind"] == M_CHILDREN
                cm.nq = len(m["qnames"])
                cm.q0 = m["qnames"][0] if m["qnames"] else -1
                cm.offset = -1
                k += 1
            self.t_names.append(tuple(m["name"] for m in t["members"]))
            self.t_qnames.append(tuple(tuple(m["qnames"]) for m in t["members"]))
            self.t_typename.append(t["name"])
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
        self.nillable = frozenset(tables.get("nillable", ()))
        xsd = self.uris.index(XSD_NS)
        if "anyType" in self.local_names[xsd]:
            # xsi:type="xs:anyType" names the ur-type, which has no entry of its own
            self.xsd_type_index.setdefault((xsd, self.local_names[xsd].index("anyType")),
                                           self.anytype)
        self.xsi_uri = self.uris.index("http://www.w3.org/2001/XMLSchema-instance")
        self.set_classes(classes)

    cdef void _one_shape(self, CType* ct) noexcept:
        cdef CDt* d = &self.dts[ct.dt]
        cdef int vw
        if ct.ch_dt != ct.dt or ct.ee_code < 0:
            return
        if d.kind == DT_BOOLEAN:
            vw = 1
        elif d.kind == DT_NBIT or d.kind == DT_ENUM:
            vw = d.width
        else:
            return
        if ct.ch_width + vw + ct.ee_width > 32:
            return
        ct.one_kind = d.kind
        ct.one_width = ct.ch_width + vw + ct.ee_width
        ct.one_vmask = (<uint64_t>1 << vw) - 1
        ct.one_mask = ((((<uint64_t>1 << ct.ch_width) - 1) << (vw + ct.ee_width))
                       | ((<uint64_t>1 << ct.ee_width) - 1))
        ct.one_pattern = ((<uint64_t>ct.ch_code << (vw + ct.ee_width))
                          | <uint64_t>ct.ee_code)

    def set_classes(self, list classes):
        """Bind the model class of every complex type (index = type id)."""
        cdef int i, mi
        cdef CType* ct
        cdef CMember* cm
        cdef Py_ssize_t off
        self.t_class = list(classes)
        # the type of the element each (owner type, qname) SE leads to, in one pass
        cdef int s, j
        cdef CProd* p
        child_of = {}
        for s in range(self.nstates):
            for j in range(self.states[s].count):
                p = &self.prods[self.states[s].first + j]
                if p.event == EV_SE:
                    child_of.setdefault((self.states[s].owner, p.qname), p.child)
        self.t_classmap = []
        for i in range(self.ntypes):
            ct = &self.types[i]
            klass = self.t_class[i] if i < len(self.t_class) else None
            ct.klass = <PyObject*>klass if klass is not None else NULL
            ct.fast = 0
            names = self.t_names[i]
            if klass is not None and not ct.simple and _plain_slot_class(klass):
                ct.fast = 1
                for mi in range(ct.n):
                    off = _slot_offset(klass, names[mi])
                    self.members[ct.first + mi].offset = off
                    if off < 0:
                        ct.fast = 0
            maps = []
            for mi in range(ct.n):
                m = {}
                qids = self.t_qnames[i][mi]
                if len(qids) > 1:
                    for q in qids:
                        tid = child_of.get((i, q), -1)
                        if (tid >= 0 and not self.types[tid].simple and tid < len(self.t_class)
                                and self.t_class[tid] is not None):
                            m.setdefault(self.t_class[tid], q)
                maps.append(m)
            self.t_classmap.append(tuple(maps))
            for mi in range(ct.n):
                self.members[ct.first + mi].classmap = <PyObject*>maps[mi]

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

    cdef inline int _find(self, int s, int event, int qname) noexcept:
        cdef CState* st = &self.states[s]
        cdef int j
        cdef CProd* p
        for j in range(st.count):
            p = &self.prods[st.first + j]
            if p.event == event and (qname < 0 or p.qname == qname):
                return j
        return -1

    cdef int _lookup_qname(self, object qn) except -2:
        if isinstance(qn, int):
            return qn
        u, ln = _split_qname(str(qn))
        return self.qname_index.get((u, ln), -1)

    def encode(self, int qname, object value, bint fragment=False, bint empty_as_ch=False,
               bint header=True, bint lenient=False):
        """Encode one element (document) or a list of (qname, value) (fragment).

        ``lenient`` writes values that break facets whenever the EXI representation
        can still carry them (for fuzzing peers; see :mod:`iso15118.testing`).
        """
        cdef Encoder e = self.idle_encoder
        if e is None:
            e = Encoder.__new__(Encoder)
            e.w = BitWriter.__new__(BitWriter)
        else:
            self.idle_encoder = None
            e.w.reset()
        e.g = self
        e.empty_as_ch = empty_as_ch
        e.lenient = lenient
        e.uris = self.uris
        e.local_names = self.local_names
        e.tables_copied = False
        e.undeclared_seen = None
        result = e.run(qname, value, fragment, header)
        e.g = None
        e.uris = e.local_names = None
        e.undeclared_seen = None
        self.idle_encoder = e
        return result

    cdef Decoder take_decoder(self, bytes data, bint strict):
        cdef Decoder d = self.idle_decoder
        if d is None:
            d = Decoder.__new__(Decoder)
            d.r = BitReader.__new__(BitReader)
        else:
            self.idle_decoder = None
        d.setup(self, data, strict)
        return d

    cdef void put_decoder(self, Decoder d) noexcept:
        d.release()
        self.idle_decoder = d

    def decode_document(self, object data, bint strict=False):
        """The document element's value alone (the common call, without the qname).

        ``data``: bytes, or anything ``bytes()`` takes (bytearray, memoryview).
        """
        cdef Decoder d = self.take_decoder(data if type(data) is bytes else bytes(data),
                                           strict)
        cdef int q
        try:
            result = d.document(&q)
            if strict:
                d.check_end()
        except DecodeError as e:
            if not e.position:
                e.set_position(d.where())
            raise
        self.put_decoder(d)
        return result

    def decode(self, bytes data, bint fragment=False, bint strict=False):
        """Decode a document (-> (qname id, value)) or a fragment (-> list of pairs).

        ``strict`` also rejects values outside their facets (ranges, lengths) and
        unused trailing bytes, which protocol auto-detection relies on.
        """
        cdef Decoder d = self.take_decoder(data, strict)
        try:
            result = d.run(fragment)
            if strict:
                d.check_end()
        except DecodeError as e:
            if not e.position:
                e.set_position(d.where())
            raise
        self.put_decoder(d)
        return result


# ----------------------------------------------------------------------------- encoding

def _split_qname(str qn):
    """Clark notation ``{uri}local`` (or a bare local name) -> (uri, local)."""
    if qn.startswith("{"):
        end = qn.find("}")
        if end < 0:
            return "", qn  # no such name in any table: refused by the caller
        return qn[1:end], qn[end + 1:]
    return "", qn


def _show(v):
    """A value for an error message; integers too long for str() are described."""
    if isinstance(v, int) and not isinstance(v, bool) and v.bit_length() > 256:
        return "an integer of %d bits" % v.bit_length()
    try:
        text = repr(v)
    except ValueError:
        return "a %s" % type(v).__name__
    return text if len(text) <= 200 else text[:200] + "..."


cdef inline bint _is_empty_text(object v) except -1:
    """An empty str or bytes value (written as an empty element, EE, by default)."""
    if PyUnicode_CheckExact(v):
        return PyUnicode_GET_LENGTH(v) == 0
    if PyBytes_CheckExact(v):
        return PyBytes_GET_SIZE(v) == 0
    return isinstance(v, (str, bytes)) and len(v) == 0


cdef inline object _label(Grammar g, int q, Py_ssize_t index):
    if index < 0:
        return g.qname_short[q]
    return "%s[%d]" % (g.qname_short[q], index)


@cython.final
@cython.freelist(4)
cdef class Encoder:
    """One encoding run: the writer and the options.

    Errors are raised with an empty path at the failing value. The child elements
    being written are kept on a stack (qname, list index), so the common path has no
    ``try``; where an error is caught (``run`` and the rarer element kinds), the stack
    above that point becomes the path (``unwind``) and the catching element adds its
    own name (EncodeError.add_parent).
    """

    cdef Grammar g
    cdef BitWriter w
    cdef int esp
    cdef int stack_q[MAX_DEPTH + 8]
    cdef Py_ssize_t stack_i[MAX_DEPTH + 8]
    cdef bint empty_as_ch
    cdef bint lenient
    cdef list uris  # qname string tables of this stream (copied on the first addition)
    cdef list local_names
    cdef bint tables_copied
    cdef set undeclared_seen  # undeclared element names met so far (built-in grammars)

    cdef int unwind(self, object e, int base) except -1:
        """Prefix the names of the elements open above ``base`` to the error's path."""
        while self.esp > base:
            self.esp -= 1
            e.add_parent(_label(self.g, self.stack_q[self.esp], self.stack_i[self.esp]))
        return 0

    cdef object nesting_error(self, int base, str name):
        """A RecursionError below an open child element: "nesting too deep" there."""
        e = EncodeError("nesting too deep")
        self.unwind(e, base)
        e.add_parent(name)
        return e

    cdef bytes run(self, int qname, object value, bint fragment, bint header):
        cdef Grammar g = self.g
        cdef int s, j, tid, q
        self.esp = 0
        if header:
            self.w.bits(8, 0x80)
        if not fragment:
            s = g.doc_content
            j = g._find(s, EV_SE, qname)
            if j < 0:
                raise EncodeError("%s is not a global element of this schema" % g.qname_text[qname])
            self.w.bits(g.states[s].width1, j)
            tid = g.prods[g.states[s].first + j].child
            try:
                self.element(tid, value, 0)
            except EncodeError as e:
                self.unwind(e, 0)
                e.add_parent(g.qname_short[qname])
                raise
            except RecursionError:
                if self.esp == 0:
                    raise
                raise self.nesting_error(0, g.qname_short[qname]) from None
            # DocEnd: ED is the only production (0 bits)
            return self.w.getvalue()
        s = g.fragment_content
        for qn, v in value:
            q = g._lookup_qname(qn)
            j = g._find(s, EV_SE, q) if q >= 0 else -1
            if j < 0:
                raise EncodeError("%s is not an element of this schema" % (qn,))
            tid = g.prods[g.states[s].first + j].child
            if tid < 0:
                raise EncodeError("%s is declared with several types; the fragment grammar for it is not supported" % (qn,))
            self.w.bits(g.states[s].width1, j)
            try:
                self.element(tid, v, 0)
            except EncodeError as e:
                self.unwind(e, 0)
                e.add_parent(g.qname_short[q])
                raise
            except RecursionError:
                if self.esp == 0:
                    raise
                raise self.nesting_error(0, g.qname_short[q]) from None
        j = g._find(s, EV_ED, -1)
        self.w.bits(g.states[s].width1, j)
        return self.w.getvalue()

    cdef int undeclared(self, int s, int u) except -1:
        cdef CState* st = &self.g.states[s]
        cdef int i
        for i in range(st.n2):
            if st.u[i] == u:
                self.w.bits(st.width1, st.count)
                self.w.bits(st.width2, i)
                return 0
        raise EncodeError("undeclared event not allowed here")

    cdef int element(self, int t, object v, int depth) except -1:
        """Encode the content of one element of type ``t`` (after its SE)."""
        cdef Grammar g = self.g
        cdef CType* ct = &g.types[t]
        cdef CMember* cm
        cdef CProd* p
        cdef int s, j, mi, q, base
        cdef Py_ssize_t i, n
        cdef object val, item
        cdef bint fast
        cdef PyObject* ptr
        if depth > MAX_DEPTH:
            raise EncodeError("nesting too deep")
        s = ct.start
        if ct.simple:
            return self.simple(t, ct, v)
        fast = ct.fast and <PyObject*>Py_TYPE(v) == ct.klass
        if not fast:  # off the common path: nil, or a class that is not the bound one
            if <PyObject*>Py_TYPE(v) == _NIL_TYPE:
                return self.nil(t, v)
            if ct.klass != NULL and <PyObject*>Py_TYPE(v) != ct.klass:
                self.check_class(t, v)
        for mi in range(ct.n):
            cm = &g.members[ct.first + mi]
            ptr = (<PyObject**>((<char*><PyObject*>v) + cm.offset))[0] if fast else NULL
            if ptr != NULL:
                val = <object>ptr
            else:  # another class, or a field never set: the generic (checked) way
                val = self.member_slow(t, mi, v)
            if val is None:
                continue
            if cm.kind == M_ELEMENT:
                if cm.islist:
                    if not PyList_CheckExact(val) and not isinstance(val, (list, tuple)):
                        raise EncodeError("expected a list", g.t_names[t][mi])
                    n = len(val)
                    for i in range(n):
                        s = self.child(s, t, mi, cm, val[i], i, depth)
                else:
                    s = self.child(s, t, mi, cm, val, -1, depth)
            elif cm.kind == M_ATTRIBUTE:
                q = cm.q0
                j = g._find(s, EV_AT, q)
                if j < 0:
                    raise EncodeError("attribute %s not allowed here" % g.qname_short[q])
                self.w.bits(g.states[s].width1, j)
                p = &g.prods[g.states[s].first + j]
                try:
                    self.value(p.child, val)
                except EncodeError as e:
                    e.add_parent("@" + g.qname_short[q])
                    raise
                s = p.target
            elif cm.kind == M_VALUE:
                if not self.empty_as_ch and _is_empty_text(val):
                    self.undeclared(s, U_EE)
                    return 0
                j = g._find(s, EV_CH, -1)
                if j < 0:
                    raise EncodeError("character content not allowed here")
                self.w.bits(g.states[s].width1, j)
                p = &g.prods[g.states[s].first + j]
                self.value(p.child, val)
                s = p.target
            else:  # M_CHILDREN: ordered content [(qname, value) | str]
                n = len(val)
                base = self.esp
                for i in range(n):
                    try:
                        s = self.ordered_child(s, val[i], depth)
                    except EncodeError as e:
                        self.unwind(e, base)
                        e.add_parent("[%d]" % i)
                        raise
                    except RecursionError:
                        if self.esp == base:
                            raise
                        raise self.nesting_error(base, "[%d]" % i) from None
        j = g.states[s].ee
        if j < 0:
            raise EncodeError("missing %s" % " or ".join(g.expected(s)))
        self.w.bits(g.states[s].width1, j)
        return 0

    cdef inline int simple(self, int t, CType* ct, object v) except -1:
        """The content of a simple-typed element: CH, the value, EE.

        The commonest values (an n-bit integer in range, an enumeration member, a bool)
        go out as one write of the three codes; anything else takes ``simple_checked``.
        """
        cdef int64_t code = self.one_code(ct, v) if ct.one_kind >= 0 else -1
        cdef CDt* d
        if code >= 0:
            return self.w.bits(ct.one_width, <uint64_t>code)
        if ct.ch_code >= 0 and PyLong_CheckExact(v):
            d = &self.g.dts[ct.dt]
            if d.kind == DT_INTEGER or d.kind == DT_UNSIGNED:
                # (an int is neither nil, nor None, nor empty text)
                self.w.bits(ct.ch_width, ct.ch_code)
                self.integer(ct.dt, d, v)
                return self.w.bits(ct.ee_width, ct.ee_code)
        return self.simple_checked(t, ct, v)

    cdef inline int64_t one_code(self, CType* ct, object v) noexcept:
        """The one-write code (CH, value, EE) of ``v`` in a type of the one-read shape,
        or -1 when ``v`` is not such a value (anything else is checked step by step)."""
        cdef CDt* d = &self.g.dts[ct.dt]
        cdef long long x
        cdef int overflow = 0
        cdef Py_ssize_t i, n
        if ct.one_kind == DT_NBIT:
            if PyLong_CheckExact(v):
                x = PyLong_AsLongLongAndOverflow(v, &overflow)
                if not overflow and d.minimum <= x <= d.maximum:
                    return ct.one_pattern | (<uint64_t>(x - d.minimum) << ct.ee_width)
        elif ct.one_kind == DT_ENUM:
            if not d.empty_value:
                n = PyTuple_GET_SIZE(<object>d.decoded)
                for i in range(n):
                    if PyTuple_GET_ITEM(<object>d.decoded, i) == <PyObject*>v:
                        return ct.one_pattern | (<uint64_t>i << ct.ee_width)
        elif ct.one_kind == DT_BOOLEAN:
            if v is True or v is False:
                return ct.one_pattern | (<uint64_t>(v is True) << ct.ee_width)
        return -1

    cdef int simple_checked(self, int t, CType* ct, object v) except -1:
        if <PyObject*>Py_TYPE(v) == _NIL_TYPE:
            return self.nil(t, v)
        if v is None:
            raise EncodeError("a value is required")
        if not self.empty_as_ch and _is_empty_text(v):
            self.undeclared(ct.start, U_EE)
            return 0
        if ct.ch_code < 0:
            return self.simple_other(t, ct, v)
        self.w.bits(ct.ch_width, ct.ch_code)
        self.value(ct.dt, v)
        self.w.bits(ct.ee_width, ct.ee_code)
        return 0

    cdef int simple_other(self, int t, CType* ct, object v) except -1:
        cdef Grammar g = self.g
        cdef int s = ct.start
        cdef int j = g._find(s, EV_CH, -1)
        self.w.bits(g.states[s].width1, j)
        self.value(ct.dt, v)
        s = g.prods[g.states[s].first + j].target
        self.w.bits(g.states[s].width1, g.states[s].ee)
        return 0

    cdef int check_class(self, int t, object v) except -1:
        """A model object of another schema's type must not be written as this one."""
        klass = <object>self.g.types[t].klass
        if isinstance(v, Model) and not isinstance(v, klass):
            raise EncodeError("%s is not a %s of this schema" % (
                type(v).__name__, self.g.t_typename[t]))
        return 0

    cdef int nil(self, int t, object v) except -1:
        """xsi:nil="true" (a second-level event of the first start tag), the element's
        attributes through its TypeEmpty grammar, then EE."""
        cdef Grammar g = self.g
        cdef CType* ct = &g.types[t]
        cdef CMember* cm
        cdef CProd* p
        cdef int s, j, mi
        self.undeclared(ct.start, U_XSI_NIL)
        self.w.bits(1, 1)
        s = ct.empty_start
        attrs = v.attributes
        if attrs is not None:
            if ct.simple:
                raise EncodeError("a nil simple-typed element has no attributes")
            for mi in range(ct.n):
                cm = &g.members[ct.first + mi]
                if cm.kind != M_ATTRIBUTE:
                    continue
                val = getattr(attrs, g.t_names[t][mi], None)
                if val is None:
                    continue
                j = g._find(s, EV_AT, cm.q0)
                if j < 0:
                    raise EncodeError("attribute %s not allowed here" % g.qname_short[cm.q0])
                self.w.bits(g.states[s].width1, j)
                p = &g.prods[g.states[s].first + j]
                try:
                    self.value(p.child, val)
                except EncodeError as e:
                    e.add_parent("@" + g.qname_short[cm.q0])
                    raise
                s = p.target
        j = g.states[s].ee
        if j < 0:
            raise EncodeError("missing %s" % " or ".join(g.expected(s)))
        self.w.bits(g.states[s].width1, j)
        return 0

    cdef object member_slow(self, int t, int mi, object v):
        try:
            return getattr(v, self.g.t_names[t][mi])
        except AttributeError:
            raise EncodeError("%s has no field %r (expected a %s)" % (
                type(v).__name__, self.g.t_names[t][mi], self.g.t_typename[t])) from None

    cdef int child(self, int s, int t, int mi, CMember* cm, object item, Py_ssize_t index,
                   int depth) except -1:
        cdef Grammar g = self.g
        cdef int q, j
        cdef PyObject* found
        cdef CProd* p
        cdef CState* st
        cdef CType* cct
        cdef int64_t code
        if cm.nq == 1:
            q = cm.q0
        else:
            found = PyDict_GetItemWithError(<object>cm.classmap, <object>Py_TYPE(item))
            q = <int>PyLong_AsLong(<object>found) if found != NULL else -1
            if q < 0:
                q = self.qname_for_item(g.t_qnames[t][mi], item, g.t_names[t][mi])
        j = g._find(s, EV_SE, q)
        if j < 0:
            raise EncodeError("%s not allowed here (expected %s)" % (
                _label(g, q, index), " or ".join(g.expected(s))))
        st = &g.states[s]
        p = &g.prods[st.first + j]
        cct = &g.types[p.child]
        if cct.one_kind >= 0 and depth < MAX_DEPTH and st.width1 + cct.one_width <= 32:
            # SE and the one-write shape together (it cannot fail: no place on the stack)
            code = self.one_code(cct, item)
            if code >= 0:
                self.w.bits(st.width1 + cct.one_width,
                            (<uint64_t>j << cct.one_width) | <uint64_t>code)
                return p.target
        self.w.bits(st.width1, j)
        # depth (checked in element) bounds the stack
        self.stack_q[self.esp] = q
        self.stack_i[self.esp] = index
        self.esp += 1
        if cct.simple and depth < MAX_DEPTH:
            self.simple(p.child, cct, item)
        else:
            self.element(p.child, item, depth + 1)
        self.esp -= 1
        return p.target

    cdef int qname_for_item(self, tuple qs, object item, str field) except -1:
        cdef Grammar g = self.g
        el = getattr(item, "_element", None)
        if el is not None:
            for q in qs:
                if g.qname_text[q] == el or g.qname_short[q] == el:
                    return q
        names = [g.qname_short[q] for q in qs]
        raise EncodeError("%s cannot stand here (one of %s expected)" % (
            type(item).__name__, ", ".join(names)), field)

    cdef int ordered_child(self, int s, object item, int depth) except -1:
        cdef Grammar g = self.g
        cdef int q, j, base
        cdef CProd* p
        if isinstance(item, str):
            j = g._find(s, EV_CH_ANY, -1)
            if j < 0:
                raise EncodeError("text not allowed here")
            self.w.bits(g.states[s].width1, j)
            self.string(item)
            return g.prods[g.states[s].first + j].target
        try:
            qn, value = item
        except (TypeError, ValueError):
            raise EncodeError("ordered content items are (qname, value) pairs or text") from None
        q = g._lookup_qname(qn)
        if q >= 0:
            j = g._find(s, EV_SE, q)
            if j >= 0:
                self.w.bits(g.states[s].width1, j)
                p = &g.prods[g.states[s].first + j]
                base = self.esp
                try:
                    self.element(p.child, value, depth + 1)
                except EncodeError as e:
                    self.unwind(e, base)
                    e.add_parent(g.qname_short[q])
                    raise
                except RecursionError:
                    if self.esp == base:
                        raise
                    raise self.nesting_error(base, g.qname_short[q]) from None
                return p.target
        return self.wildcard_child(s, str(qn), q, value, depth)

    cdef int wildcard_child(self, int s, str qn, int q, object value, int depth) except -1:
        """An element matched by a wildcard: SE(*) or SE(uri:*) with its qname.

        A globally declared element keeps its grammar. Any other element gets the
        xs:anyType grammar, announced by xsi:type="xs:anyType": with built-in element
        grammars disabled (EXI Profile), that is what the reference writes.
        """
        cdef Grammar g = self.g
        cdef int j, t, ui, base
        cdef CProd* p
        cdef CState* st = &g.states[s]
        uri, local = _split_qname(qn)
        if _NCNAME.match(local) is None or _BAD_URI.search(uri) is not None:
            raise EncodeError("%r is not a qualified XML name" % qn[:60])
        j = -1
        for k in range(st.count):
            p = &g.prods[st.first + k]
            if p.event == EV_SE_ANY or (p.event == EV_SE_NS and g.uris[p.qname] == uri):
                j = k
                break
        if j < 0:
            raise EncodeError("element %s not allowed here (expected %s)" % (
                qn, " or ".join(g.expected(s))))
        self.w.bits(st.width1, j)
        p = &g.prods[st.first + j]
        if p.event == EV_SE_ANY:
            ui = self.write_uri(uri)
        else:
            ui = p.qname
        self.write_local(ui, local)
        t = g.element_types.get(q, -1) if q >= 0 else -1
        if t < 0 and type(value) is not g.t_class[g.anytype]:
            raise EncodeError("element %s not allowed here (expected %s)" % (
                qn, " or ".join(g.expected(s))))
        base = self.esp
        try:
            if t >= 0:
                self.element(t, value, depth + 1)
            else:
                # The built-in element grammar: second level EE, AT(*), SE(*), CH in
                # 2 bits. The first level is empty the first time a name occurs in the
                # stream and holds one production on every later occurrence (as the
                # reference does), so a 1-bit escape precedes the code then. AT(*) is
                # xsi:type with the QName xs:anyType; then the schema's anyType grammar.
                if self.undeclared_seen is None:
                    self.undeclared_seen = set()
                if qn in self.undeclared_seen:
                    self.w.bits(1, 1)
                else:
                    self.undeclared_seen.add(qn)
                self.w.bits(2, 1)
                self.write_local(self.write_uri(XSI_NS), "type")
                self.write_local(self.write_uri(XSD_NS), "anyType")
                self.element(g.anytype, value, depth + 1)
        except EncodeError as e:
            self.unwind(e, base)
            e.add_parent(local)
            raise
        except RecursionError:
            if self.esp == base:
                raise
            raise self.nesting_error(base, local) from None
        return p.target

    cdef int write_uri(self, str uri) except -1:
        """A URI through the string table (EXI 1.0, 7.3.2); returns its index."""
        cdef int width = _bits_for(len(self.uris) + 1)
        cdef int i
        for i in range(len(self.uris)):
            if self.uris[i] == uri:
                self.w.bits(width, i + 1)
                return i
        self.w.bits(width, 0)
        self.w.uint_small(len(uri))
        self.chars(uri)
        self.copy_tables()
        self.uris.append(uri)
        self.local_names.append([])
        return len(self.uris) - 1

    cdef int write_local(self, int ui, str local) except -1:
        """A local name through the string table of its URI (EXI 1.0, 7.3.3)."""
        cdef list names = self.local_names[ui]
        cdef int i
        for i in range(len(names)):
            if names[i] == local:
                self.w.uint_small(0)
                self.w.bits(_bits_for(len(names)), i)
                return 0
        self.w.uint_small(len(local) + 1)
        self.chars(local)
        self.copy_tables()
        self.local_names[ui].append(local)
        return 0

    cdef void copy_tables(self):
        if not self.tables_copied:
            self.uris = list(self.uris)
            self.local_names = [list(x) for x in self.local_names]
            self.tables_copied = True

    # ------------------------------------------------------------------ values

    cdef int value(self, int dt, object v) except -1:
        cdef CDt* d = &self.g.dts[dt]
        cdef int kind = d.kind
        cdef int overflow = 0
        cdef long long x
        cdef Py_ssize_t n, i
        cdef PyObject* item
        cdef tuple decoded
        if kind == DT_NBIT:
            if PyLong_CheckExact(v):
                x = PyLong_AsLongLongAndOverflow(v, &overflow)
                if not overflow and d.minimum <= x <= d.maximum:
                    self.w.bits(d.width, <uint64_t>(x - d.minimum))
                    return 0
            return self.nbit_slow(dt, v)
        if kind == DT_ENUM:
            decoded = <tuple>d.decoded
            n = PyTuple_GET_SIZE(decoded)
            for i in range(n):
                if PyTuple_GET_ITEM(decoded, i) == <PyObject*>v:
                    self.w.bits(d.width, i)
                    return 0
            return self.enum_slow(dt, v)
        if kind == DT_STRING:
            if not PyUnicode_CheckExact(v):
                v = self.coerce_str(v)
            n = PyUnicode_GET_LENGTH(v)
            if not self.lenient:
                if d.min_length >= 0 and n < d.min_length:
                    raise EncodeError("string %r is shorter than %s characters" % (v, d.min_length))
                if d.max_length >= 0 and n > d.max_length:
                    raise EncodeError("string of %d characters exceeds maxLength %s" % (n, d.max_length))
            self.string(<str>v)
            return 0
        if kind == DT_BOOLEAN:
            if v is True or v is False:
                self.w.bits(1, 1 if v is True else 0)
            elif v in (0, 1):
                self.w.bits(1, v)
            elif v in ("true", "1", "false", "0"):
                self.w.bits(1, 1 if v in ("true", "1") else 0)
            else:
                raise EncodeError("%r is not a boolean" % (v,))
            return 0
        if kind == DT_UNSIGNED or kind == DT_INTEGER:
            return self.integer(dt, d, v)
        if kind == DT_BINARY_HEX or kind == DT_BINARY_BASE64:
            if not PyBytes_CheckExact(v):
                v = self.coerce_bytes(kind, v)
            n = PyBytes_GET_SIZE(v)
            if not self.lenient:
                if d.min_length >= 0 and n < d.min_length:
                    raise EncodeError("%d bytes is shorter than minLength %s" % (n, d.min_length))
                if d.max_length >= 0 and n > d.max_length:
                    raise EncodeError("%d bytes exceeds maxLength %s" % (n, d.max_length))
            self.w.uint_small(n)
            self.w.raw(<const uint8_t*>PyBytes_AS_STRING(v), n)
            return 0
        if kind == DT_LIST:
            if isinstance(v, (str, bytes)):
                v = v.split()
            self.w.uint(len(v))
            for x_item in v:
                self.value(d.item, x_item)
            return 0
        if kind == DT_DECIMAL:
            return self.decimal(v)
        if kind == DT_FLOAT:
            return self.float_(v)
        raise EncodeError("datatype %s is not supported" % self.g.dt_info[dt]["name"])

    cdef inline int integer(self, int dt, CDt* d, object v) except -1:
        cdef int overflow = 0
        cdef long long x
        if PyLong_CheckExact(v) and not d.big:
            x = PyLong_AsLongLongAndOverflow(v, &overflow)
            if not overflow and (self.lenient or (
                    (not d.has_min or x >= d.minimum) and (not d.has_max or x <= d.maximum))):
                if d.kind == DT_UNSIGNED:
                    if x >= 0:
                        return self.w.uint_small(<uint64_t>x)
                elif x < 0:
                    self.w.bits(1, 1)
                    return self.w.uint_small(<uint64_t>(-(x + 1)))
                else:
                    self.w.bits(1, 0)
                    return self.w.uint_small(<uint64_t>x)
        return self.integer_slow(dt, v)

    cdef int nbit_slow(self, int dt, object v) except -1:
        cdef CDt* d = &self.g.dts[dt]
        info = self.g.dt_info[dt]
        v = self.coerce_int(v)
        if d.minimum <= v <= d.maximum:
            self.w.bits(d.width, <uint64_t>(v - d.minimum))
            return 0
        if self.lenient and 0 <= v - d.minimum < (1 << d.width):
            # out of the facets but inside what the n bits can carry
            self.w.bits(d.width, <uint64_t>(v - d.minimum))
            return 0
        raise EncodeError("%s is outside [%s, %s] (%s)%s" % (
            _show(v), info["minimum"], info["maximum"], info["name"],
            " and beyond what %d bits can carry" % d.width if self.lenient else ""))

    cdef int integer_slow(self, int dt, object v) except -1:
        info = self.g.dt_info[dt]
        v = self.coerce_int(v)
        if not self.lenient:
            if info["minimum"] is not None and v < info["minimum"]:
                raise EncodeError("%s is below the minimum %s (%s)" % (_show(v), info["minimum"], info["name"]))
            if info["maximum"] is not None and v > info["maximum"]:
                raise EncodeError("%s is above the maximum %s (%s)" % (_show(v), info["maximum"], info["name"]))
        if self.g.dts[dt].kind == DT_UNSIGNED:
            if v < 0:
                raise EncodeError("%s cannot be written as an unsigned integer" % _show(v))
            self.w.uint(v)
        elif v < 0:
            self.w.bits(1, 1)
            self.w.uint(-v - 1)
        else:
            self.w.bits(1, 0)
            self.w.uint(v)
        return 0

    cdef int enum_slow(self, int dt, object v) except -1:
        cdef CDt* d = &self.g.dts[dt]
        info = self.g.dt_info[dt]
        idx = -1
        try:
            idx = info["index"][v]
        except (KeyError, TypeError):
            idx = self.enum_coerce(info, v)
        if idx < 0 and self.lenient and isinstance(v, int) and not isinstance(v, bool):
            # a raw index, possibly beyond the enumeration (fuzzing peers)
            if 0 <= v < (1 << d.width):
                idx = v
        if idx < 0:
            raise EncodeError("%s is not one of the values of %s" % (_show(v), info["name"]))
        self.w.bits(d.width, idx)
        return 0

    cdef object coerce_str(self, object v):
        if v is None:
            raise EncodeError("a value is required")
        return str(v.value if hasattr(v, "value") else v)

    cdef object coerce_int(self, object v):
        if isinstance(v, bool):
            raise EncodeError("%r is not an integer" % (v,))
        if isinstance(v, int):
            return int(v)
        try:
            if isinstance(v, str):
                return int(v.strip())
            if isinstance(v, float) and v != int(v):
                raise ValueError
            return int(v)
        except (TypeError, ValueError, OverflowError):
            raise EncodeError("%r is not an integer" % (v,)) from None

    cdef object coerce_bytes(self, int kind, object v):
        import base64
        import binascii
        if isinstance(v, (bytes, bytearray, memoryview)):
            return bytes(v)
        if isinstance(v, str):
            try:
                if kind == DT_BINARY_HEX:
                    return bytes.fromhex(v.strip())
                return base64.b64decode("".join(v.split()), validate=True)
            except (ValueError, binascii.Error):
                pass
        raise EncodeError("%r is not binary data" % (v,))

    cdef int enum_coerce(self, dict info, object v) except -2:
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

    cdef int string(self, str v) except -1:
        # a value-table miss: length + 2 (valuePartitionCapacity 0: never a hit)
        self.w.uint_small(PyUnicode_GET_LENGTH(v) + 2)
        return self.chars(v)

    cdef int chars(self, str v) except -1:
        cdef Py_UCS4 c
        for c in v:
            if c < 128:
                self.w.bits(8, c)
            elif 0xD800 <= c <= 0xDFFF:
                raise EncodeError("code point U+%04X is a surrogate, not a character" % (<long>c))
            else:
                self.w.uint_small(c)
        return 0

    cdef int decimal(self, object v) except -1:
        from decimal import Decimal, InvalidOperation
        try:
            d = Decimal(v) if not isinstance(v, float) else Decimal(repr(v))
        except (InvalidOperation, TypeError, ValueError):
            raise EncodeError("%r is not a decimal" % (v,)) from None
        if not d.is_finite():
            raise EncodeError("%r is not a finite decimal" % (v,))
        sign, digits, exp = d.as_tuple()
        s = "".join(str(x) for x in digits)
        if exp >= 0:
            ip, fp = s + "0" * exp, ""
        else:
            k = len(s) + exp
            ip = s[:k] if k > 0 else "0"
            fp = ("0" * (-k) + s) if k < 0 else s[k:]
        fp = fp.rstrip("0")
        self.w.bits(1, 1 if sign and (int(ip or "0") or fp) else 0)
        self.w.uint(int(ip or "0"))
        self.w.uint(int(fp[::-1]) if fp else 0)
        return 0

    cdef int float_(self, object v) except -1:
        import math
        from decimal import Decimal
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise EncodeError("%r is not a float" % (v,)) from None
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
                self.w.bits(1, 1)
                self.w.uint(-x - 1)
            else:
                self.w.bits(1, 0)
                self.w.uint(x)
        return 0


# ----------------------------------------------------------------------------- decoding

@cython.final
@cython.freelist(4)
cdef class Decoder:
    """One decoding run: the reader, the per-stream string tables, the position.

    Qnames are ints: ids of the grammar's qnames, or negative for names the stream
    introduced (``foreign``). The element path is a stack of those ids, turned into
    text only when an error needs it.
    """

    cdef Grammar g
    cdef BitReader r
    cdef int stack[MAX_DEPTH + 8]
    cdef int sp
    cdef int state
    cdef list foreign  # text of stream-defined qnames; id -(i + 1)
    cdef list uris  # per-stream copies, made on the first table miss
    cdef list local_names
    cdef bint tables_copied
    cdef dict local_values
    cdef list global_values
    cdef bint strict
    cdef set undeclared_seen  # undeclared element names met so far (built-in grammars)

    cdef int setup(self, Grammar g, bytes data, bint strict) except -1:
        self.g = g
        self.strict = strict
        self.r.reset(data)
        self.sp = 0
        self.state = -1
        self.foreign = None
        self.uris = g.uris
        self.local_names = g.local_names
        self.tables_copied = False
        self.local_values = None
        self.global_values = None
        self.undeclared_seen = None
        return 0

    cdef void release(self) noexcept:
        """Let go of the stream and its tables once a decode is done (kept for reuse)."""
        self.g = None
        self.r.release()
        self.foreign = None
        self.uris = self.local_names = None
        self.local_values = None
        self.global_values = None
        self.undeclared_seen = None

    cdef int check_end(self) except -1:
        cdef Py_ssize_t rest = self.r.remaining()
        if rest >= 8:
            self.r.fail("%d unused bytes after the end of the document" % (rest // 8))
        if rest > 0 and self.r.bits(rest) != 0:
            self.r.fail("non-zero padding after the end of the document")
        return 0

    cdef str where(self):
        names = [self.qtext(self.stack[i], True) for i in range(min(self.sp, MAX_DEPTH + 8))]
        return "/" + "/".join(names) + (" (state %d)" % self.state if self.state >= 0 else "")

    cdef object qtext(self, int q, bint short):
        if q >= 0:
            return self.g.qname_short[q] if short else self.g.qname_text[q]
        return self.foreign[-q - 1]

    cdef object public_qname(self, int q):
        """What callers get: the grammar's qname id, or the text of a foreign one."""
        return q if q >= 0 else self.foreign[-q - 1]

    cdef inline int push(self, int q) except -1:
        if self.sp >= MAX_DEPTH + 8:
            self.r.fail("elements nested too deeply")
        self.stack[self.sp] = q
        self.sp += 1
        return 0

    cdef int header(self) except -1:
        cdef uint64_t hdr = self.r.bits(8)
        if (hdr >> 6) != 2:
            if hdr == 0x24:
                self.r.fail("EXI cookie '$EXI' is not supported")
            self.r.fail("not an EXI stream: header byte 0x%02x" % hdr)
        if hdr & 0x20:
            self.r.fail("EXI options in the header are not supported")
        if hdr & 0x1F != 0:
            self.r.fail("unsupported EXI version in the header")
        return 0

    cdef object document(self, int* qname):
        """The header and the document element: its value, its qname in ``qname``."""
        cdef Grammar g = self.g
        cdef int s, code, tid, q
        cdef CProd* p
        self.header()
        s = g.doc_content
        self.state = s
        code = self.r.bits(g.states[s].width1)
        if code >= g.states[s].count:
            self.r.fail("invalid event code %d at document start" % code)
        p = &g.prods[g.states[s].first + code]
        if p.event == EV_SE_ANY:
            q = self.read_qname()
            tid = g.element_types.get(q, -1) if q >= 0 else -1
            if tid < 0:
                self.r.fail("undeclared root element %s" % self.qtext(q, False))
        else:
            q = p.qname
            tid = p.child
        self.push(q)
        value = self.element(tid, q, 0)
        self.sp -= 1
        qname[0] = q
        return value

    cdef object run(self, bint fragment):
        cdef Grammar g = self.g
        cdef int s, code, tid, q
        cdef CProd* p
        if not fragment:
            value = self.document(&q)
            return self.public_qname(q), value
        self.header()
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
                q = self.read_qname()
                tid = g.fragment_types.get(q, -1) if q >= 0 else -1
            else:
                q = p.qname
                tid = p.child
            if tid < 0:
                self.r.fail("element %s has no unique grammar in fragments" % self.qtext(q, False))
            self.push(q)
            out.append((self.public_qname(q), self.element(tid, q, 0)))
            self.sp -= 1

    # ------------------------------------------------------------------ qnames

    cdef int qid(self, str uri, str local) except? -1:
        q = self.g.qname_index.get((uri, local))
        if q is not None:
            return q
        text = "{%s}%s" % (uri, local) if uri else local
        if self.foreign is None:
            self.foreign = []
        if text in self.foreign:
            return -(self.foreign.index(text) + 1)
        self.foreign.append(text)
        return -len(self.foreign)

    cdef int read_qname(self) except? -1:
        """A qname from the string tables (EXI 1.0, 7.1.7)."""
        uri, local = self.read_qname_parts()
        return self.qid(uri, local)

    cdef tuple read_qname_parts(self):
        cdef int w = _bits_for(len(self.uris) + 1)
        cdef uint64_t u = self.r.bits(w)
        cdef str uri, local
        cdef Py_ssize_t ui
        if u == 0:
            uri = self.literal()
            if _BAD_URI.search(uri) is not None:
                self.r.fail("%r is not a namespace URI" % uri[:40])
            self.copy_tables()
            self.uris.append(uri)
            self.local_names.append([])
            ui = len(self.uris) - 1
        else:
            ui = u - 1
            if ui >= len(self.uris):
                self.r.fail("invalid URI index")
            uri = self.uris[ui]
        return uri, self.read_local(ui)

    cdef str read_local(self, Py_ssize_t ui):
        cdef uint64_t n = self.r.uint_small()
        cdef uint64_t idx
        cdef list names = self.local_names[ui]
        cdef str local
        if n == 0:
            idx = self.r.bits(_bits_for(len(names)))
            if idx >= <uint64_t>len(names):
                self.r.fail("invalid local-name index")
            return names[idx]
        if n - 1 > <uint64_t>(self.r.remaining() // 8):
            self.r.fail("local-name length exceeds the stream")
        local = self.chars(n - 1)
        if _NCNAME.match(local) is None:
            self.r.fail("%r is not an XML name" % local[:40])
        self.copy_tables()
        self.local_names[ui].append(local)
        return local

    cdef void copy_tables(self):
        if not self.tables_copied:
            self.uris = list(self.uris)
            self.local_names = [list(x) for x in self.local_names]
            self.tables_copied = True

    # ------------------------------------------------------------------ values

    cdef str chars(self, Py_ssize_t n):
        cdef list out
        cdef Py_ssize_t i
        cdef uint64_t c
        cdef bytearray ascii
        cdef Py_ssize_t start = self.r.bit
        # most strings are ASCII: one byte per character, no list of code points
        ascii = bytearray(n)
        for i in range(n):
            c = self.r.uint_small()
            if c >= 128:
                self.r.bit = start
                return self.chars_unicode(n)
            ascii[i] = <uint8_t>c
        return ascii.decode("ascii")

    cdef str chars_unicode(self, Py_ssize_t n):
        cdef list out = []
        cdef Py_ssize_t i
        cdef uint64_t c
        for i in range(n):
            c = self.r.uint_small()
            if c > 0x10FFFF:
                self.r.fail("invalid code point %d" % c)
            if 0xD800 <= c <= 0xDFFF:
                # not a character (XML's Char excludes them, UTF-8 cannot carry them):
                # accepting one would only move the failure into whatever prints it
                self.r.fail("code point U+%04X is a surrogate, not a character" % c)
            out.append(chr(c))
        return "".join(out)

    cdef str literal(self):
        cdef Py_ssize_t n = self.r.length(8)
        return self.chars(n)

    cdef object string_value(self, int q):
        """A string value with the value tables (EXI 1.0, 7.3.3)."""
        cdef uint64_t n = self.r.uint_small()
        cdef list lv
        cdef str s
        if n == 0:
            lv = self.local_values.get(q) if self.local_values is not None else None
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
        if n > <uint64_t>(self.r.remaining() // 8):
            self.r.fail("string length %d exceeds the remaining stream" % n)
        s = self.chars(n)
        if n > 0:
            # Other encoders may add values (default EXI options); mirror them so
            # their later hits resolve. Our own encoder never emits hits.
            if self.local_values is None:
                self.local_values = {}
                self.global_values = []
            self.local_values.setdefault(q, []).append(s)
            self.global_values.append(s)
        return s

    cdef object value(self, int dt, int q):
        cdef Grammar g = self.g
        cdef CDt* d = &g.dts[dt]
        cdef int kind = d.kind
        cdef bint neg
        cdef int64_t x
        cdef uint64_t idx, u
        cdef Py_ssize_t n, i
        if kind == DT_NBIT:
            x = <int64_t>self.r.bits(d.width) + d.minimum
            # Out-of-range n-bit values decode as written (as the reference does), so
            # captures with bit errors stay readable; strict mode rejects them.
            if self.strict and x > d.maximum:
                self.r.fail("n-bit integer %d above the maximum %s" % (x, d.maximum))
            return PyLong_FromLongLong(x)
        if kind == DT_ENUM:
            idx = self.r.bits(d.width)
            decoded = <tuple>d.decoded
            if idx >= <uint64_t>PyTuple_GET_SIZE(decoded):
                self.r.fail("enumeration index %d out of range for %s" % (idx, g.dt_info[dt]["name"]))
            return <object>PyTuple_GET_ITEM(decoded, idx)
        if kind == DT_BOOLEAN:
            return self.r.bits(1) == 1
        if kind == DT_STRING:
            v = self.string_value(q)
            if self.strict:
                self.check_length(dt, len(v))
            return v
        if kind == DT_INTEGER or kind == DT_UNSIGNED:
            neg = kind == DT_INTEGER and self.r.bits(1) != 0
            if self.r.uint63(&u):
                x = -<int64_t>u - 1 if neg else <int64_t>u
                if self.strict and not d.big and ((d.has_min and x < d.minimum)
                                                  or (d.has_max and x > d.maximum)):
                    self.facet_error(dt, x)
                return PyLong_FromLongLong(x)
            big = -self.r.uint() - 1 if neg else self.r.uint()
            if self.strict:
                info = g.dt_info[dt]
                if ((info["minimum"] is not None and big < info["minimum"])
                        or (info["maximum"] is not None and big > info["maximum"])):
                    self.facet_error(dt, big)
            return big
        if kind == DT_BINARY_HEX or kind == DT_BINARY_BASE64:
            n = self.r.length(8)
            if self.strict:
                self.check_length(dt, n)
            return self.binary(n)
        if kind == DT_LIST:
            n = self.r.length(1)
            return [self.value(d.item, q) for i in range(n)]
        if kind == DT_DECIMAL:
            from decimal import Decimal
            neg = self.r.bits(1)
            ip = self.r.uint()
            fp = self.r.uint()
            try:
                txt = ("-" if neg else "") + str(ip) + ("." + str(fp)[::-1] if fp else "")
            except ValueError:  # beyond Python's int-to-str digit limit
                self.r.fail("decimal with more digits than can be represented")
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
            try:
                return float(mant) * (10.0 ** exp) if exp < 300 else float(str(mant) + "e" + str(exp))
            except (ValueError, OverflowError):
                self.r.fail("float mantissa out of range")
        self.r.fail("datatype %s is not supported" % g.dt_info[dt]["name"])

    cdef int facet_error(self, int dt, object v) except -1:
        info = self.g.dt_info[dt]
        self.r.fail("%s is outside [%s, %s] (%s)" % (_show(v), info["minimum"],
                                                     info["maximum"], info["name"]))

    cdef int check_length(self, int dt, Py_ssize_t n) except -1:
        cdef CDt* d = &self.g.dts[dt]
        if (d.min_length >= 0 and n < d.min_length) or (d.max_length >= 0 and n > d.max_length):
            self.r.fail("length %d is outside [%s, %s] (%s)" % (
                n, self.g.dt_info[dt]["min_length"], self.g.dt_info[dt]["max_length"],
                self.g.dt_info[dt]["name"]))
        return 0

    cdef bytes binary(self, Py_ssize_t n):
        cdef bytes out
        cdef uint8_t* dst
        cdef Py_ssize_t i, start
        if (self.r.bit & 7) == 0:
            start = self.r.bit >> 3
            self.r.bit += n * 8
            return PyBytes_FromStringAndSize(<const char*>self.r.data + start, n)
        out = PyBytes_FromStringAndSize(NULL, n)
        dst = <uint8_t*>PyBytes_AS_STRING(out)
        for i in range(n):
            dst[i] = <uint8_t>self.r.bits(8)
        return out

    cdef object empty_value(self, int dt):
        cdef int kind = self.g.dts[dt].kind
        if kind == DT_STRING:
            return ""
        if kind == DT_BINARY_HEX or kind == DT_BINARY_BASE64:
            return b""
        if kind == DT_LIST:
            return []
        self.r.fail("empty content for a %s value" % self.g.dt_info[dt]["name"])

    # ------------------------------------------------------------------ elements

    cdef object new_object(self, int t):
        """A model object of type ``t`` with every field at its default (None or [])."""
        cdef Grammar g = self.g
        cdef CType* ct = &g.types[t]
        cdef CMember* cm
        cdef int mi
        if ct.klass == NULL:
            self.r.fail("type %s cannot be instantiated" % g.t_typename[t])
        if ct.fast:
            obj = _alloc(ct.klass)
            for mi in range(ct.n):
                cm = &g.members[ct.first + mi]
                if cm.islist:
                    _slot_set_new_list(obj, cm.offset)
                else:
                    _slot_set(obj, cm.offset, None)
            return obj
        klass = <object>ct.klass
        obj = klass.__new__(klass)
        names = g.t_names[t]
        for mi in range(ct.n):
            setattr(obj, names[mi], [] if g.members[ct.first + mi].islist else None)
        return obj

    cdef int set_member(self, object obj, int t, int mi, object v) except -1:
        cdef CType* ct = &self.g.types[t]
        if ct.fast:
            _slot_set(obj, self.g.members[ct.first + mi].offset, v)
        else:
            setattr(obj, self.g.t_names[t][mi], v)
        return 0

    cdef object get_member(self, object obj, int t, int mi):
        cdef CType* ct = &self.g.types[t]
        if ct.fast:
            return _slot_get(obj, self.g.members[ct.first + mi].offset)
        return getattr(obj, self.g.t_names[t][mi])

    cdef object element(self, int t, int q, int depth):
        """Decode an element's content with the grammar of type ``t`` (after SE)."""
        cdef CType* ct = &self.g.types[t]
        if ct.simple:
            v = self.one_read(ct) if ct.one_kind >= 0 else None
            return v if v is not None else self.simple_element(t, q, depth)
        return self.walk(t, q, depth, ct.start, None)

    cdef inline object one_read(self, CType* ct):
        """A simple element in its one-read shape (CH, an n-bit integer, enumeration index
        or boolean, EE) as one read; None when the stream holds something else there
        (nothing is consumed then, and the step-by-step path decides)."""
        cdef CDt* d
        cdef uint64_t w
        if self.r.bit + ct.one_width > self.r.nbytes * 8:
            return None
        w = self.r.peek(ct.one_width)
        if (w & ct.one_mask) != ct.one_pattern:
            return None
        w = (w >> ct.ee_width) & ct.one_vmask
        d = &self.g.dts[ct.ch_dt]
        if ct.one_kind == DT_NBIT:
            if self.strict:  # the maximum is checked step by step
                return None
            self.r.bit += ct.one_width
            self.state = ct.ch_target
            return PyLong_FromLongLong(<int64_t>w + d.minimum)
        if ct.one_kind == DT_ENUM:
            if w >= <uint64_t>PyTuple_GET_SIZE(<object>d.decoded):
                return None
            self.r.bit += ct.one_width
            self.state = ct.ch_target
            return <object>PyTuple_GET_ITEM(<object>d.decoded, w)
        self.r.bit += ct.one_width
        self.state = ct.ch_target
        return w == 1

    cdef inline object simple_element(self, int t, int q, int depth):
        """The common shape of a simple-typed element, CH then EE, without the general walk
        (callers try ``one_read`` first).

        Anything else (an empty element, xsi:nil, xsi:type, undeclared events) rewinds
        the event codes read so far (reading them has no side effects) and takes the
        general walk.
        """
        cdef CType* ct = &self.g.types[t]
        cdef Py_ssize_t save = self.r.bit
        cdef CDt* d
        cdef int64_t x
        cdef object v
        self.state = ct.start
        if ct.ch_code >= 0 and <int>self.r.bits(ct.ch_width) == ct.ch_code:
            # the commonest value kinds inline (n-bit integers, enumerations, booleans)
            d = &self.g.dts[ct.ch_dt]
            if d.kind == DT_NBIT and not self.strict:
                x = <int64_t>self.r.bits(d.width) + d.minimum
                v = PyLong_FromLongLong(x)
            elif d.kind == DT_ENUM and d.width > 0:
                x = self.r.bits(d.width)
                if x >= PyTuple_GET_SIZE(<object>d.decoded):
                    self.r.fail("enumeration index %d out of range for %s" % (
                        x, self.g.dt_info[ct.ch_dt]["name"]))
                v = <object>PyTuple_GET_ITEM(<object>d.decoded, x)
            elif d.kind == DT_BOOLEAN:
                v = self.r.bits(1) == 1
            elif (d.kind == DT_INTEGER or d.kind == DT_UNSIGNED) and not self.strict:
                v = self.small_integer(d)
                if v is None:
                    v = self.value(ct.ch_dt, q)
            else:
                v = self.value(ct.ch_dt, q)
            self.state = ct.ch_target
            save = self.r.bit
            if <int>self.r.bits(ct.ee_width) == ct.ee_code:
                return v
            self.r.bit = save
            return self.walk(t, q, depth, ct.ch_target, v)
        self.r.bit = save
        return self.walk(t, q, depth, ct.start, None)

    cdef inline object small_integer(self, CDt* d):
        """An integer that fits 63 bits, or None with nothing consumed (then ``value``)."""
        cdef Py_ssize_t save = self.r.bit
        cdef bint neg = d.kind == DT_INTEGER and self.r.bits(1) != 0
        cdef uint64_t u
        if self.r.uint63(&u):
            return PyLong_FromLongLong(-<int64_t>u - 1 if neg else <int64_t>u)
        self.r.bit = save
        return None

    cdef object walk(self, int t, int q, int depth, int s, object value):
        """The general element walk from state ``s`` (``value``: simple content so far)."""
        cdef Grammar g = self.g
        cdef CType* ct = &g.types[t]
        cdef CMember* cm
        cdef int code, ec2, u, ev, cq, nt
        cdef CState* st
        cdef CProd* p
        cdef object obj = None
        cdef CType* cct
        cdef bint simple = ct.simple
        if depth > MAX_DEPTH:
            self.r.fail("elements nested too deeply")
        if not simple:
            obj = self.new_object(t)
        while True:
            self.state = s
            st = &g.states[s]
            code = self.r.bits(st.width1)
            if code < st.count:
                p = &g.prods[st.first + code]
                ev = p.event
                if ev == EV_SE:
                    cct = &g.types[p.child]
                    # (the one-read shape cannot fail, so it needs no place on the stack)
                    child = self.one_read(cct) if cct.one_kind >= 0 else None
                    if child is None:
                        self.push(p.qname)
                        if cct.simple:
                            child = self.simple_element(p.child, p.qname, depth + 1)
                        else:
                            child = self.walk(p.child, p.qname, depth + 1, cct.start, None)
                        self.sp -= 1
                    cm = &g.members[ct.first + p.member]
                    if ct.fast and p.member >= 0 and cm.kind == M_ELEMENT and not cm.islist:
                        _slot_set(obj, cm.offset, child)
                    else:
                        self.store(obj, t, p.member, p.qname, child)
                elif ev == EV_CH:
                    v = self.value(p.child, q)
                    if simple:
                        value = v
                    else:
                        self.set_member(obj, t, p.member, v)
                elif ev == EV_EE:
                    return value if simple else obj
                elif ev == EV_AT:
                    v = self.value(p.child, p.qname)
                    self.set_member(obj, t, p.member, v)
                elif ev == EV_SE_ANY or ev == EV_SE_NS:
                    if ev == EV_SE_ANY:
                        cq = self.read_qname()
                    else:
                        cq = self.qid(self.uris[p.qname], self.read_local(p.qname))
                    child = self.wildcard_element(cq, depth + 1)
                    self.get_member(obj, t, p.member).append((self.qtext(cq, False), child))
                elif ev == EV_CH_ANY:
                    v = self.string_value(q)
                    self.get_member(obj, t, p.member).append(v)
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
                # Anywhere else an undeclared EE leaves out required content, which
                # is well-formed EXI but not schema-valid: strict decoding refuses it.
                if self.strict and g._find(s, EV_CH, -1) < 0:
                    self.r.fail("required content missing (expected %s)" % " or ".join(
                        g.expected(s)))
                if simple:
                    return self.empty_value(ct.dt)
                self.empty_simple_content(obj, t)
                return obj
            if u == U_XSI_TYPE:
                # the rest of the element follows the named type's grammar
                return self.element(self.xsi_type(t), q, depth)
            if u == U_XSI_NIL:
                if self.r.bits(1):
                    if self.strict and q not in g.nillable:
                        self.r.fail("xsi:nil on an element not declared nillable")
                    return self.nil_element(t, depth)
                continue
            self.r.fail("undeclared content (second-level event %d) is not supported" % u)

    cdef object nil_element(self, int t, int depth):
        """The rest of an element after xsi:nil="true": attributes, then EE."""
        cdef Grammar g = self.g
        cdef int s = g.types[t].empty_start
        cdef CState* st
        cdef CProd* p
        cdef int code
        obj = None if g.types[t].simple else self.new_object(t)
        has_attrs = False
        while True:
            self.state = s
            st = &g.states[s]
            code = self.r.bits(st.width1)
            if code >= st.count:
                self.r.fail("undeclared content after xsi:nil is not supported")
            p = &g.prods[st.first + code]
            if p.event == EV_EE:
                return Nil(obj) if has_attrs else NIL
            if p.event == EV_AT and obj is not None:
                self.set_member(obj, t, p.member, self.value(p.child, p.qname))
                has_attrs = True
                s = p.target
                continue
            self.r.fail("unexpected event after xsi:nil")

    cdef int xsi_type(self, int declared) except -1:
        """The type an xsi:type value names (a QName read from the string tables).

        Strict decoding also requires it to derive from the declared type, as schema
        validity does; otherwise any type of the schema may stand there.
        """
        cdef Grammar g = self.g
        cdef int nt = -1, b
        uri, local = self.read_qname_parts()
        if uri in g.uris:
            ui = g.uris.index(uri)
            if local in g.local_names[ui]:
                nt = g.xsd_type_index.get((ui, g.local_names[ui].index(local)), -1)
        if nt < 0:
            self.r.fail("xsi:type names an unknown type {%s}%s" % (uri, local))
        if self.strict and declared >= 0 and declared != g.anytype:
            b = nt
            while b >= 0 and b != declared:
                b = g.types[b].base
            if b != declared:
                self.r.fail("xsi:type {%s}%s does not derive from the declared type %s" % (
                    uri, local, g.t_typename[declared]))
        return nt

    cdef object wildcard_element(self, int cq, int depth):
        """An element matched by SE(*): a declared global element, or an undeclared one.

        With built-in element grammars disabled (EXI Profile, as ISO 15118 uses EXI),
        an undeclared element starts in an unlearned built-in grammar (first level
        empty, second level EE, AT(*), SE(*), CH) and the reference casts it at once
        with xsi:type="xs:anyType"; its content then follows that type's grammar.
        """
        cdef Grammar g = self.g
        cdef int t = g.element_types.get(cq, -1) if cq >= 0 else -1
        cdef int code, aq
        self.push(cq)
        if t >= 0:
            v = self.element(t, cq, depth)
        else:
            # first occurrence of the name: empty first level; later ones: one
            # production there (the reference's runtime grammar), then the escape
            if self.undeclared_seen is None:
                self.undeclared_seen = set()
            if cq in self.undeclared_seen:
                if self.r.bits(1) == 0:
                    self.r.fail("learned built-in grammar productions are not supported")
            else:
                self.undeclared_seen.add(cq)
            code = self.r.bits(2)
            if code == 0:  # EE: an empty element, no cast
                v = self.new_object(g.anytype)
            elif code == 1:  # AT(*)
                aq = self.read_qname()
                if self.qtext(aq, False) != "{%s}type" % XSI_NS:
                    self.r.fail("undeclared element with attribute %s before xsi:type "
                                "is not supported" % self.qtext(aq, False))
                v = self.element(self.xsi_type(-1), cq, depth)
            else:
                self.r.fail("undeclared element content without xsi:type needs built-in "
                            "grammars, which ISO 15118's EXI options disable")
        self.sp -= 1
        return v

    cdef int empty_simple_content(self, object obj, int t) except -1:
        cdef Grammar g = self.g
        cdef CType* ct = &g.types[t]
        cdef int mi
        for mi in range(ct.n):
            if g.members[ct.first + mi].kind == M_VALUE:
                self.set_member(obj, t, mi, self.empty_value(ct.dt))
        return 0

    cdef int store(self, object obj, int t, int member, int q, object child) except -1:
        cdef Grammar g = self.g
        cdef CMember* cm
        if member < 0:
            self.r.fail("element without a model field")
        cm = &g.members[g.types[t].first + member]
        if cm.kind == M_CHILDREN:
            self.get_member(obj, t, member).append((g.qname_text[q], child))
        elif cm.islist:
            PyList_Append(self.get_member(obj, t, member), child)
        else:
            self.set_member(obj, t, member, child)
        return 0
