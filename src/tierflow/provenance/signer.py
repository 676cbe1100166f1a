"""The workspace signer: the certificate and key that sign every export's C2PA manifest.

On first use tierflow makes a workspace CA (ES256, P-256) and a signing certificate issued by it,
under ``$TIERFLOW_HOME/credentials/`` (folder 0700, key files 0600). A team with a certificate
from a real CA points ``TIERFLOW_SIGNING_CERT`` (PEM chain, leaf first) and
``TIERFLOW_SIGNING_KEY`` (PEM private key) at it instead. ``TIERFLOW_TRUST_ANCHORS`` names a PEM
bundle of further roots that ``tierflow verify`` trusts, next to the workspace CA.

Rotation replaces the signing key and certificate; the CA stays, so exports signed before the
rotation still verify. The certificates a rotation retires are kept (``retired/``) for audits.
"""

from __future__ import annotations

import datetime as dt
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tierflow.domain.errors import InvalidInput

CA_DAYS = 3650
LEAF_DAYS = 825
CREDENTIALS = "credentials"


@dataclass(frozen=True)
class SigningIdentity:
    """What a manifest is signed with: the PEM chain (leaf first), the key, where they came from."""

    chain_pem: bytes
    key_pem: bytes
    source: str  # "workspace" | "configured"
    cert_path: Path
    key_path: Path


def credentials_dir(home: Path) -> Path:
    return Path(home) / CREDENTIALS


def configured_paths() -> tuple[Path, Path] | None:
    """``TIERFLOW_SIGNING_CERT`` and ``TIERFLOW_SIGNING_KEY``, when the team brings its own certificate."""
    cert, key = os.environ.get("TIERFLOW_SIGNING_CERT"), os.environ.get("TIERFLOW_SIGNING_KEY")
    if not cert and not key:
        return None
    if not (cert and key):
        missing = "TIERFLOW_SIGNING_KEY" if cert else "TIERFLOW_SIGNING_CERT"
        raise InvalidInput(f"{missing} is not set", field=missing,
                           fix="set both TIERFLOW_SIGNING_CERT and TIERFLOW_SIGNING_KEY, or neither")
    return Path(cert).expanduser(), Path(key).expanduser()


def signing_identity(home: Path) -> SigningIdentity:
    """The identity exports are signed with; creates the workspace CA and certificate on first use."""
    paths = configured_paths()
    if paths is not None:
        cert_path, key_path = paths
        for name, path in (("TIERFLOW_SIGNING_CERT", cert_path), ("TIERFLOW_SIGNING_KEY", key_path)):
            if not path.is_file():
                raise InvalidInput(f"{name} points at {path}, which is not a file", field=name,
                                   fix="point it at a PEM file, or unset it to use the workspace certificate")
        identity = SigningIdentity(cert_path.read_bytes(), key_path.read_bytes(), "configured", cert_path, key_path)
        _check_configured(identity)
        return identity
    from filelock import FileLock

    folder = ensure_workspace_credentials(home)
    leaf, key, ca = folder / "signer.pem", folder / "signer.key", folder / "ca.pem"
    with FileLock(str(folder / ".lock")):  # never a new key with the old certificate mid-rotation
        return SigningIdentity(leaf.read_bytes() + ca.read_bytes(), key.read_bytes(), "workspace", leaf, key)


def trust_anchors(home: Path) -> str:
    """The PEM bundle ``verify`` trusts: the workspace CA and ``TIERFLOW_TRUST_ANCHORS``."""
    parts: list[str] = []
    ca = credentials_dir(home) / "ca.pem"
    if ca.is_file():
        parts.append(ca.read_text())
    extra = os.environ.get("TIERFLOW_TRUST_ANCHORS")
    if extra:
        path = Path(extra).expanduser()
        if not path.is_file():
            raise InvalidInput(f"TIERFLOW_TRUST_ANCHORS points at {path}, which is not a file",
                               field="TIERFLOW_TRUST_ANCHORS", fix="point it at a PEM bundle of root certificates")
        text = path.read_text(errors="replace")
        if not _pem_certificates(text.encode()):
            raise InvalidInput(f"TIERFLOW_TRUST_ANCHORS ({path}) holds no PEM certificate",
                               field="TIERFLOW_TRUST_ANCHORS", fix="point it at a PEM bundle of root certificates")
        parts.append(text)
    return "\n".join(p.strip() + "\n" for p in parts if p.strip())


# -- the workspace CA ----------------------------------------------------------------------------
def ensure_workspace_credentials(home: Path) -> Path:
    """Create the CA and the signing certificate if they are missing; return their folder."""
    from filelock import FileLock

    folder = _private_folder(credentials_dir(home))
    if (folder / "signer.pem").is_file() and (folder / "signer.key").is_file() and (folder / "ca.pem").is_file():
        return folder
    with FileLock(str(folder / ".lock")):
        if not (folder / "ca.pem").is_file() or not (folder / "ca.key").is_file():
            ca_key = _new_key()
            _write(folder / "ca.key", _key_pem(ca_key), private=True)
            _write(folder / "ca.pem", _pem(_ca_cert(ca_key)))
        if not (folder / "signer.pem").is_file() or not (folder / "signer.key").is_file():
            _issue_leaf(folder)
    return folder


def rotate(home: Path) -> dict[str, Any]:
    """A new signing key and certificate from the same CA; the old certificate moves to ``retired/``."""
    if configured_paths() is not None:
        raise InvalidInput("the signing certificate comes from TIERFLOW_SIGNING_CERT", field="TIERFLOW_SIGNING_CERT",
                           fix="replace the configured certificate and key files to rotate them")
    from filelock import FileLock

    folder = ensure_workspace_credentials(home)
    before = describe(home)
    with FileLock(str(folder / ".lock")):
        retired = _private_folder(folder / "retired")
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
        os.replace(folder / "signer.pem", retired / f"signer-{stamp}.pem")
        (folder / "signer.key").unlink()  # a retired key signs nothing again
        _issue_leaf(folder)
    return {"retired": before["signer"], "signer": describe(home)["signer"]}


def describe(home: Path) -> dict[str, Any]:
    """The signing certificate and the CA: subjects, serials, fingerprints, validity, paths."""
    from cryptography import x509

    identity = signing_identity(home)
    certs = x509.load_pem_x509_certificates(identity.chain_pem)
    out: dict[str, Any] = {"source": identity.source, "cert_path": str(identity.cert_path),
                           "key_path": str(identity.key_path), "signer": _cert_info(certs[0])}
    ca_path = credentials_dir(home) / "ca.pem"
    if identity.source == "workspace":
        out["ca"] = _cert_info(x509.load_pem_x509_certificate(ca_path.read_bytes()))
        out["ca_path"] = str(ca_path)
    elif len(certs) > 1:
        out["ca"] = _cert_info(certs[-1])
    out["retired"] = sorted(p.name for p in (credentials_dir(home) / "retired").glob("signer-*.pem"))
    out["trust_anchors_env"] = os.environ.get("TIERFLOW_TRUST_ANCHORS") or None
    return out


def export_ca(home: Path, out: Path) -> Path:
    """Write the workspace CA certificate (public) to ``out`` for clients to trust."""
    if configured_paths() is not None and not (credentials_dir(home) / "ca.pem").is_file():
        raise InvalidInput("this workspace signs with a configured certificate and has no workspace CA",
                           field="TIERFLOW_SIGNING_CERT", fix="hand clients the root of the CA that issued it")
    folder = ensure_workspace_credentials(home)
    out = Path(out).expanduser()
    if out.is_dir():
        out = out / "tierflow-workspace-ca.pem"
    if not out.parent.exists():
        raise InvalidInput(f"folder {out.parent} does not exist", field="out", fix="create it or choose another path")
    out.write_bytes((folder / "ca.pem").read_bytes())
    return out


# -- internals -----------------------------------------------------------------------------------
def _pem_certificates(data: bytes) -> list:
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificates(data)
    except ValueError:
        return []


def _check_configured(identity: SigningIdentity) -> None:
    """A configured chain and key that can sign: PEM, ES256 (P-256), the key matching the leaf."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    certs = _pem_certificates(identity.chain_pem)
    if not certs:
        raise InvalidInput(f"{identity.cert_path} holds no PEM certificate", field="TIERFLOW_SIGNING_CERT",
                           fix="point it at the PEM chain, signing certificate first")
    try:
        key = serialization.load_pem_private_key(identity.key_pem, password=None)
    except (ValueError, TypeError):
        raise InvalidInput(f"{identity.key_path} is not an unencrypted PEM private key", field="TIERFLOW_SIGNING_KEY",
                           fix="point it at the signing certificate's private key (PEM, no passphrase)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise InvalidInput("the signing key is not an EC P-256 key", field="TIERFLOW_SIGNING_KEY",
                           fix="tierflow signs with ES256: use a P-256 key and a certificate for it")
    if key.public_key().public_numbers() != certs[0].public_key().public_numbers():
        raise InvalidInput("the signing key does not belong to the first certificate of the chain",
                           field="TIERFLOW_SIGNING_KEY", fix="put the signing certificate first in the chain file")


def _private_folder(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != 0o700:
        path.chmod(0o700)
    return path


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    """Atomic write; a private file is created 0600 (never readable by others, not even briefly)."""
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _new_key():
    from cryptography.hazmat.primitives.asymmetric import ec

    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _pem(cert) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return cert.public_bytes(serialization.Encoding.PEM)


def _name(common_name: str):
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tierflow workspace")])


def _ca_cert(ca_key):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    now = dt.datetime.now(dt.UTC)
    name = _name("tierflow workspace CA")
    return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5)).not_valid_after(now + dt.timedelta(days=CA_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))


def _issue_leaf(folder: Path) -> None:
    """A signing certificate as C2PA requires: digitalSignature, emailProtection EKU, SKI and AKI."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import ExtendedKeyUsageOID

    ca_key = serialization.load_pem_private_key((folder / "ca.key").read_bytes(), password=None)
    ca = x509.load_pem_x509_certificate((folder / "ca.pem").read_bytes())
    key = _new_key()
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name("tierflow signer")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(min(now + dt.timedelta(days=LEAF_DAYS), ca.not_valid_after_utc))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    # The key first: a certificate on disk always has its key next to it.
    _write(folder / "signer.key", _key_pem(key), private=True)
    _write(folder / "signer.pem", _pem(cert))


def _cert_info(cert) -> dict[str, Any]:
    from cryptography.hazmat.primitives import hashes

    return {"subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
            "serial": format(cert.serial_number, "x"), "sha256": cert.fingerprint(hashes.SHA256()).hex(),
            "not_before": cert.not_valid_before_utc.isoformat(), "not_after": cert.not_valid_after_utc.isoformat()}
