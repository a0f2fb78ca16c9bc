"""Goal: with an operator changing fees, risk limits and halts between trades, and card payments
credited, refunded and disputed among them, no flow creates or loses a unit (balances minus
debts equal the supply), locks stay exactly what open orders need, no accepted order breaks a
limit that was active when it arrived, and an account in debt places nothing. Method: a Hypothesis RuleBasedStateMachine drives `Exchange`
(the operator's commands signed by its key) and checks every invariant after every step, and
each accepted order against the limits read just before it."""

from __future__ import annotations

import itertools
from typing import Final, NamedTuple

from hypothesis import settings, strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from tachyon.dex.ids import AccountId, MarketId, OrderId, TokenId
from tachyon.dex.model import Side, TimeInForce
from tachyon.errors import AccountInDebt, TachyonError
from tachyon.exchange.admission import admit
from tachyon.exchange.commands import (
    AdminCloseWithdrawal,
    AdminHaltMarket,
    AdminSetFees,
    AdminSetRisk,
    AmendOrder,
    AnyCommand,
    CancelAll,
    CancelOrder,
    CreditPayment,
    Deposit,
    DisputePayment,
    PlaceLimit,
    PlaceMarket,
    PlaceOrder,
    PlaceStop,
    RefundPayment,
    RequestWithdrawal,
    SetOperator,
    Tick,
)
from tachyon.exchange.events import PaymentReversed
from tachyon.exchange.risk import MarketRules, reference_price_x2
from tachyon.exchange.service import Placement
from tachyon.exchange.state_machine import Exchange, Outcome, Refusal
from tests.exchange.helpers import KEY_A, A, apply_command, signed

MARKET: Final = MarketId("BASE/USDC")
OWNERS: Final = [AccountId(name) for name in ("ann", "ben", "cat", "dan")]
CARD_ONLY: Final = AccountId("dan")  # its USDC comes by card only: refunds can leave debt
MID: Final = 1_000

owners = st.sampled_from(OWNERS)
payers = st.sampled_from([*OWNERS, CARD_ONLY, CARD_ONLY])  # mostly the one that has no other USDC
sides = st.sampled_from(list(Side))
optional_limit = st.none() | st.integers(1, 200_000)


class Before(NamedTuple):
    """What the limits were judged by, read just before an order."""

    rules: MarketRules
    reference: int | None
    position: int
    open_count: int


class VenueMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.exchange = Exchange()
        self.nonces = itertools.count(1)
        self.apply(SetOperator(A))
        for owner in OWNERS:
            if owner != CARD_ONLY:
                self.apply(Deposit(owner, "USDC", 10**9))
            self.apply(Deposit(owner, "BASE", 10**6))
        self.order_ids: list[OrderId] = []
        self.payments: list[tuple[str, int]] = []  # (payment intent, cents paid)

    def apply(self, command: AnyCommand, after_ns: int = 1) -> Outcome | Refusal:
        """Apply `command` `after_ns` after the last one, a Tick first if one is due (as a
        host journals it)."""
        exchange = self.exchange
        ts_ns = exchange.ts_ns + after_ns
        if type(command) is not Tick and exchange.tick_due(ts_ns):
            apply_command(exchange, Tick(), exchange.seq + 1, ts_ns)
        return apply_command(exchange, command, exchange.seq + 1, ts_ns)

    def admin(self, command: AnyCommand) -> None:
        outcome = self.apply(signed(KEY_A, command))
        assert not isinstance(outcome, Refusal), outcome

    # -- the operator ----------------------------------------------------------------------

    @rule(
        max_notional=optional_limit,
        band=st.none() | st.integers(1, 3_000),
        position=st.none() | st.integers(1, 3 * 10**6),
        open_orders=st.none() | st.integers(1, 8),
        clear=st.booleans(),
    )
    def set_risk(
        self,
        max_notional: int | None,
        band: int | None,
        position: int | None,
        open_orders: int | None,
        clear: bool,
    ) -> None:
        nonce = next(self.nonces)
        command = AdminSetRisk(A, MARKET, max_notional, band, position, open_orders, clear, nonce)
        self.admin(command)

    @rule(halted=st.booleans())
    def halt(self, halted: bool) -> None:
        self.admin(AdminHaltMarket(A, MARKET, halted, next(self.nonces)))

    @rule(maker=st.integers(-50, 50), taker=st.integers(0, 50))
    def set_fees(self, maker: int, taker: int) -> None:
        """A negative maker fee is a rebate, at most the taker fee."""
        self.admin(AdminSetFees(A, MARKET, max(maker, -taker), taker, next(self.nonces)))

    # -- traders ---------------------------------------------------------------------------

    @rule(
        owner=owners,
        side=sides,
        offset=st.integers(-40, 40),
        qty=st.integers(1, 300),
        tif=st.sampled_from(list(TimeInForce)),
    )
    def place_limit(
        self, owner: AccountId, side: Side, offset: int, qty: int, tif: TimeInForce
    ) -> None:
        price = MID + offset
        before = self.limits_now(owner)
        outcome = self.try_apply(PlaceLimit(owner, MARKET, side, price, qty, tif))
        if isinstance(outcome, Placement):
            self.check_accepted(before, side, price, qty, tif)

    @rule(owner=owners, side=sides, qty=st.integers(1, 300))
    def place_market(self, owner: AccountId, side: Side, qty: int) -> None:
        halted = self.exchange.venue.rules_of(MARKET).halted
        outcome = self.try_apply(PlaceMarket(owner, MARKET, side, qty))
        if isinstance(outcome, Placement):
            assert not halted, "a halted market took a market order"

    @rule(owner=owners, data=st.data())
    def cancel(self, owner: AccountId, data: st.DataObject) -> None:
        if self.order_ids:
            order_id = data.draw(st.sampled_from(self.order_ids))
            self.try_apply(CancelOrder(owner, order_id))

    @rule(
        owner=owners,
        data=st.data(),
        offset=st.none() | st.integers(-40, 40),
        qty=st.none() | st.integers(1, 300),
    )
    def amend(
        self, owner: AccountId, data: st.DataObject, offset: int | None, qty: int | None
    ) -> None:
        """An amend accepted under the rules respects them as the order it became: a new
        price or more is judged as a new order (its open-order count aside)."""
        if not self.order_ids:
            return
        order_id = data.draw(st.sampled_from(self.order_ids))
        self.tick_if_due()
        owned = self.exchange.service.get_order(order_id)
        if owned is not None and data.draw(st.booleans()):
            owner = owned.order.owner
        before = self.limits_now(owner)
        price = None if offset is None else MID + offset
        outcome = self.try_apply(AmendOrder(owner, order_id, price, qty))
        if not isinstance(outcome, Placement) or owned is None:
            return
        order = owned.order
        new_price, new_qty = price or order.price, qty or order.qty
        open_qty = new_qty - (order.qty - order.remaining_qty)
        if new_price == order.price and open_qty < order.remaining_qty:
            return  # a partial cancel: no limit applies
        added = max(open_qty - order.remaining_qty, 0)
        limits, reference = before.rules.limits, before.reference
        assert not before.rules.halted, "a halted market took an amend"
        if limits.max_notional is not None:
            assert new_price * new_qty <= limits.max_notional
        if limits.price_band_bps is not None and reference is not None:
            assert 10_000 * abs(2 * new_price - reference) <= limits.price_band_bps * reference
        if limits.max_position is not None and order.side is Side.BID and added:
            assert before.position + added <= limits.max_position

    @rule(
        owner=owners,
        side=sides,
        offset=st.none() | st.integers(-40, 40),
        qty=st.integers(1, 300),
        client_id=st.none() | st.sampled_from(["c0", "c1", "c2"]),
        lifetime=st.none() | st.integers(1, 60),
    )
    def place_order(
        self,
        owner: AccountId,
        side: Side,
        offset: int | None,
        qty: int,
        client_id: str | None,
        lifetime: int | None,
    ) -> None:
        """A limit (or market) order with a client order id and an expiry: a retry under a
        used id answers the same order and changes nothing."""
        price = None if offset is None else MID + offset
        expire_at = None if lifetime is None or price is None else self.exchange.ts_ns + lifetime
        remembered = None
        self.tick_if_due()
        if client_id is not None:
            remembered = self.exchange.client_orders.recall(
                owner, client_id, self.exchange.ts_ns + 1
            )
        before = self.exchange.service.to_state()
        command = PlaceOrder(
            owner, MARKET, side, price, qty, expire_at_ns=expire_at, client_order_id=client_id
        )
        outcome = self.try_apply(command)
        if remembered is not None and not self.exchange.tick_due(self.exchange.ts_ns):
            assert isinstance(outcome, Placement) and outcome.order_id == remembered.order_id
            assert self.exchange.service.to_state() == before or outcome.events == []

    @rule(
        owner=owners,
        side=sides,
        trigger=st.integers(-30, 30),
        offset=st.none() | st.integers(-40, 40),
        qty=st.integers(1, 300),
    )
    def place_stop(
        self, owner: AccountId, side: Side, trigger: int, offset: int | None, qty: int
    ) -> None:
        """A stop-limit, or a stop-market (a bid with a budget)."""
        price = None if offset is None else MID + offset
        budget = 400_000 if price is None and side is Side.BID else None
        self.try_apply(PlaceStop(owner, MARKET, side, MID + trigger, price, qty, budget))

    @rule(owner=owners, amount=st.integers(0, 2 * 10**6), token=st.sampled_from(["USDC", "BASE"]))
    def request_withdrawal(self, owner: AccountId, amount: int, token: str) -> None:
        """Locked while pending (conservation and locks are checked after every step)."""
        self.try_apply(RequestWithdrawal(owner, token, amount, f"dest-{owner}"))

    @rule(pick=st.integers(0, 50), completed=st.booleans())
    def close_withdrawal(self, pick: int, completed: bool) -> None:
        """The operator completes or rejects a withdrawal (one already closed is refused)."""
        service = self.exchange.service
        was = {w.withdrawal_id: w.state for w in service.withdrawals()}.get(pick)
        command = AdminCloseWithdrawal(A, pick, completed, "ref", next(self.nonces))
        outcome = self.apply(signed(KEY_A, command))
        now = {w.withdrawal_id: w.state for w in service.withdrawals()}.get(pick)
        if was == "pending":
            assert now == ("completed" if completed else "rejected"), outcome
        else:
            assert isinstance(outcome, Refusal) and now == was

    # -- card payments -----------------------------------------------------------------------

    @rule(owner=payers, cents=st.integers(1, 200), again=st.integers(0, 9))
    def card_payment(self, owner: AccountId, cents: int, again: int) -> None:
        """A checkout session paid; now and then a duplicated delivery of an earlier one."""
        number = len(self.payments)
        if again == 0 and self.payments:
            number -= 1  # the last session again: refused, nothing changed
        command = CreditPayment(
            f"evt_{number}", f"cs_{number}", f"pi_{number}", owner, "USDC",
            cents * 10_000, "usd", cents,
        )  # fmt: skip
        outcome = self.try_apply(command)
        if number == len(self.payments):
            assert outcome is not None, "a new session was not credited"
            self.payments.append((f"pi_{number}", cents))
        else:
            assert outcome is None, "a session was credited twice"

    @rule(pick=st.integers(0, 30), share=st.integers(0, 120))
    def refund(self, pick: int, share: int) -> None:
        """A refund of `share` % of a payment in all (more than it paid is refused)."""
        if self.payments:
            intent, cents = self.payments[pick % len(self.payments)]
            self.check_reversal(RefundPayment(f"evt_r{pick}", intent, "usd", cents * share // 100))

    @rule(
        pick=st.integers(0, 30),
        dispute=st.integers(0, 3),
        share=st.integers(1, 100),
        status=st.sampled_from(["opened", "won", "lost"]),
    )
    def dispute(self, pick: int, dispute: int, share: int, status: str) -> None:
        if self.payments:
            intent, cents = self.payments[pick % len(self.payments)]
            amount = max(1, cents * share // 100)
            self.check_reversal(
                DisputePayment(
                    f"evt_d{pick}", intent, f"dp_{intent}_{dispute}", "usd", amount, status
                )
            )

    def check_reversal(self, command: RefundPayment | DisputePayment) -> None:
        """What a reversal took from available and added to debt is what it reversed."""
        self.tick_if_due()
        before = self.exchange.service.to_state()
        exchange = self.exchange
        try:
            applied = exchange.execute(admit(command), exchange.seq + 1, exchange.ts_ns + 1)
        except TachyonError:
            assert self.exchange.service.to_state() == before, "a refusal changed the state"
            return
        for event in applied.events:
            if type(event) is PaymentReversed:
                assert event.taken + event.owed == event.amount

    @rule(qty=st.integers(1, 300), withdraw=st.booleans())
    def the_card_payer_spends(self, qty: int, withdraw: bool) -> None:
        """What it was credited goes into BASE, or out in a withdrawal (so that a later
        refund can leave debt)."""
        if not withdraw:
            self.try_apply(PlaceMarket(CARD_ONLY, MARKET, Side.BID, None, max_quote=qty * MID))
            return
        available = self.exchange.service.balance(CARD_ONLY, TokenId("USDC")).available
        self.try_apply(RequestWithdrawal(CARD_ONLY, "USDC", available, "card-payer"))

    @rule(owner=owners)
    def an_account_in_debt_places_nothing(self, owner: AccountId) -> None:
        if not self.exchange.service.in_debt(owner):
            return
        self.tick_if_due()
        before = self.exchange.service.to_state()
        try:
            self.apply(PlaceLimit(owner, MARKET, Side.BID, MID, 1))
        except AccountInDebt:
            assert self.exchange.service.to_state() == before
        else:
            raise AssertionError(f"{owner} placed an order while in debt")

    @rule(after=st.integers(1, 80))
    def time_passes(self, after: int) -> None:
        """A quiet market: the host journals a Tick when an expiry is due."""
        self.apply(Tick(), after)

    @rule(owner=owners, side=st.none() | sides, on_market=st.booleans())
    def cancel_all(self, owner: AccountId, side: Side | None, on_market: bool) -> None:
        """Accepted even on a halted market; afterwards the owner has nothing open there."""
        self.tick_if_due()
        others = {o: self.exchange.service.open_orders(o) for o in OWNERS if o != owner}
        self.try_apply(CancelAll(owner, MARKET if on_market else None, side))
        service = self.exchange.service
        left = [owned for owned in service.open_orders(owner) if side in (None, owned.order.side)]
        assert left == [], "a mass cancel left an order of its own open"
        assert others == {o: service.open_orders(o) for o in OWNERS if o != owner}

    # -- checks ----------------------------------------------------------------------------

    def tick_if_due(self) -> None:
        """Apply the Tick a host would journal before the next command (a command of its own:
        what a rule reads before its command must be read after it)."""
        exchange = self.exchange
        if exchange.tick_due(exchange.ts_ns + 1):
            apply_command(exchange, Tick(), exchange.seq + 1, exchange.ts_ns + 1)

    def try_apply(self, command: AnyCommand) -> Outcome | Refusal | None:
        self.tick_if_due()
        before = self.exchange.service.to_state()
        try:
            outcome = self.apply(command)
        except TachyonError:
            assert self.exchange.service.to_state() == before, "a refusal changed the state"
            return None
        if isinstance(outcome, Placement) and outcome.placed:
            self.order_ids.append(outcome.order_id)
        return outcome

    def limits_now(self, owner: AccountId) -> Before:
        self.tick_if_due()
        service, rules = self.exchange.service, self.exchange.venue.rules_of(MARKET)
        return Before(
            rules,
            reference_price_x2(service, MARKET),
            service.base_position(owner, service.get_market(MARKET).base),
            service.open_order_count(owner, MARKET),
        )

    def check_accepted(
        self, before: Before, side: Side, price: int, qty: int, tif: TimeInForce
    ) -> None:
        limits, reference = before.rules.limits, before.reference
        assert not before.rules.halted, "a halted market took an order"
        if limits.max_notional is not None:
            assert price * qty <= limits.max_notional
        if limits.price_band_bps is not None and reference is not None:
            assert 10_000 * abs(2 * price - reference) <= limits.price_band_bps * reference
        if limits.max_position is not None and side is Side.BID:
            assert before.position + qty <= limits.max_position
        if limits.max_open_orders is not None and tif is TimeInForce.GTC:
            assert before.open_count < limits.max_open_orders

    @invariant()
    def invariants_hold(self) -> None:
        self.exchange.check_invariants()


VenueMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=40, deadline=None)
TestVenueMachine = VenueMachine.TestCase
