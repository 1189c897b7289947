//! Users, API tokens, login sessions and failed logins: the SQL behind
//! [`crate::identity`]. Secrets never reach this layer in the clear: it
//! stores Argon2id PHC strings and SHA-256 hashes of tokens and session ids.

use sqlx::any::AnyRow;

use super::{Backend, Store, StoreError, constraint_error, get, q};

/// A user as stored.
#[derive(Debug, Clone)]
pub struct UserRow {
    pub id: i64,
    /// The login name (unique).
    pub name: String,
    /// The name shown in the UI and printed where a person signs.
    pub display_name: String,
    /// Argon2id PHC string; `None` for a user who logs in by token only.
    pub password_hash: Option<String>,
    pub roles: Vec<String>,
    /// The party a municipality user is bound to (e.g. `Kreis Unna`).
    pub party: Option<String>,
    pub disabled: bool,
    pub created_at: String,
}

impl UserRow {
    fn from_row(r: &AnyRow) -> Result<Self, StoreError> {
        let roles: String = get(r, "roles")?;
        Ok(UserRow {
            id: get(r, "id")?,
            name: get(r, "name")?,
            display_name: get(r, "display_name")?,
            password_hash: get(r, "password_hash")?,
            roles: serde_json::from_str(&roles).map_err(|e| StoreError::Corrupt {
                what: "user roles".into(),
                detail: e.to_string(),
            })?,
            party: get(r, "party")?,
            disabled: get::<i64>(r, "disabled")? != 0,
            created_at: get(r, "created_at")?,
        })
    }
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    pub name: &'a str,
    pub display_name: &'a str,
    pub password_hash: Option<&'a str>,
    pub roles: &'a [String],
    pub party: Option<&'a str>,
    pub created_at: &'a str,
}

/// A login session with its user.
#[derive(Debug, Clone)]
pub struct SessionRow {
    pub csrf_token: String,
    pub created_at: String,
    pub last_seen_at: String,
    pub user: UserRow,
}

macro_rules! user_columns {
    () => {
        "u.id, u.name, u.display_name, u.password_hash, u.roles, u.party, u.disabled, u.created_at"
    };
}

impl Store {
    /// Creates a user; [`StoreError::Duplicate`] if the name is taken.
    pub async fn insert_user(&self, u: &NewUser<'_>) -> Result<UserRow, StoreError> {
        let _guard = self.write_guard().await;
        let roles = serde_json::to_string(u.roles).expect("roles serialise");
        sqlx::query(
            "INSERT INTO users (name, display_name, password_hash, roles, party, disabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, 0, $6)",
        )
        .bind(u.name)
        .bind(u.display_name)
        .bind(u.password_hash)
        .bind(roles)
        .bind(u.party)
        .bind(u.created_at)
        .execute(&self.pool)
        .await
        .map_err(|e| constraint_error(e, "creating a user"))?;
        drop(_guard);
        self.user_by_name(u.name)
            .await?
            .ok_or_else(|| StoreError::Corrupt {
                what: "user".into(),
                detail: "not found after insert".into(),
            })
    }

    pub async fn user_by_name(&self, name: &str) -> Result<Option<UserRow>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE u.name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("reading a user"))?
        .map(|r| UserRow::from_row(&r))
        .transpose()
    }

    pub async fn users(&self) -> Result<Vec<UserRow>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u ORDER BY u.name"
        ))
        .fetch_all(&self.pool)
        .await
        .map_err(q("listing users"))?;
        rows.iter().map(UserRow::from_row).collect()
    }

    /// Disables a user and ends their sessions and tokens; `false` if no such user.
    pub async fn disable_user(&self, name: &str) -> Result<bool, StoreError> {
        let what = "disabling a user";
        let mut tx = self.begin().await?;
        let n = sqlx::query("UPDATE users SET disabled = 1 WHERE name = $1")
            .bind(name)
            .execute(&mut *tx.tx)
            .await
            .map_err(q(what))?
            .rows_affected();
        for table in [
            "DELETE FROM sessions WHERE user_id IN (SELECT id FROM users WHERE name = $1)",
            "DELETE FROM api_tokens WHERE user_id IN (SELECT id FROM users WHERE name = $1)",
        ] {
            sqlx::query(table)
                .bind(name)
                .execute(&mut *tx.tx)
                .await
                .map_err(q(what))?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    /// Records a new API token's hash for a user.
    pub async fn insert_token(
        &self,
        user_id: i64,
        token_hash: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query("INSERT INTO api_tokens (token_hash, user_id, created_at) VALUES ($1, $2, $3)")
            .bind(token_hash)
            .bind(user_id)
            .bind(at)
            .execute(&self.pool)
            .await
            .map_err(|e| constraint_error(e, "storing an API token"))?;
        Ok(())
    }

    /// The user an API token (by its hash) belongs to.
    pub async fn user_by_token(&self, token_hash: &str) -> Result<Option<UserRow>, StoreError> {
        sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("checking an API token"))?
        .map(|r| UserRow::from_row(&r))
        .transpose()
    }

    pub async fn insert_session(
        &self,
        id_hash: &str,
        user_id: i64,
        csrf_token: &str,
        at: &str,
    ) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query(
            "INSERT INTO sessions (id_hash, user_id, csrf_token, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $4)",
        )
        .bind(id_hash)
        .bind(user_id)
        .bind(csrf_token)
        .bind(at)
        .execute(&self.pool)
        .await
        .map_err(|e| constraint_error(e, "starting a session"))?;
        Ok(())
    }

    /// A session (by its id's hash) with its user.
    pub async fn session(&self, id_hash: &str) -> Result<Option<SessionRow>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT s.csrf_token, s.created_at AS s_created_at, s.last_seen_at, ",
            user_columns!(),
            " FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id_hash = $1"
        ))
        .bind(id_hash)
        .fetch_optional(&self.pool)
        .await
        .map_err(q("reading a session"))?;
        row.map(|r| {
            Ok(SessionRow {
                csrf_token: get(&r, "csrf_token")?,
                created_at: get(&r, "s_created_at")?,
                last_seen_at: get(&r, "last_seen_at")?,
                user: UserRow::from_row(&r)?,
            })
        })
        .transpose()
    }

    /// Marks a session as used now (for the idle timeout).
    pub async fn touch_session(&self, id_hash: &str, at: &str) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query("UPDATE sessions SET last_seen_at = $2 WHERE id_hash = $1")
            .bind(id_hash)
            .bind(at)
            .execute(&self.pool)
            .await
            .map_err(q("updating a session"))?;
        Ok(())
    }

    /// Ends a session server-side.
    pub async fn delete_session(&self, id_hash: &str) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query("DELETE FROM sessions WHERE id_hash = $1")
            .bind(id_hash)
            .execute(&self.pool)
            .await
            .map_err(q("ending a session"))?;
        Ok(())
    }

    /// Records a login attempt of `subject` (a user name from an address)
    /// as a failure before its password is checked, and returns its id
    /// with the times of the subject's earlier failures since `since`.
    /// Counting and recording happen under one lock per subject, so that
    /// of many simultaneous attempts each sees all those before it.
    pub async fn reserve_login_attempt(
        &self,
        subject: &str,
        at: &str,
        since: &str,
    ) -> Result<(i64, Vec<String>), StoreError> {
        let what = "counting failed logins";
        let _guard = self.write_guard().await;
        let mut tx = self.pool.begin().await.map_err(q(what))?;
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
                .bind(subject)
                .execute(&mut *tx)
                .await
                .map_err(q(what))?;
        }
        let rows = sqlx::query(
            "SELECT at FROM login_failures WHERE subject = $1 AND at >= $2 ORDER BY id",
        )
        .bind(subject)
        .bind(since)
        .fetch_all(&mut *tx)
        .await
        .map_err(q(what))?;
        let prior = rows
            .iter()
            .map(|r| get::<String>(r, "at"))
            .collect::<Result<Vec<_>, _>>()?;
        let row =
            sqlx::query("INSERT INTO login_failures (subject, at) VALUES ($1, $2) RETURNING id")
                .bind(subject)
                .bind(at)
                .fetch_one(&mut *tx)
                .await
                .map_err(q("recording a login attempt"))?;
        let id: i64 = get(&row, "id")?;
        tx.commit().await.map_err(q(what))?;
        Ok((id, prior))
    }

    /// Takes back an attempt that was refused before its password was
    /// checked (it is no failure of the person).
    pub async fn forget_login_attempt(&self, id: i64) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query("DELETE FROM login_failures WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(q("taking back a login attempt"))?;
        Ok(())
    }

    /// Forgets a subject's failed logins (after a successful one) and all
    /// failures older than `before`.
    pub async fn clear_login_failures(
        &self,
        subject: &str,
        before: &str,
    ) -> Result<(), StoreError> {
        let _guard = self.write_guard().await;
        sqlx::query("DELETE FROM login_failures WHERE subject = $1 OR at < $2")
            .bind(subject)
            .bind(before)
            .execute(&self.pool)
            .await
            .map_err(q("clearing failed logins"))?;
        Ok(())
    }
}
