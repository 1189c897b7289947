//! Serienbriefe: one letter per row of a JSON Lines or CSV file, rendered on
//! all cores, each PDF as deterministic and archival as any other letter;
//! optionally one combined PDF of all of them for printing.
//!
//! Rows: JSON Lines (one object per line; empty lines skipped) or CSV as
//! German spreadsheets export it (UTF-8 with or without BOM, `;` or `,`
//! found from the header line, `"` quoting). A CSV header `a.b` is the
//! nested key `b` of `a`, `a.0` the first item of the list `a`; CSV values
//! are text, an empty cell is left out. Data common to every letter (the
//! office, the signature) can come from a base object each row goes over.
//! Pure apart from the CPU: reading and writing files is the caller's.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::{Map, Value};

use super::{LetterEngine, RenderRequest, Rendered};

/// Why rows could not be read, or a series not combined.
#[derive(Debug, thiserror::Error)]
pub enum SeriesError {
    /// The rows file as a whole is unusable (e.g. CSV without a header).
    #[error("{file}: {reason}")]
    Rows { file: String, reason: String },
    /// The combined PDF could not be assembled.
    #[error("combining the letters into one PDF: {0}")]
    Combine(String),
}

/// One row's data, with the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub line: usize,
    pub data: Value,
}

/// A row that cannot be a letter: its line and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RowError {
    pub line: usize,
    pub message: String,
}

/// Reads rows; CSV if the file name ends in `.csv`, else JSON Lines. Rows
/// that are not data (bad JSON, a cell too many) are errors of their own
/// line and do not stop the others.
pub fn parse_rows(file: &str, text: &str) -> Result<Vec<Result<Row, RowError>>, SeriesError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if file.to_ascii_lowercase().ends_with(".csv") {
        parse_csv(file, text)
    } else {
        Ok(parse_jsonl(text))
    }
}

fn parse_jsonl(text: &str) -> Vec<Result<Row, RowError>> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let line = i + 1;
            match serde_json::from_str::<Value>(l) {
                Ok(data @ Value::Object(_)) => Ok(Row { line, data }),
                Ok(_) => Err(RowError {
                    line,
                    message: "the line is not a JSON object".into(),
                }),
                Err(e) => Err(RowError {
                    line,
                    message: format!("not JSON: {e}"),
                }),
            }
        })
        .collect()
}

/// The header suffix of a column of German amounts (`grant.amount:betrag`).
pub const AMOUNT_MARK: &str = ":betrag";

fn parse_csv(file: &str, text: &str) -> Result<Vec<Result<Row, RowError>>, SeriesError> {
    let header_line = text.lines().next().unwrap_or_default();
    let delimiter = if header_line.matches(';').count() >= header_line.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| SeriesError::Rows {
            file: file.into(),
            reason: format!("no readable header line: {e}"),
        })?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    if headers.iter().all(String::is_empty) {
        return Err(SeriesError::Rows {
            file: file.into(),
            reason: "the first line must name the columns (e.g. recipient.lines;subject)".into(),
        });
    }
    if let Some(bad) = headers.iter().find(|h| h.split('.').any(str::is_empty)) {
        return Err(SeriesError::Rows {
            file: file.into(),
            reason: format!("column `{bad}` is not a key (write `a` or `a.b`)"),
        });
    }
    // The line a record starts on, from its byte offset (the csv crate's
    // own line count leaves out blank lines).
    let line_at = |byte: u64| {
        let bytes = text.as_bytes();
        let mut at = (byte as usize).min(bytes.len());
        // A record's position may be the blank lines before it.
        while at < bytes.len() && matches!(bytes[at], b'\n' | b'\r') {
            at += 1;
        }
        bytes[..at].iter().filter(|b| **b == b'\n').count() + 1
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| line_at(p.byte()));
                rows.push(Err(RowError {
                    line,
                    message: format!("unreadable CSV: {e}"),
                }));
                continue;
            }
        };
        let line = record.position().map_or(0, |p| line_at(p.byte()));
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        if record.len() != headers.len() {
            rows.push(Err(RowError {
                line,
                message: format!(
                    "{} cells, but the header names {} columns",
                    record.len(),
                    headers.len()
                ),
            }));
            continue;
        }
        let mut data = Map::new();
        let mut bad = None;
        for (key, cell) in headers.iter().zip(record.iter()) {
            if cell.is_empty() {
                continue;
            }
            // `grant.amount:betrag`: a German amount (`118.450,00`), read by
            // the one parser every door uses and passed on exactly.
            let value = match key.strip_suffix(AMOUNT_MARK) {
                Some(path) => match crate::money::Money::parse_german(cell) {
                    Ok(m) => (path, Value::String(m.to_string())),
                    Err(e) => {
                        bad = Some(format!("Spalte `{key}`: {e}"));
                        break;
                    }
                },
                None => (key.as_str(), Value::String(cell.to_string())),
            };
            insert_path(&mut data, value.0, value.1);
        }
        if let Some(message) = bad {
            rows.push(Err(RowError { line, message }));
            continue;
        }
        rows.push(Ok(Row {
            line,
            data: Value::Object(data),
        }));
    }
    Ok(rows)
}

/// Sets `a.b.c` in nested objects; a number as a segment is an index in
/// a list (`subject.0`, `subject.1`). Whatever stands in the way is replaced.
fn insert_path(map: &mut Map<String, Value>, path: &str, value: Value) {
    let (head, rest) = path
        .split_once('.')
        .map_or((path, None), |(h, r)| (h, Some(r)));
    let slot = map.entry(head.to_string()).or_insert(Value::Null);
    set_at(slot, rest, value);
}

fn set_at(slot: &mut Value, path: Option<&str>, value: Value) {
    let Some(path) = path else {
        *slot = value;
        return;
    };
    let (head, rest) = path
        .split_once('.')
        .map_or((path, None), |(h, r)| (h, Some(r)));
    if let Ok(index) = head.parse::<usize>() {
        if !slot.is_array() {
            *slot = Value::Array(Vec::new());
        }
        let list = slot.as_array_mut().expect("just made a list");
        if list.len() <= index {
            list.resize(index + 1, Value::Null);
        }
        set_at(&mut list[index], rest, value);
    } else {
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        let map = slot.as_object_mut().expect("just made an object");
        set_at(
            map.entry(head.to_string()).or_insert(Value::Null),
            rest,
            value,
        );
    }
}

/// `row` over `base`: objects merge key by key, anything else in `row` wins.
pub fn merged(base: &Value, row: &Value) -> Value {
    match (base, row) {
        (Value::Object(b), Value::Object(r)) => {
            let mut out = b.clone();
            for (k, v) in r {
                let m = match out.get(k) {
                    Some(old) => merged(old, v),
                    None => v.clone(),
                };
                out.insert(k.clone(), m);
            }
            Value::Object(out)
        }
        (_, r) => r.clone(),
    }
}

/// The value at `a.b` as a file name part, if it is text or a number.
pub fn field_text(data: &Value, path: &str) -> Option<String> {
    let v = path.split('.').try_fold(data, |v, k| v.get(k))?;
    match v {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A file name from a field's value: letters, digits, `-`, `_` and `.`
/// kept, everything else (slashes, spaces) as `_`.
pub fn file_stem(value: &str) -> String {
    let stem: String = value
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    stem.trim_matches('.').to_string()
}

/// What rendering a series needs besides the rows.
pub struct Series<'a> {
    pub template: &'a str,
    pub date: chrono::NaiveDate,
    pub author: &'a str,
    /// Stop taking new rows after the first failure.
    pub fail_fast: bool,
    /// Called after each row (for a progress bar).
    pub progress: &'a (dyn Fn() + Sync),
}

/// Renders every row on `workers` threads; results come back in row order.
/// A failed row is its line's error and does not stop the others unless
/// `fail_fast`; rows not started after a failure are `None` then.
pub fn render_all(
    engine: &LetterEngine,
    series: &Series<'_>,
    rows: &[Row],
    workers: usize,
) -> Vec<Option<Result<Rendered, RowError>>> {
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<BTreeMap<usize, Result<Rendered, RowError>>> = Mutex::new(BTreeMap::new());
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(|| {
                loop {
                    if series.fail_fast && failed.load(Ordering::Relaxed) {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(row) = rows.get(i) else { return };
                    let title = format!("{} {}", series.template, row.line);
                    let result = engine
                        .render(&RenderRequest {
                            template: series.template,
                            data: &row.data,
                            date: series.date,
                            title: &title,
                            author: series.author,
                        })
                        .map_err(|e| RowError {
                            line: row.line,
                            message: e.to_string(),
                        });
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    results.lock().expect("no worker panics").insert(i, result);
                    (series.progress)();
                }
            });
        }
    });
    let mut results = results.into_inner().expect("no worker panics");
    (0..rows.len()).map(|i| results.remove(&i)).collect()
}

/// One PDF of all `pdfs` in order, each starting on a new page (for
/// printing; the single letters are the archival documents, so the
/// combined file drops their per-file structure and metadata).
pub fn combine(pdfs: &[&[u8]]) -> Result<Vec<u8>, SeriesError> {
    use lopdf::{Dictionary, Document, Object, ObjectId};
    let err = |e: String| SeriesError::Combine(e);
    let mut out = Document::with_version("1.7");
    let mut pages: Vec<(ObjectId, Dictionary)> = Vec::new();
    let mut next_id = 1;
    for (i, bytes) in pdfs.iter().enumerate() {
        let mut doc =
            Document::load_mem(bytes).map_err(|e| err(format!("letter {}: {e}", i + 1)))?;
        doc.renumber_objects_with(next_id);
        next_id = doc.max_id + 1;
        for (_, id) in doc.get_pages() {
            let mut page = doc
                .get_dictionary(id)
                .map_err(|e| err(format!("letter {}: {e}", i + 1)))?
                .clone();
            // Attributes a page inherits from its page tree.
            let mut parent = page.get(b"Parent").and_then(Object::as_reference).ok();
            while let Some(pid) = parent {
                let Ok(node) = doc.get_dictionary(pid) else {
                    break;
                };
                for key in [&b"Resources"[..], b"MediaBox", b"CropBox", b"Rotate"] {
                    if !page.has(key)
                        && let Ok(v) = node.get(key)
                    {
                        page.set(key, v.clone());
                    }
                }
                parent = node.get(b"Parent").and_then(Object::as_reference).ok();
            }
            page.remove(b"StructParents");
            pages.push((id, page));
        }
        for (id, object) in doc.objects {
            let kind = object.type_name().unwrap_or(b"").to_vec();
            if !matches!(
                kind.as_slice(),
                b"Catalog" | b"Pages" | b"Page" | b"StructTreeRoot" | b"Outlines"
            ) {
                out.objects.insert(id, object);
            }
        }
    }
    out.max_id = next_id;
    let pages_id = out.new_object_id();
    let kids: Vec<Object> = pages.iter().map(|(id, _)| Object::Reference(*id)).collect();
    let count = pages.len() as u32;
    for (id, mut page) in pages {
        page.set("Parent", pages_id);
        out.objects.insert(id, Object::Dictionary(page));
    }
    let mut tree = Dictionary::new();
    tree.set("Type", Object::Name(b"Pages".to_vec()));
    tree.set("Kids", kids);
    tree.set("Count", count);
    out.objects.insert(pages_id, Object::Dictionary(tree));
    let mut catalog = Dictionary::new();
    catalog.set("Type", Object::Name(b"Catalog".to_vec()));
    catalog.set("Pages", pages_id);
    let catalog_id = out.add_object(Object::Dictionary(catalog));
    out.trailer.set("Root", catalog_id);
    out.prune_objects();
    out.renumber_objects();
    let mut bytes = Vec::new();
    out.save_to(&mut bytes).map_err(|e| err(e.to_string()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn csv_with_semicolons_nested_keys_and_umlauts() {
        let text = "\u{feff}recipient.lines;subject;application.date\n\"Kreis Unna\";Ihr Antrag;19.03.2012\nStadt Hamm;Förderung für Schüler;\n";
        let rows = parse_rows("briefe.csv", text).unwrap();
        assert_eq!(
            rows,
            [
                Ok(Row {
                    line: 2,
                    data: json!({"recipient": {"lines": "Kreis Unna"}, "subject": "Ihr Antrag", "application": {"date": "19.03.2012"}})
                }),
                Ok(Row {
                    line: 3,
                    data: json!({"recipient": {"lines": "Stadt Hamm"}, "subject": "Förderung für Schüler"})
                }),
            ]
        );
    }

    #[test]
    fn numbered_columns_make_lists_and_rows_go_over_the_base() {
        let rows = parse_rows("a.csv", "subject.0;subject.1;recipient.lines.0;signature.name\nIhr Antrag;Eingangsbestätigung;Kreis Unna;Meier\n").unwrap();
        let row = &rows[0].as_ref().unwrap().data;
        assert_eq!(
            row,
            &json!({"subject": ["Ihr Antrag", "Eingangsbestätigung"], "recipient": {"lines": ["Kreis Unna"]}, "signature": {"name": "Meier"}})
        );
        let base = json!({"office": {"name": "BR Arnsberg"}, "signature": {"note": "Im Auftrag", "name": "N.N."}, "subject": ["x"]});
        assert_eq!(
            merged(&base, row),
            json!({"office": {"name": "BR Arnsberg"}, "signature": {"note": "Im Auftrag", "name": "Meier"},
                   "subject": ["Ihr Antrag", "Eingangsbestätigung"], "recipient": {"lines": ["Kreis Unna"]}})
        );
    }

    #[test]
    fn a_row_with_fewer_cells_than_the_header_is_refused_with_its_line() {
        let rows = parse_rows("r.csv", "a;b;c\n1;2;3\n1;2\n").unwrap();
        assert!(rows[0].is_ok());
        let err = rows[1].as_ref().unwrap_err();
        assert_eq!(err.line, 3);
        assert!(
            err.message
                .contains("2 cells, but the header names 3 columns"),
            "{}",
            err.message
        );
    }

    #[test]
    fn amount_columns_take_german_amounts_exactly() {
        let rows = parse_rows(
            "r.csv",
            "name;grant.amount:betrag\nA;118.450,00\nB;118.450\nC;1.5\n",
        )
        .unwrap();
        let ok: Vec<&Value> = rows
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|r| &r.data)
            .collect();
        assert_eq!(ok[0]["grant"]["amount"], "118450.00");
        assert_eq!(ok[1]["grant"]["amount"], "118450.00");
        let err = rows[2].as_ref().unwrap_err();
        assert_eq!(err.line, 4);
        assert!(
            err.message
                .contains("Bitte Beträge mit Komma schreiben: 1,50"),
            "{}",
            err.message
        );
    }

    #[test]
    fn csv_with_commas_and_quoted_delimiters() {
        let rows =
            parse_rows("a.CSV", "name,note\n\"Müller, Anna\",\"sagt \"\"ja\"\"\"\n").unwrap();
        assert_eq!(
            rows[0].as_ref().unwrap().data,
            json!({"name": "Müller, Anna", "note": "sagt \"ja\""})
        );
    }

    #[test]
    fn a_bad_csv_row_names_its_line_and_the_others_stay() {
        let rows = parse_rows("a.csv", "a;b\n1;2\n1;2;3\n\n4;5\n").unwrap();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].as_ref().unwrap_err().line, 3);
        assert!(rows[1].as_ref().unwrap_err().message.contains("3 cells"));
        assert_eq!(rows[2].as_ref().unwrap().line, 5);
        let e = parse_rows("a.csv", "a;;b\n1;2;3\n").unwrap_err();
        assert!(e.to_string().contains("a.csv: column ``"), "{e}");
    }

    #[test]
    fn json_lines_skip_empty_lines_and_name_bad_ones() {
        let rows = parse_rows(
            "rows.jsonl",
            "{\"a\": 1}\n\n[1]\n{oops\n{\"b\": {\"c\": 2}}\n",
        )
        .unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(
            rows[0],
            Ok(Row {
                line: 1,
                data: json!({"a": 1})
            })
        );
        assert_eq!(rows[1].as_ref().unwrap_err().line, 3);
        assert!(
            rows[2]
                .as_ref()
                .unwrap_err()
                .message
                .starts_with("not JSON")
        );
        assert_eq!(rows[3].as_ref().unwrap().line, 5);
    }

    #[test]
    fn names_come_from_a_field_made_safe() {
        let d = json!({"ref": {"ours": "KI-2012/0001"}, "n": 7, "empty": " "});
        assert_eq!(
            field_text(&d, "ref.ours").map(|s| file_stem(&s)),
            Some("KI-2012_0001".into())
        );
        assert_eq!(field_text(&d, "n"), Some("7".into()));
        assert_eq!(field_text(&d, "empty"), None);
        assert_eq!(field_text(&d, "missing.x"), None);
        assert_eq!(file_stem("../etc/passwd"), "_etc_passwd");
    }
}
