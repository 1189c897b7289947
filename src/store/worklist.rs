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

impl Store {
    /// One page of cases, nearest deadline first; pass the last item's
    /// [`WorkItem::key`] as `after` for the next page.
    pub async fn work_items(&self, wq: &WorkQuery) -> Result<Vec<WorkItem>, StoreError> {
        let mut sql = String::from(concat!(
            "SELECT * FROM (SELECT ",
            case_columns!(),
            ", COALESCE((SELECT MIN(d.due_date) FROM deadlines d WHERE d.case_id = c.id AND d.status = 'open'), '",
        ));
        sql.push_str(NO_DEADLINE);
        sql.push_str("') AS next_due FROM cases c WHERE 1 = 1");
        let mut binds: Vec<String> = Vec::new();
        let param = |binds: &mut Vec<String>, v: String| {
            binds.push(v);
            format!("${}", binds.len())
        };
        if let Some(pairs) = &wq.actionable {
            if pairs.is_empty() {
                return Ok(Vec::new());
            }
            let mut alts = Vec::new();
            for (w, s) in pairs {
                let pw = param(&mut binds, w.clone());
                let ps = param(&mut binds, s.clone());
                alts.push(format!("(c.workflow_id = {pw} AND c.state = {ps})"));
            }
            sql.push_str(&format!(" AND ({})", alts.join(" OR ")));
        }
        if let Some(w) = &wq.workflow {
            let p = param(&mut binds, w.clone());
            sql.push_str(&format!(" AND c.workflow_id = {p}"));
        }
        if let Some(s) = &wq.state {
            let p = param(&mut binds, s.clone());
            sql.push_str(&format!(" AND c.state = {p}"));
        }
        if let Some(party) = &wq.party {
            // Parties are stored as JSON; the name is matched as the exact
            // JSON string serde writes for it.
            let name = serde_json::to_string(party).expect("a string serialises");
            let p = param(&mut binds, format!("%\"name\":{}%", like_escape(&name)));
            sql.push_str(&format!(" AND c.parties LIKE {p} ESCAPE '\\'"));
        }
        if let Some(users) = &wq.assignees {
            let ps: Vec<String> = users.iter().map(|u| param(&mut binds, u.clone())).collect();
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
            let p = param(&mut binds, format!("%{}%", like_escape(n)));
            sql.push_str(&format!(" AND c.file_number LIKE {p} ESCAPE '\\'"));
        }
        sql.push_str(") w WHERE 1 = 1");
        if let Some(until) = &wq.due_until {
            let p = param(&mut binds, until.clone());
            sql.push_str(&format!(" AND w.next_due <= {p}"));
        }
        if let Some((due, _)) = &wq.after {
            let pd = param(&mut binds, due.clone());
            let pid = binds.len() + 1;
            sql.push_str(&format!(
                " AND (w.next_due > {pd} OR (w.next_due = {pd} AND w.id > ${pid}))"
            ));
        }
        sql.push_str(" ORDER BY w.next_due, w.id LIMIT ");
        sql.push_str(&wq.limit.clamp(1, 500).to_string());

        // Every value is a bound parameter; the text holds only placeholders.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for b in &binds {
            query = query.bind(b.as_str());
        }
        if let Some((_, id)) = &wq.after {
            query = query.bind(*id);
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
            self.next_due.clone().unwrap_or_else(|| NO_DEADLINE.to_string()),
            self.case.id.0,
        )
    }
}

fn like_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")
}
