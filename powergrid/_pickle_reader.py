"""A reader of the classic data-set pickle layout that never unpickles anything.

The classic layout is ``{"train"|"test": {"load"|"solar"|"wind"|"price": {name: array}}}``
with numpy arrays (or lists of numbers) as leaves. :func:`read_classic_pickle` walks the
pickle opcode stream (protocols 2 to 5) itself and builds only what that layout holds:

* dicts with ``str`` keys (a dict or list may be shared, as in ``{"train": d, "test":
  d}``, once complete; it cannot be changed afterwards, so no cycle can form), lists of
  numbers (kept as :class:`NumberList`, an
  ``array('d')``), flat tuples (only as call arguments and array states), ``str``,
  ``int``, ``float``, ``bool`` and ``None``;
* numpy arrays, rebuilt from the raw bytes in the file with a dtype taken from
  :data:`DTYPES` (plain little/big-endian integers, floats and bool). The three numpy
  recipes pickle writes are recognised by name and their arguments checked field by
  field: ``_frombuffer(bytes, dtype, shape, order)`` (protocol 5),
  ``_reconstruct(ndarray, (0,), b"b")`` followed by ``BUILD (1, shape, dtype, fortran,
  bytes)`` (protocols 2-4), and ``scalar(dtype, bytes)`` for numpy scalars in lists; a
  dtype is ``dtype(code, False, True)`` followed by ``BUILD`` with exactly the state of a
  plain numeric dtype. Protocol 2 writes bytes as ``_codecs.encode(str, "latin1")``.

No global is ever imported or called and no ``__setstate__``/``__reduce__`` runs: the
names above are matched as strings and the reader builds the result itself with
``numpy.frombuffer`` over a dtype it constructs from its own table. Anything else
(another global, an opcode outside the list, a crafted dtype state, a buffer whose size
does not match its shape, a dict changed after it was shared, ...) raises
:class:`PickleRefusedError` naming what and where, before it is built.

Bounds (all checked as the stream is read, so a small file cannot make a large object):
:data:`MAX_FILE_BYTES`, :data:`MAX_DEPTH`, :data:`MAX_NUMBERS`, :data:`MAX_OBJECTS`,
:data:`MAX_ITEMS`, :data:`MAX_MEMO`, :data:`MAX_STACK`, :data:`MAX_TUPLE`,
:data:`MAX_KEY_CHARS`.
"""

from __future__ import annotations

import array
import os
import struct
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["DTYPES", "NumberList", "PickleRefusedError", "read_classic_pickle"]

#: Largest file read (bytes). 50 M float64 values are 400 MB, plus names and framing.
MAX_FILE_BYTES = 512 * 2**20
#: Deepest nesting of containers and tuples (the layout needs 4: dict/dict/dict/array).
MAX_DEPTH = 8
#: Most numbers in all series together (400 MB as float64; a decade of 1-minute data
#: for nine series).
MAX_NUMBERS = 50_000_000
#: Most objects the reader creates besides the numbers inside lists (a series needs ~10).
MAX_OBJECTS = 1_000_000
#: Most dict entries in the whole file (names of series, kinds and splits).
MAX_ITEMS = 100_000
#: Most memo entries (pickle memoizes about five objects per series).
MAX_MEMO = 100_000
#: Most values on the stack at once, marks included (pickle batches 1,000 items).
MAX_STACK = 100_000
#: Longest tuple (array states have 5 fields, dtype states 8, shapes up to 8).
MAX_TUPLE = 16
#: Longest dict key (series names).
MAX_KEY_CHARS = 1024
#: Most dimensions of an array.
MAX_NDIM = 8

#: dtype codes an array may have (the ``dtype(code, False, True)`` argument).
DTYPES: frozenset[str] = frozenset(
    {"f8", "f4", "i8", "i4", "i2", "i1", "u8", "u4", "u2", "u1", "b1"}
)
_PLAIN_DTYPE_STATE_TAIL = (None, None, None, -1, -1, 0)

_GLOBALS: dict[tuple[str, str], str] = {
    ("numpy", "ndarray"): "ndarray",
    ("numpy", "dtype"): "dtype",
    ("_codecs", "encode"): "encode",
    ("collections", "OrderedDict"): "ordered_dict",
}
for _package in ("numpy.core", "numpy._core"):
    _GLOBALS[(f"{_package}.multiarray", "_reconstruct")] = "_reconstruct"
    _GLOBALS[(f"{_package}.multiarray", "scalar")] = "scalar"
    _GLOBALS[(f"{_package}.numeric", "_frombuffer")] = "_frombuffer"



def _opcode_name(code: int) -> str | None:
    import pickletools  # only for a message

    for op in pickletools.opcodes:
        if op.code.encode("latin-1") == bytes([code]):
            return op.name
    return None


class PickleRefusedError(Exception):
    """The file is not a classic data-set pickle; ``what`` says why, ``pos`` where."""

    def __init__(self, what: str, pos: int) -> None:
        super().__init__(f"{what}, at byte {pos}")
        self.what, self.pos = what, pos


class NumberList(array.array):
    """A pickled list of numbers, stored as float64 (``array('d')``)."""

    __slots__ = ("sealed",)
    sealed: bool


class _Dict(dict):
    """A dict being read: its nesting depth, and the numbers and entries below it counting
    every path (a dict shared through the memo counts once per place it is used)."""

    __slots__ = ("depth", "entries", "numbers", "sealed")

    def __init__(self) -> None:
        super().__init__()
        self.depth, self.entries, self.numbers, self.sealed = 1, 0, 0, False


class _Tuple:
    __slots__ = ("items", "depth")

    def __init__(self, items: tuple[Any, ...], depth: int) -> None:
        self.items, self.depth = items, depth


class _Blob:
    """Bytes from the file (a view, not a copy) or from ``_codecs.encode``."""

    __slots__ = ("view",)

    def __init__(self, view: memoryview) -> None:
        self.view = view


class _Global:
    __slots__ = ("tag",)

    def __init__(self, tag: str) -> None:
        self.tag = tag


class _DType:
    """``dtype(code, False, True)``; usable once ``BUILD`` has given it a byte order."""

    __slots__ = ("code", "dtype")
    code: str
    dtype: np.dtype | None

    def __init__(self, code: str) -> None:
        self.code, self.dtype = code, None


class _PendingArray:
    """``_reconstruct(ndarray, (0,), b"b")``; the array once ``BUILD`` has filled it."""

    __slots__ = ("array",)

    def __init__(self) -> None:
        self.array: np.ndarray | None = None


_CONTAINERS = (_Dict, NumberList)
_NUMBER_TYPES = (bool, int, float)


def _describe(value: Any) -> str:
    if isinstance(value, _Tuple):
        return "a tuple"
    if isinstance(value, _Blob):
        return "bytes"
    if isinstance(value, _Global):
        return f"the global {value.tag}"
    if isinstance(value, _DType):
        return "a numpy dtype" if value.dtype is not None else "a numpy dtype without its state"
    if isinstance(value, _PendingArray):
        return "a numpy array without its data"
    if isinstance(value, NumberList):
        return "a list"
    if isinstance(value, dict):
        return "a dict"
    if isinstance(value, np.ndarray):
        return "a numpy array"
    if value is None:
        return "None"
    return f"a {type(value).__name__}"


def _depth(value: Any) -> int:
    if isinstance(value, _Tuple | _Dict):
        return value.depth
    if isinstance(value, NumberList | np.ndarray):
        return 1
    return 0


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.view = memoryview(data)
        self.pos = 0  # of the next byte to read
        self.op_pos = 0  # of the opcode being run (for messages)
        self.stack: list[Any] = []
        self.marks: list[int] = []
        self.memo: dict[int, Any] = {}
        self.objects = 0
        self.items = 0
        self.numbers = 0
        self.encoded_bytes = 0
        self.protocol: int | None = None
        self.dispatch: dict[int, Callable[[], None]] = {}
        for code, method in _HANDLERS.items():
            self.dispatch[code[0]] = getattr(self, method)

    # -- errors and bounds -----------------------------------------------------------

    def refuse(self, what: str) -> PickleRefusedError:
        return PickleRefusedError(what, self.op_pos)

    def take(self, n: int) -> memoryview:
        if n > len(self.data) - self.pos:
            raise self.refuse(f"truncated: needs {n} more bytes, the file ends after "
                              f"{len(self.data) - self.pos}")
        chunk = self.view[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, self.take(size))[0]

    def count_object(self) -> None:
        self.objects += 1
        if self.objects > MAX_OBJECTS:
            raise self.refuse(f"more than {MAX_OBJECTS:,} objects")

    def count_numbers(self, n: int) -> None:
        self.numbers += n
        if self.numbers > MAX_NUMBERS:
            raise self.refuse(f"more than {MAX_NUMBERS:,} numbers in lists")

    def push(self, value: Any) -> None:
        if len(self.stack) + len(self.marks) >= MAX_STACK:
            raise self.refuse(f"more than {MAX_STACK:,} values on the pickle stack")
        self.stack.append(value)

    def pop(self) -> Any:
        floor = self.marks[-1] if self.marks else 0
        if len(self.stack) <= floor:
            raise self.refuse("stack underflow")
        return self.stack.pop()

    def top(self) -> Any:
        floor = self.marks[-1] if self.marks else 0
        if len(self.stack) <= floor:
            raise self.refuse("stack underflow")
        return self.stack[-1]

    def pop_mark(self) -> list[Any]:
        if not self.marks:
            raise self.refuse("no MARK before a MARK-consuming opcode")
        start = self.marks.pop()
        items = self.stack[start:]
        del self.stack[start:]
        return items

    # -- the loop --------------------------------------------------------------------

    def run(self) -> Any:
        data, dispatch = self.data, self.dispatch
        while True:
            if self.pos >= len(data):
                self.op_pos = self.pos
                raise self.refuse("the file ends without a STOP opcode (truncated)")
            self.op_pos = self.pos
            code = data[self.pos]
            self.pos += 1
            if code == 0x2E:  # STOP
                result = self.pop()
                if isinstance(result, _PendingArray) and result.array is not None:
                    result = result.array
                if not (isinstance(result, (_Dict, NumberList, np.ndarray, str, *_NUMBER_TYPES))
                        or result is None):
                    raise self.refuse(f"{_describe(result)} at the top level")
                return _finish(result)
            handler = dispatch.get(code)
            if handler is None:
                name = _opcode_name(code)
                if name is None:
                    raise self.refuse(f"unknown opcode byte 0x{code:02x}")
                hint = "" if self.protocol else " (protocols 0 and 1 are not read: save with 2-5)"
                raise self.refuse(f"unsupported pickle opcode {name}{hint}")
            handler()

    # -- framing and protocol --------------------------------------------------------

    def op_proto(self) -> None:
        protocol = self.take(1)[0]
        if not 2 <= protocol <= 5:
            raise self.refuse(f"pickle protocol {protocol} (supported: 2 to 5)")
        self.protocol = protocol

    def op_frame(self) -> None:
        length = self.unpack("<Q")
        if length > len(self.data) - self.pos:
            raise self.refuse(f"frame of {length} bytes is longer than the rest of the file")

    # -- marks and stack -------------------------------------------------------------

    def op_mark(self) -> None:
        if len(self.stack) + len(self.marks) >= MAX_STACK:
            raise self.refuse(f"more than {MAX_STACK:,} values on the pickle stack")
        self.marks.append(len(self.stack))

    def op_pop(self) -> None:
        if self.marks and self.marks[-1] == len(self.stack):
            self.marks.pop()
        else:
            self.pop()

    def op_pop_mark(self) -> None:
        self.pop_mark()

    # -- atoms -----------------------------------------------------------------------

    def op_none(self) -> None:
        self.push(None)

    def op_newtrue(self) -> None:
        self.push(True)

    def op_newfalse(self) -> None:
        self.push(False)

    def op_binint(self) -> None:
        self.push(self.unpack("<i"))

    def op_binint1(self) -> None:
        self.push(self.take(1)[0])

    def op_binint2(self) -> None:
        self.push(self.unpack("<H"))

    def op_long1(self) -> None:
        n = self.take(1)[0]
        if n > 8:
            raise self.refuse(f"integer of {n} bytes (at most 8)")
        self.push(int.from_bytes(self.take(n), "little", signed=True))

    def op_binfloat(self) -> None:
        self.push(self.unpack(">d"))

    def _string(self, n: int) -> None:
        raw = self.take(n)
        try:
            text = str(raw, "utf-8", "surrogatepass")
        except UnicodeDecodeError:
            raise self.refuse("a string that is not valid UTF-8") from None
        self.count_object()
        self.push(text)

    def op_short_binunicode(self) -> None:
        self._string(self.take(1)[0])

    def op_binunicode(self) -> None:
        self._string(self.unpack("<I"))

    def op_binunicode8(self) -> None:
        self._string(self.unpack("<Q"))

    def _bytes(self, n: int) -> None:
        blob = _Blob(self.take(n))
        self.count_object()
        self.push(blob)

    def op_short_binbytes(self) -> None:
        self._bytes(self.take(1)[0])

    def op_binbytes(self) -> None:
        self._bytes(self.unpack("<I"))

    def op_binbytes8(self) -> None:
        self._bytes(self.unpack("<Q"))

    def op_bytearray8(self) -> None:
        self._bytes(self.unpack("<Q"))

    # -- memo ------------------------------------------------------------------------

    def _put(self, index: int) -> None:
        if index not in self.memo and len(self.memo) >= MAX_MEMO:
            raise self.refuse(f"more than {MAX_MEMO:,} memo entries")
        self.memo[index] = self.top()

    def op_memoize(self) -> None:
        self._put(len(self.memo))

    def op_binput(self) -> None:
        self._put(self.take(1)[0])

    def op_long_binput(self) -> None:
        self._put(self.unpack("<I"))

    def _get(self, index: int) -> None:
        if index not in self.memo:
            raise self.refuse(f"memo entry {index} does not exist")
        value = self.memo[index]
        if isinstance(value, _CONTAINERS):
            value.sealed = True  # shared from now on: complete, no cycle can reach it
        if isinstance(value, _PendingArray) and value.array is not None:
            value = value.array
        self.push(value)

    def op_binget(self) -> None:
        self._get(self.take(1)[0])

    def op_long_binget(self) -> None:
        self._get(self.unpack("<I"))

    # -- containers ------------------------------------------------------------------

    def op_empty_dict(self) -> None:
        self.count_object()
        self.push(_Dict())

    def op_empty_list(self) -> None:
        self.count_object()
        numbers = NumberList("d")
        numbers.sealed = False
        self.push(numbers)

    def _tuple(self, items: list[Any]) -> None:
        if len(items) > MAX_TUPLE:
            raise self.refuse(f"a tuple of {len(items)} items (at most {MAX_TUPLE})")
        depth = 0
        for item in items:
            if isinstance(item, _CONTAINERS):
                raise self.refuse(f"{_describe(item)} inside a tuple")
            depth = max(depth, _depth(item))
        if depth + 1 > MAX_DEPTH:
            raise self.refuse(f"nesting deeper than {MAX_DEPTH} levels")
        self.count_object()
        self.push(_Tuple(tuple(items), depth + 1))

    def op_empty_tuple(self) -> None:
        self._tuple([])

    def op_tuple(self) -> None:
        self._tuple(self.pop_mark())

    def op_tuple1(self) -> None:
        self._tuple([self.pop()])

    def op_tuple2(self) -> None:
        second = self.pop()
        self._tuple([self.pop(), second])

    def op_tuple3(self) -> None:
        third = self.pop()
        second = self.pop()
        self._tuple([self.pop(), second, third])

    def _append(self, items: list[Any]) -> None:
        target = self.top()
        if not isinstance(target, NumberList):
            raise self.refuse(f"APPEND to {_describe(target)}")
        if target.sealed:
            raise self.refuse("APPEND to a list already used elsewhere")
        for item in items:
            if not isinstance(item, _NUMBER_TYPES):
                raise self.refuse(f"{_describe(item)} in a list (lists may hold only numbers)")
        self.count_numbers(len(items))
        try:
            target.extend(float(item) for item in items)
        except OverflowError:
            raise self.refuse("a number too large for a float") from None

    def op_append(self) -> None:
        item = self.pop()
        self._append([item])

    def op_appends(self) -> None:
        items = self.pop_mark()
        self._append(items)

    def _setitems(self, items: list[Any]) -> None:
        if len(items) % 2:
            raise self.refuse("SETITEMS with an odd number of values")
        target = self.top()
        if not isinstance(target, _Dict):
            raise self.refuse(f"SETITEM on {_describe(target)}")
        if target.sealed:
            raise self.refuse("SETITEM on a dict already used elsewhere")
        self.items += len(items) // 2
        if self.items > MAX_ITEMS:
            raise self.refuse(f"more than {MAX_ITEMS:,} dict entries")
        for key, value in zip(items[::2], items[1::2], strict=True):
            if not isinstance(key, str):
                raise self.refuse(f"a dict key that is {_describe(key)} (keys must be strings)")
            if len(key) > MAX_KEY_CHARS:
                raise self.refuse(f"a dict key of {len(key)} characters (at most "
                                  f"{MAX_KEY_CHARS})")
            if isinstance(value, _PendingArray) and value.array is not None:
                value = value.array
            if value is target:
                raise self.refuse("a dict that contains itself")
            entries, numbers = 1, 0
            if isinstance(value, _Dict):
                value.sealed = True
                entries += value.entries
                numbers = value.numbers
            elif isinstance(value, NumberList):
                value.sealed = True
                numbers = len(value)
            elif isinstance(value, np.ndarray):
                numbers = value.size
            elif not (isinstance(value, str) or value is None
                      or isinstance(value, _NUMBER_TYPES)):
                raise self.refuse(f"{_describe(value)} as a dict value")
            depth = _depth(value) + 1
            if depth > MAX_DEPTH:
                raise self.refuse(f"nesting deeper than {MAX_DEPTH} levels")
            target.depth = max(target.depth, depth)
            target.entries += entries
            target.numbers += numbers
            if target.entries > MAX_ITEMS:
                raise self.refuse(f"more than {MAX_ITEMS:,} dict entries below one dict")
            if target.numbers > MAX_NUMBERS:
                raise self.refuse(f"more than {MAX_NUMBERS:,} numbers in all series")
            target[key] = value

    def op_setitem(self) -> None:
        value = self.pop()
        key = self.pop()
        self._setitems([key, value])

    def op_setitems(self) -> None:
        self._setitems(self.pop_mark())

    # -- globals, REDUCE and BUILD ---------------------------------------------------

    def _global(self, module: str, name: str) -> None:
        tag = _GLOBALS.get((module, name))
        if tag is None:
            label = f"global '{module}.{name}'"
            if module in ("posix", "nt") and hasattr(os, name):
                label += f" (os.{name})"
            raise self.refuse(f"refused to unpickle {label}")
        self.count_object()
        self.push(_Global(tag))

    def _line(self) -> str:
        end = self.data.find(b"\n", self.pos, self.pos + 257)
        if end < 0:
            raise self.refuse("a GLOBAL name longer than 256 bytes or without its newline")
        text = self.data[self.pos:end].decode("ascii", "replace")
        self.pos = end + 1
        return text

    def op_global(self) -> None:
        module = self._line()
        name = self._line()
        self._global(module, name)

    def op_stack_global(self) -> None:
        name = self.pop()
        module = self.pop()
        if not (isinstance(module, str) and isinstance(name, str)):
            raise self.refuse("STACK_GLOBAL with a name that is not a string")
        self._global(module[:256], name[:256])

    def op_reduce(self) -> None:
        args = self.pop()
        func = self.pop()
        if not isinstance(func, _Global):
            raise self.refuse(f"a call of {_describe(func)}")
        if not isinstance(args, _Tuple):
            raise self.refuse(f"a call of {func.tag} with {_describe(args)} as arguments")
        build = getattr(self, f"_call_{func.tag.lstrip('_')}", None)
        if build is None:
            raise self.refuse(f"a call of {func.tag}")
        result = build(args.items)
        self.count_object()
        self.push(result)

    def _call_ordered_dict(self, args: tuple[Any, ...]) -> Any:
        if args:
            raise self.refuse("OrderedDict called with arguments")
        return _Dict()

    def _call_encode(self, args: tuple[Any, ...]) -> Any:
        if not (len(args) == 2 and isinstance(args[0], str) and args[1] == "latin1"):
            raise self.refuse("_codecs.encode with arguments other than (str, 'latin1')")
        self.encoded_bytes += len(args[0])
        if self.encoded_bytes > len(self.data):
            raise self.refuse("more encoded bytes than the file holds")
        try:
            raw = args[0].encode("latin-1")
        except UnicodeEncodeError:
            raise self.refuse("_codecs.encode of a string that is not latin-1") from None
        return _Blob(memoryview(raw))

    def _call_dtype(self, args: tuple[Any, ...]) -> Any:
        if not (len(args) == 3 and isinstance(args[0], str) and args[1] is False
                and args[2] is True):
            raise self.refuse("numpy.dtype called with arguments other than (code, False, True)")
        if args[0] not in DTYPES:
            raise self.refuse(f"non-numeric or unsupported numpy dtype {args[0][:20]!r} "
                              f"(allowed: {', '.join(sorted(DTYPES))})")
        return _DType(args[0])

    def _call_reconstruct(self, args: tuple[Any, ...]) -> Any:
        if not (len(args) == 3 and isinstance(args[0], _Global) and args[0].tag == "ndarray"
                and isinstance(args[1], _Tuple) and args[1].items == (0,)
                and isinstance(args[2], _Blob) and args[2].view == b"b"):
            raise self.refuse("_reconstruct with arguments other than (ndarray, (0,), b'b')")
        return _PendingArray()

    def _call_frombuffer(self, args: tuple[Any, ...]) -> Any:
        if len(args) != 4 or args[3] not in ("C", "F"):
            raise self.refuse("_frombuffer with arguments other than (bytes, dtype, shape, "
                              "'C' or 'F')")
        return self._array(args[0], args[1], args[2], fortran=args[3] == "F")

    def _call_scalar(self, args: tuple[Any, ...]) -> Any:
        if len(args) != 2:
            raise self.refuse("scalar with arguments other than (dtype, bytes)")
        value = self._array(args[1], args[0], _Tuple((), 1), fortran=False)
        return value.item()

    def _array(self, blob: Any, dtype: Any, shape: Any, fortran: bool) -> np.ndarray:
        if not (isinstance(dtype, _DType) and dtype.dtype is not None):
            raise self.refuse(f"{_describe(dtype)} where a numpy dtype was expected")
        if not isinstance(blob, _Blob):
            raise self.refuse(f"{_describe(blob)} where the array's bytes were expected")
        if not (isinstance(shape, _Tuple) and len(shape.items) <= MAX_NDIM and all(
                type(n) is int and n >= 0 for n in shape.items)):
            raise self.refuse(f"array shape {_describe(shape)} is not a tuple of at most "
                              f"{MAX_NDIM} non-negative ints")
        count = 1
        for n in shape.items:
            count *= n
            if count > MAX_NUMBERS:
                raise self.refuse(f"an array of more than {MAX_NUMBERS:,} numbers")
        expected = count * dtype.dtype.itemsize
        if len(blob.view) != expected:
            raise self.refuse(f"an array of shape {shape.items} and dtype {dtype.dtype.str} "
                              f"needs {expected} bytes, the file gives {len(blob.view)}")
        if dtype.dtype.kind == "b" and count and np.frombuffer(blob.view, np.uint8).max() > 1:
            raise self.refuse("a bool array with bytes other than 0 and 1")
        flat = np.frombuffer(blob.view, dtype=dtype.dtype, count=count)
        result = flat.reshape(shape.items, order="F" if fortran else "C")
        result.flags.writeable = False
        return result

    def op_build(self) -> None:
        state = self.pop()
        target = self.top()
        if isinstance(target, _DType) and target.dtype is None:
            target.dtype = self._dtype_state(target.code, state)
        elif isinstance(target, _PendingArray) and target.array is None:
            if not (isinstance(state, _Tuple) and len(state.items) == 5
                    and state.items[0] == 1 and type(state.items[0]) is int
                    and isinstance(state.items[3], bool)):
                raise self.refuse("an array state other than (1, shape, dtype, fortran, bytes)")
            _, shape, dtype, fortran, blob = state.items
            target.array = self._array(blob, dtype, shape, fortran=fortran)
            self.stack[-1] = target.array
        else:
            raise self.refuse(f"BUILD (set state) on {_describe(target)}")

    def _dtype_state(self, code: str, state: Any) -> np.dtype:
        items = state.items if isinstance(state, _Tuple) else None
        if not (items is not None and len(items) == 8 and type(items[0]) is int
                and items[0] == 3 and items[1] in ("<", ">", "|", "=")
                and all(type(a) is type(b) and a == b
                        for a, b in zip(items[2:], _PLAIN_DTYPE_STATE_TAIL, strict=True))):
            raise self.refuse("a numpy dtype state other than that of a plain number "
                              "(3, byteorder, None, None, None, -1, -1, 0): crafted fields, "
                              "offsets, sizes or flags")
        order = items[1]
        if order == "=":
            order = "<" if sys.byteorder == "little" else ">"
        if code[1] == "1":
            order = "|"
        elif order == "|":
            raise self.refuse(f"byte order '|' for the multi-byte dtype {code}")
        return np.dtype(order + code)


_HANDLERS = {
    pickle_code: f"op_{name.lower()}"
    for pickle_code, name in (
        (b"\x80", "PROTO"), (b"\x95", "FRAME"), (b"(", "MARK"), (b"0", "POP"),
        (b"1", "POP_MARK"), (b"N", "NONE"), (b"\x88", "NEWTRUE"), (b"\x89", "NEWFALSE"),
        (b"J", "BININT"), (b"K", "BININT1"), (b"M", "BININT2"), (b"\x8a", "LONG1"),
        (b"G", "BINFLOAT"), (b"\x8c", "SHORT_BINUNICODE"), (b"X", "BINUNICODE"),
        (b"\x8d", "BINUNICODE8"), (b"C", "SHORT_BINBYTES"), (b"B", "BINBYTES"),
        (b"\x8e", "BINBYTES8"), (b"\x96", "BYTEARRAY8"), (b"\x94", "MEMOIZE"),
        (b"q", "BINPUT"), (b"r", "LONG_BINPUT"), (b"h", "BINGET"), (b"j", "LONG_BINGET"),
        (b"}", "EMPTY_DICT"), (b"]", "EMPTY_LIST"), (b")", "EMPTY_TUPLE"), (b"t", "TUPLE"),
        (b"\x85", "TUPLE1"), (b"\x86", "TUPLE2"), (b"\x87", "TUPLE3"), (b"a", "APPEND"),
        (b"e", "APPENDS"), (b"s", "SETITEM"), (b"u", "SETITEMS"), (b"c", "GLOBAL"),
        (b"\x93", "STACK_GLOBAL"), (b"R", "REDUCE"), (b"b", "BUILD"),
    )
}


def _finish(value: Any) -> Any:
    """Plain dicts instead of the reader's own (depth at most MAX_DEPTH: no deep recursion)."""
    if isinstance(value, _Dict):
        return {key: _finish(item) for key, item in value.items()}
    return value


def read_classic_pickle(data: bytes) -> Any:
    """The object a classic data-set pickle describes; :class:`PickleRefusedError` otherwise.

    Dicts come back as ``dict``, arrays as read-only ``numpy.ndarray`` (views of ``data``),
    lists as :class:`NumberList`. The caller checks the layout (keys, kinds, lengths).
    """
    if len(data) > MAX_FILE_BYTES:
        raise PickleRefusedError(f"{len(data)} bytes, more than the {MAX_FILE_BYTES // 2**20} MiB "
                            "limit", 0)
    return _Reader(data).run()
