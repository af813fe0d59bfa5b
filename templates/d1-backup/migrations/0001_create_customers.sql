-- Migration number: 0001 	 2026-01-01T00:00:00.000Z
-- The sample database the workflow backs up.
CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL);
INSERT INTO customers (name, email) VALUES
    ('Ada Lovelace', 'ada@example.com'),
    ('Grace Hopper', 'grace@example.com'),
    ('Katherine Johnson', 'katherine@example.com');
