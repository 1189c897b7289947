//! `[exports.*]`: files for other systems, such as the payout orders for
//! the state treasury: one row per case of the workflow in the export's
//! states whose date field holds the day asked for, in file-number order,
//! each column computed by the workflow's expression. The same day gives
//! the same file again (it is derived from the cases, not a queue).

use chrono::NaiveDate;
use serde::Serialize;
use serde_json::{Map, Value};

use super::{CaseError, Engine};
use crate::store::CaseFilter;

/// An export of one day, ready to be written as CSV.
#[derive(Debug, Clone, Serialize)]
pub struct ExportTable {
    pub workflow: String,
    pub title: String,
    pub date: NaiveDate,
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Engine {
    /// The export `name` (declared by one of the current workflows) for `date`.
    pub async fn export(&self, name: &str, date: NaiveDate) -> Result<ExportTable, CaseError> {
        let found = self
            .catalog()
            .definitions()
            .find(|(_, d)| d.exports.contains_key(name))
            .map(|(_, d)| d.clone());
        let Some(def) = found else {
            let known: Vec<String> = self
                .catalog()
                .definitions()
                .flat_map(|(_, d)| d.exports.keys().cloned().collect::<Vec<_>>())
                .collect();
            return Err(CaseError::invalid(
                "export",
                format!(
                    "Keine Ausgabe „{name}“ in den Verfahren; vorhanden: {}",
                    if known.is_empty() {
                        "keine".into()
                    } else {
                        known.join(", ")
                    }
                ),
            ));
        };
        let export = &def.exports[name];
        let day = date.to_string();
        let cases = self
            .store()
            .list_cases(&CaseFilter {
                workflow: Some(def.id.clone()),
                state: None,
                limit: i64::MAX,
            })
            .await?;
        let mut rows = Vec::new();
        for case in cases {
            if !export.states.contains(&case.state.to_string())
                || case.data.get(&export.date).and_then(Value::as_str) != Some(day.as_str())
            {
                continue;
            }
            let own = self.definition_of(&case).await?;
            let vars = own.expression_vars(
                &case.data,
                case.file_number.as_str(),
                self.clock().today(),
                Value::Null,
                &Map::new(),
                &Map::new(),
            );
            let mut row = Vec::with_capacity(export.columns.len());
            for c in &export.columns {
                let v = c.value.eval_any(&vars).map_err(|e| {
                    CaseError::invalid(
                        c.title.clone(),
                        format!("Vorgang {}: {}", case.file_number, e.0),
                    )
                })?;
                row.push(match v {
                    Value::Null => String::new(),
                    Value::String(s) => s,
                    other => other.to_string(),
                });
            }
            rows.push(row);
        }
        Ok(ExportTable {
            workflow: def.id.clone(),
            title: export.title.clone(),
            date,
            columns: export.columns.iter().map(|c| c.title.clone()).collect(),
            rows,
        })
    }
}
