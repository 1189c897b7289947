//! Case assignments and substitutions (Vertretung): the SQL behind the
//! Arbeitskorb's "whose case is it" and "for whom do I stand in today".

use sqlx::any::AnyRow;

use super::{Store, StoreError, Tx, get, q};
use crate::domain::CaseId;

/// An absence with its substitute.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SubstitutionRow {
    pub id: i64,
    /// Who is away.
    pub absent: String,
    /// Who works their Arbeitskorb meanwhile.
    pub substitute: String,
    /// First day (YYYY-MM-DD, Europe/Berlin).
    pub from_date: String,
    /// Last day, inclusive.
    pub until_date: String,
}

impl SubstitutionRow {
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        Ok(SubstitutionRow {
            id: get(r, "id")?,
            absent: get(r, "absent")?,
            substitute: get(r, "substitute")?,
            from_date: get(r, "from_date")?,
            until_date: get(r, "until_date")?,
        })
    }
}

impl Store {
    /// Who a case is assigned to, if anyone.
    pub async fn assignee(&self, file_number: &str) -> Result<Option<String>, StoreError> {
        sqlx::query(
            "SELECT a.user_name FROM case_assignments a JOIN cases c ON c.id = a.case_id WHERE c.file_number = $1",
        )
        .bind(file_number)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("reading a case's assignment"))?
        .map(|r| get(&r, "user_name"))
        .transpose()
    }

    /// A person's saved setting (e.g. their Arbeitskorb filter).
    pub async fn preference(&self, user: &str, name: &str) -> Result<Option<String>, StoreError> {
        sqlx::query("SELECT value FROM user_preferences WHERE user_name = $1 AND name = $2")
            .bind(user)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("reading a setting"))?
            .map(|r| get(&r, "value"))
            .transpose()
    }

    pub async fn set_preference(
        &self,
        user: &str,
        name: &str,
        value: &str,
    ) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query(
            "INSERT INTO user_preferences (user_name, name, value) VALUES ($1, $2, $3)
             ON CONFLICT (user_name, name) DO UPDATE SET value = excluded.value",
        )
        .bind(user)
        .bind(name)
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(q("saving a setting"))?;
        Ok(())
    }

    /// Records an absence.
    pub async fn add_substitution(
        &self,
        absent: &str,
        substitute: &str,
        from: &str,
        until: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query(
            "INSERT INTO substitutions (absent, substitute, from_date, until_date, created_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(absent)
        .bind(substitute)
        .bind(from)
        .bind(until)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(q("recording an absence"))?;
        Ok(())
    }

    /// Absences a user is part of (as absent or substitute) that have not
    /// ended before `today`.
    pub async fn substitutions_of(
        &self,
        user: &str,
        today: &str,
    ) -> Result<Vec<SubstitutionRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, absent, substitute, from_date, until_date FROM substitutions
             WHERE (absent = $1 OR substitute = $1) AND until_date >= $2 ORDER BY from_date, id",
        )
        .bind(user)
        .bind(today)
        .fetch_all(&self.pool)
        .await
        .map_err(q("reading absences"))?;
        rows.iter().map(SubstitutionRow::from_row).collect()
    }
}

impl Tx {
    /// Makes `user` responsible for a case (replacing any earlier assignment).
    pub async fn assign_case(
        &mut self,
        case_id: CaseId,
        user: &str,
        by: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO case_assignments (case_id, user_name, assigned_by, assigned_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (case_id) DO UPDATE SET user_name = excluded.user_name,
                 assigned_by = excluded.assigned_by, assigned_at = excluded.assigned_at",
        )
        .bind(case_id.0)
        .bind(user)
        .bind(by)
        .bind(at)
        .execute(&mut *self.tx)
        .await
        .map_err(q("assigning a case"))?;
        Ok(())
    }
}
