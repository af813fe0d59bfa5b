-- Migration number: 0001 	 2026-01-01T00:00:00.000Z
-- The shop's carts: one row per cart, checked_out set to 1 at checkout.
CREATE TABLE cart (
    id TEXT PRIMARY KEY,
    checked_out INTEGER NOT NULL DEFAULT 0,
    amount INTEGER NOT NULL,
    email TEXT NOT NULL
);
