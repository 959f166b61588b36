"""grpcio peer for the gRPC interop tests (mesh-http/tests/grpc_interop.rs).

    peer.py server ADDR GEN_DIR
        Serves meshkit.interop.Echo on ADDR (host:port) and prints
        "listening ADDR" once it accepts calls.
    peer.py client ADDR GEN_DIR CASE...
        Runs each CASE against ADDR and prints "ok CASE" per case; the first
        failure prints "FAIL CASE: why" and exits 1.

interop.proto is compiled with grpc_tools.protoc into GEN_DIR first (the
test passes a fresh temporary directory). Each case checks what grpcio
sees, so the Rust side on the other end is checked by a real gRPC stack.
"""

import os
import sys
import threading
from concurrent import futures

import grpc
from grpc_tools import protoc

HERE = os.path.dirname(os.path.abspath(__file__))
MIB = 1 << 20
# Non-ASCII on purpose: grpc-message is percent-encoded UTF-8 on the wire.
ERROR_MESSAGE = "nicht gefunden: Größe ≠ 3 — ✓ 100% \U0001F600"


def compile_proto(gen_dir):
    rc = protoc.main([
        "grpc_tools.protoc",
        f"-I{HERE}",
        f"--python_out={gen_dir}",
        f"--grpc_python_out={gen_dir}",
        os.path.join(HERE, "interop.proto"),
    ])
    if rc != 0:
        sys.exit(f"protoc failed with {rc}")
    sys.path.insert(0, gen_dir)
    import interop_pb2
    import interop_pb2_grpc
    return interop_pb2, interop_pb2_grpc


def remaining_ms(context):
    left = context.time_remaining()
    # Without a deadline grpcio reports None or an infinite future.
    if left is None or left > 1e9:
        return -1
    return int(left * 1000)


def serve(addr, pb, pb_grpc):
    class Echo(pb_grpc.EchoServicer):
        def _maybe_gzip(self, context):
            metadata = dict(context.invocation_metadata())
            if metadata.get("x-want-gzip") == "1":
                context.set_compression(grpc.Compression.Gzip)

        def _act(self, msg, context):
            if msg.hang:
                # No timer: wait for the call to end (deadline or cancel).
                ended = threading.Event()
                if context.add_callback(ended.set):
                    ended.wait()
                return
            if msg.fail_code:
                context.abort(grpc.StatusCode(_code(msg.fail_code)), msg.fail_message)

        def Unary(self, msg, context):
            self._maybe_gzip(context)
            left = remaining_ms(context)
            self._act(msg, context)
            return pb.Reply(payload=msg.payload, time_remaining_ms=left)

        def ServerStream(self, msg, context):
            self._maybe_gzip(context)
            for i in range(msg.count):
                yield pb.Reply(payload=bytes([i % 256]) * msg.size)
            self._act(msg, context)

        def ClientStream(self, msgs, context):
            self._maybe_gzip(context)
            total = messages = 0
            for m in msgs:
                total += len(m.payload)
                messages += 1
                self._act(m, context)
            return pb.Reply(total=total, messages=messages)

        def Bidi(self, msgs, context):
            self._maybe_gzip(context)
            for m in msgs:
                self._act(m, context)
                yield pb.Reply(payload=m.payload)

    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=16),
        options=[
            ("grpc.max_receive_message_length", 4 * MIB),
            ("grpc.max_send_message_length", 4 * MIB),
        ],
    )
    pb_grpc.add_EchoServicer_to_server(Echo(), server)
    port = server.add_insecure_port(addr)
    if port == 0:
        sys.exit(f"cannot listen on {addr}")
    server.start()
    print(f"listening {addr}", flush=True)
    # Until the test kills us.
    threading.Event().wait()


def _code(number):
    for code in grpc.StatusCode:
        if code.value[0] == number:
            return code.value
    raise ValueError(number)


class Failed(Exception):
    pass


def check(cond, why):
    if not cond:
        raise Failed(why)


def expect_status(call, code, details=None):
    """Runs `call`, which must fail with `code` (and `details`)."""
    try:
        call()
    except grpc.RpcError as e:
        check(e.code() == code, f"status {e.code()} ({e.details()!r}), wanted {code}")
        if details is not None:
            check(e.details() == details, f"details {e.details()!r}, wanted {details!r}")
        return e
    raise Failed(f"succeeded, wanted {code}")


def cases(pb, stub):
    def unary():
        r = stub.Unary(pb.Msg(payload=b"hello"), timeout=10)
        check(r.payload == b"hello", f"payload {r.payload!r}")

    def unary_empty():
        # An empty proto3 message is a 0-byte gRPC message both ways.
        r = stub.Unary(pb.Msg(), timeout=10)
        check(r == pb.Reply(time_remaining_ms=r.time_remaining_ms), f"reply {r}")

    def unary_3mib():
        data = os.urandom(3 * MIB)
        r = stub.Unary(pb.Msg(payload=data), timeout=30)
        check(r.payload == data, f"payload of {len(r.payload)} bytes")

    def server_stream():
        replies = list(stub.ServerStream(pb.Msg(count=5, size=1000), timeout=10))
        check(len(replies) == 5, f"{len(replies)} replies")
        for i, r in enumerate(replies):
            check(r.payload == bytes([i]) * 1000, f"reply {i}")

    def client_stream():
        msgs = (pb.Msg(payload=bytes([i]) * (i * 100)) for i in range(10))
        r = stub.ClientStream(msgs, timeout=10)
        check((r.total, r.messages) == (4500, 10), f"total {r.total}, messages {r.messages}")

    def bidi():
        # Lock-step: each reply is read before the next message is sent, so
        # both directions are open at once.
        requests = []
        cond = threading.Condition()
        def gen():
            for i in range(5):
                with cond:
                    cond.wait_for(lambda: len(requests) > i)
                yield pb.Msg(payload=f"ping {i}".encode())
        responses = stub.Bidi(gen(), timeout=10)
        for i in range(5):
            with cond:
                requests.append(i)
                cond.notify_all()
            r = next(responses)
            check(r.payload == f"ping {i}".encode(), f"reply {r.payload!r}")
        check(next(responses, None) is None, "extra reply")

    def gzip():
        data = b"compressible " * 10000
        r = stub.Unary(pb.Msg(payload=data), timeout=10,
                       compression=grpc.Compression.Gzip,
                       metadata=[("x-want-gzip", "1")])
        check(r.payload == data, "gzip payload")
        replies = list(stub.ServerStream(pb.Msg(count=3, size=100000), timeout=10,
                                         compression=grpc.Compression.Gzip,
                                         metadata=[("x-want-gzip", "1")]))
        check([len(r.payload) for r in replies] == [100000] * 3, "gzip stream")

    def error():
        expect_status(lambda: stub.Unary(pb.Msg(fail_code=5, fail_message=ERROR_MESSAGE), timeout=10),
                      grpc.StatusCode.NOT_FOUND, ERROR_MESSAGE)
        # An error after streamed replies: the status arrives in trailers.
        def streamed():
            got = []
            for r in stub.ServerStream(pb.Msg(count=2, size=10, fail_code=9,
                                              fail_message="ünïcödé"), timeout=10):
                got.append(r)
            return got
        expect_status(streamed, grpc.StatusCode.FAILED_PRECONDITION, "ünïcödé")

    def deadline():
        # A server that never answers: the call ends by its deadline.
        expect_status(lambda: stub.Unary(pb.Msg(hang=True), timeout=0.3),
                      grpc.StatusCode.DEADLINE_EXCEEDED)

    def deadline_seen():
        # The server sees the deadline: at most what we gave (grpcio rounds
        # the grpc-timeout it sends up, 5 s becoming "5010m"), not none.
        r = stub.Unary(pb.Msg(), timeout=5)
        check(0 < r.time_remaining_ms <= 5010, f"remaining {r.time_remaining_ms} ms")
        print(f"remaining {r.time_remaining_ms}", flush=True)

    # Through the forwarding proxy of the tests, which reads these
    # metadata: x-mesh-hold-ms (count that much time as spent in the proxy,
    # on its manual clock: no waiting), x-mesh-route-timeout-ms (its own
    # timeout for the route).
    def proxy_remaining_deadline():
        # The proxy spent 300 ms: the server must be given what is left of
        # the 5 s (grpcio sends "5010m": at most 4710 ms), not 5 s again.
        r = stub.Unary(pb.Msg(), timeout=5, metadata=[("x-mesh-hold-ms", "300")])
        check(0 < r.time_remaining_ms <= 4710, f"remaining {r.time_remaining_ms} ms")
        print(f"remaining {r.time_remaining_ms}", flush=True)

    def proxy_expired_before_forwarding():
        # The route allows 200 ms and the proxy spent 400: it answers
        # DEADLINE_EXCEEDED itself (trailers-only), never forwarding.
        expect_status(lambda: stub.Unary(pb.Msg(), timeout=10, metadata=[
            ("x-mesh-hold-ms", "400"), ("x-mesh-route-timeout-ms", "200")]),
            grpc.StatusCode.DEADLINE_EXCEEDED, "mesh: deadline exceeded before forwarding")

    def proxy_route_timeout():
        # The route's 300 ms cut the 10 s deadline short against a server
        # that never answers: DEADLINE_EXCEEDED (from the proxy, or from the
        # server that was given 300 ms), not a hang until 10 s.
        e = expect_status(lambda: stub.Unary(pb.Msg(hang=True), timeout=10, metadata=[
            ("x-mesh-route-timeout-ms", "300")]), grpc.StatusCode.DEADLINE_EXCEEDED)
        print(f"route timeout: {e.details()!r}", flush=True)

    return {f.__name__: f for f in [
        unary, unary_empty, unary_3mib, server_stream, client_stream, bidi,
        gzip, error, deadline, deadline_seen, proxy_remaining_deadline,
        proxy_expired_before_forwarding, proxy_route_timeout]}


def run_client(addr, names, pb, pb_grpc):
    options = [
        ("grpc.max_receive_message_length", 4 * MIB),
        ("grpc.max_send_message_length", 4 * MIB),
        ("grpc.enable_retries", 0),
    ]
    with grpc.insecure_channel(addr, options=options) as channel:
        grpc.channel_ready_future(channel).result(timeout=10)
        stub = pb_grpc.EchoStub(channel)
        table = cases(pb, stub)
        for name in names:
            try:
                table[name]()
            except Failed as e:
                print(f"FAIL {name}: {e}", flush=True)
                sys.exit(1)
            except grpc.RpcError as e:
                print(f"FAIL {name}: {e.code()} {e.details()!r}", flush=True)
                sys.exit(1)
            print(f"ok {name}", flush=True)


def main():
    mode, addr, gen_dir = sys.argv[1:4]
    pb, pb_grpc = compile_proto(gen_dir)
    if mode == "server":
        serve(addr, pb, pb_grpc)
    elif mode == "client":
        run_client(addr, sys.argv[4:], pb, pb_grpc)
    else:
        sys.exit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
