-- The kalam tour. Every statement is echoed before its result.
.load ./kalam
SELECT kalam_version();

-- 1. A shared table: rows for everyone. DELETE is soft.
CREATE VIRTUAL TABLE notes USING kalam_shared(
  id INTEGER PRIMARY KEY, title TEXT NOT NULL, stars INTEGER DEFAULT 0,
  flush_policy='rows:10000');
INSERT INTO notes(id, title, stars) VALUES (1, 'buy milk', 2), (2, 'call mum', 5);
INSERT INTO notes(title) VALUES ('water plants');
SELECT id, title, stars FROM notes;
UPDATE notes SET stars = stars + 1 WHERE id = 1;
DELETE FROM notes WHERE id = 2;
SELECT id, title, stars FROM notes;
-- The trash: deleted rows keep their values.
SELECT id, title, _deleted, _updated FROM notes WHERE _deleted = 1;
SELECT kalam_purge('notes') AS purged;
SELECT count(*) AS trash FROM notes WHERE _deleted = 1;

-- 2. A user table: each connection sees only its current user's rows.
CREATE VIRTUAL TABLE todos USING kalam_user(id INTEGER PRIMARY KEY, task TEXT);
SELECT kalam_set_user('alice');
INSERT INTO todos(task) VALUES ('alice: write report');
SELECT kalam_set_user('bob');
INSERT INTO todos(task) VALUES ('bob: fix bike');
SELECT kalam_user() AS user, task FROM todos;
SELECT kalam_set_user('alice');
SELECT kalam_user() AS user, task FROM todos;

-- 3. A stream: append-only, newest first, expiring after ttl_seconds.
CREATE VIRTUAL TABLE events USING kalam_stream(kind TEXT, payload JSON, ttl_seconds=3600);
INSERT INTO events VALUES ('typing', '{"user":"alice"}'), ('sent', '{"id":7}');
SELECT kind, payload, _ts > 0 AS has_time FROM events ORDER BY rowid DESC LIMIT 1;

-- 4. The catalog.
SELECT name, kind, options FROM kalam_tables ORDER BY name;
