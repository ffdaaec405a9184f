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

-- 5. Following changes: a chat table read by a second connection with
-- kalam_changes (what changed after the _seq it saw last) and kalam_wait
-- (which returns as soon as a commit passes that _seq).
CREATE VIRTUAL TABLE chat USING kalam_shared(id INTEGER PRIMARY KEY, who TEXT, msg TEXT);
INSERT INTO chat(who, msg) VALUES ('alice', 'hi'), ('bob', 'hello');
.connection 1
.open demo/demo.db
.load ./kalam
SELECT rowid, _deleted, row FROM kalam_changes('chat');
-- The reader keeps the last _seq it saw.
CREATE TEMP TABLE seen AS SELECT max(_seq) AS seq FROM kalam_changes('chat');
.connection 0
UPDATE chat SET msg = 'hi all' WHERE who = 'alice';
DELETE FROM chat WHERE who = 'bob';
.connection 1
-- kalam_wait returns at once: commits passed the reader's _seq.
SELECT kalam_wait('chat', (SELECT seq FROM seen), 5000) > (SELECT seq FROM seen) AS news;
-- What changed since, each row once in its newest state (the deleted one
-- with _deleted = 1):
SELECT rowid, _deleted, row FROM kalam_changes('chat', (SELECT seq FROM seen));
UPDATE seen SET seq = (SELECT max(_seq) FROM kalam_changes('chat'));
-- Nothing newer: kalam_wait gives the reader's _seq back after 200 ms.
SELECT kalam_wait('chat', (SELECT seq FROM seen), 200) = (SELECT seq FROM seen) AS nothing_new;
.connection 0
