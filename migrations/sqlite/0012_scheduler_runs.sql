-- When each scheduled pass (the 07:00 reminder pass …) last ran, by its
-- scheduled time: an instance that takes the pass skips a time already
-- done by another, and one that starts after all were down catches up on
-- the time it missed, once.
CREATE TABLE scheduler_runs (
    pass     TEXT PRIMARY KEY,
    last_run TEXT NOT NULL,
    -- How often it ran in all: a time taken by two instances would count twice.
    runs     BIGINT NOT NULL DEFAULT 0
);
