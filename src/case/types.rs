//! Validated values at the edge of the case module.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::CaseError;

/// An email address, checked once when it enters the system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

impl EmailAddress {
    pub fn parse(s: &str) -> Result<EmailAddress, CaseError> {
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
            Err(CaseError::Input(format!(
                "`{s}` is not an email address (expected name@domain.example)"
            )))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        EmailAddress::parse(&s).map_err(|e| e.to_string())
    }
}

impl From<EmailAddress> for String {
    fn from(e: EmailAddress) -> String {
        e.0
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A correspondent of a case: who letters and mails go to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartyRef {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailAddress>,
    /// Postal address lines below the name, for the letter's address field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub address: Vec<String>,
}

impl FromStr for PartyRef {
    type Err = CaseError;

    /// Accepts JSON (`{"name": ..., "email": ..., "address": [...]}`) or
    /// `Name <email>` or a bare name.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.starts_with('{') {
            return serde_json::from_str(s)
                .map_err(|e| CaseError::Input(format!("party `{s}`: {e}")));
        }
        if let Some((name, rest)) = s.split_once('<') {
            let email = rest.strip_suffix('>').ok_or_else(|| {
                CaseError::Input(format!("party `{s}`: write `Name <email@example.org>`"))
            })?;
            return Ok(PartyRef {
                name: name.trim().to_string(),
                email: Some(EmailAddress::parse(email)?),
                address: Vec::new(),
            });
        }
        if s.is_empty() {
            return Err(CaseError::Input("a party needs a name".into()));
        }
        Ok(PartyRef {
            name: s.to_string(),
            email: None,
            address: Vec::new(),
        })
    }
}

/// Who acts: a person and the role they act in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Actor {
    pub name: String,
    pub role: String,
}

impl Actor {
    pub fn new(name: impl Into<String>, role: impl Into<String>) -> Actor {
        Actor {
            name: name.into(),
            role: role.into(),
        }
    }
}

/// A case as shown to a clerk.
#[derive(Debug, Clone, Serialize)]
pub struct CaseView {
    pub file_number: String,
    pub workflow: String,
    pub workflow_version: i64,
    pub workflow_title: String,
    pub state: String,
    pub state_title: Option<String>,
    pub closed: bool,
    pub version: i64,
    pub data: Map<String, Value>,
    pub parties: Value,
    pub opened_at: String,
    pub updated_at: String,
    /// Transitions that leave the current state.
    pub available: Vec<String>,
}
