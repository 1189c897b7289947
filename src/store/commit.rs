//! Case changes written on their own (a transition whose effects only
//! compute fields). On SQLite, a group commit: concurrent clerks' changes
//! are written together, in one call to SQLite's worker thread and one
//! commit, instead of four calls (BEGIN, UPDATE, INSERT, COMMIT) and one
//! commit each. SQLite has one writer at a time anyway, and a fire's cost
//! there is mostly the hand-over to and from that thread, so sharing it
//! lifts throughput under load without changing what any single change
//! does: each is still checked against the version its clerk read, and a
//! change that lost the race is that clerk's conflict.
//!
//! On PostgreSQL each change is one statement of its own (the update and
//! the journal insert in one data-modifying CTE), because the server runs
//! concurrent statements in parallel and flushes their commits together
//! already; batching them in the application measured slower (1.4k/s
//! against 1.9k/s with 8 clerks), since batches then run one after another.
//!
//! Leader/follower: every caller queues its change and waits for its turn;
//! whoever gets the turn takes everything queued (one change per case, up
//! to [`MAX_BATCH`]) and writes it in a task of its own, so that a caller
//! that goes away (a closed browser tab) never leaves a batch half done.
//! A change still queued when its caller goes away is taken back.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::Row;
use tokio::sync::oneshot;

use super::{Backend, CaseChange, JOURNAL_COLUMNS, Store, StoreError, constraint_error, json_text};
use crate::journal::Event;

/// Changes per batch: bounded so that a batch stays well below SQLite's
/// 32,766 parameters (7 + 10 per event each) and one commit stays short.
const MAX_BATCH: usize = 32;

/// A [`CaseChange`] that owns its parts (it outlives its caller's borrow
/// while it waits in the queue).
struct Change {
    id: i64,
    file_number: String,
    expected_version: i64,
    state: String,
    data: String,
    events: Vec<Event>,
    at: String,
}

struct Pending {
    ticket: u64,
    change: Change,
    reply: oneshot::Sender<Result<(), StoreError>>,
}

/// The queue and the turn of one store's group commit.
#[derive(Default)]
pub(super) struct Committer {
    queue: std::sync::Mutex<Vec<Pending>>,
    turn: std::sync::Arc<tokio::sync::Mutex<()>>,
    tickets: AtomicU64,
}

/// Takes a caller's change back out of the queue if the caller goes away
/// before a batch took it.
struct Withdraw<'a> {
    committer: &'a Committer,
    ticket: u64,
}

impl Drop for Withdraw<'_> {
    fn drop(&mut self) {
        let mut queue = self.committer.queue.lock().expect("commit queue");
        queue.retain(|p| p.ticket != self.ticket);
    }
}

impl Store {
    /// Writes a case change on its own, committed together with whatever
    /// other changes are waiting at the same moment (see the module doc).
    pub async fn advance_case_alone(&self, change: &CaseChange<'_>) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            let mut conn = self
                .pool
                .acquire()
                .await
                .map_err(super::q("updating a case"))?;
            return super::advance_case(&mut *conn, self.backend, change).await;
        }
        let committer = &self.committer;
        let ticket = committer.tickets.fetch_add(1, Ordering::Relaxed);
        let (reply, mut answer) = oneshot::channel();
        committer.queue.lock().expect("commit queue").push(Pending {
            ticket,
            change: Change {
                id: change.id.0,
                file_number: change.file_number.to_owned(),
                expected_version: change.expected_version,
                state: change.state.to_owned(),
                data: json_text(change.data),
                events: change.events.to_vec(),
                at: change.at.to_owned(),
            },
            reply,
        });
        let _withdraw = Withdraw { committer, ticket };
        loop {
            let turn = committer.turn.clone().lock_owned().await;
            match answer.try_recv() {
                Ok(result) => return result,
                Err(oneshot::error::TryRecvError::Closed) => return Err(StoreError::BatchLost),
                Err(oneshot::error::TryRecvError::Empty) => {}
            }
            let batch = take_batch(&mut committer.queue.lock().expect("commit queue"));
            let store = self.clone();
            let written = tokio::spawn(async move {
                let _turn = turn;
                store.write_batch(batch).await;
            });
            if written.await.is_err() {
                return Err(StoreError::BatchLost);
            }
        }
    }

    /// Writes a batch and answers each change; a batch that fails as a
    /// whole (a constraint, a lost connection) is written again one change
    /// at a time, so that each caller gets its own change's answer.
    async fn write_batch(&self, batch: Vec<Pending>) {
        let changes: Vec<&Change> = batch.iter().map(|p| &p.change).collect();
        match self.write_changes(&changes).await {
            Ok(written) => {
                for (p, ok) in batch.into_iter().zip(written) {
                    let _ = p
                        .reply
                        .send(if ok { Ok(()) } else { Err(conflict(&p.change)) });
                }
            }
            Err(e) if batch.len() == 1 => {
                let p = batch.into_iter().next().expect("one change");
                let _ = p.reply.send(Err(e));
            }
            Err(_) => {
                for p in batch {
                    let result = match self.write_changes(&[&p.change]).await {
                        Ok(written) if written[0] => Ok(()),
                        Ok(_) => Err(conflict(&p.change)),
                        Err(e) => Err(e),
                    };
                    let _ = p.reply.send(result);
                }
            }
        }
    }

    /// One statement batch and one commit for `changes` (distinct cases);
    /// for each, whether it was written (`false`: its case had moved on).
    async fn write_changes(&self, changes: &[&Change]) -> Result<Vec<bool>, StoreError> {
        let sql = batch_sql(changes);
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for c in changes {
            let last = c.events.last().expect("a change has events");
            query = query
                .bind(c.id)
                .bind(c.expected_version)
                .bind(c.state.as_str())
                .bind(c.data.as_str())
                .bind(last.seq)
                .bind(last.hash.as_str())
                .bind(c.at.as_str());
            query = super::bind_events(query, &c.events);
        }
        // BEGIN … COMMIT in the same call, on the writer's slot; a failure
        // part-way is rolled back on the same connection.
        let _guard = self.write_guard().await;
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(super::q("updating a case"))?;
        let rows = match query.fetch_all(&mut *conn).await {
            Ok(rows) => rows,
            Err(e) => {
                let rolled_back = sqlx::query("ROLLBACK").execute(&mut *conn).await;
                if let Err(sqlx::Error::Database(db)) = &rolled_back
                    && !db.message().contains("no transaction is active")
                {
                    // Do not give a connection in an unknown state back.
                    let _ = conn.detach();
                }
                return Err(constraint_error(e, "writing the journal"));
            }
        };
        let mut inserted = std::collections::HashMap::<i64, usize>::new();
        for r in &rows {
            let case_id: i64 = r
                .try_get("case_id")
                .map_err(super::q("writing the journal"))?;
            *inserted.entry(case_id).or_default() += 1;
        }
        Ok(changes
            .iter()
            .map(|c| inserted.get(&c.id).copied() == Some(c.events.len()))
            .collect())
    }
}

fn conflict(c: &Change) -> StoreError {
    StoreError::Conflict {
        file_number: c.file_number.clone(),
        expected: c.expected_version,
    }
}

/// The oldest queued changes, at most one per case (a second change to a
/// case waits for the next batch, so that it is checked against the first)
/// and at most [`MAX_BATCH`].
fn take_batch(queue: &mut Vec<Pending>) -> Vec<Pending> {
    let mut cases = HashSet::new();
    let mut batch = Vec::new();
    let mut rest = Vec::new();
    for p in queue.drain(..) {
        if batch.len() < MAX_BATCH && cases.insert(p.change.id) {
            batch.push(p);
        } else {
            rest.push(p);
        }
    }
    *queue = rest;
    batch
}

/// The statements of a batch in one string (SQLite runs them in order in
/// one call; `$n` markers are bound by number across them); only `$n`
/// markers are formatted in, never values. Each change is an UPDATE checked
/// against its expected version and an INSERT of its events that happens
/// only if the UPDATE did (`changes()` is the row count of the statement
/// just before); the inserted events' case ids come back, so each change's
/// outcome is known.
fn batch_sql(changes: &[&Change]) -> String {
    let mut next = 1usize;
    let mut sql = String::from("BEGIN IMMEDIATE;");
    for c in changes {
        let p = |k: usize| format!("${}", next + k);
        let update = format!(
            "UPDATE cases SET state = {}, data = {}, version = version + 1, last_seq = {}, head_hash = {}, updated_at = {} WHERE id = {} AND version = {}",
            p(2),
            p(3),
            p(4),
            p(5),
            p(6),
            p(0),
            p(1)
        );
        next += 7;
        let values = (0..c.events.len())
            .map(|_| {
                let cols: Vec<String> = (0..10).map(|k| format!("${}", next + k)).collect();
                next += 10;
                format!("({})", cols.join(", "))
            })
            .collect::<Vec<_>>()
            .join(", ");
        sql.push_str(&format!(
            " {update}; INSERT INTO journal ({JOURNAL_COLUMNS}) SELECT * FROM (VALUES {values}) WHERE changes() = 1 RETURNING case_id;"
        ));
    }
    sql.push_str(" COMMIT;");
    sql
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(ticket: u64, case: i64) -> Pending {
        Pending {
            ticket,
            change: Change {
                id: case,
                file_number: format!("F-{case}"),
                expected_version: 1,
                state: "offen".into(),
                data: "{}".into(),
                events: Vec::new(),
                at: String::new(),
            },
            reply: oneshot::channel().0,
        }
    }

    #[test]
    fn a_batch_takes_one_change_per_case_in_queue_order() {
        let mut queue = vec![pending(1, 7), pending(2, 8), pending(3, 7), pending(4, 9)];
        let batch = take_batch(&mut queue);
        let taken: Vec<u64> = batch.iter().map(|p| p.ticket).collect();
        assert_eq!(taken, [1, 2, 4]);
        let left: Vec<u64> = queue.iter().map(|p| p.ticket).collect();
        assert_eq!(left, [3]);
    }

    #[test]
    fn a_batch_is_bounded() {
        let mut queue: Vec<Pending> = (0..40).map(|i| pending(i, i as i64)).collect();
        assert_eq!(take_batch(&mut queue).len(), MAX_BATCH);
        assert_eq!(queue.len(), 40 - MAX_BATCH);
    }
}
