//! Who is acting: users, their roles, passwords, API tokens and login
//! sessions, so that the engine can trust the actor of every event instead
//! of a `--role` the caller declares.
//!
//! Roles are the roles the workflows declare plus [`ADMIN`] and
//! [`MUNICIPALITY`]. A municipality user is bound to one party and acts, on
//! that party's cases only, in the roles the workflow gives that party.
//!
//! Passwords are hashed with Argon2id (the `argon2` crate's defaults, the
//! OWASP recommendation); hashing runs off the async executor. Tokens and
//! session ids are 256-bit random values that the database holds only as
//! SHA-256 hashes. Failed logins are counted per user name and client
//! address together, in the database, so several server instances share
//! the limit.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::config::WebConfig;
use crate::domain::BuiltinRole;
use crate::store::{NewUser, Store, StoreError, SubstitutionRow, UserRow};

/// The role that manages users and sees everything.
pub const ADMIN: &str = BuiltinRole::Admin.as_str();
/// The role of a municipality's staff, bound to one party.
pub const MUNICIPALITY: &str = BuiltinRole::Municipality.as_str();
/// An office lead: reassigns cases and records absences for others.
pub const LEAD: &str = BuiltinRole::Lead.as_str();

/// Why an identity operation failed.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    /// A role that no workflow declares.
    #[error("unknown role `{role}`; known roles: {known}")]
    UnknownRole { role: String, known: String },
    /// `--role municipality` without `--party`, or a party for another role.
    #[error("{0}")]
    Party(String),
    /// No user of that name.
    #[error("no user named `{0}`")]
    NoSuchUser(String),
    /// The name is taken.
    #[error("a user named `{0}` already exists")]
    Exists(String),
    /// Wrong user name or password (deliberately not saying which).
    #[error("Benutzername oder Passwort ist falsch.")]
    BadCredentials,
    /// Too many failed logins: try again after this many seconds.
    #[error(
        "Zu viele fehlgeschlagene Anmeldeversuche. Bitte in {retry_after} Sekunden erneut versuchen."
    )]
    RateLimited { retry_after: i64 },
    /// An absence that cannot be recorded (German, shown at the field).
    #[error("{message}")]
    Absence {
        field: &'static str,
        message: String,
    },
    /// The password is unusable (empty, or too short).
    #[error("the password must have at least 8 characters")]
    WeakPassword,
    /// Hashing failed (should not happen).
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A user as the rest of the application sees them (no secrets).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    pub id: i64,
    pub name: String,
    pub display_name: String,
    pub roles: Vec<String>,
    /// For municipality users: the party they act for.
    pub party: Option<String>,
    pub disabled: bool,
}

impl User {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    pub fn is_admin(&self) -> bool {
        self.has_role(ADMIN)
    }

    /// A municipality user sees only cases in which their party is a party.
    pub fn is_municipality(&self) -> bool {
        self.has_role(MUNICIPALITY)
    }
}

impl From<UserRow> for User {
    fn from(r: UserRow) -> User {
        User {
            id: r.id,
            name: r.name,
            display_name: r.display_name,
            roles: r.roles,
            party: r.party,
            disabled: r.disabled,
        }
    }
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct UserSpec {
    pub name: String,
    pub display_name: Option<String>,
    pub roles: Vec<String>,
    pub party: Option<String>,
    pub password: Option<String>,
}

/// A login session just started: the cookie value (shown once) and the
/// token forms must carry.
#[derive(Debug, Clone)]
pub struct NewSession {
    pub id: String,
    pub csrf_token: String,
    pub user: User,
}

/// A live session, as a request finds it.
#[derive(Debug, Clone)]
pub struct Session {
    pub csrf_token: String,
    pub user: User,
}

/// Users, tokens and sessions over the store.
#[derive(Clone)]
pub struct Identity {
    store: Store,
    clock: Arc<dyn Clock>,
    web: WebConfig,
}

impl Identity {
    pub fn new(store: Store, clock: Arc<dyn Clock>, web: WebConfig) -> Identity {
        Identity { store, clock, web }
    }

    /// Creates a user after checking the roles against `known_roles` (the
    /// workflows' roles plus admin and municipality).
    pub async fn add_user(
        &self,
        spec: UserSpec,
        known_roles: &[String],
    ) -> Result<User, IdentityError> {
        for role in &spec.roles {
            if !known_roles.contains(role) {
                return Err(IdentityError::UnknownRole {
                    role: role.clone(),
                    known: known_roles.join(", "),
                });
            }
        }
        let municipality = spec.roles.iter().any(|r| r == MUNICIPALITY);
        match (&spec.party, municipality) {
            (None, true) => {
                return Err(IdentityError::Party(
                    "a municipality user needs --party (the municipality's name, e.g. \"Kreis Unna\")"
                        .into(),
                ));
            }
            (Some(_), false) => {
                return Err(IdentityError::Party(
                    "--party binds a municipality user; add --role municipality".into(),
                ));
            }
            _ => {}
        }
        let hash = match spec.password {
            Some(p) => Some(hash_password(p).await?),
            None => None,
        };
        let at = self.clock.now().to_rfc3339();
        let display = spec
            .display_name
            .clone()
            .unwrap_or_else(|| spec.name.clone());
        let row = self
            .store
            .insert_user(&NewUser {
                name: &spec.name,
                display_name: &display,
                password_hash: hash.as_deref(),
                roles: &spec.roles,
                party: spec.party.as_deref(),
                created_at: &at,
            })
            .await
            .map_err(|e| match e {
                StoreError::Duplicate { .. } => IdentityError::Exists(spec.name.clone()),
                e => e.into(),
            })?;
        Ok(row.into())
    }

    pub async fn users(&self) -> Result<Vec<User>, IdentityError> {
        Ok(self
            .store
            .users()
            .await?
            .into_iter()
            .map(User::from)
            .collect())
    }

    pub async fn user(&self, name: &str) -> Result<User, IdentityError> {
        self.store
            .user_by_name(name)
            .await?
            .map(User::from)
            .ok_or_else(|| IdentityError::NoSuchUser(name.into()))
    }

    /// Disables a user and ends their sessions and tokens.
    pub async fn disable(&self, name: &str) -> Result<(), IdentityError> {
        if self.store.disable_user(name).await? {
            Ok(())
        } else {
            Err(IdentityError::NoSuchUser(name.into()))
        }
    }

    /// A new API token for a user: returned once, stored only as its hash.
    pub async fn new_token(&self, name: &str) -> Result<String, IdentityError> {
        let user = self.user(name).await?;
        let token = format!("amtspost_{}", random_hex());
        self.store
            .insert_token(user.id, &sha256_hex(&token), &self.clock.now().to_rfc3339())
            .await?;
        Ok(token)
    }

    /// The enabled user a bearer token belongs to.
    pub async fn by_token(&self, token: &str) -> Result<Option<User>, IdentityError> {
        Ok(self
            .store
            .user_by_token(&sha256_hex(token))
            .await?
            .filter(|u| !u.disabled)
            .map(User::from))
    }

    /// Checks a password and starts a session. `address` is the client's
    /// address (see `http::auth::client_ip`): failures are counted per user
    /// name *and* address, so nobody's failures hold back the same person
    /// elsewhere or another person at the same address. Past the limit each
    /// attempt waits longer (see [`login_wait`]) rather than being locked
    /// out. The attempt is recorded before the password is checked, so
    /// that of many simultaneous attempts at most the limit reach the check.
    pub async fn login(
        &self,
        name: &str,
        password: &str,
        address: &str,
    ) -> Result<NewSession, IdentityError> {
        let now = self.clock.now();
        let window = Duration::minutes(self.web.login_window_minutes.max(1));
        let since = (now - window).to_rfc3339();
        let subject = format!("login:{address} {name}");
        let (attempt, prior) = self
            .store
            .reserve_login_attempt(&subject, &now.to_rfc3339(), &since)
            .await?;
        let prior: Vec<DateTime<Utc>> = prior
            .iter()
            .filter_map(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc))
            .collect();
        if let Some(wait) = login_wait(&prior, now, self.web.login_max_failures.max(1), window) {
            self.store.forget_login_attempt(attempt).await?;
            return Err(IdentityError::RateLimited {
                retry_after: wait.num_seconds().max(1),
            });
        }
        let row = self.store.user_by_name(name).await?;
        // Every attempt costs one Argon2 verification, whatever the name
        // and the password's length: an unknown, disabled or token-only
        // user is checked against a fixed dummy hash, so that timing does
        // not tell which user names exist.
        let ok = match row
            .as_ref()
            .filter(|u| !u.disabled)
            .and_then(|u| u.password_hash.clone())
        {
            Some(hash) => verify_password(password.to_string(), hash).await,
            None => {
                let _ = verify_password(password.to_string(), dummy_hash().await).await;
                false
            }
        };
        if !ok {
            // The reserved attempt stays as the failure.
            return Err(IdentityError::BadCredentials);
        }
        let user: User = row.expect("checked above").into();
        self.store.clear_login_failures(&subject, &since).await?;
        let id = random_hex();
        let csrf_token = random_hex();
        self.store
            .insert_session(&sha256_hex(&id), user.id, &csrf_token, &now.to_rfc3339())
            .await?;
        Ok(NewSession {
            id,
            csrf_token,
            user,
        })
    }

    /// The session behind a cookie value, if it is live: not ended, not idle
    /// longer than the idle timeout, not older than the absolute timeout,
    /// and its user not disabled. A live session is marked as used.
    pub async fn session(&self, id: &str) -> Result<Option<Session>, IdentityError> {
        let hash = sha256_hex(id);
        let Some(row) = self.store.session(&hash).await? else {
            return Ok(None);
        };
        let now = self.clock.now();
        let parse = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .unwrap_or(DateTime::<Utc>::MIN_UTC)
        };
        let idle =
            now - parse(&row.last_seen_at) > Duration::minutes(self.web.session_idle_minutes);
        let old = now - parse(&row.created_at) > Duration::hours(self.web.session_absolute_hours);
        if idle || old || row.user.disabled {
            self.store.delete_session(&hash).await?;
            return Ok(None);
        }
        // Touch at most once a minute: reads stay reads under load.
        if now - parse(&row.last_seen_at) > touch_interval(&self.web) {
            self.store.touch_session(&hash, &now.to_rfc3339()).await?;
        }
        Ok(Some(Session {
            csrf_token: row.csrf_token,
            user: row.user.into(),
        }))
    }

    /// Records that `absent` is away from `from` to `until` (inclusive)
    /// and `substitute` works their Arbeitskorb meanwhile.
    pub async fn add_absence(
        &self,
        absent: &str,
        substitute: &str,
        from: chrono::NaiveDate,
        until: chrono::NaiveDate,
    ) -> Result<(), IdentityError> {
        let refuse = |field, message: &str| {
            Err(IdentityError::Absence {
                field,
                message: message.to_string(),
            })
        };
        if until < from {
            return refuse("until", "Das Ende der Abwesenheit liegt vor ihrem Beginn.");
        }
        if absent == substitute {
            return refuse("substitute", "Niemand kann sich selbst vertreten.");
        }
        match self.store.user_by_name(substitute).await? {
            Some(u) if !u.disabled && !u.roles.iter().any(|r| r == MUNICIPALITY) => {}
            _ => {
                return refuse(
                    "substitute",
                    "Die Vertretung muss eine aktive Person der Behörde sein.",
                );
            }
        }
        self.store
            .add_substitution(
                absent,
                substitute,
                &from.to_string(),
                &until.to_string(),
                &self.clock.now().to_rfc3339(),
            )
            .await?;
        Ok(())
    }

    /// Absences a user is part of, current or future.
    pub async fn absences(&self, user: &str) -> Result<Vec<SubstitutionRow>, IdentityError> {
        let today = self.clock.today().to_string();
        Ok(self.store.substitutions_of(user, &today).await?)
    }

    /// The people `user` stands in for today.
    pub async fn stands_in_for(&self, user: &str) -> Result<Vec<String>, IdentityError> {
        let today = self.clock.today().to_string();
        Ok(self
            .store
            .substitutions_of(user, &today)
            .await?
            .into_iter()
            .filter(|s| s.substitute == user && s.from_date <= today)
            .map(|s| s.absent)
            .collect())
    }

    /// A person's saved setting, e.g. their Arbeitskorb filter (JSON).
    pub async fn preference(
        &self,
        user: &str,
        name: &str,
    ) -> Result<Option<String>, IdentityError> {
        Ok(self.store.preference(user, name).await?)
    }

    pub async fn set_preference(
        &self,
        user: &str,
        name: &str,
        value: &str,
    ) -> Result<(), IdentityError> {
        Ok(self.store.set_preference(user, name, value).await?)
    }

    /// Ends a session server-side.
    pub async fn logout(&self, id: &str) -> Result<(), IdentityError> {
        Ok(self.store.delete_session(&sha256_hex(id)).await?)
    }
}

/// How often a session's last use is written: once a minute, or a tenth
/// of the idle timeout if that is shorter. A session may thus end this
/// much earlier than its last request plus the idle timeout, which the
/// pages' timeout warning takes into account.
pub fn touch_interval(web: &WebConfig) -> Duration {
    Duration::seconds(60).min(Duration::minutes(web.session_idle_minutes.max(1)) / 10)
}

/// How long an attempt must still wait, given the times of the earlier
/// failures of the same user name from the same address within the window:
/// nothing below `max`; from then on 30 s after the last failure, doubling
/// with each further failure, at most the window. A growing delay instead
/// of a lock: the person can always try again, a guesser gets a handful of
/// tries an hour.
pub fn login_wait(
    prior: &[DateTime<Utc>],
    now: DateTime<Utc>,
    max: i64,
    window: Duration,
) -> Option<Duration> {
    let n = prior.len() as i64;
    if n < max {
        return None;
    }
    let doublings = (n - max).min(16) as u32;
    let delay = (Duration::seconds(30) * 2i32.pow(doublings)).min(window);
    let last = *prior.iter().max()?;
    let until = last + delay;
    (now < until).then(|| until - now)
}

/// Argon2id with the crate's default parameters, on a blocking thread.
pub async fn hash_password(password: String) -> Result<String, IdentityError> {
    if password.chars().count() < 8 {
        return Err(IdentityError::WeakPassword);
    }
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHasher, SaltString};
        let mut bytes = [0u8; 16];
        getrandom::getrandom(&mut bytes).map_err(|e| IdentityError::Hash(e.to_string()))?;
        let salt =
            SaltString::encode_b64(&bytes).map_err(|e| IdentityError::Hash(e.to_string()))?;
        argon2::Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| IdentityError::Hash(e.to_string()))
    })
    .await
    .map_err(|e| IdentityError::Hash(e.to_string()))?
}

/// A hash no password matches in practice, made once with the same
/// parameters as every real one, for the dummy verification of a login
/// attempt on a user that cannot log in by password.
async fn dummy_hash() -> String {
    static DUMMY: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();
    DUMMY
        .get_or_init(|| async {
            let mut bytes = [0u8; 32];
            getrandom::getrandom(&mut bytes).expect("the operating system provides random numbers");
            hash_password(hex::encode(bytes))
                .await
                .expect("a random password of 64 characters hashes")
        })
        .await
        .clone()
}

/// Checks a password against an Argon2 PHC string, on a blocking thread.
async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        PasswordHash::new(&hash)
            .map(|h| {
                argon2::Argon2::default()
                    .verify_password(password.as_bytes(), &h)
                    .is_ok()
            })
            .unwrap_or(false)
    })
    .await
    .unwrap_or(false)
}

/// 256 random bits from the operating system, hex-encoded.
fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).expect("the operating system provides random numbers");
    hex::encode(bytes)
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn below_the_limit_nobody_waits() {
        let now = t("2013-01-01T10:00:00Z");
        let window = Duration::minutes(15);
        assert_eq!(login_wait(&[], now, 5, window), None);
        let four = vec![now; 4];
        assert_eq!(login_wait(&four, now, 5, window), None);
    }

    #[test]
    fn past_the_limit_the_wait_doubles_from_the_last_failure_up_to_the_window() {
        let last = t("2013-01-01T10:00:00Z");
        let window = Duration::minutes(15);
        for (failures, seconds) in [
            (5, 30),
            (6, 60),
            (7, 120),
            (8, 240),
            (9, 480),
            (10, 900),
            (40, 900),
        ] {
            let prior = vec![last; failures];
            assert_eq!(
                login_wait(&prior, last, 5, window),
                Some(Duration::seconds(seconds)),
                "{failures} failures"
            );
            // Once the wait has passed, one more attempt may go through.
            assert_eq!(
                login_wait(&prior, last + Duration::seconds(seconds), 5, window),
                None
            );
        }
        // The wait counts from the latest failure, not the first.
        let prior = [
            t("2013-01-01T09:50:00Z"),
            t("2013-01-01T09:51:00Z"),
            t("2013-01-01T09:52:00Z"),
            t("2013-01-01T09:53:00Z"),
            last,
        ];
        assert_eq!(
            login_wait(&prior, last + Duration::seconds(10), 5, window),
            Some(Duration::seconds(20))
        );
    }

    #[tokio::test]
    async fn a_password_verifies_against_its_own_hash_only() {
        let h = hash_password("geheim-123".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("geheim-123".into(), h.clone()).await);
        assert!(!verify_password("geheim-124".into(), h).await);
    }

    #[tokio::test]
    async fn short_passwords_are_refused() {
        assert!(matches!(
            hash_password("kurz".into()).await,
            Err(IdentityError::WeakPassword)
        ));
    }

    #[test]
    fn random_tokens_differ_and_have_256_bits() {
        let (a, b) = (random_hex(), random_hex());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
    }
}
