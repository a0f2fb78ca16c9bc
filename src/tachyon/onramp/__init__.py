"""The card on-ramp: Stripe Checkout in, journaled credit commands out.

It knows nothing of matching: it turns what a person paid through Stripe into the exchange's
payment commands (`tachyon.exchange.commands.CreditPayment`, `RefundPayment`,
`DisputePayment`), which a node submits from its verified webhook route alone.
`amounts` converts a currency's minor units to a token's exactly; `stripe_events` reads a
verified Stripe event into a command (or the reason it changes nothing); `stripe_api` calls
Stripe through its official library: checkout sessions and webhook signatures.
"""
