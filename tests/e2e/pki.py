"""A throwaway PKI for the interop tests: a CA and end-entity certificates.

Everything is made with the openssl command line and written as PEM files, so
the same files can be fed to strongSwan (swanctl's x509/, x509ca/, private/)
and to tcpsec's daemon. Private keys are unencrypted PKCS#8
("BEGIN PRIVATE KEY"); certificates are X.509 v3 with SANs.

    ca = pki.CA(workdir)                                   # ECDSA P-256 CA
    gw = ca.issue("gw-a", san=["DNS:gw-a.tcpsec.test", "email:a@tcpsec.test",
                                "IP:10.0.0.1"])           # ECDSA P-256
    rsa = ca.issue("gw-r", san=["DNS:gw-r.tcpsec.test"], key="rsa2048")
    gw.cert_pem, gw.key_pem, gw.ids, ca.cert_pem           # paths / identities
"""

import os
import subprocess

KEY_ALGS = {
    "ecdsa256": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
    "ecdsa384": ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
    "rsa2048": ["-newkey", "rsa:2048"],
    "rsa3072": ["-newkey", "rsa:3072"],
}


def _openssl(*args, cwd=None):
    res = subprocess.run(["openssl", *args], cwd=cwd, text=True, capture_output=True)
    if res.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed:\n{res.stdout}{res.stderr}")
    return res.stdout


class Cert:
    """One end-entity: PEM certificate and key paths plus its SAN identities."""

    def __init__(self, name, cert_pem, key_pem, dn, san, key):
        self.name = name
        self.cert_pem = cert_pem      # path, "-----BEGIN CERTIFICATE-----"
        self.key_pem = key_pem        # path, PKCS#8 "-----BEGIN PRIVATE KEY-----"
        self.dn = dn                  # e.g. "C=XX, O=tcpsec test, CN=gw-a.tcpsec.test"
        self.san = list(san)          # e.g. ["DNS:gw-a.tcpsec.test", "IP:10.0.0.1"]
        self.key = key                # "ecdsa256", "rsa2048", ...

    @property
    def ids(self):
        """SAN values as strongSwan identities: FQDN, email (RFC822), IP."""
        return [s.split(":", 1)[1] for s in self.san]

    @property
    def fqdn(self):
        return next(s.split(":", 1)[1] for s in self.san if s.startswith("DNS:"))

    def der(self):
        """The certificate as DER bytes."""
        return subprocess.run(["openssl", "x509", "-in", self.cert_pem, "-outform", "DER"],
                              check=True, capture_output=True).stdout


class CA:
    """A self-signed CA in `workdir` (created if missing)."""

    def __init__(self, workdir, name="ca", cn="tcpsec test CA", key="ecdsa256", days=3650):
        os.makedirs(workdir, exist_ok=True)
        self.workdir = workdir
        self.name = name
        self.cert_pem = os.path.join(workdir, f"{name}.pem")
        self.key_pem = os.path.join(workdir, f"{name}.key.pem")
        self.dn = f"C=XX, O=tcpsec test, CN={cn}"
        self._serial = 1
        _openssl("req", "-x509", "-new", *KEY_ALGS[key], "-nodes", "-sha256",
                 "-keyout", self.key_pem, "-out", self.cert_pem, "-days", str(days),
                 "-subj", f"/C=XX/O=tcpsec test/CN={cn}",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                 "-addext", "subjectKeyIdentifier=hash")

    def issue(self, name, san, key="ecdsa256", cn=None, days=365):
        """Issues an end-entity certificate; `san` entries are openssl
        subjectAltName items: "DNS:x", "email:x", "IP:x"."""
        if cn is None:
            cn = next((s.split(":", 1)[1] for s in san if s.startswith("DNS:")), name)
        key_pem = os.path.join(self.workdir, f"{name}.key.pem")
        csr = os.path.join(self.workdir, f"{name}.csr")
        cert_pem = os.path.join(self.workdir, f"{name}.pem")
        ext = os.path.join(self.workdir, f"{name}.ext")
        with open(ext, "w") as f:
            f.write(f"subjectAltName={','.join(san)}\n"
                    "basicConstraints=critical,CA:FALSE\n"
                    "keyUsage=critical,digitalSignature"
                    + (",keyEncipherment" if key.startswith("rsa") else "") + "\n"
                    "extendedKeyUsage=serverAuth,clientAuth\n"
                    "subjectKeyIdentifier=hash\n"
                    "authorityKeyIdentifier=keyid\n")
        _openssl("req", "-new", *KEY_ALGS[key], "-nodes", "-keyout", key_pem, "-out", csr,
                 "-subj", f"/C=XX/O=tcpsec test/CN={cn}")
        self._serial += 1
        _openssl("x509", "-req", "-in", csr, "-CA", self.cert_pem, "-CAkey", self.key_pem,
                 "-set_serial", str(self._serial), "-days", str(days), "-sha256",
                 "-extfile", ext, "-out", cert_pem)
        os.unlink(csr)
        return Cert(name, cert_pem, key_pem, f"C=XX, O=tcpsec test, CN={cn}", san, key)
