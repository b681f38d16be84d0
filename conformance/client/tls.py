"""Which certificates a run trusts: the public CAs, and a private CA's bundle where the target needs one.

A staging behind an internal or corporate CA is common; a run that cannot verify it says so and names the
setting, and never stops verifying: the suite has no switch that turns verification off.
"""

from __future__ import annotations

import os
import ssl

import httpx

# The words OpenSSL puts in a verification failure, as httpx passes them on in its ConnectError.
VERIFY_FAILED = "CERTIFICATE_VERIFY_FAILED"


def ssl_context(ca_bundle: str | None) -> ssl.SSLContext:
    """certifi's public CAs, SSL_CERT_DIR's where it is set, and the bundle's CAs besides.

    Besides, not instead: the same run also fetches the published document from the public docs site.
    """
    context = httpx.create_ssl_context(trust_env=False)
    if os.environ.get("SSL_CERT_DIR"):
        context.load_verify_locations(capath=os.environ["SSL_CERT_DIR"])
    if ca_bundle:
        context.load_verify_locations(cafile=ca_bundle)
    return context


def untrusted(error: str | None) -> bool:
    """Whether a transport error is a certificate the run does not trust."""
    return error is not None and VERIFY_FAILED in error
