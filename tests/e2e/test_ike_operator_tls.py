"""The Gateway (operator) service on TCP requires TLS with a client
certificate from the configured CA: an operator with one lists IKE SAs and
passes the health check; a client without a certificate, or with one from
another CA, is refused at the handshake. (Loopback only.)"""

import os
import socket

import grpc
import pytest

import pki
from ike_topology import IkeInterop, gateway_pb, ike_config


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.fixture
def setup():
    with IkeInterop() as net:
        ca = pki.CA(net.tmp, name="opca", cn="operators CA")
        server_ca = pki.CA(net.tmp, name="srvca", cn="gateway CA")
        rogue = pki.CA(net.tmp, name="rogue", cn="someone else")
        server = server_ca.issue("gw-tls", ["DNS:localhost", "IP:127.0.0.1"])
        operator = ca.issue("alice", ["email:alice@example.test"])
        stranger = rogue.issue("mallory", ["email:mallory@example.test"])
        port = free_port()
        endpoint = (f'operator_endpoint {{ listen: "127.0.0.1:{port}" certificate: "{server.cert_pem}" '
                    f'private_key: "{server.key_pem}" client_ca: "{ca.cert_pem}" }}')
        cfg = ike_config(net.dp_sock, net.ike_sock, initiator=False) + endpoint
        net.start_ike(cfg)
        yield port, server_ca, operator, stranger, net


def call(port, server_ca, client=None, method="ListIkeSas"):
    root = open(server_ca.cert_pem, "rb").read()
    creds = grpc.ssl_channel_credentials(
        root_certificates=root,
        private_key=open(client.key_pem, "rb").read() if client else None,
        certificate_chain=open(client.cert_pem, "rb").read() if client else None)
    pb = gateway_pb()
    with grpc.secure_channel(f"localhost:{port}", creds) as ch:
        rpc = ch.unary_unary(f"/tcpsec.v1.Gateway/{method}",
                             request_serializer=lambda m: m.SerializeToString(),
                             response_deserializer=pb.ListIkeSasReply.FromString)
        return rpc(pb.ListIkeSasRequest(), timeout=5)


def test_operator_with_a_client_certificate_gets_in(setup):
    port, server_ca, operator, _, _ = setup
    reply = call(port, server_ca, operator)
    assert list(reply.ike_sas) == []
    # Health checking (grpc.health.v1) over the same TLS channel.
    with grpc.secure_channel(f"localhost:{port}", grpc.ssl_channel_credentials(
            open(server_ca.cert_pem, "rb").read(), open(operator.key_pem, "rb").read(),
            open(operator.cert_pem, "rb").read())) as ch:
        check = ch.unary_unary("/grpc.health.v1.Health/Check",
                               request_serializer=lambda b: b, response_deserializer=lambda b: b)
        assert check(b"", timeout=5) == b"\x08\x01"  # status: SERVING
        name = b"tcpsec.v1.Gateway"  # HealthCheckRequest.service (field 1)
        assert check(b"\x0a" + bytes([len(name)]) + name, timeout=5) == b"\x08\x01"


@pytest.mark.parametrize("who", ["no-certificate", "other-ca"])
def test_clients_without_an_accepted_certificate_are_refused(setup, who):
    port, server_ca, _, stranger, net = setup
    with pytest.raises(grpc.RpcError) as err:
        call(port, server_ca, None if who == "no-certificate" else stranger)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE, err.value
    # The unix socket (file permissions are its access control) still works.
    assert list(net.ike_sas()) == []
