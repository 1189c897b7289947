//! Gathering the controlling report: every grant of the year of each
//! workflow that declares `[controlling]`, with its account and the latest
//! proof of use linked to it.

use serde_json::Value;

use super::{CaseError, Engine};
use crate::controlling::{Indicator, Report, Row};
use crate::money::Money;
use crate::store::CaseFilter;

impl Engine {
    /// The controlling report for `year` (the year of each grant's `year` field).
    pub async fn controlling(&self, year: i32) -> Result<Report, CaseError> {
        let found = self
            .catalog()
            .definitions()
            .find(|(_, d)| d.controlling.is_some())
            .map(|(_, d)| d.clone());
        let Some(def) = found else {
            return Err(CaseError::invalid(
                "controlling",
                "Kein Verfahren erklärt ein Förderprogrammcontrolling ([controlling]).",
            ));
        };
        let c = def.controlling.clone().expect("found by it");
        let proofs = self.catalog().current(&c.proofs)?;
        let link = proofs
            .links
            .iter()
            .find(|l| l.workflow == def.id)
            .cloned()
            .ok_or_else(|| {
                CaseError::invalid(
                    "controlling",
                    format!("`{}` is not linked to `{}`", c.proofs, def.id),
                )
            })?;
        let prefix = format!("{year:04}-");
        let cases = self
            .store()
            .list_cases(&CaseFilter {
                workflow: Some(def.id.clone()),
                state: None,
                limit: i64::MAX,
            })
            .await?;
        let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        let mut rows = Vec::new();
        for case in cases {
            if text(case.data.get(&c.granted)).is_none()
                || !text(case.data.get(&c.year)).is_some_and(|d| d.starts_with(&prefix))
            {
                continue;
            }
            let account = self.account_of(&case, None).await?;
            let (approved, paid) = account
                .map(|a| (a.total.approved, a.total.paid))
                .unwrap_or((Money::ZERO, Money::ZERO));
            let proof = self
                .store()
                .linked_cases(&proofs.id, &link.field, case.file_number.as_str())
                .await?
                .into_iter()
                .next_back();
            let money = |name: &str| {
                proof
                    .as_ref()
                    .and_then(|p| p.data.get(name))
                    .and_then(|v| Money::from_json(v).ok())
            };
            let proof_def = match &proof {
                Some(p) => Some(self.definition_of(p).await?),
                None => None,
            };
            rows.push(Row {
                file_number: case.file_number.to_string(),
                recipient: text(case.data.get(&c.recipient)).unwrap_or_default(),
                approved,
                paid,
                proven: money(&c.proven),
                repaid: proof
                    .as_ref()
                    .filter(|p| c.repaid_states.iter().any(|s| s == p.state.as_str()))
                    .and_then(|_| money(&c.repaid)),
                proof: proof.as_ref().map(|p| p.file_number.to_string()),
                proof_status: match (&proof, &proof_def) {
                    (Some(p), Some(d)) => d
                        .state(p.state.as_str())
                        .and_then(|s| s.title.clone())
                        .unwrap_or_else(|| p.state.to_string()),
                    _ => "nicht angefordert".into(),
                },
                indicators: c
                    .indicators
                    .iter()
                    .map(|i| {
                        proof
                            .as_ref()
                            .and_then(|p| p.data.get(i))
                            .and_then(|v| v.as_number().cloned())
                    })
                    .collect(),
            });
        }
        rows.sort_by(|a, b| {
            a.recipient
                .cmp(&b.recipient)
                .then(a.file_number.cmp(&b.file_number))
        });
        Ok(Report {
            title: c.title.clone(),
            year,
            indicators: c
                .indicators
                .iter()
                .map(|i| Indicator {
                    name: i.clone(),
                    title: proofs.field_title(i),
                })
                .collect(),
            rows,
        })
    }
}
