-- mm2migrate state database, version 2: the replay order (parents before replies, chronological
-- otherwise) is read page by page by the plan writer and both targets; without an index every
-- page sorted the whole list.
CREATE INDEX messages_replay_order ON messages(list, replay_key, depth, ordinal);
