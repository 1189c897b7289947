//! Mail body templates (`templates/mail/*.txt`, minijinja).
//!
//! A template file starts with one line `Subject: …`, then a blank line,
//! then the body. The whole file is one minijinja template, so error line
//! numbers are those of the file. Undefined variables are errors.
//!
//! Filter `date_de`: `"2012-03-19"` (or an RFC 3339 timestamp) → `19.03.2012`.
//!
//! Context of the shipped templates (all keys required):
//! - `reminder.txt`: `office`, `case.file_number`, `case.title`,
//!   `deadline.title`, `deadline.end`, `days_left`, `legal_basis`
//! - `escalation.txt`: `office`, `case.file_number`, `case.title`,
//!   `case.responsible`, `deadline.title`, `deadline.end`, `days_overdue`,
//!   `legal_basis`
//! - `letter.txt`: `office`, `case.file_number`, `letter.subject`,
//!   `letter.date`, `attachments` (list of file names)
//! - `circular.txt`: `office`, `member.name`, `circular.number`,
//!   `circular.title`, `circular.date`, `circular.summary`
//! - `barrierefreiheit.txt`: `office`, `report.message`, `report.page`,
//!   `report.contact`, `report.at`

use std::path::Path;

use chrono::{DateTime, NaiveDate};
use minijinja::{Environment, ErrorKind, UndefinedBehavior};

use super::error::MailError;

/// The mail templates, ready to render. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct MailTemplates {
    env: Environment<'static>,
    /// Where the templates came from, for error messages: (name, shown path).
    origins: Vec<(String, String)>,
}

impl MailTemplates {
    /// The templates compiled into the binary (`templates/mail/*.txt`).
    pub fn embedded() -> Self {
        let mut templates = Self::empty();
        let dir = crate::assets::TEMPLATES
            .get_dir("mail")
            .expect("templates/mail is embedded");
        for file in dir.files() {
            let path = file.path();
            if path.extension().is_none_or(|e| e != "txt") {
                continue;
            }
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let source = file
                .contents_utf8()
                .unwrap_or_else(|| panic!("shipped mail template {name} is not UTF-8"));
            let origin = format!("templates/{}", path.display());
            templates
                .add(name, source.to_string(), origin)
                .unwrap_or_else(|e| panic!("shipped mail template is broken: {e}"));
        }
        templates
    }

    /// The embedded templates, with every `*.txt` file of `dir` added or
    /// replacing the embedded one of the same name. Every file is checked
    /// here (syntax, `Subject:` line), so a broken file fails at start-up.
    pub fn from_dir(dir: &Path) -> Result<Self, MailError> {
        let dir_err = |dir: &Path| {
            let dir = dir.to_owned();
            move |source| MailError::TemplateDir { dir, source }
        };
        let mut templates = Self::embedded();
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(dir_err(dir))? {
            let path = entry.map_err(dir_err(dir))?.path();
            if path.extension().is_some_and(|e| e == "txt") && path.is_file() {
                paths.push(path);
            }
        }
        paths.sort();
        for path in paths {
            let source = std::fs::read_to_string(&path).map_err(dir_err(&path))?;
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            templates.add(name, source, path.display().to_string())?;
        }
        Ok(templates)
    }

    /// Renders template `name` (`"reminder"` or `"reminder.txt"`) and
    /// returns (subject, body).
    pub fn render(
        &self,
        name: &str,
        ctx: &serde_json::Value,
    ) -> Result<(String, String), MailError> {
        let name = if name.ends_with(".txt") {
            name.to_owned()
        } else {
            format!("{name}.txt")
        };
        let origin = self.origin(&name);
        let template = self
            .env
            .get_template(&name)
            .map_err(|_| MailError::Template {
                template: origin.clone(),
                line: None,
                detail: format!(
                    "no such template (known: {})",
                    self.origins
                        .iter()
                        .map(|(n, _)| n.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            })?;
        let rendered = template.render(ctx).map_err(|e| self.template_error(&e))?;
        split_subject(&rendered).ok_or_else(|| MailError::Template {
            template: origin,
            line: Some(1),
            detail: "the rendered first line must be `Subject: <text>`, followed by a blank line"
                .into(),
        })
    }

    fn empty() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_keep_trailing_newline(true);
        env.set_trim_blocks(true);
        env.set_lstrip_blocks(true);
        env.set_debug(true);
        env.add_filter("date_de", date_de);
        Self {
            env,
            origins: Vec::new(),
        }
    }

    fn add(&mut self, name: String, source: String, origin: String) -> Result<(), MailError> {
        if !source.starts_with("Subject:") {
            return Err(MailError::Template {
                template: origin,
                line: Some(1),
                detail: "the first line must be `Subject: <text>`, followed by a blank line".into(),
            });
        }
        self.origins.retain(|(n, _)| *n != name);
        self.origins.push((name.clone(), origin));
        self.env
            .add_template_owned(name, source)
            .map_err(|e| self.template_error(&e))
    }

    fn origin(&self, name: &str) -> String {
        self.origins
            .iter()
            .find(|(n, _)| n == name)
            .map_or_else(|| name.to_owned(), |(_, o)| o.clone())
    }

    /// Turns a minijinja error into one naming the file, the line and, for an
    /// undefined variable, the expression that used it.
    fn template_error(&self, e: &minijinja::Error) -> MailError {
        let mut detail = match e.kind() {
            ErrorKind::UndefinedError => "undefined variable".to_owned(),
            kind => kind.to_string(),
        };
        if let (Some(src), Some(range)) = (e.template_source(), e.range())
            && let Some(expr) = src.get(range)
        {
            detail.push_str(&format!(" in `{}`", expr.trim()));
        }
        if let Some(more) = e.detail() {
            detail.push_str(&format!(": {more}"));
        }
        MailError::Template {
            template: e.name().map_or_else(|| "?".to_owned(), |n| self.origin(n)),
            line: e.line(),
            detail,
        }
    }
}

/// `Subject: X\n\nBody` → (X, Body).
fn split_subject(rendered: &str) -> Option<(String, String)> {
    let (first, rest) = rendered.split_once('\n')?;
    let subject = first.strip_prefix("Subject:")?.trim();
    let body = rest
        .strip_prefix("\r\n")
        .or_else(|| rest.strip_prefix('\n'))?;
    if subject.is_empty() {
        return None;
    }
    Some((subject.to_owned(), body.to_owned()))
}

/// Filter `date_de`: ISO date or RFC 3339 timestamp → `TT.MM.JJJJ`.
fn date_de(value: &str) -> Result<String, minijinja::Error> {
    let date = NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .or_else(|| {
            DateTime::parse_from_rfc3339(value)
                .ok()
                .map(|d| d.date_naive())
        })
        .ok_or_else(|| {
            minijinja::Error::new(
                ErrorKind::InvalidOperation,
                format!("date_de expects a date like 2012-03-19, got {value:?}"),
            )
        })?;
    Ok(date.format("%d.%m.%Y").to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_de_formats_iso_dates_and_timestamps() {
        assert_eq!(date_de("2012-03-19").unwrap(), "19.03.2012");
        assert_eq!(date_de("2012-03-19T23:59:59+01:00").unwrap(), "19.03.2012");
        assert!(date_de("19.03.2012").is_err());
    }

    #[test]
    fn subject_and_body_are_split_at_the_first_blank_line() {
        assert_eq!(
            split_subject("Subject: Frist\n\nText\n\nmehr\n"),
            Some(("Frist".into(), "Text\n\nmehr\n".into()))
        );
        assert_eq!(split_subject("Subject: Frist\nText"), None);
        assert_eq!(split_subject("Betreff: Frist\n\nText"), None);
    }
}
