#!/usr/bin/env python3
"""Wire vectors built independently of the Rust code: BSON by pymongo's
`bson` package, message layouts by `struct` from the MongoDB wire protocol
documentation, the OP_MSG checksum by a table CRC-32C written here.

Prints one JSON object: {"messages": [...], "bson": {...}}. Each message
has its bytes in hex and the fields the Rust decoder must find; the BSON
entry is a document holding every BSON type, with each element's type and
value.
"""

import datetime
import json
import struct
import uuid
import zlib

import bson
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp

OP_REPLY, OP_UPDATE, OP_INSERT, OP_QUERY = 1, 2001, 2002, 2004
OP_GET_MORE, OP_DELETE, OP_KILL_CURSORS, OP_COMPRESSED, OP_MSG = 2005, 2006, 2007, 2012, 2013


def crc32c(data):
    """CRC-32C (Castagnoli), reflected, init and final xor 0xFFFFFFFF."""
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    crc = 0xFFFFFFFF
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283  # the check value of CRC-32C


def cstr(s):
    return s.encode() + b"\x00"


def message(request_id, response_to, opcode, body):
    return struct.pack("<iiii", 16 + len(body), request_id, response_to, opcode) + body


MESSAGES = []


def add(name, raw, **expect):
    MESSAGES.append({"name": name, "hex": raw.hex(), "expect": expect})


hello = {"isMaster": 1, "helloOk": True, "compression": ["zlib", "zstd"],
         "client": {"driver": {"name": "vectors", "version": "1"}}}
add("OP_QUERY handshake",
    message(11, 0, OP_QUERY, struct.pack("<i", 4) + cstr("admin.$cmd") + struct.pack("<ii", 0, -1)
            + bson.encode(hello)),
    op=OP_QUERY, request_id=11, response_to=0, flags=4, namespace="admin.$cmd",
    skip=0, to_return=-1, command="isMaster", database="admin", has_selector=False)

add("OP_QUERY with projection",
    message(12, 0, OP_QUERY, struct.pack("<i", 0) + cstr("shop.orders") + struct.pack("<ii", 5, 10)
            + bson.encode({"status": "open"}) + bson.encode({"total": 1})),
    op=OP_QUERY, request_id=12, response_to=0, flags=0, namespace="shop.orders",
    skip=5, to_return=10, database="shop", collection="orders", has_selector=True)

add("OP_QUERY wrapped command with $readPreference",
    message(13, 0, OP_QUERY, struct.pack("<i", 0) + cstr("shop.$cmd") + struct.pack("<ii", 0, -1)
            + bson.encode({"$query": {"count": "orders"}, "$readPreference": {"mode": "secondary"}})),
    op=OP_QUERY, request_id=13, response_to=0, flags=0, namespace="shop.$cmd", skip=0, to_return=-1,
    command="count", database="shop", collection="orders", read_preference="secondary",
    has_selector=False)

reply_doc = {"ismaster": True, "maxWireVersion": 21, "compression": ["zlib"], "ok": 1.0}
add("OP_REPLY handshake",
    message(500, 11, OP_REPLY, struct.pack("<iqii", 8, 0, 0, 1) + bson.encode(reply_doc)),
    op=OP_REPLY, request_id=500, response_to=11, flags=8, cursor_id=0, starting_from=0,
    returned=1, ok=True)

add("OP_REPLY query failure",
    message(501, 12, OP_REPLY, struct.pack("<iqii", 2, 0, 0, 1)
            + bson.encode({"$err": "not authorized", "code": 13})),
    op=OP_REPLY, request_id=501, response_to=12, flags=2, cursor_id=0, starting_from=0,
    returned=1, ok=False, errmsg="not authorized", code=13)

docs = [bson.encode({"_id": i, "v": "x" * i}) for i in range(3)]
add("OP_REPLY batch",
    message(502, 14, OP_REPLY, struct.pack("<iqii", 0, 9876543210, 20, 3) + b"".join(docs)),
    op=OP_REPLY, request_id=502, response_to=14, flags=0, cursor_id=9876543210,
    starting_from=20, returned=3)

add("OP_INSERT",
    message(14, 0, OP_INSERT, struct.pack("<i", 1) + cstr("shop.orders") + b"".join(docs[:2])),
    op=OP_INSERT, request_id=14, response_to=0, flags=1, namespace="shop.orders", documents=2,
    database="shop", collection="orders")

add("OP_UPDATE",
    message(15, 0, OP_UPDATE, struct.pack("<i", 0) + cstr("shop.orders") + struct.pack("<i", 3)
            + bson.encode({"_id": 1}) + bson.encode({"$set": {"status": "paid"}})),
    op=OP_UPDATE, request_id=15, response_to=0, flags=3, namespace="shop.orders",
    database="shop", collection="orders")

add("OP_DELETE",
    message(16, 0, OP_DELETE, struct.pack("<i", 0) + cstr("shop.orders") + struct.pack("<i", 1)
            + bson.encode({"status": "void"})),
    op=OP_DELETE, request_id=16, response_to=0, flags=1, namespace="shop.orders",
    database="shop", collection="orders")

add("OP_GET_MORE",
    message(17, 0, OP_GET_MORE, struct.pack("<i", 0) + cstr("shop.orders") + struct.pack("<iq", 50, 9876543210)),
    op=OP_GET_MORE, request_id=17, response_to=0, namespace="shop.orders", to_return=50,
    cursor_id=9876543210, database="shop", collection="orders")

add("OP_KILL_CURSORS",
    message(18, 0, OP_KILL_CURSORS, struct.pack("<iiqq", 0, 2, 9876543210, -5)),
    op=OP_KILL_CURSORS, request_id=18, response_to=0, cursor_ids=[9876543210, -5])

# OP_MSG with a checksum, exhaustAllowed, and a kind 1 section before the body.
lsid = uuid.UUID("0123456789abcdef0123456789abcdef")
body = {"insert": "orders", "ordered": True, "lsid": {"id": Binary(lsid.bytes, 4)},
        "txnNumber": Int64(7), "comment": "vectors", "$db": "shop"}
seq_docs = b"".join(bson.encode({"_id": i}) for i in range(4))
seq = cstr("documents") + seq_docs
sections = b"\x01" + struct.pack("<i", 4 + len(seq)) + seq + b"\x00" + bson.encode(body)
flags = 1 | (1 << 16)
without_crc = message(19, 0, OP_MSG, struct.pack("<I", flags) + sections)
# The checksum covers the header with the final length, so build it with 4 more bytes.
without_crc = struct.pack("<i", len(without_crc) + 4) + without_crc[4:]
crc = crc32c(without_crc)
add("OP_MSG with checksum and a document sequence",
    without_crc + struct.pack("<I", crc),
    op=OP_MSG, request_id=19, response_to=0, flags=flags, checksum=crc, command="insert",
    database="shop", collection="orders", documents=4, sequence="documents",
    lsid=lsid.bytes.hex(), txn_number=7, comment="vectors")

# OP_MSG reply with moreToCome, compressed by zlib (the compressor is
# python's zlib, not the Rust one).
reply = {"cursor": {"id": Int64(42), "ns": "shop.orders", "nextBatch": [{"_id": 1}, {"_id": 2}]},
         "ok": 1.0}
inner = struct.pack("<IB", 2, 0) + bson.encode(reply)
payload = struct.pack("<iiB", OP_MSG, len(inner), 2) + zlib.compress(inner)
add("OP_COMPRESSED zlib OP_MSG reply with moreToCome",
    message(600, 19, OP_COMPRESSED, payload),
    op=OP_MSG, compressor=2, request_id=600, response_to=19, flags=2, cursor_id=42, documents=2,
    database="shop", collection="orders", ok=True)

# OP_COMPRESSED noop around OP_QUERY.
inner = struct.pack("<i", 0) + cstr("admin.$cmd") + struct.pack("<ii", 0, -1) + bson.encode({"ping": 1})
add("OP_COMPRESSED noop OP_QUERY",
    message(20, 0, OP_COMPRESSED, struct.pack("<iiB", OP_QUERY, len(inner), 0) + inner),
    op=OP_QUERY, compressor=0, request_id=20, response_to=0, flags=0, namespace="admin.$cmd",
    skip=0, to_return=-1, command="ping", database="admin", has_selector=False)


def raw_element(tag, key, value):
    return bytes([tag]) + cstr(key) + value


# A document holding every BSON type. Types the bson package no longer
# writes (undefined, DBPointer, symbol) are appended as raw elements.
oid = ObjectId("5f2b8c1e9d3a4b5c6d7e8f90")
when = datetime.datetime(2024, 2, 29, 12, 30, 15, 123000, tzinfo=datetime.timezone.utc)
doc = {
    "double": 2.5,
    "string": "héllo ✓",
    "document": {"a": 1},
    "array": [1, "two", 3.0],
    "binary": Binary(b"\x00\x01\xff", 0),
    "binary_old": Binary(b"old!", 2),
    "uuid": Binary(lsid.bytes, 4),
    "objectid": oid,
    "true": True,
    "false": False,
    "datetime": when,
    "null": None,
    "regex": Regex("^a.*z$", "im"),
    "code": Code("function () { return 1; }"),
    "code_w_s": Code("return x;", {"x": 5}),
    "int32": -7,
    "timestamp": Timestamp(1700000000, 9),
    "int64": Int64(-9007199254740993),
    "decimal": Decimal128("1.5E+3"),
    "minkey": MinKey(),
    "maxkey": MaxKey(),
}
raw = bson.encode(doc)
extra = (
    raw_element(0x06, "undefined", b"")
    + raw_element(0x0C, "dbpointer", struct.pack("<i", 8) + b"db.coll\x00" + oid.binary)
    + raw_element(0x0E, "symbol", struct.pack("<i", 4) + b"sym\x00")
)
raw = struct.pack("<i", len(raw) + len(extra)) + raw[4:-1] + extra + b"\x00"
assert bson.decode(raw)["dbpointer"].collection == "db.coll"

elements = [
    ["double", 0x01, 2.5],
    ["string", 0x02, "héllo ✓"],
    ["document", 0x03, {"a": 1}],
    ["array", 0x04, [1, "two", 3.0]],
    ["binary", 0x05, {"subtype": 0, "hex": "0001ff"}],
    ["binary_old", 0x05, {"subtype": 2, "hex": b"old!".hex()}],
    ["uuid", 0x05, {"subtype": 4, "hex": lsid.bytes.hex()}],
    ["objectid", 0x07, oid.binary.hex()],
    ["true", 0x08, True],
    ["false", 0x08, False],
    ["datetime", 0x09, 1709209815123],
    ["null", 0x0A, None],
    ["regex", 0x0B, {"pattern": "^a.*z$", "options": "im"}],
    ["code", 0x0D, "function () { return 1; }"],
    ["code_w_s", 0x0F, {"code": "return x;", "x": 5}],
    ["int32", 0x10, -7],
    ["timestamp", 0x11, {"time": 1700000000, "increment": 9}],
    ["int64", 0x12, -9007199254740993],
    ["decimal", 0x13, Decimal128("1.5E+3").bid.hex()],
    ["minkey", 0xFF, None],
    ["maxkey", 0x7F, None],
    ["undefined", 0x06, None],
    ["dbpointer", 0x0C, {"namespace": "db.coll", "id": oid.binary.hex()}],
    ["symbol", 0x0E, "sym"],
]

print(json.dumps({"messages": MESSAGES, "bson": {"hex": raw.hex(), "elements": elements}}))
