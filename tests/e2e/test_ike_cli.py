"""tcpsecctl's IKE commands against a running tcpsec-ike opposite strongSwan
(ike_topology.py): `ike-sas` shows the established IKE SA and Child SA with
strongSwan's SPIs, `terminate` brings the tunnel down on both sides,
`initiate` brings it back with new SPIs, `ike-watch` prints the events in
between, `rekey` answers (today: UNIMPLEMENTED); usage errors. And the
Gateway service's standard gRPC health checking and server reflection,
through Python's grpcio with the public health/reflection schemas
(tests/e2e/protos/, generated with protoc at first use)."""

import functools
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time

import grpc
import pytest
from google.protobuf import descriptor_pb2

from ike_topology import SS_ID, IkeInterop, ike_config

TCPSECCTL = os.environ.get("TCPSEC_TCPSECCTL", "")
PROTOS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "protos")


@pytest.fixture
def net():
    with IkeInterop() as n:
        yield n


def ctl(net, *args, check=True, timeout=30):
    assert TCPSECCTL, "TCPSEC_TCPSECCTL must name the tcpsecctl binary"
    res = subprocess.run([TCPSECCTL, "--ike-socket", net.ike_sock, *args], text=True,
                         capture_output=True, timeout=timeout)
    if check:
        assert res.returncode == 0, res.stdout + res.stderr + net.diagnostics()
    return res


def ike_row(table, connection="site"):
    """The ike-sas row of `connection` as a dict of its columns."""
    lines = table.splitlines()
    header = next(line.split() for line in lines if line.startswith("CONNECTION"))
    for line in lines:
        cols = line.split()
        if cols and cols[0] == connection:
            row = dict(zip(header, cols))
            i = lines.index(line) + 1
            row["children"] = []
            while i < len(lines) and lines[i].startswith("  child "):
                row["children"].append(lines[i].split())
                i += 1
            return row
    raise AssertionError(f"no IKE SA of {connection!r} in:\n{table}")


def wait_for(f, timeout=15.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = f()
        if v:
            return v
        time.sleep(0.2)
    return f()


def check_matches_strongswan(net, charon, initiator):
    """ike-sas (table and JSON) against strongSwan's list_sas(); returns
    our (SPIi, SPIr)."""
    ss = charon.list_sas()["site"]
    row = ike_row(ctl(net, "ike-sas").stdout)
    assert row["STATE"] == "ESTABLISHED"
    assert row["ROLE"] == ("initiator" if initiator else "responder")
    assert row["TRANSPORT"] == "udp-natt"  # strongSwan's libipsec fakes a NAT
    assert int(row["SPI_I"], 16) == int(ss["initiator-spi"], 16)
    assert int(row["SPI_R"], 16) == int(ss["responder-spi"], 16)
    assert row["REMOTE_ID"] == f"fqdn:{SS_ID}"
    assert row["PROPOSAL"].startswith("aes")
    assert row["PEER"] == ss["local-host"]
    (child,) = row["children"]
    ss_child = [c for c in ss["child-sas"].values() if c["state"] == "INSTALLED"][0]
    # ["child", name, state, "in", spi, "out", spi, algorithm, local, "===", remote]
    assert child[2] == "INSTALLED"
    assert int(child[4], 16) == int(ss_child["spi-out"], 16)  # what we receive, it sends
    assert int(child[6], 16) == int(ss_child["spi-in"], 16)
    assert child[7] == "aes_gcm_128"
    assert child[8:] == ["10.10.0.0/24", "===", "10.20.0.0/24"]
    # --json: the ListIkeSasReply, 64-bit SPIs as strings.
    reply = json.loads(ctl(net, "ike-sas", "--json").stdout)
    (sa,) = reply["ike_sas"]
    assert int(sa["initiator_spi"]) == int(ss["initiator-spi"], 16)
    assert int(sa["responder_spi"]) == int(ss["responder-spi"], 16)
    assert sa["state"] == "ESTABLISHED" and sa["initiator"] is initiator
    assert sa["children"][0]["spi_out"] == int(ss_child["spi-in"], 16)
    return int(row["SPI_I"], 16), int(row["SPI_R"], 16)


def test_ike_sas_terminate_initiate_and_watch(net):
    net.start_ike(ike_config(net.dp_sock, net.ike_sock, initiator=True))
    with net.charon(initiator=False) as charon:
        try:
            charon.wait_established(timeout=20, ike="site", child="net")
            assert net.ike.wait_for("event site child_up"), net.diagnostics()
            first = check_matches_strongswan(net, charon, initiator=True)
        except BaseException:
            print(net.diagnostics(), charon.log_tail(80))
            raise
        # Watchers from here on: a table one and a JSON one.
        watch = subprocess.Popen([TCPSECCTL, "--ike-socket", net.ike_sock, "ike-watch", "--count", "4"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        watch_json = subprocess.Popen([TCPSECCTL, "--ike-socket", net.ike_sock, "ike-watch", "--json",
                                       "--count", "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      text=True)
        time.sleep(1.0)  # both subscribed
        res = ctl(net, "terminate", "site")
        assert res.stdout.strip() == "terminating site: 1 IKE SA(s)"
        assert charon.wait_no_sas(10), charon.list_sas()
        assert wait_for(lambda: ctl(net, "ike-sas").stdout.startswith("0 IKE SA(s)")), \
            ctl(net, "ike-sas").stdout
        # Nothing left in the dataplane either.
        assert net.ike.wait_for("event site ike_down"), net.diagnostics()
        # Back up, by tcpsecctl.
        res = ctl(net, "initiate", "site")
        assert res.stdout.strip() == "initiating site"
        charon.wait_established(timeout=20, ike="site", child="net")
        assert wait_for(lambda: "INSTALLED" in ctl(net, "ike-sas").stdout), net.diagnostics()
        second = check_matches_strongswan(net, charon, initiator=True)
        assert second[0] != first[0] and second[1] != first[1]
        assert " 0% packet loss" in net.ping(3), net.diagnostics()
        # rekey: the Child SA gets new SPIs on both sides (CREATE_CHILD_SA).
        child_before = ike_row(ctl(net, "ike-sas").stdout)["children"][0]
        res = ctl(net, "rekey", "site")
        assert res.stdout.strip() == "rekeying site (Child SAs)"

        def rekeyed():
            children = ike_row(ctl(net, "ike-sas").stdout)["children"]
            return len(children) == 1 and children[0][4] != child_before[4] and children[0]
        assert wait_for(rekeyed), ctl(net, "ike-sas").stdout + net.diagnostics()
        assert check_matches_strongswan(net, charon, initiator=True) == second  # same IKE SA

        out, err = watch.communicate(timeout=20)
        assert watch.returncode == 0, err
        lines = out.splitlines()
        assert len(lines) == 4, out
        kinds = [line.split()[2].rstrip(":") for line in lines]
        assert all(line.split()[1] == "site" for line in lines), out
        # The delete (a child_down may come first), then the new SA.
        assert "ike_down" in kinds and "ike_connecting" in kinds, out
        assert kinds.index("ike_down") < kinds.index("ike_connecting"), out
        assert float(lines[0].split()[0]) > 0
        out, err = watch_json.communicate(timeout=20)
        assert watch_json.returncode == 0, err
        events = [json.loads(line) for line in out.splitlines()]
        assert len(events) == 2 and all(e["connection"] == "site" for e in events), out
        assert set(events[0]) == {"time_s", "connection", "kind", "message"}


def test_rekey_answers_and_usage_errors(net):
    net.start_ike(ike_config(net.dp_sock, net.ike_sock, initiator=False))
    # rekey: UNIMPLEMENTED (12) until CREATE_CHILD_SA lands; then it may
    # refuse a connection without an SA (FAILED_PRECONDITION, 9).
    res = ctl(net, "rekey", "site", check=False)
    assert res.returncode in (0, 1), res.stderr
    if res.returncode:
        assert res.stderr.startswith("tcpsecctl: rekey on unix:" + net.ike_sock + " failed: "), res.stderr
        assert "(12)" in res.stderr or "(9)" in res.stderr, res.stderr
    res = ctl(net, "rekey", "site", "--ike", check=False)
    assert res.returncode in (0, 1), res.stderr
    # The daemon's refusals, with its message.
    res = ctl(net, "initiate", "nope", check=False)
    assert res.returncode == 1 and "no connection named 'nope'" in res.stderr, res.stderr
    # (no strongSwan here: it stays CONNECTING, then peer_dead)
    res = ctl(net, "initiate", "site")
    assert res.stdout.strip() == "initiating site"
    res = ctl(net, "terminate", "nope")
    assert res.stdout.strip() == "terminating nope: 0 IKE SA(s)"
    # Usage: exit 2.
    for args in (["initiate"], ["terminate", "a", "b"], ["ike-sas", "x"], ["ike-watch", "--count", "0"]):
        res = ctl(net, *args, check=False)
        assert res.returncode == 2, (args, res.stdout, res.stderr)
    assert "one connection NAME" in ctl(net, "initiate", check=False).stderr
    # No tcpsec-ike there: exit 1 with a hint; $TCPSEC_IKE_SOCKET is the default.
    res = subprocess.run([TCPSECCTL, "--ike-socket", net.ike_sock + ".none", "ike-sas"], text=True,
                         capture_output=True, timeout=30)
    assert res.returncode == 1 and "cannot reach tcpsec-ike" in res.stderr, res.stderr
    res = subprocess.run([TCPSECCTL, "ike-sas"], text=True, capture_output=True, timeout=30,
                         env={**os.environ, "TCPSEC_IKE_SOCKET": net.ike_sock})
    assert res.returncode == 0 and " IKE SA(s)" in res.stdout.splitlines()[0], res.stdout + res.stderr
    # The dataplane commands still need --socket.
    res = subprocess.run([TCPSECCTL, "sas"], text=True, capture_output=True, timeout=30,
                         env={k: v for k, v in os.environ.items() if k != "TCPSEC_SOCKET"})
    assert res.returncode == 2 and "--socket PATH is required" in res.stderr


# ---- health checking and reflection ----------------------------------------


@functools.lru_cache(maxsize=None)
def pb2(name):
    out = tempfile.mkdtemp(prefix="tcpsec-grpc-std-")
    subprocess.run(["protoc", f"--python_out={out}", "-I", PROTOS,
                    os.path.join(PROTOS, name + ".proto")], check=True, capture_output=True)
    sys.path.insert(0, out)
    return importlib.import_module(name + "_pb2")


def health_check(channel, service):
    h = pb2("grpc_health_v1")
    check = channel.unary_unary("/grpc.health.v1.Health/Check",
                                request_serializer=h.HealthCheckRequest.SerializeToString,
                                response_deserializer=h.HealthCheckResponse.FromString)
    return check(h.HealthCheckRequest(service=service), timeout=5)


def reflection(channel, *requests):
    r = pb2("grpc_reflection_v1alpha")
    info = channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                 request_serializer=r.ServerReflectionRequest.SerializeToString,
                                 response_deserializer=r.ServerReflectionResponse.FromString)
    return list(info(iter([r.ServerReflectionRequest(**q) for q in requests]), timeout=5))


def listed_services(sock):
    with grpc.insecure_channel("unix:" + sock) as ch:
        (reply,) = reflection(ch, {"list_services": ""})
        return {s.name for s in reply.list_services_response.service}


def test_gateway_health_and_reflection(net):
    net.start_ike(ike_config(net.dp_sock, net.ike_sock, initiator=False))
    h = pb2("grpc_health_v1")
    with grpc.insecure_channel("unix:" + net.ike_sock) as ch:
        # The server as a whole (""): gRPC's default health service. Per-service
        # statuses are not registered (yet), so only "" is checked here.
        assert health_check(ch, "").status == h.HealthCheckResponse.SERVING
        with pytest.raises(grpc.RpcError) as e:
            health_check(ch, "tcpsec.v1.NoSuchService")
        assert e.value.code() == grpc.StatusCode.NOT_FOUND
        # The Gateway service's schema, by symbol.
        (reply,) = reflection(ch, {"file_containing_symbol": "tcpsec.v1.Gateway"})
        files = [descriptor_pb2.FileDescriptorProto.FromString(b)
                 for b in reply.file_descriptor_response.file_descriptor_proto]
        gateway = [f for f in files if f.name == "tcpsec/v1/gateway.proto"]
        assert gateway, [f.name for f in files]
        (service,) = gateway[0].service
        assert service.name == "Gateway"
        assert {"ListIkeSas", "Initiate", "Terminate", "Rekey", "WatchGatewayEvents"} <= {
            m.name for m in service.method}
        (reply,) = reflection(ch, {"file_containing_symbol": "tcpsec.v1.NoSuch"})
        assert reply.HasField("error_response")
    ike_services = listed_services(net.ike_sock)
    assert {"tcpsec.v1.Gateway", "grpc.health.v1.Health"} <= ike_services, ike_services
    dp_services = listed_services(net.dp_sock)
    assert {"tcpsec.v1.Dataplane", "grpc.health.v1.Health"} <= dp_services, dp_services
    # Each daemon serves its own service only.
    assert "tcpsec.v1.Dataplane" not in ike_services and "tcpsec.v1.Gateway" not in dp_services
    with grpc.insecure_channel("unix:" + net.dp_sock) as ch:
        assert health_check(ch, "").status == h.HealthCheckResponse.SERVING
