#!/usr/bin/env python3
"""pymongo driving mockupdb through the Rust test's recording relay.

The Rust test binds a relay, starts this script, reads the `MOCK host port`
line, and forwards every connection from pymongo (which dials the relay) to
mockupdb (which listens on the Rust test's private loopback address). This
script then runs one scenario: the handshake, insert, find with getMore,
killCursors, aggregate, update, delete, a duplicate-key write error, a
command error, a transaction (lsid, txnNumber, startTransaction,
commitTransaction), an unacknowledged (moreToCome) insert and an exhaust
cursor.

Everything mockupdb decodes (each request) and answers (each reply) is
written to the records file as JSON lines, so the Rust test can check its
decoder against what the Python side meant, message by message.

With --compressor, pymongo compresses its requests (zlib, snappy or zstd, as
the hello reply advertises) and this script answers in kind. mockupdb cannot
read OP_COMPRESSED, so the script registers a decompressing unpacker for
opcode 2012 and compresses mockupdb's OP_MSG replies when the request came
compressed.
"""

import argparse
import json
import struct
import sys
import traceback
import uuid
import zlib

import bson
import mockupdb
import pymongo
import snappy
import zstandard
from bson import Int64
from mockupdb import MockupDB, go
from pymongo import CursorType, MongoClient, WriteConcern
from pymongo.errors import DuplicateKeyError, OperationFailure

OP_REPLY = 1
OP_QUERY = 2004
OP_COMPRESSED = 2012
OP_MSG = 2013
MORE_TO_COME = 1 << 1
EXHAUST_ALLOWED = 1 << 16
COMPRESSOR_IDS = {"snappy": 1, "zlib": 2, "zstd": 3}

DB = "meshdb"
COLL = "people"
NS = DB + "." + COLL
FIND_CURSOR = 7_000_000_001
EXHAUST_CURSOR = 7_000_000_002
COLLECTION_COMMANDS = {
    "insert", "find", "update", "delete", "aggregate", "killCursors", "count",
}
PAYLOAD_FIELDS = {"insert": "documents", "update": "updates", "delete": "deletes"}

RECORDS = []


def record(kind, **fields):
    fields["kind"] = kind
    RECORDS.append(fields)


def decompress(cid, data):
    if cid == 0:
        return data
    if cid == 1:
        return snappy.uncompress(data)
    if cid == 2:
        return zlib.decompress(data)
    if cid == 3:
        return zstandard.ZstdDecompressor().decompress(data)
    raise ValueError("unknown compressor %d" % cid)


def compress(cid, data):
    if cid == 1:
        return snappy.compress(data)
    if cid == 2:
        return zlib.compress(data)
    if cid == 3:
        return zstandard.ZstdCompressor().compress(data)
    return data


def wrap_compressed(cid, message):
    """An OP_COMPRESSED message holding `message` (header included)."""
    _, request_id, response_to, opcode = struct.unpack("<iiii", message[:16])
    body = message[16:]
    data = struct.pack("<iiB", opcode, len(body), cid) + compress(cid, body)
    return struct.pack("<iiii", 16 + len(data), request_id, response_to, OP_COMPRESSED) + data


class OpCompressed:
    """The unpacker mockupdb lacks: decompress, then unpack the original."""

    @classmethod
    def unpack(cls, msg, client, server, request_id):
        original, size, cid = struct.unpack("<iiB", msg[:9])
        body = decompress(cid, msg[9:])
        assert len(body) == size, (len(body), size)
        request = mockupdb.OPCODES[original].unpack(body, client, server, request_id)
        request._mesh_compressor = cid
        return request


mockupdb.OPCODES[OP_COMPRESSED] = OpCompressed


def id_bytes(value):
    if isinstance(value, uuid.UUID):
        return value.bytes.hex()
    return bytes(value).hex()


def describe_request(request):
    doc = request.doc
    name = next(iter(doc), None)
    opcode = OP_MSG if isinstance(request, mockupdb.OpMsg) else OP_QUERY
    fields = dict(
        request_id=request.request_id,
        opcode=opcode,
        flags=(request.flags or 0) if opcode == OP_MSG else 0,
        compressor=getattr(request, "_mesh_compressor", None),
        command=name,
        db=doc.get("$db") if opcode == OP_MSG else request.namespace,
    )
    if name in COLLECTION_COMMANDS and isinstance(doc[name], str):
        fields["collection"] = doc[name]
    if name == "getMore":
        fields["collection"] = doc["collection"]
        fields["cursor_id"] = int(doc["getMore"])
    if "lsid" in doc:
        fields["lsid"] = id_bytes(doc["lsid"]["id"])
    if "txnNumber" in doc:
        fields["txn_number"] = int(doc["txnNumber"])
    if "$readPreference" in doc:
        fields["read_preference"] = doc["$readPreference"].get("mode")
    if isinstance(doc.get("comment"), str):
        fields["comment"] = doc["comment"]
    payload = PAYLOAD_FIELDS.get(name)
    fields["documents"] = len(doc.get(payload, [])) if payload else 0
    if "compression" in doc:
        fields["compression"] = list(doc["compression"])
    return fields


def describe_reply(response_to, opcode, flags, doc, compressor):
    cursor = doc.get("cursor") or {}
    batch = cursor.get("firstBatch", cursor.get("nextBatch"))
    fields = dict(
        response_to=response_to,
        opcode=opcode,
        flags=flags,
        compressor=compressor,
        ok=bool(doc.get("ok")),
        documents=len(batch) if batch is not None else (1 if opcode == OP_REPLY else 0),
        write_errors=len(doc.get("writeErrors", [])),
    )
    for key in ("errmsg", "code", "n"):
        if key in doc:
            fields[key] = doc[key]
    if "id" in cursor:
        fields["cursor_id"] = int(cursor["id"])
    if "compression" in doc:
        fields["compression"] = list(doc["compression"])
    return fields


# Record every request mockupdb reads, autoresponded or not.
_receive = mockupdb.mock_server_receive_request


def receive_and_record(client, server):
    request = _receive(client, server)
    record("request", **describe_request(request))
    return request


mockupdb.mock_server_receive_request = receive_and_record

# Record every reply mockupdb sends.
_replies = mockupdb.Request._replies


def replies_and_record(self, *args, **kwargs):
    reply = mockupdb.make_reply(*args, **kwargs)
    opcode = OP_MSG if isinstance(reply, mockupdb.OpMsgReply) else OP_REPLY
    record("reply", **describe_reply(
        self.request_id, opcode, reply._flags or 0, reply.doc,
        getattr(self, "_mesh_compressor", None) if opcode == OP_MSG else None,
    ))
    return _replies(self, reply)


mockupdb.Request._replies = replies_and_record

# Compress OP_MSG replies to compressed requests.
_reply_bytes = mockupdb.OpMsgReply.reply_bytes


def compressed_reply_bytes(self, request):
    message = _reply_bytes(self, request)
    cid = getattr(request, "_mesh_compressor", None)
    return message if cid is None else wrap_compressed(cid, message)


mockupdb.OpMsgReply.reply_bytes = compressed_reply_bytes


def raw_reply(request, reply_id, response_to, flags, doc):
    """An OP_MSG reply built by hand, for exhaust streams, whose later
    replies answer the previous reply's id (mockupdb cannot)."""
    body = struct.pack("<IB", flags, 0) + bson.encode(doc)
    message = struct.pack("<iiii", 16 + len(body), reply_id, response_to, OP_MSG) + body
    cid = getattr(request, "_mesh_compressor", None)
    record("reply", **describe_reply(response_to, OP_MSG, flags, doc, cid))
    return message if cid is None else wrap_compressed(cid, message)


def expect(server, name):
    request = server.receives()
    assert request.command_name == name, (request.command_name, name, request)
    return request


def people(*ids):
    return [{"_id": i, "name": "p%d" % i, "age": 20 + i} for i in ids]


def scenario(server, client):
    coll = client[DB][COLL]

    # insert: the documents travel in a kind 1 section.
    fut = go(coll.insert_many, people(1, 2, 3))
    expect(server, "insert").ok(n=3)
    assert fut().inserted_ids == [1, 2, 3]

    # find, getMore, killCursors.
    cursor = coll.find({"age": {"$gt": 20}}, batch_size=2, comment="mesh-find")
    fut = go(lambda: [next(cursor)["_id"] for _ in range(3)])
    expect(server, "find").ok(cursor={"id": Int64(FIND_CURSOR), "ns": NS, "firstBatch": people(1, 2)})
    expect(server, "getMore").ok(cursor={"id": Int64(FIND_CURSOR), "ns": NS, "nextBatch": people(3)})
    assert fut() == [1, 2, 3]
    fut = go(cursor.close)
    expect(server, "killCursors").ok(cursorsKilled=[Int64(FIND_CURSOR)])
    fut()

    # aggregate.
    pipeline = [{"$match": {"age": {"$gte": 21}}}, {"$group": {"_id": None, "n": {"$sum": 1}}}]
    fut = go(lambda: list(coll.aggregate(pipeline, comment="mesh-agg")))
    expect(server, "aggregate").ok(cursor={"id": Int64(0), "ns": NS, "firstBatch": [{"_id": None, "n": 3}]})
    assert fut() == [{"_id": None, "n": 3}]

    # update and delete.
    fut = go(coll.update_one, {"_id": 1}, {"$set": {"age": 37}})
    expect(server, "update").ok(n=1, nModified=1)
    assert fut().modified_count == 1
    fut = go(coll.delete_many, {"age": {"$lt": 18}})
    expect(server, "delete").ok(n=0)
    assert fut().deleted_count == 0

    # A write error and a command error.
    def duplicate():
        try:
            coll.insert_one({"_id": 1})
        except DuplicateKeyError as e:
            return e.code
    fut = go(duplicate)
    expect(server, "insert").ok(n=0, writeErrors=[
        {"index": 0, "code": 11000, "errmsg": "E11000 duplicate key error"}])
    assert fut() == 11000

    def unknown_command():
        try:
            client[DB].command("frobnicate")
        except OperationFailure as e:
            return e.code
    fut = go(unknown_command)
    expect(server, "frobnicate").command_err(code=59, errmsg="no such command: 'frobnicate'")
    assert fut() == 59

    # A transaction: lsid and txnNumber on every command, startTransaction
    # on the first, commitTransaction at the end.
    def transaction():
        with client.start_session() as session:
            with session.start_transaction():
                coll.insert_one({"_id": 10}, session=session)
                return coll.find_one({"_id": 10}, session=session)
    fut = go(transaction)
    first = expect(server, "insert")
    assert first.doc["startTransaction"] is True and first.doc["autocommit"] is False
    first.ok(n=1)
    expect(server, "find").ok(cursor={"id": Int64(0), "ns": NS, "firstBatch": [{"_id": 10}]})
    expect(server, "commitTransaction").ok()
    assert fut() == {"_id": 10}

    # An unacknowledged write: OP_MSG with moreToCome, and no reply.
    coll.with_options(write_concern=WriteConcern(w=0)).insert_one({"_id": 20})
    request = expect(server, "insert")
    assert request.flags & MORE_TO_COME

    # An exhaust cursor: getMore with exhaustAllowed, answered by a stream
    # of replies with moreToCome.
    cursor = coll.find({}, batch_size=1, cursor_type=CursorType.EXHAUST)
    fut = go(lambda: [d["_id"] for d in cursor])
    expect(server, "find").ok(cursor={"id": Int64(EXHAUST_CURSOR), "ns": NS, "firstBatch": people(1)})
    request = expect(server, "getMore")
    assert request.flags & EXHAUST_ALLOWED
    first = raw_reply(request, 900001, request.request_id, MORE_TO_COME,
                      {"cursor": {"id": Int64(EXHAUST_CURSOR), "ns": NS, "nextBatch": people(2)}, "ok": 1.0})
    last = raw_reply(request, 900002, 900001, 0,
                     {"cursor": {"id": Int64(0), "ns": NS, "nextBatch": people(3)}, "ok": 1.0})
    request._client.sendall(first + last)
    assert fut() == [1, 2, 3]

    # Closing the client ends its sessions.
    fut = go(client.close)
    expect(server, "endSessions").ok()
    fut()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bind", required=True, help="loopback address for mockupdb")
    parser.add_argument("--relay", required=True, help="host:port of the Rust relay")
    parser.add_argument("--records", required=True, help="JSON lines file to write")
    parser.add_argument("--compressor", choices=["none", "zlib", "snappy", "zstd"], default="none")
    args = parser.parse_args()

    hello = {
        "ismaster": True,
        "isWritablePrimary": True,
        "setName": "rs0",
        "hosts": [args.relay],
        "maxWireVersion": 21,
        "minWireVersion": 0,
        "logicalSessionTimeoutMinutes": 30,
    }
    if args.compressor != "none":
        hello["compression"] = [args.compressor]
    server = MockupDB(auto_ismaster=hello)
    server._address = (args.bind, None)  # a private loopback address, any port
    server.run()
    print("MOCK %s %d" % (server.host, server.port), flush=True)

    host, port = args.relay.rsplit(":", 1)
    options = dict(directConnection=True, serverSelectionTimeoutMS=20000,
                   heartbeatFrequencyMS=600000, appname="mesh-mongo-test")
    if args.compressor != "none":
        options["compressors"] = args.compressor
    client = MongoClient(host, int(port), **options)
    try:
        scenario(server, client)
    except BaseException:
        traceback.print_exc()
        sys.stderr.flush()
        raise
    finally:
        server.stop()
        client.close()
        with open(args.records, "w") as f:
            for r in RECORDS:
                f.write(json.dumps(r, sort_keys=True) + "\n")
    print("DONE %d records, pymongo %s" % (len(RECORDS), pymongo.version), flush=True)


if __name__ == "__main__":
    sys.exit(main())
