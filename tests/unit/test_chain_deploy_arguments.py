"""``chain deploy`` refuses malformed keys and addresses before it contacts any node."""

from __future__ import annotations

import socket

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from compliance_shield.cli import app

runner = CliRunner(env={"COLUMNS": "400"})


def _closed_port_url() -> str:
    # a port nobody listens on: a command that got past validation would fail with exit 1, not 2
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


HEX = "0123456789abcdefABCDEF"
# what a shell hands over: printable text (the error panel's layout is not under test)
printable = st.characters(min_codepoint=33, max_codepoint=126)
not_a_key = st.text(printable, min_size=0, max_size=80).filter(
    lambda t: (
        not (len(t.removeprefix("0x")) == 64 and all(c in HEX for c in t.removeprefix("0x"))) and not t.startswith("-")
    )
)
not_an_address = st.text(printable, min_size=1, max_size=60).filter(
    lambda t: not (len(t) == 42 and t.startswith("0x") and all(c in HEX for c in t[2:])) and not t.startswith("-")
)


@settings(max_examples=40, deadline=None)
@given(key=not_a_key)
def test_a_malformed_deployer_key_is_refused_naming_the_option(key: str) -> None:
    result = runner.invoke(app, ["chain", "deploy", "--rpc-url", _closed_port_url(), "--deployer-key", key])
    assert result.exit_code == 2, result.output
    assert "32-byte hex private key" in result.output


@settings(max_examples=40, deadline=None)
@given(address=not_an_address, option=st.sampled_from(["--writer", "--signer"]))
def test_a_malformed_role_address_is_refused_naming_the_option(address: str, option: str) -> None:
    args = ["chain", "deploy", "--rpc-url", _closed_port_url(), "--deployer-key", "ab" * 32, option, address]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "20-byte hex address" in result.output
