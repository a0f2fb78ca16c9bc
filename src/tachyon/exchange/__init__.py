"""The exchange state machine: `DexService` over engines and one ledger, the commands that
drive it and `Exchange`, which applies them in sequence. Pure: no I/O, no clock, no
randomness, no floats."""

from tachyon.exchange.admission import Admitted as Admitted, admit as admit
from tachyon.exchange.commands import (
    AddMarket as AddMarket,
    AmendOrder as AmendOrder,
    AnyCommand as AnyCommand,
    CancelAll as CancelAll,
    CancelOrder as CancelOrder,
    Command as Command,
    Deposit as Deposit,
    PlaceLimit as PlaceLimit,
    PlaceMarket as PlaceMarket,
    Refused as Refused,
    RegisterToken as RegisterToken,
    SetFees as SetFees,
    SetReceiveWindow as SetReceiveWindow,
    SignedCommand as SignedCommand,
    Withdraw as Withdraw,
    decode_command as decode_command,
    encode_command as encode_command,
)
from tachyon.exchange.engines import (
    DEFAULT_ENGINE as DEFAULT_ENGINE,
    engine_capabilities as engine_capabilities,
    engine_factory as engine_factory,
    engine_loader as engine_loader,
    engine_names as engine_names,
    engine_spec as engine_spec,
    register_engine as register_engine,
    unavailable_engines as unavailable_engines,
)
from tachyon.exchange.nonces import RECEIVE_WINDOW_MS_DEFAULT as RECEIVE_WINDOW_MS_DEFAULT
from tachyon.exchange.service import (
    DEFAULT_MARKET_ID as DEFAULT_MARKET_ID,
    DexService as DexService,
    OwnedOrder as OwnedOrder,
    Placement as Placement,
)
from tachyon.exchange.state_machine import (
    Exchange as Exchange,
    Outcome as Outcome,
    Refusal as Refusal,
    state_hash_of as state_hash_of,
)

__all__ = [
    "DEFAULT_ENGINE",
    "DEFAULT_MARKET_ID",
    "RECEIVE_WINDOW_MS_DEFAULT",
    "AddMarket",
    "Admitted",
    "AmendOrder",
    "AnyCommand",
    "CancelAll",
    "CancelOrder",
    "Command",
    "Deposit",
    "DexService",
    "Exchange",
    "Outcome",
    "OwnedOrder",
    "PlaceLimit",
    "PlaceMarket",
    "Placement",
    "Refusal",
    "Refused",
    "RegisterToken",
    "SetFees",
    "SetReceiveWindow",
    "SignedCommand",
    "Withdraw",
    "admit",
    "decode_command",
    "encode_command",
    "engine_capabilities",
    "engine_factory",
    "engine_loader",
    "engine_names",
    "engine_spec",
    "register_engine",
    "state_hash_of",
    "unavailable_engines",
]
