"""Cloudflare-compatible names for user code."""
