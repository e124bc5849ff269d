"""What this app process may do: the read-only mode for showing runs to others, and the check of the address it
listens on. No Streamlit here (the app's frame reads the flag's sources and calls ``enable``).

Read-only mode (``AIM_READ_ONLY=1``, ``read_only = true`` in ``.streamlit/secrets.toml``, or ``-- --read-only``
after the script on the ``streamlit run`` line) removes the Launch page, the re-train and cancel buttons and the
runs-folder field. It is enforced where the action happens, not only by hiding widgets: ``app.jobs`` refuses to
start or cancel a job and ``app.ui.runs_dir`` ignores anything but the configured folder. Once on, it stays on for
the life of the process: no session, link or widget can turn it off.

An app that can start jobs must not be reachable from other machines by accident: started on a non-loopback
address without read-only mode, it refuses to show anything unless ``AIM_ALLOW_LAUNCH_EXPOSED=1`` says the
exposure is deliberate (docs/app.md, "Show it to others").
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping, Sequence

FLAG = "--read-only"
ENV = "AIM_READ_ONLY"
EXPOSE_ENV = "AIM_ALLOW_LAUNCH_EXPOSED"
_TRUE = {"1", "true", "yes", "on"}

_enabled = False  # set once by enable(); never cleared while the process lives


class ReadOnlyError(PermissionError):
    """An action that read-only mode forbids was attempted."""


def truthy(value: object) -> bool:
    return value is True or str(value).strip().lower() in _TRUE


def requested(env: Mapping[str, str] | None = None, argv: Sequence[str] = (), secrets: Mapping | None = None) -> bool:
    """Whether any source asks for read-only mode: the environment, the script's arguments, the secrets file."""
    env = os.environ if env is None else env
    return truthy(env.get(ENV, "")) or FLAG in argv or truthy((secrets or {}).get("read_only", False))


def enable() -> None:
    global _enabled
    _enabled = True


def read_only() -> bool:
    """True once ``enable`` ran in this process, or while ``AIM_READ_ONLY`` is set."""
    return _enabled or truthy(os.environ.get(ENV, ""))


def check(action: str) -> None:
    """Raise ``ReadOnlyError`` naming ``action`` in read-only mode."""
    if read_only():
        raise ReadOnlyError(f"this app is read-only ({ENV}): it cannot {action}")


def is_loopback(address: str | None) -> bool:
    """Whether a ``server.address`` only listens on this machine. Empty (Streamlit's default: every interface),
    ``0.0.0.0`` and ``::`` are not; a host name other than ``localhost`` is taken as exposed."""
    host = (address or "").strip().strip("[]")
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def exposure_problem(address: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """Why the app must not serve on ``address`` as it is configured, or None when it may."""
    env = os.environ if env is None else env
    if read_only() or is_loopback(address) or truthy(env.get(EXPOSE_ENV, "")):
        return None
    where = f"`{address}`" if address else "every network interface (no `server.address` set)"
    return (f"This app listens on {where} and is not read-only: anyone who reaches it could start and cancel "
            f"training processes and read any folder of this machine as runs. Start it read-only to show runs to "
            f"others (`{ENV}=1`), or on `--server.address 127.0.0.1`; set `{EXPOSE_ENV}=1` only if the exposure is "
            f"deliberate (behind a login). See docs/app.md, \"Show it to others\".")
