"""An independent Python client of the Dataplane gRPC service
(proto/tcpsec/v1/dataplane.proto): Python's grpcio and protobuf, not the
C++ code the dataplane and tcpsecctl share.

There is no grpc python plugin on the test machines, so the message
modules (*_pb2.py) are generated with protoc at first use (once per
process) and the methods are called through grpc's generic
unary_unary / unary_stream / stream_stream on a unix-socket channel.

    pb = dataplane_grpc.pb()                       # the generated modules
    with DataplaneClient("/tmp/dp.sock") as c:
        c.apply(c.msg("ApplyRequest", 'add_sas { spi: 4096 ... }'))
        for sa in c.list_sas().sas: ...
"""

import functools
import importlib
import os
import queue
import subprocess
import sys
import tempfile
import threading
import types

import grpc
from google.protobuf import json_format, text_format

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROTO_DIR = os.path.join(ROOT, "proto")
SERVICE = "/tcpsec.v1.Dataplane/"
PROTOS = ("config.proto", "ipsec.proto", "dataplane.proto")


@functools.lru_cache(maxsize=None)
def pb():
    """The generated modules as one namespace: pb().ApplyRequest, pb().DIRECTION_INBOUND, ..."""
    out = tempfile.mkdtemp(prefix="tcpsec-pb2-")
    # Only the Dataplane service's files: others in the folder may be mid-change.
    protos = [os.path.join(PROTO_DIR, "tcpsec", "v1", f) for f in PROTOS]
    subprocess.run(["protoc", f"--python_out={out}", "-I", PROTO_DIR, *protos], check=True,
                   capture_output=True, text=True)
    sys.path.insert(0, out)
    ns = types.SimpleNamespace()
    for path in protos:
        mod = importlib.import_module("tcpsec.v1." + os.path.basename(path)[:-len(".proto")] + "_pb2")
        for name in dir(mod):
            if not name.startswith("_"):
                setattr(ns, name, getattr(mod, name))
    return ns


def msg(type_name, text=""):
    """A message of tcpsec.v1.`type_name` parsed from protobuf text format."""
    return text_format.Parse(text, getattr(pb(), type_name)())


def to_text(m):
    return text_format.MessageToString(m)


def to_dict(m):
    return json_format.MessageToDict(m, preserving_proto_field_name=True,
                                     including_default_value_fields=True)


# method: (kind, request type, reply type)
METHODS = {
    "GetCounters": ("unary", "GetCountersRequest", "CountersReply"),
    "ListConnections": ("unary", "ListConnectionsRequest", "ListConnectionsReply"),
    "Apply": ("unary", "ApplyRequest", "ApplyReply"),
    "ListSas": ("unary", "ListSasRequest", "ListSasReply"),
    "ListPolicies": ("unary", "ListPoliciesRequest", "ListPoliciesReply"),
    "AllocateSpis": ("unary", "AllocateSpisRequest", "AllocateSpisReply"),
    "DumpState": ("unary", "DumpStateRequest", "DataplaneState"),
    "RestoreState": ("unary", "DataplaneState", "ApplyReply"),
    "WatchEvents": ("server_stream", "WatchEventsRequest", "Event"),
    "PacketStream": ("bidi", "PacketOut", "PacketIn"),
}


class EventWatch:
    """A WatchEvents call read by a thread into a queue (cancel() ends it)."""

    def __init__(self, call):
        self.call = call
        self.events = queue.Queue()
        self.error = None
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        try:
            for e in self.call:
                self.events.put(e)
        except grpc.RpcError as e:
            if e.code() != grpc.StatusCode.CANCELLED:
                self.error = e

    def wait_for(self, predicate, timeout=5.0):
        """The first event (after those already taken) that predicate accepts, or None."""
        import time
        deadline = time.time() + timeout
        while True:
            left = deadline - time.time()
            if left <= 0:
                return None
            try:
                e = self.events.get(timeout=left)
            except queue.Empty:
                return None
            if predicate(e):
                return e

    def cancel(self):
        self.call.cancel()
        self.thread.join(timeout=5)


class PacketStream:
    """A PacketStream call: send() queues a PacketOut, received() yields PacketIn."""

    _END = object()

    def __init__(self, client):
        self._out = queue.Queue()
        self.received = queue.Queue()
        self.error = None
        self.done = threading.Event()
        self.call = client._stub("PacketStream")(self._requests())
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _requests(self):
        while True:
            p = self._out.get()
            if p is self._END:
                return
            yield p

    def _read(self):
        try:
            for p in self.call:
                self.received.put(p)
        except grpc.RpcError as e:
            self.error = e
        finally:
            self.done.set()

    def send(self, packet_out):
        self._out.put(packet_out)

    def get(self, timeout=3.0):
        """The next PacketIn, or None."""
        try:
            return self.received.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self):
        """Half-closes our side (the server then ends the stream) and waits."""
        self._out.put(self._END)
        if not self.done.wait(timeout=5):
            self.call.cancel()
            self.done.wait(timeout=5)


class DataplaneClient:
    def __init__(self, socket_path, timeout=10.0):
        self.timeout = timeout
        self.channel = grpc.insecure_channel("unix:" + socket_path)
        self._stubs = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self):
        self.channel.close()

    msg = staticmethod(msg)

    def _stub(self, method):
        if method not in self._stubs:
            kind, req, rep = METHODS[method]
            factory = {"unary": self.channel.unary_unary, "server_stream": self.channel.unary_stream,
                       "bidi": self.channel.stream_stream}[kind]
            self._stubs[method] = factory(SERVICE + method,
                                          request_serializer=getattr(pb(), req).SerializeToString,
                                          response_deserializer=getattr(pb(), rep).FromString)
        return self._stubs[method]

    def call(self, method, request=None):
        """A unary call; `request` is a message, text format, or None (empty)."""
        req_type = METHODS[method][1]
        if request is None or isinstance(request, str):
            request = msg(req_type, request or "")
        return self._stub(method)(request, timeout=self.timeout)

    # Typed helpers.
    def counters(self):
        return self.call("GetCounters")

    def counter_values(self):
        """({counter: value}, {drop: value}) summed over workers."""
        r = self.counters()
        return ({c.name: c.value for c in r.counters}, {d.name: d.value for d in r.drops})

    def connections(self):
        return self.call("ListConnections")

    def apply(self, request):
        return self.call("Apply", request)

    def list_sas(self):
        return self.call("ListSas")

    def sas_by_spi(self):
        """{(spi, direction): SaInfo}."""
        return {(s.spi, s.direction): s for s in self.list_sas().sas}

    def list_policies(self):
        return self.call("ListPolicies")

    def allocate_spis(self, count=0):
        return list(self.call("AllocateSpis", pb().AllocateSpisRequest(count=count)).spis)

    def dump(self):
        return self.call("DumpState")

    def restore(self, state):
        return self.call("RestoreState", state)

    def watch(self):
        """Starts WatchEvents; the events come through the returned EventWatch."""
        call = self._stub("WatchEvents")(pb().WatchEventsRequest())
        return EventWatch(call)

    def packet_stream(self):
        return PacketStream(self)
