//! Validated values shared by the workflow definitions, cases, the store and
//! the mail outbox: parsed once where they enter, typed from there on.
//!
//! They live here, below both `workflow` and `case`, so that neither imports
//! the other for a value type.

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};

/// An e-mail address that failed the check in [`EmailAddress::parse`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("„{0}“ ist keine E-Mail-Adresse (erwartet: name@domain.example)")]
pub struct InvalidEmail(pub String);

/// An email address, checked once when it enters the system and kept typed
/// through storage (it is stored inside the case's parties as a string and
/// parsed again on the way out, so a stored value is always a valid one).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(s: &str) -> Result<EmailAddress, InvalidEmail> {
        let s = s.trim();
        let valid = match s.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !domain.contains('@')
                    && !s.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
            }
            None => false,
        };
        if valid {
            Ok(EmailAddress(s.to_string()))
        } else {
            Err(InvalidEmail(s.to_string()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = InvalidEmail;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        EmailAddress::parse(&s)
    }
}

impl From<EmailAddress> for String {
    fn from(e: EmailAddress) -> String {
        e.0
    }
}

impl utoipa::PartialSchema for EmailAddress {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
                utoipa::openapi::KnownFormat::Email,
            )))
            .into()
    }
}
impl utoipa::ToSchema for EmailAddress {}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A correspondent of a case: who letters and mails go to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PartyRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailAddress>,
    /// Postal address lines below the name, for the letter's address field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub address: Vec<String>,
}

/// A party given on the command line or in a request that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidParty {
    #[error("party `{input}`: {reason}")]
    Malformed { input: String, reason: String },
    #[error("a party needs a name")]
    NoName,
    #[error(transparent)]
    Email(#[from] InvalidEmail),
}

impl std::str::FromStr for PartyRef {
    type Err = InvalidParty;

    /// Accepts JSON (`{"name": ..., "email": ..., "address": [...]}`) or
    /// `Name <email>` or a bare name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.starts_with('{') {
            return serde_json::from_str(s).map_err(|e| InvalidParty::Malformed {
                input: s.to_string(),
                reason: e.to_string(),
            });
        }
        if let Some((name, rest)) = s.split_once('<') {
            let email = rest
                .strip_suffix('>')
                .ok_or_else(|| InvalidParty::Malformed {
                    input: s.to_string(),
                    reason: "write `Name <email@example.org>`".into(),
                })?;
            return Ok(PartyRef {
                name: name.trim().to_string(),
                email: Some(EmailAddress::parse(email)?),
                address: Vec::new(),
            });
        }
        if s.is_empty() {
            return Err(InvalidParty::NoName);
        }
        Ok(PartyRef {
            name: s.to_string(),
            email: None,
            address: Vec::new(),
        })
    }
}

/// A name-like value: a newtype over `String` that reads as a `&str`, so that
/// a file number cannot be passed where a state name is expected, while
/// printing, comparing and borrowing stay as easy as with a string.
macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(s: impl Into<String>) -> Self {
                Self(s.into())
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }
        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }
        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_string())
            }
        }
        impl From<&String> for $name {
            fn from(s: &String) -> Self {
                Self(s.clone())
            }
        }
        impl From<$name> for String {
            fn from(n: $name) -> String {
                n.0
            }
        }
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }
        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.0
            }
        }
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                <String as utoipa::PartialSchema>::schema()
            }
        }
        impl utoipa::ToSchema for $name {}
    };
}

name_type!(
    /// A case's Aktenzeichen, e.g. `KI-2012-0001`: unique, never reused.
    FileNumber
);
name_type!(
    /// The name of a workflow state, e.g. `in_pruefung`.
    StateName
);
name_type!(
    /// The name of a workflow transition, e.g. `bewilligung_vorschlagen`.
    TransitionName
);

/// A case's database id: internal, never shown to a person (they see the
/// [`FileNumber`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CaseId(pub i64);

impl fmt::Display for CaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A status string read from the database that no enum variant matches.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} status `{value}`")]
pub struct UnknownStatus {
    pub what: &'static str,
    pub value: String,
}

/// A string-backed status enum: stored as its lower-case name.
macro_rules! status_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }
        impl $name {
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }
        impl std::str::FromStr for $name {
            type Err = UnknownStatus;
            fn from_str(s: &str) -> Result<Self, UnknownStatus> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(UnknownStatus { what: $what, value: s.to_string() }),
                }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }
    };
}

status_enum!(
    /// Where a deadline stands.
    DeadlineStatus, "deadline" {
        /// Running.
        Open => "open",
        /// The party did what was asked in time.
        Met => "met",
        /// Replaced by a new deadline of the same name.
        Superseded => "superseded",
        /// An obligation ran out unmet (escalated).
        Expired => "expired",
        /// A period ran out (e.g. the Klagefrist: the notice is final).
        Elapsed => "elapsed",
        /// Lifted: it no longer applies (e.g. a transition that is not made).
        Cancelled => "cancelled",
    }
);

status_enum!(
    /// Where a mail in the outbox stands.
    MailStatus, "mail" {
        /// Waiting for its next attempt.
        Pending => "pending",
        /// Claimed by a courier under a lease.
        Sending => "sending",
        /// Accepted by the mail server.
        Sent => "sent",
        /// Given up: permanent error or out of attempts.
        Failed => "failed",
    }
);

status_enum!(
    /// What happened to one reminder step for one recipient.
    ReminderStatus, "reminder" {
        /// Its mail was queued.
        Sent => "sent",
        /// A later step was due at the same time; recorded without a mail.
        PassedOver => "passed_over",
    }
);

/// A file attached to a mail: the bytes are the stored document with this hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttachmentRef {
    pub filename: String,
    pub content_type: String,
    pub sha256: String,
}

impl AttachmentRef {
    /// A stored PDF under a file name the recipient sees.
    pub fn pdf(filename: impl Into<String>, sha256: impl Into<String>) -> AttachmentRef {
        AttachmentRef {
            filename: filename.into(),
            content_type: "application/pdf".into(),
            sha256: sha256.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_email_address_needs_a_local_part_and_a_dotted_domain() {
        assert!(EmailAddress::parse("poststelle@kreis-unna.de").is_ok());
        for bad in [
            "", "a", "@x.de", "a@b", "a@.de", "a@de.", "a b@x.de", "<a@x.de>",
        ] {
            assert!(EmailAddress::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn statuses_round_trip_through_their_stored_names() {
        for s in ["open", "met", "superseded", "expired", "elapsed"] {
            assert_eq!(s.parse::<DeadlineStatus>().unwrap().as_str(), s);
        }
        for s in ["pending", "sending", "sent", "failed"] {
            assert_eq!(s.parse::<MailStatus>().unwrap().as_str(), s);
        }
        assert!("lost".parse::<MailStatus>().is_err());
    }

    #[test]
    fn names_compare_with_strings() {
        let n = FileNumber::from("KI-2012-0001");
        assert_eq!(n, "KI-2012-0001");
        assert_eq!(&*n, "KI-2012-0001");
        assert_eq!(serde_json::to_string(&n).unwrap(), "\"KI-2012-0001\"");
    }
}

/// The roles amtspost itself knows, beside those a workflow declares;
/// stored as their names (`admin`, `lead`, …) like any role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BuiltinRole {
    /// Manages users and sees everything.
    Admin,
    /// A municipality's staff, bound to one party.
    Municipality,
    /// An office lead: reassigns cases and records absences for others.
    Lead,
    /// amtspost itself (deadline expiry, retrieval); no person holds it.
    System,
}

impl BuiltinRole {
    pub const ALL: [BuiltinRole; 4] = [
        BuiltinRole::Admin,
        BuiltinRole::Municipality,
        BuiltinRole::Lead,
        BuiltinRole::System,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            BuiltinRole::Admin => "admin",
            BuiltinRole::Municipality => "municipality",
            BuiltinRole::Lead => "lead",
            BuiltinRole::System => "system",
        }
    }

    /// The built-in role a role name stands for, if any.
    pub fn of(name: &str) -> Option<BuiltinRole> {
        BuiltinRole::ALL.into_iter().find(|r| r.as_str() == name)
    }
}
