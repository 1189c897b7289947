//! Cases as this process last fired them, so that a fire on a case that was
//! fired here before need not read it from the database first.
//!
//! The rows are only a starting point: every write checks the version it
//! planned against (`WHERE version = $`), so a row that another instance
//! or another command moved on meanwhile makes the write fail, changes
//! nothing, and the fire reads the case again (see [`super::Engine::fire`]).

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

use crate::domain::FileNumber;
use crate::store::CaseRow;

/// How many cases are kept: the working set of an office's clerks, a few MB.
const CAPACITY: usize = 4096;

pub(crate) struct RecentCases {
    rows: Mutex<lru::LruCache<FileNumber, Arc<CaseRow>>>,
}

impl RecentCases {
    pub(crate) fn new() -> Self {
        Self {
            rows: Mutex::new(lru::LruCache::new(
                NonZeroUsize::new(CAPACITY).expect("a positive capacity"),
            )),
        }
    }

    /// The case as last fired here, if it still is in the cache.
    pub(crate) fn get(&self, file_number: &str) -> Option<Arc<CaseRow>> {
        self.rows
            .lock()
            .expect("cache lock")
            .get(file_number)
            .cloned()
    }

    /// Keeps the row a fire wrote, unless a later version is kept already
    /// (two fires here finishing in the other order).
    pub(crate) fn put(&self, row: CaseRow) {
        let mut rows = self.rows.lock().expect("cache lock");
        if rows
            .peek(row.file_number.as_str())
            .is_some_and(|kept| kept.version > row.version)
        {
            return;
        }
        rows.put(row.file_number.clone(), Arc::new(row));
    }

    /// Drops the row if it still is at `version`, and says whether it was:
    /// then nobody in this process fired the case since, and a failed write
    /// on it means the row was stale (moved on elsewhere), not that another
    /// fire here won the race.
    pub(crate) fn forget_if_at(&self, file_number: &str, version: i64) -> bool {
        let mut rows = self.rows.lock().expect("cache lock");
        if rows.peek(file_number).is_some_and(|r| r.version == version) {
            rows.pop(file_number);
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CaseId, StateName};

    fn row(n: &str, version: i64) -> CaseRow {
        CaseRow {
            id: CaseId(1),
            file_number: FileNumber::new(n),
            workflow_id: "w".into(),
            workflow_version: 1,
            state: StateName::new("offen"),
            data: Default::default(),
            parties: Default::default(),
            version,
            last_seq: version,
            head_hash: String::new(),
            opened_at: String::new(),
            updated_at: String::new(),
        }
    }

    #[test]
    fn a_put_row_is_found_by_its_file_number() {
        let c = RecentCases::new();
        assert!(c.get("VM-1").is_none());
        c.put(row("VM-1", 3));
        assert_eq!(c.get("VM-1").unwrap().version, 3);
        c.put(row("VM-1", 4));
        assert_eq!(c.get("VM-1").unwrap().version, 4);
        // A slower fire's older row does not replace it.
        c.put(row("VM-1", 2));
        assert_eq!(c.get("VM-1").unwrap().version, 4);
    }

    #[test]
    fn forget_only_drops_the_version_that_failed() {
        let c = RecentCases::new();
        c.put(row("VM-1", 4));
        // Another fire here already moved the row on: keep it, it was a race.
        assert!(!c.forget_if_at("VM-1", 3));
        assert_eq!(c.get("VM-1").unwrap().version, 4);
        assert!(c.forget_if_at("VM-1", 4));
        assert!(c.get("VM-1").is_none());
        assert!(!c.forget_if_at("VM-1", 4));
    }

    #[test]
    fn the_least_recently_fired_case_goes_first() {
        let c = RecentCases::new();
        for i in 0..=CAPACITY {
            c.put(row(&format!("VM-{i}"), 1));
        }
        assert!(c.get("VM-0").is_none());
        assert!(c.get(&format!("VM-{CAPACITY}")).is_some());
    }
}
