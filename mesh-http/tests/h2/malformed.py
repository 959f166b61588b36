#!/usr/bin/env python3
"""A scripted HTTP/2 peer that breaks one rule per case.

Usage: malformed.py HOST PORT CASE...

For each case it opens a connection, sends the client preface and an empty
SETTINGS (unless the case is about those), waits for the server's SETTINGS,
then sends the case's frames and reads until the server answers with
RST_STREAM, GOAWAY, a PING acknowledgement or a response, or closes. It
prints one JSON line per case:

    {"case": NAME, "frame": "RST_STREAM" | "GOAWAY" | "PING_ACK" |
     "RESPONSE" | "EOF" | "TIMEOUT", "code": N, "stream": N}

Frames are built by hand (hyperframe's frames are used where they are
valid; malformed ones need raw bytes) and header blocks with `hpack`.
The server under test answers `/` at once and never answers `/wait`
(whose body it never reads), so streams stay open for as long as a case
needs.
"""

import json
import socket
import struct
import sys

import hpack
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    HeadersFrame,
    PingFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
DATA, HEADERS, PRIORITY, RST_STREAM, SETTINGS, PUSH_PROMISE, PING, GOAWAY, WINDOW_UPDATE, CONTINUATION = range(10)
END_STREAM, ACK, END_HEADERS, PADDED, PRIO = 0x1, 0x1, 0x4, 0x8, 0x20
NO_ERROR, PROTOCOL_ERROR, INTERNAL_ERROR, FLOW_CONTROL_ERROR = 0, 1, 2, 3


def raw(kind, flags, stream, payload=b""):
    """A frame as bytes, whatever its contents."""
    return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream) + payload


def setting(ident, value):
    return struct.pack(">HI", ident, value)


class Peer:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=3)
        self.buf = b""
        self.encoder = hpack.Encoder()

    def send(self, *frames):
        self.sock.sendall(b"".join(f if isinstance(f, bytes) else f.serialize() for f in frames))

    def start(self, preface=PREFACE, settings=None):
        self.send(preface, settings if settings is not None else raw(SETTINGS, 0, 0))
        # The server's SETTINGS first (and its WINDOW_UPDATE).
        kind, flags, stream, payload = self.read_frame()
        assert kind == SETTINGS and not flags & ACK, (kind, flags)

    def block(self, headers):
        return self.encoder.encode(headers)

    def request(self, path="/", extra=(), method="GET"):
        return [(":method", method), (":scheme", "http"), (":authority", "test"), (":path", path)] + list(extra)

    def headers(self, stream, headers, end_stream=False, end_headers=True):
        flags = (END_STREAM if end_stream else 0) | (END_HEADERS if end_headers else 0)
        return raw(HEADERS, flags, stream, self.block(headers))

    def read_frame(self):
        while True:
            if len(self.buf) >= 9:
                length = int.from_bytes(self.buf[:3], "big")
                if len(self.buf) >= 9 + length:
                    head, self.buf = self.buf[:9 + length], self.buf[9 + length:]
                    kind, flags = head[3], head[4]
                    stream = int.from_bytes(head[5:9], "big") & 0x7FFFFFFF
                    return kind, flags, stream, head[9:]
            data = self.sock.recv(65536)
            if not data:
                return None
            self.buf += data

    def outcome(self):
        """Reads until the server says something decisive."""
        try:
            while True:
                frame = self.read_frame()
                if frame is None:
                    return {"frame": "EOF"}
                kind, flags, stream, payload = frame
                if kind == RST_STREAM:
                    return {"frame": "RST_STREAM", "code": int.from_bytes(payload[:4], "big"), "stream": stream}
                if kind == GOAWAY:
                    return {"frame": "GOAWAY", "code": int.from_bytes(payload[4:8], "big"),
                            "stream": int.from_bytes(payload[:4], "big"),
                            "debug": payload[8:].decode("utf-8", "replace")}
                if kind == PING and flags & ACK:
                    return {"frame": "PING_ACK"}
                if kind == HEADERS:
                    decoded = hpack.Decoder().decode(payload) if flags & END_HEADERS else []
                    status = dict(decoded).get(":status")
                    if status is not None and not status.startswith("1"):
                        return {"frame": "RESPONSE", "code": int(status), "stream": stream}
        except socket.timeout:
            return {"frame": "TIMEOUT"}

    def wait_for_response(self, stream):
        """Reads until the response on `stream` has ended."""
        while True:
            kind, flags, s, payload = self.read_frame()
            if s == stream and kind in (HEADERS, DATA) and flags & END_STREAM:
                return


def malformed_request(extra=(), pseudo=None, end_stream=True):
    """A case sending one request whose fields break a rule."""
    def case(p):
        headers = pseudo if pseudo is not None else p.request("/", extra)
        p.send(p.headers(1, headers, end_stream=end_stream))
    return case


def flood_connection_window(p):
    # 17 streams of 4 x 16 383 bytes each: within each stream's window of
    # 65 535, beyond the connection's 1 MiB, and nobody reads.
    for i in range(17):
        stream = 1 + 2 * i
        p.send(p.headers(stream, p.request("/wait")))
        for _ in range(4):
            p.send(raw(DATA, 0, stream, b"x" * 16383))


def too_many_streams(p):
    for i in range(101):
        p.send(p.headers(1 + 2 * i, p.request("/wait")))


def window_overflow_by_settings(p):
    p.send(p.headers(1, p.request("/wait")))
    p.send(WindowUpdateFrame(1, window_increment=2**31 - 1 - 65535))
    p.send(raw(SETTINGS, 0, 0, setting(4, 65536)))


def data_after_end_stream(p):
    p.send(p.headers(1, p.request("/"), end_stream=True))
    p.wait_for_response(1)
    p.send(raw(DATA, 0, 1, b"late"))


def headers_after_end_stream(p):
    p.send(p.headers(1, p.request("/"), end_stream=True))
    p.wait_for_response(1)
    p.send(p.headers(1, [("x-late", "1")], end_stream=True))


def content_length_short(p):
    p.send(p.headers(1, p.request("/wait", [("content-length", "10")], method="POST")))
    p.send(raw(DATA, END_STREAM, 1, b"12345"))


def content_length_long(p):
    p.send(p.headers(1, p.request("/wait", [("content-length", "5")], method="POST")))
    p.send(raw(DATA, 0, 1, b"1234567890"))


def trailers(fields, end_stream=True):
    def case(p):
        p.send(p.headers(1, p.request("/wait", method="POST")))
        p.send(raw(DATA, 0, 1, b"body"))
        p.send(p.headers(1, fields, end_stream=end_stream))
    return case


def hpack_bomb(p):
    # One 4 000-byte entry in the dynamic table, then 20 references to it:
    # a block of about 2.5 KB that decodes to 80 KB of fields.
    block = p.block(p.request("/", [("x-bomb", "a" * 4000)])) + b"\xbe" * 20
    p.send(raw(HEADERS, END_HEADERS | END_STREAM, 1, block))


def continuation_ok(p):
    block = p.block(p.request("/"))
    p.send(raw(HEADERS, END_STREAM, 1, block[:3]), raw(CONTINUATION, 0, 1, block[3:5]),
           raw(CONTINUATION, END_HEADERS, 1, block[5:]))


def stream_window_exceeded(p):
    p.send(p.headers(1, p.request("/wait", method="POST")))
    for _ in range(4):
        p.send(raw(DATA, 0, 1, b"x" * 16384))


CASES = {
    # Preface and SETTINGS (RFC 9113 §3.4, §6.5).
    "bad_preface": lambda p: None,
    "first_frame_not_settings": lambda p: None,
    "settings_bad_length": lambda p: p.send(raw(SETTINGS, 0, 0, b"\0\0\0")),
    "settings_ack_with_payload": lambda p: p.send(raw(SETTINGS, ACK, 0, setting(3, 1))),
    "settings_on_stream": lambda p: p.send(raw(SETTINGS, 0, 1)),
    "settings_enable_push_2": lambda p: p.send(raw(SETTINGS, 0, 0, setting(2, 2))),
    "settings_window_too_large": lambda p: p.send(raw(SETTINGS, 0, 0, setting(4, 2**31))),
    "settings_frame_size_too_small": lambda p: p.send(raw(SETTINGS, 0, 0, setting(5, 16383))),
    "settings_window_overflows_stream": window_overflow_by_settings,
    # PING (§6.7).
    "ping_answered": lambda p: p.send(PingFrame(0, opaque_data=b"12345678")),
    "ping_bad_length": lambda p: p.send(raw(PING, 0, 0, b"1234567")),
    "ping_on_stream": lambda p: p.send(raw(PING, 0, 1, b"12345678")),
    "unknown_frame_ignored": lambda p: p.send(raw(0xFA, 0, 0, b"whatever"), PingFrame(0, opaque_data=b"after..!")),
    # Stream states and ids (§5.1, §5.1.1).
    "data_on_idle_stream": lambda p: p.send(raw(DATA, 0, 1, b"x")),
    "rst_on_idle_stream": lambda p: p.send(RstStreamFrame(1, error_code=8)),
    "window_update_on_idle_stream": lambda p: p.send(WindowUpdateFrame(1, window_increment=1)),
    "headers_on_even_stream": lambda p: p.send(p.headers(2, p.request("/"), end_stream=True)),
    "headers_stream_id_goes_down": lambda p: p.send(p.headers(5, p.request("/wait")), p.headers(3, p.request("/wait"))),
    "data_on_half_closed_stream": lambda p: p.send(p.headers(1, p.request("/wait"), end_stream=True), raw(DATA, 0, 1, b"x")),
    "data_after_end_stream": data_after_end_stream,
    "headers_after_end_stream": headers_after_end_stream,
    "data_after_client_reset": lambda p: p.send(p.headers(1, p.request("/wait")), RstStreamFrame(1, error_code=8), raw(DATA, 0, 1, b"x")),
    "headers_after_client_reset": lambda p: p.send(p.headers(1, p.request("/wait")), RstStreamFrame(1, error_code=8), p.headers(1, [("x", "1")], end_stream=True)),
    "too_many_streams": too_many_streams,
    "push_promise_from_client": lambda p: p.send(p.headers(1, p.request("/wait")), raw(PUSH_PROMISE, END_HEADERS, 1, struct.pack(">I", 2) + p.block(p.request("/")))),
    # Frame layout (§4.2, §6).
    "data_on_stream_0": lambda p: p.send(raw(DATA, 0, 0, b"x")),
    "headers_on_stream_0": lambda p: p.send(raw(HEADERS, END_HEADERS, 0, p.block(p.request("/")))),
    "rst_on_stream_0": lambda p: p.send(raw(RST_STREAM, 0, 0, struct.pack(">I", 8))),
    "rst_bad_length": lambda p: p.send(p.headers(1, p.request("/wait")), raw(RST_STREAM, 0, 1, b"\0\0\0")),
    "window_update_bad_length": lambda p: p.send(raw(WINDOW_UPDATE, 0, 0, b"\0\0\1")),
    "priority_bad_length": lambda p: p.send(raw(PRIORITY, 0, 1, b"\0\0\0\0")),
    "priority_self_dependency": lambda p: p.send(raw(PRIORITY, 0, 1, struct.pack(">IB", 1, 16))),
    "headers_self_dependency": lambda p: p.send(raw(HEADERS, END_HEADERS | PRIO | END_STREAM, 1, struct.pack(">IB", 1, 16) + p.block(p.request("/")))),
    "padding_too_long": lambda p: p.send(p.headers(1, p.request("/wait", method="POST")), raw(DATA, PADDED, 1, b"\x09abc")),
    "data_too_large": lambda p: p.send(p.headers(1, p.request("/wait", method="POST")), raw(DATA, 0, 1, b"x" * 16385)),
    "headers_too_large": lambda p: p.send(raw(HEADERS, END_HEADERS | END_STREAM, 1, b"\0" * 16385)),
    # Flow control (§5.2, §6.9).
    "window_update_zero_on_connection": lambda p: p.send(raw(WINDOW_UPDATE, 0, 0, struct.pack(">I", 0))),
    "window_update_zero_on_stream": lambda p: p.send(p.headers(1, p.request("/wait")), raw(WINDOW_UPDATE, 0, 1, struct.pack(">I", 0))),
    "window_update_overflows_connection": lambda p: p.send(WindowUpdateFrame(0, window_increment=2**31 - 1)),
    "window_update_overflows_stream": lambda p: p.send(p.headers(1, p.request("/wait")), WindowUpdateFrame(1, window_increment=2**31 - 1)),
    "data_beyond_stream_window": stream_window_exceeded,
    "data_beyond_connection_window": flood_connection_window,
    # Field blocks (§4.3, §6.10).
    "continuation_joined": continuation_ok,
    "continuation_without_headers": lambda p: p.send(raw(CONTINUATION, END_HEADERS, 1, p.block(p.request("/")))),
    "data_inside_field_block": lambda p: p.send(p.headers(1, p.request("/"), end_headers=False), raw(DATA, 0, 1, b"x")),
    "continuation_on_other_stream": lambda p: p.send(p.headers(1, p.request("/"), end_headers=False), raw(CONTINUATION, END_HEADERS, 3, b"")),
    "unknown_frame_inside_field_block": lambda p: p.send(p.headers(1, p.request("/"), end_headers=False), raw(0xFA, 0, 0, b"")),
    "hpack_invalid_index": lambda p: p.send(raw(HEADERS, END_HEADERS | END_STREAM, 1, b"\xff\x7f")),
    "hpack_table_size_too_large": lambda p: p.send(raw(HEADERS, END_HEADERS | END_STREAM, 1, b"\x3f\xe1\x3f" + p.block(p.request("/")))),
    # Messages (§8).
    "uppercase_field_name": malformed_request([("X-Upper", "1")]),
    "missing_method": malformed_request(pseudo=[(":scheme", "http"), (":path", "/"), (":authority", "t")]),
    "missing_scheme": malformed_request(pseudo=[(":method", "GET"), (":path", "/"), (":authority", "t")]),
    "missing_path": malformed_request(pseudo=[(":method", "GET"), (":scheme", "http"), (":authority", "t")]),
    "empty_path": malformed_request(pseudo=[(":method", "GET"), (":scheme", "http"), (":path", ""), (":authority", "t")]),
    "path_with_space": malformed_request(pseudo=[(":method", "GET"), (":scheme", "http"), (":path", "/a b"), (":authority", "t")]),
    "duplicate_path": malformed_request(pseudo=[(":method", "GET"), (":scheme", "http"), (":path", "/"), (":path", "/"), (":authority", "t")]),
    "unknown_pseudo_header": malformed_request([(":foo", "1")]),
    "status_in_request": malformed_request([(":status", "200")]),
    "pseudo_after_regular": malformed_request(pseudo=[(":method", "GET"), ("x", "1"), (":scheme", "http"), (":path", "/")]),
    "connection_header": malformed_request([("connection", "keep-alive")]),
    "transfer_encoding": malformed_request([("transfer-encoding", "chunked")]),
    "te_not_trailers": malformed_request([("te", "gzip")]),
    "value_with_newline": malformed_request([("x", "a\nb")]),
    "host_differs_from_authority": malformed_request([("host", "other")]),
    "content_length_short": content_length_short,
    "content_length_long": content_length_long,
    "trailers_with_pseudo_header": trailers([(":status", "200")]),
    "trailers_without_end_stream": trailers([("x-t", "1")], end_stream=False),
    "hpack_bomb": hpack_bomb,
}


def run(host, port, name):
    p = Peer(host, port)
    if name == "bad_preface":
        p.send(b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n")
    elif name == "first_frame_not_settings":
        p.send(PREFACE, PingFrame(0, opaque_data=b"12345678"))
    else:
        p.start()
        CASES[name](p)
    result = p.outcome()
    result["case"] = name
    return result


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    names = sys.argv[3:] or list(CASES)
    for name in names:
        if name not in CASES:
            sys.exit(f"unknown case {name}")
        print(json.dumps(run(host, port, name)), flush=True)


if __name__ == "__main__":
    main()
