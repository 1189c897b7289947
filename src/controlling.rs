//! The Förderprogrammcontrolling the circular announces („ein neues
//! Förderprogrammcontrolling …, das für alle Einrichtungen verbindlich sein
//! und eng mit der Zuwendung verknüpft wird“): one row per grant of a year
//! with its money (approved, paid, proven, repaid), the state of its proof
//! of use and the indicators of its Sachbericht, as CSV, JSON, or an HTML
//! page with a chart. Pure: the engine gathers the rows
//! ([`crate::case::Engine::controlling`]), this module lays them out.
//!
//! The chart is server-rendered SVG: bar lengths of amounts are computed
//! from cents in integer arithmetic (money never becomes a float); the
//! table beside it is the chart's text alternative.

use std::fmt::Write as _;

use serde::Serialize;

use crate::money::Money;

/// One indicator of the Sachbericht, by field name and title.
#[derive(Debug, Clone, Serialize)]
pub struct Indicator {
    pub name: String,
    pub title: String,
}

/// One grant of the year.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub file_number: String,
    pub recipient: String,
    pub approved: Money,
    pub paid: Money,
    /// Recognised after the check of the proof of use, once checked.
    pub proven: Option<Money>,
    /// To be repaid after a Widerruf.
    pub repaid: Option<Money>,
    /// The proof of use's case and state („nicht angefordert“ without one).
    pub proof: Option<String>,
    pub proof_status: String,
    /// The indicators' values, in the order of [`Report::indicators`];
    /// `None` until reported.
    pub indicators: Vec<Option<serde_json::Number>>,
}

/// The controlling report of one year.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub title: String,
    pub year: i32,
    pub indicators: Vec<Indicator>,
    pub rows: Vec<Row>,
}

/// Sums over all rows.
#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    pub approved: Money,
    pub paid: Money,
    pub proven: Money,
    pub repaid: Money,
}

fn sum(rows: &[Row], f: impl Fn(&Row) -> Option<Money>) -> Money {
    let cents: i64 = rows.iter().filter_map(&f).map(Money::cents).sum();
    Money::from_cents(cents).unwrap_or(Money::ZERO)
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn number(n: &Option<serde_json::Number>) -> String {
    n.as_ref().map(|n| n.to_string()).unwrap_or_default()
}

fn german_number(n: &Option<serde_json::Number>) -> String {
    n.as_ref()
        .map(|n| n.to_string().replace('.', ","))
        .unwrap_or_else(|| "–".into())
}

impl Report {
    pub fn totals(&self) -> Totals {
        Totals {
            approved: sum(&self.rows, |r| Some(r.approved)),
            paid: sum(&self.rows, |r| Some(r.paid)),
            proven: sum(&self.rows, |r| r.proven),
            repaid: sum(&self.rows, |r| r.repaid),
        }
    }

    /// CSV: a header line and one line per grant; amounts as decimal
    /// strings (`170000.00`), empty where not yet known.
    pub fn csv(&self) -> Result<String, csv::Error> {
        let mut w = csv::WriterBuilder::new()
            .delimiter(b';')
            .from_writer(Vec::new());
        let mut header = vec![
            "Aktenzeichen".to_string(),
            "Zuwendungsempfaenger".into(),
            "Bewilligt".into(),
            "Ausgezahlt".into(),
            "Nachgewiesen".into(),
            "Zu_erstatten".into(),
            "Verwendungsnachweis".into(),
        ];
        header.extend(self.indicators.iter().map(|i| i.name.clone()));
        w.write_record(&header)?;
        for r in &self.rows {
            let mut line = vec![
                r.file_number.clone(),
                r.recipient.clone(),
                r.approved.to_string(),
                r.paid.to_string(),
                r.proven.map(|m| m.to_string()).unwrap_or_default(),
                r.repaid.map(|m| m.to_string()).unwrap_or_default(),
                r.proof_status.clone(),
            ];
            line.extend(r.indicators.iter().map(number));
            w.write_record(&line)?;
        }
        let bytes = w.into_inner().map_err(|e| e.into_error())?;
        Ok(String::from_utf8(bytes).expect("CSV of UTF-8 strings"))
    }

    /// The table, German, with the totals as its footer.
    pub fn table_html(&self) -> String {
        let mut s = String::new();
        let _ = write!(
            s,
            "<table class=\"controlling\"><caption>{} {}: Mittel und Kennzahlen je Zuwendung</caption><thead><tr><th scope=\"col\">Zuwendungsempfänger</th><th scope=\"col\">Aktenzeichen</th><th scope=\"col\">Bewilligt</th><th scope=\"col\">Ausgezahlt</th><th scope=\"col\">Nachgewiesen</th><th scope=\"col\">Zu erstatten</th><th scope=\"col\">Verwendungsnachweis</th>",
            escape(&self.title),
            self.year
        );
        for i in &self.indicators {
            let _ = write!(s, "<th scope=\"col\">{}</th>", escape(&i.title));
        }
        s.push_str("</tr></thead><tbody>");
        let eur = |m: Option<Money>| {
            m.map(|m| format!("{} EUR", m.german()))
                .unwrap_or_else(|| "–".into())
        };
        for r in &self.rows {
            let _ = write!(
                s,
                "<tr><th scope=\"row\">{}</th><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>",
                escape(&r.recipient),
                escape(&r.file_number),
                eur(Some(r.approved)),
                eur(Some(r.paid)),
                eur(r.proven),
                eur(r.repaid),
                escape(&r.proof_status)
            );
            for v in &r.indicators {
                let _ = write!(s, "<td>{}</td>", german_number(v));
            }
            s.push_str("</tr>");
        }
        let t = self.totals();
        let _ = write!(
            s,
            "</tbody><tfoot><tr><th scope=\"row\">Summe ({} Zuwendungen)</th><td></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td></td>",
            self.rows.len(),
            eur(Some(t.approved)),
            eur(Some(t.paid)),
            eur(Some(t.proven)),
            eur(Some(t.repaid))
        );
        for _ in &self.indicators {
            s.push_str("<td></td>");
        }
        s.push_str("</tr></tfoot></table>");
        s
    }

    /// The chart: per grant, bars for approved, paid and proven; below,
    /// per indicator, a bar per grant. `role="img"` with a title and a
    /// description that points to the table.
    pub fn svg(&self) -> String {
        const LABEL: i64 = 230;
        const WIDTH: i64 = 420;
        const BAR: i64 = 7;
        const GAP: i64 = 8;
        let per_row = 3 * BAR + GAP;
        let max = self
            .rows
            .iter()
            .map(|r| r.approved.cents().max(r.paid.cents()))
            .max()
            .unwrap_or(0)
            .max(1);
        let len =
            |m: Money| (i128::from(m.cents().max(0)) * i128::from(WIDTH) / i128::from(max)) as i64;
        let money_h = 40 + self.rows.len() as i64 * per_row;
        let ind_h: i64 = self
            .indicators
            .iter()
            .map(|_| 30 + self.rows.len() as i64 * (BAR + 3))
            .sum();
        let height = money_h + ind_h + 10;
        let total_w = LABEL + WIDTH + 120;
        let mut s = String::new();
        let _ = write!(
            s,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-labelledby=\"chart-title chart-desc\" viewBox=\"0 0 {total_w} {height}\" width=\"100%\" font-family=\"Liberation Sans, Arial, sans-serif\" font-size=\"11\"><title id=\"chart-title\">{} {}</title><desc id=\"chart-desc\">Balken je Zuwendung: bewilligt (hell), ausgezahlt (mittel), nachgewiesen (dunkel); darunter die Kennzahlen des Sachberichts. Die Zahlen stehen in der Tabelle.</desc>",
            escape(&self.title),
            self.year
        );
        let _ = write!(
            s,
            "<text x=\"0\" y=\"14\" font-weight=\"bold\">Mittel je Zuwendung (EUR)</text><g aria-hidden=\"true\"><rect x=\"{LABEL}\" y=\"22\" width=\"10\" height=\"8\" fill=\"#b8cde0\"/><text x=\"{}\" y=\"30\">bewilligt</text><rect x=\"{}\" y=\"22\" width=\"10\" height=\"8\" fill=\"#4a7aa8\"/><text x=\"{}\" y=\"30\">ausgezahlt</text><rect x=\"{}\" y=\"22\" width=\"10\" height=\"8\" fill=\"#1b3a5c\"/><text x=\"{}\" y=\"30\">nachgewiesen</text></g>",
            LABEL + 14,
            LABEL + 80,
            LABEL + 94,
            LABEL + 170,
            LABEL + 184
        );
        for (i, r) in self.rows.iter().enumerate() {
            let y = 40 + i as i64 * per_row;
            let _ = write!(
                s,
                "<text x=\"0\" y=\"{}\">{}</text>",
                y + 2 * BAR,
                escape(&r.recipient)
            );
            for (k, (m, colour)) in [
                (Some(r.approved), "#b8cde0"),
                (Some(r.paid), "#4a7aa8"),
                (r.proven, "#1b3a5c"),
            ]
            .into_iter()
            .enumerate()
            {
                if let Some(m) = m {
                    let _ = write!(
                        s,
                        "<rect x=\"{LABEL}\" y=\"{}\" width=\"{}\" height=\"{BAR}\" fill=\"{colour}\"/>",
                        y + k as i64 * BAR,
                        len(m)
                    );
                }
            }
            let _ = write!(
                s,
                "<text x=\"{}\" y=\"{}\">{}</text>",
                LABEL + len(r.approved.max(r.paid)) + 4,
                y + 2 * BAR,
                r.approved.german()
            );
        }
        let mut y = money_h;
        for (k, ind) in self.indicators.iter().enumerate() {
            let values: Vec<f64> = self
                .rows
                .iter()
                .map(|r| {
                    r.indicators
                        .get(k)
                        .and_then(|v| v.as_ref())
                        .and_then(|n| n.as_f64())
                        .unwrap_or(0.0)
                })
                .collect();
            let top = values.iter().cloned().fold(0.0, f64::max).max(1.0);
            let _ = write!(
                s,
                "<text x=\"0\" y=\"{}\" font-weight=\"bold\">{}</text>",
                y + 16,
                escape(&ind.title)
            );
            y += 24;
            for (r, v) in self.rows.iter().zip(&values) {
                let w = (v / top * WIDTH as f64).round() as i64;
                let _ = write!(
                    s,
                    "<text x=\"0\" y=\"{}\" font-size=\"9\">{}</text><rect x=\"{LABEL}\" y=\"{y}\" width=\"{w}\" height=\"{BAR}\" fill=\"#6b8e23\"/><text x=\"{}\" y=\"{}\" font-size=\"9\">{}</text>",
                    y + BAR,
                    escape(&r.recipient),
                    LABEL + w + 4,
                    y + BAR,
                    v.to_string().replace('.', ",")
                );
                y += BAR + 3;
            }
            y += 6;
        }
        s.push_str("</svg>");
        s
    }

    /// A standalone German HTML page: the chart and the table.
    pub fn html(&self) -> String {
        format!(
            "<!DOCTYPE html>\n<html lang=\"de\"><head><meta charset=\"utf-8\"><title>{t} {y}</title><style>body{{font-family:'Liberation Sans',Arial,sans-serif;margin:2em}}table{{border-collapse:collapse}}th,td{{border:1px solid #999;padding:.3em .5em;text-align:left}}td{{text-align:right}}</style></head><body><main><h1>{t} {y}</h1><figure>{svg}<figcaption>Mittel und Kennzahlen je Zuwendung; die Zahlen stehen in der Tabelle.</figcaption></figure>{table}</main></body></html>\n",
            t = escape(&self.title),
            y = self.year,
            svg = self.svg(),
            table = self.table_html()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let m = |s: &str| s.parse::<Money>().unwrap();
        Report {
            title: "Förderprogrammcontrolling".into(),
            year: 2013,
            indicators: vec![Indicator {
                name: "beratungen".into(),
                title: "Beratungsfälle".into(),
            }],
            rows: vec![
                Row {
                    file_number: "KI-2012-0001".into(),
                    recipient: "Kreis Unna".into(),
                    approved: m("170000.00"),
                    paid: m("170000.00"),
                    proven: Some(m("160000.00")),
                    repaid: Some(m("10000.00")),
                    proof: Some("VN-2014-0001".into()),
                    proof_status: "Erstattet".into(),
                    indicators: vec![Some(412.into())],
                },
                Row {
                    file_number: "KI-2012-0002".into(),
                    recipient: "Stadt <Hamm>".into(),
                    approved: m("85000.50"),
                    paid: m("40000.00"),
                    proven: None,
                    repaid: None,
                    proof: None,
                    proof_status: "nicht angefordert".into(),
                    indicators: vec![None],
                },
            ],
        }
    }

    #[test]
    fn the_csv_has_a_header_and_a_line_per_grant_with_exact_amounts() {
        let csv = report().csv().unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "Aktenzeichen;Zuwendungsempfaenger;Bewilligt;Ausgezahlt;Nachgewiesen;Zu_erstatten;Verwendungsnachweis;beratungen"
        );
        assert_eq!(
            lines[1],
            "KI-2012-0001;Kreis Unna;170000.00;170000.00;160000.00;10000.00;Erstattet;412"
        );
        assert_eq!(
            lines[2],
            "KI-2012-0002;Stadt <Hamm>;85000.50;40000.00;;;nicht angefordert;"
        );
        assert_eq!(lines.len(), 3);
    }

    #[test]
    fn totals_add_cents_and_the_page_escapes_and_labels_its_chart() {
        let r = report();
        let t = r.totals();
        assert_eq!(t.approved.to_string(), "255000.50");
        assert_eq!(t.paid.to_string(), "210000.00");
        assert_eq!(t.repaid.to_string(), "10000.00");
        let html = r.html();
        assert!(html.contains("Stadt &lt;Hamm&gt;") && !html.contains("<Hamm>"));
        assert!(html.contains("role=\"img\"") && html.contains("<title id=\"chart-title\">"));
        assert!(html.contains("255.000,50 EUR"), "{html}");
        // The longest money bar is the full width; Hamm's paid bar is 40000/170000 of it.
        assert!(html.contains("width=\"420\""));
        assert!(html.contains(&format!("width=\"{}\"", 40000 * 420 / 170000)));
    }
}
