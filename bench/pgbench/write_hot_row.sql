-- PATCH /users/me with every client on one account: one row, one commit each.
UPDATE users SET first_name = 'Bench' || :client_id, updated_at = now()
WHERE email = 'bench-0@bench.test';
