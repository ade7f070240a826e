"""Pure parts of the chain adapter and oracle service: log decoding, call encoding, settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from eth_abi.abi import decode as abi_decode
from pydantic import ValidationError

from compliance_shield.adapters.chain.contracts import ORACLE, TOKEN, decode_revert, load
from compliance_shield.adapters.chain.events import (
    CONSUMED_TOPIC,
    TRANSFER_TOPIC,
    check_id_to_nonce,
    decode_transfers,
    nonce_to_check_id,
)
from compliance_shield.services.chain.oracle import backoff, call_data
from compliance_shield.settings import Settings

TOKEN_ADDRESS = "0x" + "aa" * 20
ALICE, BOB = "0x" + "11" * 20, "0x" + "22" * 20
TX = "0x" + "ab" * 32
BLOCK = "0x" + "cd" * 32
CHECK = UUID("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")


def _topic(address: str) -> str:
    return "0x" + "00" * 12 + address[2:]


def _log(topic0: str, log_index: int, *words: int, sender: str = ALICE, receiver: str = BOB) -> dict[str, object]:
    return {
        "address": TOKEN_ADDRESS,
        "topics": [topic0, _topic(sender), _topic(receiver)],
        "data": "0x" + "".join(f"{w:064x}" for w in words),
        "blockNumber": 7,
        "blockHash": BLOCK,
        "transactionHash": TX,
        "logIndex": log_index,
    }


def test_a_transfer_is_tied_to_the_check_its_consumed_log_names() -> None:
    logs = [_log(TRANSFER_TOPIC, 1, 30), _log(CONSUMED_TOPIC, 0, 30, check_id_to_nonce(CHECK))]
    [transfer] = decode_transfers(logs)
    assert (transfer.from_address, transfer.to_address, transfer.amount) == (ALICE, BOB, 30)
    assert (transfer.block_number, transfer.block_hash, transfer.tx_hash, transfer.log_index) == (7, BLOCK, TX, 1)
    assert transfer.check_id == CHECK


def test_a_plain_transfer_names_no_check_and_removed_logs_are_ignored() -> None:
    removed = _log(TRANSFER_TOPIC, 3, 5) | {"removed": True}
    mint = _log(TRANSFER_TOPIC, 2, 9, sender="0x" + "00" * 20)
    [transfer] = decode_transfers([removed, mint])
    assert transfer.check_id is None
    assert transfer.from_address == "0x" + "00" * 20


def test_nonces_round_trip_to_check_ids_and_reject_what_cannot_be_one() -> None:
    assert nonce_to_check_id(check_id_to_nonce(CHECK)) == CHECK
    assert nonce_to_check_id(0) is None
    assert nonce_to_check_id(2**128) is None


def test_approval_call_carries_the_check_id_and_expiry() -> None:
    expires = datetime(2030, 1, 1, tzinfo=UTC)
    data = call_data({"kind": "approval", "token_address": TOKEN_ADDRESS, "from_address": ALICE, "to_address": BOB,
                      "amount": 5, "check_id": CHECK, "expires_at": expires, "restriction_code": 0})  # fmt: skip
    function = load(ORACLE).function("recordApproval")
    assert data[:4] == load(ORACLE).encode_call("recordApproval", TOKEN_ADDRESS, ALICE, BOB, 0, 0, 0)[:4]
    decoded = abi_decode([i["type"] for i in function["inputs"]], data[4:])
    assert decoded == (TOKEN_ADDRESS, ALICE, BOB, 5, CHECK.int, int(expires.timestamp()))


def test_restriction_call_carries_the_code() -> None:
    row = {"kind": "restriction", "token_address": TOKEN_ADDRESS, "from_address": ALICE, "to_address": BOB,
           "amount": 5, "check_id": CHECK, "expires_at": None, "restriction_code": 9}  # fmt: skip
    data = call_data(row)
    decoded = abi_decode(["address", "address", "address", "uint256", "uint8"], data[4:])
    assert decoded[-1] == 9


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff(n) for n in (1, 2, 3)] == [timedelta(seconds=2), timedelta(seconds=4), timedelta(seconds=8)]
    assert backoff(50) == timedelta(minutes=5)


def test_artifacts_expose_the_erc1404_interface() -> None:
    for name in (ORACLE, TOKEN):
        functions = {e["name"] for e in load(name).abi if e["type"] == "function"}
        assert {"detectTransferRestriction", "messageForTransferRestriction"} <= functions


def test_enabling_the_oracle_without_its_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="ORACLE_PRIVATE_KEY"):
        Settings(enable_oracle=True, besu_rpc_url="http://127.0.0.1:8545", oracle_address="0x" + "11" * 20)


def test_a_malformed_key_is_refused() -> None:
    with pytest.raises(ValidationError, match="SIGNER_PRIVATE_KEY"):
        Settings(signer_private_key="not-a-key")


def test_our_custom_errors_are_decoded_and_others_left_alone() -> None:
    selector = next(k for k, v in load(TOKEN).error_selectors().items() if v[0] == "TransferRestricted")
    assert decode_revert(selector + (26).to_bytes(32, "big")) == "TransferRestricted(26)"
    assert decode_revert(b"\x00\x00\x00\x00") is None
