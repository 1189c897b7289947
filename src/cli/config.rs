//! `amtspost config check`: the configuration as read, with every dated rate,
//! its legal source and whether its figure is confirmed.

use anyhow::Result;
use clap::Subcommand;
use serde::Serialize;

use super::Ctx;
use crate::config::{Config, DATED_RATES_UNTIL};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the rates workflows compute with, by year, and flag unconfirmed figures
    Check,
}

/// One step of a dated rate as `config check` reports it.
#[derive(Debug, Serialize)]
pub struct RateStep {
    pub name: String,
    pub from_year: i32,
    pub until_year: i32,
    pub amount: crate::money::Money,
    pub source: String,
    pub confirmed: bool,
    pub note: String,
}

/// What `config check` finds.
#[derive(Debug, Serialize)]
pub struct Report {
    pub steps: Vec<RateStep>,
    pub unconfirmed: usize,
}

/// The dated rates of `config`, each step with the years it covers.
pub fn report(config: &Config) -> Report {
    let mut steps = Vec::new();
    for (name, list) in &config.dated_rates {
        let mut list = list.clone();
        list.sort_by_key(|s| s.from_year);
        for (i, s) in list.iter().enumerate() {
            steps.push(RateStep {
                name: name.clone(),
                from_year: s.from_year,
                until_year: list
                    .get(i + 1)
                    .map_or(DATED_RATES_UNTIL, |n| n.from_year - 1),
                amount: s.amount,
                source: s.source.clone(),
                confirmed: s.confirmed,
                note: s.note.clone(),
            });
        }
    }
    let unconfirmed = steps.iter().filter(|s| !s.confirmed).count();
    Report { steps, unconfirmed }
}

/// German amount: 57000.00 -> "57.000,00 EUR".
fn euro(x: crate::money::Money) -> String {
    format!("{} EUR", x.german())
}

/// The report as German text for the clerk.
pub fn text(report: &Report) -> String {
    let mut out = String::from("Fördersätze nach Jahren (Konfiguration [dated_rates]):\n");
    let mut name = "";
    for s in &report.steps {
        if s.name != name {
            name = &s.name;
            out.push_str(&format!("\n{name}:\n"));
        }
        let years = if s.until_year >= DATED_RATES_UNTIL {
            format!("ab {}", s.from_year)
        } else if s.until_year == s.from_year {
            format!("{}", s.from_year)
        } else {
            format!("{}–{}", s.from_year, s.until_year)
        };
        let state = if s.confirmed {
            "bestätigt"
        } else {
            "UNBESTÄTIGT"
        };
        out.push_str(&format!(
            "  {years:<10} {:>14}  {state}\n             Quelle: {}\n",
            euro(s.amount),
            s.source
        ));
        if !s.note.is_empty() {
            out.push_str(&format!("             Hinweis: {}\n", s.note));
        }
    }
    out.push('\n');
    if report.unconfirmed == 0 {
        out.push_str("Alle Fördersätze sind durch ihre Quelle bestätigt.\n");
    } else {
        out.push_str(&format!(
            "Achtung: {} Fördersatz-Stufe(n) sind nicht bestätigt. Vor Produktivbetrieb mit der Bewilligungsbehörde abgleichen und in amtspost.toml `confirmed = true` setzen.\n",
            report.unconfirmed
        ));
    }
    out
}

pub async fn run(ctx: &Ctx, cmd: Command) -> Result<()> {
    match cmd {
        Command::Check => {
            let report = report(&ctx.config);
            ctx.print(&report, || text(&report));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_rates_name_source_year_and_unconfirmed_steps() {
        let config = Config::default();
        let report = report(&config);
        let text = text(&report);
        assert!(text.contains("ki_festbetrag_vollzeitstelle:"), "{text}");
        assert!(text.contains("ki_festbetrag_halbe_assistenz:"), "{text}");
        let line = |parts: &[&str]| text.lines().any(|l| parts.iter().all(|p| l.contains(p)));
        assert!(
            line(&["2012–2017", "50.000,00 EUR", "UNBESTÄTIGT"]),
            "{text}"
        );
        assert!(line(&["2018–2020", "20.000,00 EUR", "bestätigt"]), "{text}");
        assert!(
            line(&["2021–2023", "55.000,00 EUR", "UNBESTÄTIGT"]),
            "{text}"
        );
        assert!(line(&["ab 2024", "57.000,00 EUR", "UNBESTÄTIGT"]), "{text}");
        assert!(text.contains("MBl. NRW. 2018 S. 179"), "{text}");
        assert!(text.contains("Achtung: 6 Fördersatz-Stufe(n)"), "{text}");
        assert_eq!(report.unconfirmed, 6);
    }

    #[test]
    fn amounts_are_german() {
        let m = |s: &str| s.parse::<crate::money::Money>().unwrap();
        assert_eq!(euro(m("57000")), "57.000,00 EUR");
        assert_eq!(euro(m("22500.5")), "22.500,50 EUR");
        assert_eq!(euro(m("0")), "0,00 EUR");
    }
}
