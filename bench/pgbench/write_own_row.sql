-- PATCH /users/me with one account per client: one row, one commit.
\set n random(0, 9999)
UPDATE users SET first_name = 'Bench' || :n, updated_at = now()
WHERE email = 'bench-' || :n || '@bench.test';
