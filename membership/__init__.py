"""Membership: yearly paid memberships, sold in capped enrollment windows, and the member card."""
