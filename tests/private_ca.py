"""A private CA and a certificate it signed for 127.0.0.1, as PEM files: a staging behind a corporate CA."""

from __future__ import annotations

from pathlib import Path

import trustme


def write_private_ca(folder: Path) -> dict[str, Path]:
    """ca.pem (the CA), cert.pem (the server's chain) and key.pem (its key) in folder."""
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1", "localhost")
    files = {"ca": folder / "ca.pem", "cert": folder / "cert.pem", "key": folder / "key.pem"}
    ca.cert_pem.write_to_path(str(files["ca"]))
    issued.private_key_pem.write_to_path(str(files["key"]))
    for n, blob in enumerate(issued.cert_chain_pems):
        blob.write_to_path(str(files["cert"]), append=n > 0)
    return files
