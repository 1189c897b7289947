//! `amtspost interest`: the interest on a repayment under § 49a Abs. 3
//! VwVfG NRW, per period of the Basiszinssatz and in total, with the
//! conventions stated (see [`crate::interest`]). No database is needed.

use anyhow::{Result, anyhow};
use chrono::NaiveDate;
use clap::Args as ClapArgs;
use rust_decimal::Decimal;
use serde::Serialize;

use super::Ctx;
use crate::interest::{self, Interest, RateTable};
use crate::money::Money;

// The arguments; their help is German, as everything a clerk reads.
#[derive(Debug, ClapArgs)]
pub struct Args {
    /// Zu verzinsender Betrag in EUR: 10000.00 oder 10.000,00
    #[arg(long, value_name = "BETRAG")]
    amount: String,
    /// Erster Zinstag (mitgerechnet), z. B. der Tag, an dem der Bescheid unwirksam wurde: JJJJ-MM-TT oder TT.MM.JJJJ
    #[arg(long, value_name = "DATUM")]
    from: String,
    /// Letzter Zinstag (mitgerechnet): JJJJ-MM-TT oder TT.MM.JJJJ
    #[arg(long, value_name = "DATUM")]
    to: String,
    /// Prozentpunkte über dem Basiszinssatz (§ 49a Abs. 3 VwVfG NRW: 5)
    #[arg(long, value_name = "PUNKTE", default_value = "5")]
    points: String,
}

/// The `--json` form: amounts and rates as decimal strings.
#[derive(Serialize)]
struct JsonOut {
    total: String,
    periods: Vec<JsonPeriod>,
}

#[derive(Serialize)]
struct JsonPeriod {
    from: String,
    to: String,
    rate: String,
    days: i64,
    amount: String,
}

/// An amount as typed: the canonical `10000.00` or German `10.000,00`.
fn parse_amount(text: &str) -> Result<Money> {
    let t = text.trim();
    let canonical = !t.contains(',') && t.rsplit_once('.').is_none_or(|(_, frac)| frac.len() <= 2);
    let parsed = if canonical {
        t.parse::<Money>()
    } else {
        Money::parse_german(t)
    };
    parsed.map_err(|e| anyhow!("--amount: {e}"))
}

fn parse_date(flag: &str, text: &str) -> Result<NaiveDate> {
    let t = text.trim();
    NaiveDate::parse_from_str(t, "%Y-%m-%d")
        .or_else(|_| NaiveDate::parse_from_str(t, "%d.%m.%Y"))
        .map_err(|_| {
            anyhow!("{flag}: „{text}“ ist kein gültiges Datum; bitte JJJJ-MM-TT (2013-01-01) oder TT.MM.JJJJ (01.01.2013) schreiben")
        })
}

fn parse_points(text: &str) -> Result<Decimal> {
    interest::parse_points(text).ok_or_else(|| {
        anyhow!(
            "--points: „{text}“ ist keine Zahl von Prozentpunkten; bitte z. B. 5 oder 5,5 schreiben"
        )
    })
}

pub async fn run(ctx: &Ctx, args: Args) -> Result<()> {
    let amount = parse_amount(&args.amount)?;
    let from = parse_date("--from", &args.from)?;
    let to = parse_date("--to", &args.to)?;
    let points = parse_points(&args.points)?;
    let table = RateTable::load(&ctx.config.workflows_dir)?;
    let computed = interest::compute(&table, amount, from, to, points)?;
    if ctx.json {
        let out = JsonOut {
            total: computed.total.to_string(),
            periods: computed
                .periods
                .iter()
                .map(|p| JsonPeriod {
                    from: p.from.to_string(),
                    to: p.to.to_string(),
                    rate: interest::plain_percent(p.rate),
                    days: p.days,
                    amount: p.amount.to_string(),
                })
                .collect(),
        };
        ctx.print(&out, String::new);
    } else {
        print!("{}", text(&computed, &table));
    }
    if computed.uses_unconfirmed() {
        eprintln!(
            "Hinweis: Der Basiszinssatz mindestens eines Zeitraums ist in {} nicht bestätigt; bitte vor Verwendung mit der Bekanntmachung der Deutschen Bundesbank abgleichen.",
            table.file
        );
    }
    Ok(())
}

/// The German text: the legal basis, one line per period, the total and
/// the conventions.
fn text(i: &Interest, table: &RateTable) -> String {
    let d = |x: NaiveDate| x.format("%d.%m.%Y").to_string();
    let mut s = String::new();
    s.push_str(&format!(
        "Zinsen nach § 49a Abs. 3 VwVfG NRW: {} Prozentpunkte über dem Basiszinssatz (§ 247 BGB) jährlich\n",
        interest::german_percent(i.points).trim_end_matches(",00")
    ));
    s.push_str(&format!(
        "Betrag {} EUR, vom {} bis {} (erster und letzter Tag mitgerechnet)\n\n",
        i.principal.german(),
        d(i.from),
        d(i.to)
    ));
    s.push_str(&format!(
        "{:<12} {:<12} {:>13} {:>9} {:>6} {:>16}\n",
        "von", "bis", "Basiszinssatz", "Zinssatz", "Tage", "Betrag"
    ));
    for p in &i.periods {
        let mark = if p.confirmed { "" } else { " *" };
        s.push_str(&format!(
            "{:<12} {:<12} {:>13} {:>9} {:>6} {:>16}{mark}\n",
            d(p.from),
            d(p.to),
            format!("{} %", interest::german_percent(p.basis)),
            format!("{} %", interest::german_percent(p.rate)),
            p.days,
            format!("{} EUR", p.amount.german()),
        ));
    }
    s.push_str(&format!(
        "{:<12} {:<12} {:>13} {:>9} {:>6} {:>16}\n\n",
        "Summe",
        "",
        "",
        "",
        i.days(),
        format!("{} EUR", i.total.german())
    ));
    s.push_str(
        "Berechnung: Betrag × Zinssatz × Tage / 365 je Zeitraum (kalendertäglich, Jahr zu 365 Tagen wie § 191 BGB, auch im Schaltjahr);\n\
         jeder Zeitraum kaufmännisch auf den Cent gerundet, die Summe ist die Summe der gerundeten Beträge.\n\
         Ein negativer Basiszinssatz (2013–2022) wird so angewandt, wie er ist; ein negativer Zinssatz ergibt 0,00 EUR.\n",
    );
    s.push_str(&format!(
        "Basiszinssatz: Deutsche Bundesbank (§ 247 Abs. 2 BGB), Tabelle {}.\n",
        table.file
    ));
    if i.uses_unconfirmed() {
        s.push_str("* Basiszinssatz in der Tabelle nicht bestätigt.\n");
    }
    s
}
