-- mm2migrate state database, version 3: which run is migrating a list right now. Two runs replaying
-- the same list at once would both send its messages; a run records itself here before it touches
-- a list and removes its row when it is done. A row left by a killed run is recognised by its
-- process being gone (same host) and taken over.
CREATE TABLE list_runs (
  list        TEXT PRIMARY KEY,
  pid         INTEGER NOT NULL,
  host        TEXT NOT NULL,
  proc_start  TEXT,              -- the process's start time as the kernel counts it, when known (pid reuse)
  started_at  TEXT NOT NULL
);
