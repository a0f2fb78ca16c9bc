"""`tachyon onramp`: pay by card into a wallet, through a node's Stripe on-ramp."""

from __future__ import annotations

import click

from tachyon.cli import options, ports, render


@click.group()
def onramp() -> None:
    """Card payments into a wallet (a node with the Stripe on-ramp enabled)."""


@onramp.command()
@click.option("--amount", required=True, help='What to pay, in the currency (e.g. "100.00").')
@click.option("--currency", default="usd", show_default=True, help="ISO 4217 currency code.")
@click.option("--token", default=None, help="The token to credit (default: the currency's).")
@options.acting
def checkout(
    ctx: click.Context,
    amount: str,
    currency: str,
    token: str | None,
    **common: str | bool | None,
) -> None:
    """Start a card payment: the node creates a Stripe Checkout Session and this prints the
    URL to pay at. The wallet is credited once Stripe confirms the payment to the node."""
    from tachyon.client.node_port import NodePort  # noqa: PLC0415 (httpx only over a node)

    with ports.acting(ctx, common) as wallet:
        port = wallet.exchange
        if not isinstance(port, NodePort):
            raise click.ClickException(
                "card payments go through a node's on-ramp: give --node URL (or use a wallet"
                " created with --node)"
            )
        answer = port.onramp_checkout(wallet.address, amount, currency.lower(), token)
    override = common["output_format"]
    if options.output_format(ctx, override if isinstance(override, str) else None) == "json":
        render.emit_json(answer)
        return
    click.echo(
        f"Pay {answer['amount']} {str(answer['currency']).upper()} at:\n{answer['url']}\n"
        f"{answer['credit']} {answer['token']} is credited to {answer['address']} once"
        f" Stripe confirms the payment (session {answer['session_id']})."
    )
