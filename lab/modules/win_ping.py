"""ansible.windows.win_ping: answers `data` (default pong); `data: crash` raises, as the real module does."""

from __future__ import annotations

SPEC = {"options": {"data": {"type": "str", "default": "pong"}}, "supports_check_mode": True}


def run(m) -> None:
    if m.params["data"] == "crash":
        raise RuntimeError("boom")
    m.result["ping"] = m.params["data"]
