//! Case lists for people: the Arbeitskorb and the API's case list, with
//! filters and keyset pagination ordered by the nearest open deadline (no
//! OFFSET, no COUNT over the whole table, so a page costs the same on page
//! 1 and page 1,000).

use super::{CaseRow, Store, StoreError, get, q};

/// Which cases, and from where on.
#[derive(Debug, Clone, Default)]
pub struct WorkQuery {
    /// Only cases in one of these (workflow, state) pairs: where the user
    /// can act now. `None`: any state.
    pub actionable: Option<Vec<(String, String)>>,
    pub workflow: Option<String>,
    pub state: Option<String>,
    /// Only cases in which a party of this name takes part (a
    /// municipality's own cases, or the Arbeitskorb's municipality filter).
    pub party: Option<String>,
    /// Only cases assigned to one of these users, or to nobody (the
    /// Arbeitskorb of a person and of those they stand in for).
    pub assignees: Option<Vec<String>>,
    /// Only cases whose file number contains this text (search).
    pub file_number: Option<String>,
    /// Only cases with an open deadline ending on or before this date.
    pub due_until: Option<String>,
    /// Keyset: the (next due date, id) of the last row of the previous page.
    pub after: Option<(String, i64)>,
    pub limit: i64,
}

/// A case with its nearest open deadline.
#[derive(Debug, Clone)]
pub struct WorkItem {
    pub case: CaseRow,
    /// The nearest open deadline's end (YYYY-MM-DD), if any.
    pub next_due: Option<String>,
}

/// Sorts cases without a deadline last.
const NO_DEADLINE: &str = "9999-12-31";

/// The case columns, qualified (the page joins deadlines).
macro_rules! qualified_case_columns {
    () => {
        "c.id, c.file_number, c.workflow_id, c.workflow_version, c.state, c.data, c.parties, c.version, c.last_seq, c.head_hash, c.opened_at, c.updated_at"
    };
}

enum Bind {
    Text(String),
    Int(i64),
}

/// Placeholders and their values, numbered in the order they are added.
#[derive(Default)]
struct Binds(Vec<Bind>);

impl Binds {
    fn text(&mut self, v: impl Into<String>) -> String {
        self.0.push(Bind::Text(v.into()));
        format!("${}", self.0.len())
    }
    fn int(&mut self, v: i64) -> String {
        self.0.push(Bind::Int(v));
        format!("${}", self.0.len())
    }
}

/// The filters on `cases c` shared by both parts of a page. On SQLite the
/// workflow and state columns are written `+c.x`, which keeps its planner
/// from driving the page by the (unselective) `cases_workflow_state` index
/// and sorting every case, instead of walking the deadlines in order.
fn case_filters(wq: &WorkQuery, b: &mut Binds, sqlite: bool) -> String {
    let mut sql = String::new();
    let col = |c: &str| {
        if sqlite {
            format!("+c.{c}")
        } else {
            format!("c.{c}")
        }
    };
    let (wf, st) = (col("workflow_id"), col("state"));
    if let Some(pairs) = &wq.actionable {
        let alts: Vec<String> = pairs
            .iter()
            .map(|(w, s)| {
                format!(
                    "({wf} = {} AND {st} = {})",
                    b.text(w.clone()),
                    b.text(s.clone())
                )
            })
            .collect();
        sql.push_str(&format!(" AND ({})", alts.join(" OR ")));
    }
    if let Some(w) = &wq.workflow {
        sql.push_str(&format!(" AND {wf} = {}", b.text(w.clone())));
    }
    if let Some(s) = &wq.state {
        sql.push_str(&format!(" AND {st} = {}", b.text(s.clone())));
    }
    if let Some(party) = &wq.party {
        // Parties are stored as JSON; the name is matched as the exact
        // JSON string serde writes for it.
        let name = serde_json::to_string(party).expect("a string serialises");
        let p = b.text(format!("%\"name\":{}%", like_escape(&name)));
        sql.push_str(&format!(" AND c.parties LIKE {p} ESCAPE '\\'"));
    }
    if let Some(users) = &wq.assignees {
        let ps: Vec<String> = users.iter().map(|u| b.text(u.clone())).collect();
        sql.push_str(" AND (NOT EXISTS (SELECT 1 FROM case_assignments a WHERE a.case_id = c.id)");
        if !ps.is_empty() {
            sql.push_str(&format!(
                " OR EXISTS (SELECT 1 FROM case_assignments a WHERE a.case_id = c.id AND a.user_name IN ({}))",
                ps.join(", ")
            ));
        }
        sql.push(')');
    }
    if let Some(n) = &wq.file_number {
        let p = b.text(format!("%{}%", like_escape(n)));
        sql.push_str(&format!(" AND c.file_number LIKE {p} ESCAPE '\\'"));
    }
    sql
}

impl Store {
    /// One page of cases, nearest deadline first; pass the last item's
    /// [`WorkItem::key`] as `after` for the next page.
    ///
    /// The page walks the open deadlines in due order (index
    /// `deadlines_open_due`) and stops at the page size, taking each case at
    /// its nearest open deadline; cases without one follow by id. So a page
    /// costs the same however many cases there are.
    pub async fn work_items(&self, wq: &WorkQuery) -> Result<Vec<WorkItem>, StoreError> {
        if wq.actionable.as_ref().is_some_and(|a| a.is_empty()) {
            return Ok(Vec::new());
        }
        let limit = wq.limit.clamp(1, 500);
        let after_deadlines = wq.after.as_ref().is_some_and(|(due, _)| due == NO_DEADLINE);
        let mut out = Vec::new();
        if !after_deadlines {
            let mut b = Binds::default();
            let mut sql = String::from(concat!(
                "SELECT ",
                qualified_case_columns!(),
                ", d.due_date AS next_due FROM deadlines d JOIN cases c ON c.id = d.case_id
                 WHERE d.status = 'open'
                   AND d.id = (SELECT d2.id FROM deadlines d2 WHERE d2.case_id = d.case_id AND d2.status = 'open'
                               ORDER BY d2.due_date, d2.id LIMIT 1)"
            ));
            sql.push_str(&case_filters(
                wq,
                &mut b,
                self.backend == super::Backend::Sqlite,
            ));
            if let Some(until) = &wq.due_until {
                sql.push_str(&format!(" AND d.due_date <= {}", b.text(until.clone())));
            }
            if let Some((due, id)) = &wq.after {
                let (pd, pid) = (b.text(due.clone()), b.int(*id));
                sql.push_str(&format!(
                    " AND (d.due_date > {pd} OR (d.due_date = {pd} AND c.id > {pid}))"
                ));
            }
            sql.push_str(&format!(" ORDER BY d.due_date, c.id LIMIT {limit}"));
            out = self.fetch_work(sql, b).await?;
        }
        let rest = limit - out.len() as i64;
        if rest > 0 && wq.due_until.is_none() {
            let mut b = Binds::default();
            let mut sql = String::from(concat!(
                "SELECT ",
                qualified_case_columns!(),
                ", '9999-12-31' AS next_due FROM cases c
                 WHERE NOT EXISTS (SELECT 1 FROM deadlines d WHERE d.case_id = c.id AND d.status = 'open')"
            ));
            sql.push_str(&case_filters(
                wq,
                &mut b,
                self.backend == super::Backend::Sqlite,
            ));
            if let (true, Some((_, id))) = (after_deadlines, &wq.after) {
                sql.push_str(&format!(" AND c.id > {}", b.int(*id)));
            }
            sql.push_str(&format!(" ORDER BY c.id LIMIT {rest}"));
            out.extend(self.fetch_work(sql, b).await?);
        }
        Ok(out)
    }

    async fn fetch_work(&self, sql: String, b: Binds) -> Result<Vec<WorkItem>, StoreError> {
        // Every value is a bound parameter; the text holds only `$n` markers.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for v in b.0 {
            query = match v {
                Bind::Text(t) => query.bind(t),
                Bind::Int(i) => query.bind(i),
            };
        }
        let rows = query
            .fetch_all(&self.pool)
            .await
            .map_err(q("listing cases"))?;
        rows.iter()
            .map(|r| {
                let due: String = get(r, "next_due")?;
                Ok(WorkItem {
                    case: CaseRow::from_row(r)?,
                    next_due: (due != NO_DEADLINE).then_some(due),
                })
            })
            .collect()
    }
}

impl WorkItem {
    /// The keyset position of this item, for the next page's `after`.
    pub fn key(&self) -> (String, i64) {
        (
            self.next_due
                .clone()
                .unwrap_or_else(|| NO_DEADLINE.to_string()),
            self.case.id.0,
        )
    }
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}
