//! What a refusal shows a person in the web UI and the API. The messages
//! are German where the error is made (workflow, case, money); this module
//! only keeps internals away from users: a server fault or a broken
//! workflow definition reads as a plain German sentence, the details go to
//! the log.

use crate::case::CaseError;
use crate::workflow::WorkflowError;

/// The message of a case error for a person.
pub fn case_error(e: &CaseError) -> String {
    match e {
        CaseError::Internal(crate::case::Fault::Store(
            s @ (crate::store::StoreError::Busy { .. } | crate::store::StoreError::DiskFull { .. }),
        )) => s.to_string(),
        CaseError::Internal(_) => "Interner Fehler; es wurde nichts geändert.".into(),
        CaseError::Refused(WorkflowError::Invalid(_)) => {
            "Die Verfahrensdefinition ist fehlerhaft; bitte wenden Sie sich an die Administration."
                .into()
        }
        e => e.to_string(),
    }
}

/// What the person can do about it.
pub fn case_hint(e: &CaseError) -> Option<String> {
    match e {
        CaseError::Refused(
            w @ (WorkflowError::WrongRole { .. }
            | WorkflowError::FourEyes { .. }
            | WorkflowError::MissingField { .. }),
        ) => w.hint(),
        CaseError::Conflict { .. } => Some("Vorgang neu laden und erneut versuchen.".into()),
        _ => None,
    }
}

/// A German sentence for axum's own refusal of a request (a body, query
/// or path it could not read), whose text is English: what was wrong, the
/// field it names and the position in the body; never the English text.
pub fn rejection(text: &str) -> String {
    let between = |start: &str| {
        let from = text.find(start)? + start.len();
        let len = text[from..].find('`')?;
        Some(text[from..from + len].to_string())
    };
    let lower = text.to_ascii_lowercase();
    let mut out = if lower.contains("length limit") {
        "Der Inhalt ist zu groß.".to_string()
    } else if lower.starts_with("expected request with `content-type: application/json`") {
        "Erwartet wird ein Inhalt vom Typ application/json.".to_string()
    } else if lower.starts_with("form requests must have") {
        "Erwartet wird ein Formular (application/x-www-form-urlencoded).".to_string()
    } else if lower.starts_with("failed to parse the request body as json") {
        "Der Inhalt ist kein gültiges JSON.".to_string()
    } else if lower.contains("json") {
        "Der JSON-Inhalt passt nicht zur Anfrage.".to_string()
    } else if lower.contains("query string") {
        "Die Parameter der Adresse sind ungültig.".to_string()
    } else if lower.contains("form") && !lower.contains("multipart") {
        "Das Formular ist unvollständig oder ungültig.".to_string()
    } else if lower.contains("multipart") || lower.contains("boundary") {
        "Das Formular (multipart/form-data) ist nicht lesbar.".to_string()
    } else if lower.contains("url") || lower.contains("path") {
        "Die Adresse ist ungültig.".to_string()
    } else {
        "Die Anfrage ist nicht lesbar.".to_string()
    };
    if let Some(f) = between("missing field `") {
        out.push_str(&format!(" Das Feld „{f}“ fehlt."));
    } else if let Some(f) = between("unknown field `") {
        out.push_str(&format!(" Das Feld „{f}“ ist unbekannt."));
    } else if let Some(v) = between("unknown variant `") {
        out.push_str(&format!(" Der Wert „{v}“ ist nicht erlaubt."));
    } else if let Some(i) = text.find(": invalid ") {
        // serde_path_to_error puts the field's path before the message.
        let path = text[..i].rsplit(": ").next().unwrap_or_default();
        if !path.is_empty() && !path.contains(' ') {
            out.push_str(&format!(" Das Feld „{path}“ hat einen ungültigen Wert."));
        } else {
            out.push_str(" Ein Wert hat den falschen Typ.");
        }
    } else if let Some(v) = between("Cannot parse `") {
        out.push_str(&format!(" „{v}“ ist an dieser Stelle nicht möglich."));
    }
    if let Some(i) = text.rfind(" at line ") {
        let mut nums = text[i + 9..]
            .split(|c: char| !c.is_ascii_digit())
            .filter(|s| !s.is_empty());
        if let (Some(line), Some(col)) = (nums.next(), nums.next()) {
            out.push_str(&format!(" (Zeile {line}, Spalte {col})"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axums_refusals_read_in_german_with_the_field_and_the_position() {
        for (english, german) in [
            (
                "Failed to deserialize the JSON body into the target type: missing field `password` at line 1 column 16",
                "Der JSON-Inhalt passt nicht zur Anfrage. Das Feld „password“ fehlt. (Zeile 1, Spalte 16)",
            ),
            (
                "Failed to deserialize the JSON body into the target type: user: invalid type: integer `5`, expected a string at line 1 column 9",
                "Der JSON-Inhalt passt nicht zur Anfrage. Das Feld „user“ hat einen ungültigen Wert. (Zeile 1, Spalte 9)",
            ),
            (
                "Failed to deserialize the JSON body into the target type: unknown field `passwort`, expected `user` or `password` at line 1 column 11",
                "Der JSON-Inhalt passt nicht zur Anfrage. Das Feld „passwort“ ist unbekannt. (Zeile 1, Spalte 11)",
            ),
            (
                "Failed to parse the request body as JSON: expected value at line 1 column 1",
                "Der Inhalt ist kein gültiges JSON. (Zeile 1, Spalte 1)",
            ),
            (
                "Expected request with `Content-Type: application/json`",
                "Erwartet wird ein Inhalt vom Typ application/json.",
            ),
            (
                "Failed to deserialize form body: missing field `user`",
                "Das Formular ist unvollständig oder ungültig. Das Feld „user“ fehlt.",
            ),
            (
                "Form requests must have `Content-Type: application/x-www-form-urlencoded`",
                "Erwartet wird ein Formular (application/x-www-form-urlencoded).",
            ),
            (
                "Failed to deserialize query string: unknown variant `bald`, expected one of `heute`, `woche`",
                "Die Parameter der Adresse sind ungültig. Der Wert „bald“ ist nicht erlaubt.",
            ),
            (
                "Invalid URL: Cannot parse `abc` to a `i64`",
                "Die Adresse ist ungültig. „abc“ ist an dieser Stelle nicht möglich.",
            ),
            (
                "Failed to buffer the request body: length limit exceeded",
                "Der Inhalt ist zu groß.",
            ),
            (
                "Invalid `boundary` for `multipart/form-data` request",
                "Das Formular (multipart/form-data) ist nicht lesbar.",
            ),
            ("something else entirely", "Die Anfrage ist nicht lesbar."),
        ] {
            assert_eq!(rejection(english), german, "{english}");
        }
    }

    #[test]
    fn refusals_read_as_the_engine_words_them_and_internals_stay_hidden() {
        let e = CaseError::Refused(WorkflowError::FourEyes {
            transition: "bewilligen".into(),
            earlier: "bewilligung_vorschlagen".into(),
            actor: "becker".into(),
            title: "Zuwendungsbescheid zeichnen".into(),
            earlier_title: "Bewilligung vorschlagen".into(),
        });
        let m = case_error(&e);
        assert!(
            m.starts_with("Vier-Augen-Prinzip") && m.contains("„Bewilligung vorschlagen“"),
            "{m}"
        );
        assert!(case_hint(&e).unwrap().contains("andere Person"));
        let e = CaseError::Refused(WorkflowError::InvalidField {
            field: "antrag_datum".into(),
            reason: crate::workflow::FieldKind::Date
                .check(&serde_json::json!("31.02."))
                .unwrap_err(),
        });
        assert_eq!(
            case_error(&e),
            "Die Angabe „antrag_datum“ ist ungültig: „31.02.“ ist kein Datum; bitte JJJJ-MM-TT (im Formular TT.MM.JJJJ) angeben."
        );
    }
}
