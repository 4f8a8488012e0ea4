"""Who may reach the web UI: this machine only, unless a login protects it.

A kinema server runs models on uploads and serves their results; bound to an address other machines can
reach, it would do so for anyone on the network. So a non-loopback host needs ``--auth user:password``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from kinema.errors import KinemaInputError

AUTH_ENV = "KINEMA_SERVE_AUTH"  # where --auth is also read from, so the password stays out of `ps`


@dataclass(frozen=True)
class Login:
    """The one user name and password the server asks for."""

    user: str
    password: str


def parse_auth(text: str | None) -> Login | None:
    """``'user:password'`` -> Login (the password may contain ':'); None -> no login."""
    if text is None:
        return None
    user, colon, password = text.partition(":")
    if not (user and colon and password):
        raise KinemaInputError("--auth", "is not USER:PASSWORD with both parts non-empty",
                               f"Write it like --auth alice:s3cret (or set {AUTH_ENV}=alice:s3cret).")
    return Login(user, password)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only (127.0.0.0/8, ::1, localhost); a host name
    other than localhost may resolve anywhere, so it is not."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_binding(host: str, login: Login | None) -> None:
    """KinemaInputError when ``host`` would let other machines use the UI without a login."""
    if login is None and not is_loopback(host):
        raise KinemaInputError(f"--host {host}", "lets other machines reach the UI (run models on uploads, read the "
                               "results) and no login protects it",
                               f"Add --auth USER:PASSWORD (or set {AUTH_ENV}), or keep the default --host 127.0.0.1.")
