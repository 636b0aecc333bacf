"""A development certificate chain for C2PA signing, and the Ed25519 key that signs AIGC labels.

``labeler keys init`` creates, beside the watermark key:

* ``c2pa-dev-ca.pem``       a self-signed ECDSA P-256 root (the trust anchor a verifier configures),
* ``c2pa-signer.pem``       the end-entity certificate followed by the root (the chain c2pa embeds),
* ``c2pa-signer.key``       the end-entity's PKCS#8 private key (owner-only),
* ``aigc-signing.key``      the Ed25519 key for SecurityData in ReservedCode1 (owner-only).

The end-entity follows the C2PA certificate profile that c2pa-rs enforces: X.509 v3, not a CA,
KeyUsage digitalSignature (critical), an ExtendedKeyUsage of emailProtection (anyExtendedKeyUsage is
refused), SubjectKeyIdentifier and AuthorityKeyIdentifier. Production signers use a certificate from a
CA on the C2PA trust list instead; this chain is for development and tests only.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from labeler.errors import KeyInvalid, KeyMissing, OutputExists, OutputNotWritable

CA_FILE = "c2pa-dev-ca.pem"
CHAIN_FILE = "c2pa-signer.pem"
SIGNER_KEY_FILE = "c2pa-signer.key"
LABEL_KEY_FILE = "aigc-signing.key"


@dataclass(frozen=True)
class DevChain:
    """PEM texts of a development chain. ``chain_pem`` is end-entity first, then the root."""

    ca_pem: bytes
    chain_pem: bytes
    key_pem: bytes


@dataclass(frozen=True)
class DevPaths:
    ca: Path
    chain: Path
    key: Path
    label_key: Path

    @classmethod
    def in_dir(cls, directory: Path) -> DevPaths:
        return cls(directory / CA_FILE, directory / CHAIN_FILE, directory / SIGNER_KEY_FILE, directory / LABEL_KEY_FILE)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "labeler development"),
        ]
    )


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def make_dev_chain(
    common_name: str = "labeler dev signer",
    not_before: dt.datetime | None = None,
    not_after: dt.datetime | None = None,
    ca_days: int = 3650,
) -> DevChain:
    """A fresh root + end-entity pair. ``not_before``/``not_after`` bound the end-entity (tests make
    expired certificates with them); by default it is valid from yesterday for two years."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("labeler dev CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=3650))
        .not_valid_after(now + dt.timedelta(days=ca_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ee_key = ec.generate_private_key(ec.SECP256R1())
    start = not_before or now - dt.timedelta(days=1)
    end = not_after or now + dt.timedelta(days=730)
    ee = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_name)
        .public_key(ee_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ee_key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key_pem = ee_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return DevChain(ca_pem=_pem(ca), chain_pem=_pem(ee) + _pem(ca), key_pem=key_pem)


def new_label_key_pem() -> bytes:
    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _write(path: Path, data: bytes, secret: bool) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if secret else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def init_dev_credentials(directory: Path, force: bool = False) -> DevPaths:
    """Create the dev chain and the label-signing key in ``directory`` (refusing to overwrite)."""
    paths = DevPaths.in_dir(directory)
    existing = [p for p in (paths.ca, paths.chain, paths.key, paths.label_key) if p.exists()]
    if existing and not force:
        raise OutputExists(f"{existing[0]} exists; pass --force to replace the development credentials")
    chain = make_dev_chain()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        _write(paths.ca, chain.ca_pem, secret=False)
        _write(paths.chain, chain.chain_pem, secret=False)
        _write(paths.key, chain.key_pem, secret=True)
        _write(paths.label_key, new_label_key_pem(), secret=True)
    except OSError as exc:
        raise OutputNotWritable(f"cannot write development credentials in {directory}: {exc}") from None
    return paths


def read_pem_file(path: Path, what: str) -> bytes:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise KeyMissing(f"no {what} at {path} (create development credentials with `labeler keys init`)") from None
    except OSError as exc:
        raise KeyInvalid(f"cannot read the {what} {path}: {exc}") from None
    if b"-----BEGIN" not in data:
        raise KeyInvalid(f"{path} is not a PEM file ({what})")
    return data
