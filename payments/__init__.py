"""Payments: the one place that talks to the payment provider (Stripe, or localstripe locally)."""
