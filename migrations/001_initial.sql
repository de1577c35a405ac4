-- mm2migrate state database, version 1.
-- One row per source list; `phase` is the last phase completed (see src/state/phases.ts).
CREATE TABLE lists (
  name            TEXT PRIMARY KEY,
  phase           TEXT NOT NULL DEFAULT 'new',
  status          TEXT NOT NULL DEFAULT 'pending',   -- pending | running | done | failed
  error           TEXT,
  config_json     TEXT,                              -- ListConfig as read (no passwords)
  mbox_path       TEXT,
  mbox_size       INTEGER,
  mbox_mtime_ms   INTEGER,
  indexed_bytes   INTEGER NOT NULL DEFAULT 0,        -- prefix of the mbox already indexed
  indexed_sha256  TEXT,                              -- checksum of that prefix
  updated_at      TEXT NOT NULL
);

-- Every message of a list's mbox, in mbox order.
CREATE TABLE messages (
  list              TEXT NOT NULL REFERENCES lists(name) ON DELETE CASCADE,
  ordinal           INTEGER NOT NULL,
  offset            INTEGER NOT NULL,
  length            INTEGER NOT NULL,
  message_id        TEXT NOT NULL,                   -- normalised as HyperKitty stores it
  raw_message_id    TEXT,
  synthetic_id      INTEGER NOT NULL DEFAULT 0,
  target_message_id TEXT NOT NULL,                   -- differs from message_id for content duplicates
  date              TEXT,                            -- ISO UTC
  date_source       TEXT NOT NULL,
  date_repaired     INTEGER NOT NULL DEFAULT 0,
  from_name         TEXT,
  from_address      TEXT,
  subject           TEXT,
  thread_subject    TEXT,
  in_reply_to       TEXT,
  refs_json         TEXT,
  content_hash      TEXT NOT NULL,
  duplicate_of      INTEGER,                         -- ordinal of the first message with this id
  duplicate_kind    TEXT,                            -- same | different
  parent_ordinal    INTEGER,
  root_ordinal      INTEGER,
  depth             INTEGER,
  replay_key        TEXT,                            -- max(own date, parent's key): chronological, parents first
  flags_json        TEXT,
  PRIMARY KEY (list, ordinal)
);
CREATE INDEX messages_by_id ON messages(list, message_id);
CREATE INDEX messages_by_target_id ON messages(list, target_message_id);
CREATE INDEX messages_by_parent ON messages(list, parent_ordinal);

-- Message-IDs each message refers to (In-Reply-To and References), for threading.
CREATE TABLE message_refs (
  list     TEXT NOT NULL,
  ordinal  INTEGER NOT NULL,
  ref_id   TEXT NOT NULL,
  PRIMARY KEY (list, ordinal, ref_id)
);

-- The pipermail article map: article number -> Message-ID shown on the page.
CREATE TABLE articles (
  list        TEXT NOT NULL REFERENCES lists(name) ON DELETE CASCADE,
  period      TEXT NOT NULL,
  number      INTEGER NOT NULL,
  file        TEXT NOT NULL,
  message_id  TEXT,                                  -- raw, as the page carries it
  ordinal     INTEGER,                               -- matched mbox message
  source      TEXT NOT NULL,                         -- html | mbox-order
  stray       INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (list, period, number)
);

-- Roster as read: owners, moderators, members.
CREATE TABLE members (
  list       TEXT NOT NULL REFERENCES lists(name) ON DELETE CASCADE,
  role       TEXT NOT NULL,                          -- owner | moderator | member
  email      TEXT NOT NULL,                          -- lower-cased key
  data_json  TEXT NOT NULL,
  PRIMARY KEY (list, role, email)
);

-- The plan: what the apply phases will do, in order.
CREATE TABLE plan_items (
  list       TEXT NOT NULL REFERENCES lists(name) ON DELETE CASCADE,
  seq        INTEGER NOT NULL,
  phase      TEXT NOT NULL,                          -- settings | roster | archive | redirects
  op         TEXT NOT NULL,
  key        TEXT NOT NULL,
  data_json  TEXT,
  PRIMARY KEY (list, seq)
);
CREATE UNIQUE INDEX plan_items_by_key ON plan_items(list, phase, op, key);

-- Every operation applied to the target, with the target's identifiers. A row is written as
-- `pending` before the request and `done` after it, so a crash leaves evidence to reconcile.
CREATE TABLE journal (
  list        TEXT NOT NULL,
  phase       TEXT NOT NULL,
  op          TEXT NOT NULL,
  key         TEXT NOT NULL,
  status      TEXT NOT NULL,                         -- pending | done | failed | skipped
  target_id   TEXT,
  target_url  TEXT,
  detail_json TEXT,
  attempts    INTEGER NOT NULL DEFAULT 0,
  updated_at  TEXT NOT NULL,
  PRIMARY KEY (list, phase, op, key)
);

CREATE TABLE problems (
  list      TEXT NOT NULL,
  phase     TEXT NOT NULL,
  severity  TEXT NOT NULL,
  code      TEXT NOT NULL,
  message   TEXT NOT NULL,
  key       TEXT,
  file      TEXT
);
CREATE INDEX problems_by_list ON problems(list, phase);

-- Messages that could not be migrated: kept (raw bytes under the reports folder) and reported.
CREATE TABLE quarantine (
  list      TEXT NOT NULL,
  ordinal   INTEGER,
  offset    INTEGER,
  reason    TEXT NOT NULL,
  path      TEXT NOT NULL,
  PRIMARY KEY (list, path)
);
