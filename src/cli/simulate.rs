//! `amtspost simulate`: a year of a whole Dezernat in simulated time. It
//! writes a scenario in the demo's shape (the municipalities of
//! `kommunen.json`, the profiles and sender data of `demo.json`) and plays
//! it through the demo's runner, so every step goes through the same
//! [`App`](crate::app::App) as the other doors: the applications of the
//! funding year with their notices, the Bestandskraft or a waiver, three
//! calls for funds per grant with four-eyes payouts (some not spent in two
//! months), the proofs of use after the Bewilligungszeitraum (some late,
//! some never, some short with a hearing, a revocation and a repayment with
//! interest), and the Landkreistag's circulars with enclosures.
//!
//! The funding year `--year 2013` (the first of the KI funding, with the
//! RAA transition of 31.07.2013 that every RAA municipality's application
//! names) is followed from the opening of the RAA transitions on 01.08.2012
//! and the application round in autumn 2012 to the end of October 2014,
//! when the proofs of use (due 30.06.2014) are checked and the repayments
//! are in. The same seed gives the same scenario, file numbers and figures.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use chrono::{Duration, NaiveDate};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use super::Ctx;
use super::demo::scenario::{self, DemoOptions, DemoSummary};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The funding year (Bewilligungszeitraum 01.01.-31.12.; 2013, the year of the RAA transition)
    #[arg(long, default_value_t = 2013)]
    year: i32,
    /// Folder for the database, the PDFs and the mails (recreated)
    #[arg(long, default_value = "out/simulation")]
    out: PathBuf,
    /// Use this database instead of a fresh SQLite file DIR/amtspost.db (it must be empty)
    #[arg(long, value_name = "URL")]
    database_url: Option<String>,
    /// How many municipalities apply (the first N of kommunen.json, at most 53)
    #[arg(long, default_value_t = 53)]
    municipalities: usize,
    /// How many applications come in (spread over the municipalities)
    #[arg(long, default_value_t = 1060)]
    applications: usize,
    /// How many circulars the Landkreistag sends in the funding year
    #[arg(long, default_value_t = 24)]
    circulars: usize,
    /// The seed of the random choices (same seed, same year)
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// What to simulate.
#[derive(Debug, Clone)]
pub struct Params {
    pub year: i32,
    pub municipalities: usize,
    pub applications: usize,
    pub circulars: usize,
    pub seed: u64,
}

impl Default for Params {
    fn default() -> Params {
        Params {
            year: 2013,
            municipalities: 53,
            applications: 1060,
            circulars: 24,
            seed: 1,
        }
    }
}

pub(super) async fn run(ctx: &Ctx, args: Args) -> Result<()> {
    let params = Params {
        year: args.year,
        municipalities: args.municipalities,
        applications: args.applications,
        circulars: args.circulars,
        seed: args.seed,
    };
    let summary = simulate(
        &params,
        DemoOptions {
            database_url: args.database_url,
            ..DemoOptions::new(args.out)
        },
    )
    .await?;
    ctx.print(&summary, || {
        format!(
            "Simulation of the funding year {} ({} municipalities, {} applications, {} circulars, seed {})\n{}",
            params.year,
            params.municipalities,
            params.applications,
            params.circulars,
            params.seed,
            summary.table()
        )
    });
    Ok(())
}

/// Generates the year's scenario and plays it.
pub async fn simulate(params: &Params, opts: DemoOptions) -> Result<DemoSummary> {
    let scenario = generate(params)?;
    Ok(scenario::run(DemoOptions {
        scenario: Some(scenario),
        ..opts
    })
    .await?)
}

fn shipped(name: &str) -> Result<Value> {
    let file = crate::assets::WORKFLOWS
        .get_file(format!("data/{name}"))
        .with_context(|| format!("workflows/data/{name} is not built in"))?;
    serde_json::from_slice(file.contents()).with_context(|| format!("workflows/data/{name}"))
}

fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).expect("a valid day")
}

fn day(d: NaiveDate) -> Value {
    json!(d.to_string())
}

/// The circulars' subjects, in turn (the Landkreistag's usual themes).
const SUBJECTS: [&str; 12] = [
    "Kommunale Integrationszentren: Hinweise zum Mittelabruf",
    "Haushaltsplanung: Orientierungsdaten für die Kreishaushalte",
    "Schulsozialarbeit: Fortführung der Förderung aus Mitteln des Bildungs- und Teilhabepakets",
    "Kommunale Integrationszentren: Förderprogrammcontrolling und Sachbericht",
    "Rettungsdienst: Änderung des Rettungsgesetzes NRW",
    "Inklusion in der Schule: Belastungsausgleich für die Kreise",
    "Kommunale Integrationszentren: Verwendungsnachweis und Vordrucke",
    "Krankenhausplanung: Beteiligung der Kreise",
    "Breitbandausbau: Förderaufruf des Landes",
    "Flüchtlingsaufnahme: Erstattung nach dem Flüchtlingsaufnahmegesetz",
    "Kommunaler Finanzausgleich: Modellrechnung zum GFG",
    "Kommunale Integrationszentren: Ergebnisse der Landeskoordinierungsstelle",
];

/// The scenario of a funding year, in the shape of `demo.json`.
pub fn generate(p: &Params) -> Result<Value> {
    let demo = shipped("demo.json")?;
    let kommunen = shipped("kommunen.json")?;
    let kommunen = kommunen["kommunen"].as_array().cloned().unwrap_or_default();
    if p.municipalities == 0 || p.municipalities > kommunen.len() {
        bail!(
            "--municipalities {}: kommunen.json lists {} (choose 1 to {})",
            p.municipalities,
            kommunen.len(),
            kommunen.len()
        );
    }
    if p.applications == 0 {
        bail!("--applications 0: at least one application is needed");
    }
    let y = p.year;
    if y != 2013 {
        // The first KI funding year is the year of the RAA transition
        // (31.07.2013): the applications of municipalities with an RAA name
        // their transition case, which only that year has.
        bail!(
            "--year {y}: the simulation plays the funding year 2013, the first of the KI funding and the year of the RAA transition (its cases are part of every RAA municipality's application)"
        );
    }
    let mut rng = ChaCha8Rng::seed_from_u64(p.seed);

    // Profiles: demo.json's, and for each that ends in a notice the same
    // with the Bestandskraft recorded after the Klagefrist.
    let mut profiles: Map<String, Value> = demo["profile"].as_object().cloned().unwrap_or_default();
    for name in ["vollstaendig", "nachforderung"] {
        let mut pr = profiles[name].clone();
        let approved = pr["schritte"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["schritt"] == "bewilligen"))
            .and_then(|s| s["tag"].as_i64())
            .context("demo.json: a granting profile without `bewilligen`")?;
        pr["schritte"]
            .as_array_mut()
            .expect("checked")
            .push(json!({"tag": approved + FINAL_AFTER, "schritt": "bestandskraft_vermerken"}));
        profiles.insert(format!("{name}_bestandskraft"), pr);
    }
    let approve_day = |name: &str| -> i64 {
        profiles[name]["schritte"]
            .as_array()
            .and_then(|s| s.iter().find(|s| s["schritt"] == "bewilligen"))
            .and_then(|s| s["tag"].as_i64())
            .unwrap_or(0)
    };

    let mut antraege = Vec::new();
    let mut groups = Vec::new();
    let mut proofs = Vec::new();
    // The application round: 03.09. to 15.11. of the year before.
    let round_start = ymd(y - 1, 9, 3);
    let round_days = (ymd(y - 1, 11, 15) - round_start).num_days();
    let mut shorts = 0;
    // The RAA transition (raa-umwandlung) of every municipality with an
    // RAA: opened on 01.08. of the year before; most convert by 31.07.,
    // some later, some never (reminders, then escalation).
    let mut abschluss = Map::new();
    for k in kommunen
        .iter()
        .take(p.municipalities)
        .filter(|k| k["raa"] == true)
    {
        let r: f64 = rng.random();
        let done = match r {
            r if r < 0.70 => day(ymd(y, 2, 1) + Duration::days(rng.random_range(0..=170))),
            r if r < 0.85 => day(ymd(y, 8, 5) + Duration::days(rng.random_range(0..=50))),
            _ => Value::Null,
        };
        abschluss.insert(k["name"].as_str().unwrap_or_default().to_string(), done);
    }
    for i in 0..p.applications {
        let k = &kommunen[i % p.municipalities];
        let received = round_start + Duration::days(rng.random_range(0..=round_days));
        let r: f64 = rng.random();
        let waiver = rng.random_bool(0.15);
        // A municipality with an RAA converts it into its KI: its
        // applications are granted (a refusal would end the transition).
        let r = if k["raa"] == true { r * 0.87 } else { r };
        let profile = match r {
            r if r < 0.62 => "vollstaendig",
            r if r < 0.87 => "nachforderung",
            r if r < 0.94 => "keine_antwort",
            _ => "ohne_konzept",
        };
        let granted = matches!(profile, "vollstaendig" | "nachforderung");
        let profile = if granted && !waiver {
            format!("{profile}_bestandskraft")
        } else {
            profile.to_string()
        };
        antraege.push(json!({"kommune": k["name"], "profil": profile, "eingang": day(received)}));
        if !granted {
            continue;
        }
        let approved = received + Duration::days(approve_day(&profile));
        let final_on = if waiver {
            approved + Duration::days(rng.random_range(3..=10))
        } else {
            approved + Duration::days(FINAL_AFTER)
        };
        // Three calls for funds, a third each, in January, April and July
        // (the first not before the notice is final).
        let mut abrufe = Vec::new();
        for (j, month) in [1u32, 4, 7].into_iter().enumerate() {
            let planned = ymd(y, month, 2) + Duration::days(rng.random_range(0..=10));
            let filed = planned.max(final_on + Duration::days(2));
            let paid = filed + Duration::days(1);
            let needed = filed + Duration::days(14);
            // Most confirm the use within two months; some do not.
            let spent = rng.random_bool(0.85);
            let used = needed + Duration::days(rng.random_range(10..=40));
            abrufe.push(json!({
                "eingang": day(filed),
                "benoetigt_am": day(needed),
                "anteil": [j + 1, 3],
                "auszahlung": day(paid),
                "verwendet_am": if spent { day(used) } else { Value::Null },
                "bestaetigt": day(used + Duration::days(3)),
            }));
        }
        groups.push(json!({
            "antrag": i,
            "rechtsbehelfsverzicht": if waiver { day(final_on) } else { Value::Null },
            "iban": iban(i),
            "vier_augen_versuch": false,
            "abrufe": abrufe,
        }));

        // The proof of use, requested in January after the year.
        let requested = ymd(y + 1, 1, 8) + Duration::days(rng.random_range(0..=20));
        let r: f64 = rng.random();
        let (submitted, late) = match r {
            r if r < 0.80 => (
                Some(ymd(y + 1, 4, 1) + Duration::days(rng.random_range(0..=85))),
                false,
            ),
            r if r < 0.92 => (
                Some(ymd(y + 1, 7, 5) + Duration::days(rng.random_range(0..=46))),
                true,
            ),
            _ => (None, false),
        };
        let mut entry = json!({"antrag": i, "angefordert": day(requested), "verspaetet": late});
        if let Some(submitted) = submitted {
            // Some spent less than paid: a post stayed vacant for months
            // (always the first one submitted in time, so a year has one).
            let short = !late && (shorts == 0 || rng.random_bool(0.04));
            let vacant = if short { rng.random_range(2..=6) } else { 0 };
            let checked = submitted + Duration::days(rng.random_range(7..=30));
            entry["eingereicht"] = day(submitted);
            entry["geprueft"] = day(checked);
            entry["sachbericht"] = json!({
                "stellen_besetzt_monate": 42 - vacant,
                "beratungen": rng.random_range(150..=600),
                "schulen": rng.random_range(10..=60),
                "netzwerkpartner": rng.random_range(5..=40),
                "veranstaltungen": rng.random_range(3..=30),
                "sachbericht": format!("Das Kommunale Integrationszentrum hat {y} in beiden Schwerpunkten gearbeitet: Integration durch Bildung und Integration als kommunale Querschnittsaufgabe."),
            });
            if short {
                shorts += 1;
                // The Verwaltungsfachkraft's post, vacant for `vacant` months.
                entry["minder_verwaltung"] = json!(format!("{}.00", vacant * 3850));
                let heard = checked + Duration::days(2);
                let proposed = heard + Duration::days(22);
                let revoked = proposed + Duration::days(7);
                let repaid = revoked + Duration::days(30);
                entry["anhoerung"] = day(heard);
                entry["widerruf_vorgeschlagen"] = day(proposed);
                entry["widerrufen"] = day(revoked);
                entry["unwirksam_ab"] = day(ymd(y, 1, 1));
                entry["erstattet"] = day(repaid);
                entry["erstattet_am"] = day(repaid - Duration::days(2));
            }
        }
        proofs.push(entry);
    }

    // The Landkreistag's circulars, spread over the funding year.
    let mut rundschreiben = Vec::new();
    for c in 0..p.circulars {
        let on = ymd(y, 1, 10) + Duration::days((c as i64 * 340) / p.circulars.max(1) as i64);
        let subject = SUBJECTS[c % SUBJECTS.len()];
        rundschreiben.push(json!({
            "datum": day(on),
            "referent": "limbach",
            "leitung": "klein",
            "vier_augen_versuch": false,
            "daten": {
                "betreff": subject,
                "zusammenfassung": format!("Die Geschäftsstelle unterrichtet über: {subject}."),
                "anlagen": [format!("Anlage 1: Übersicht zu {subject}")],
            },
        }));
    }

    Ok(json!({
        "beschreibung": format!("Simulation des Förderjahres {y} (seed {})", p.seed),
        "start": day(ymd(y - 1, 8, 1)),
        "ende": day(ymd(y + 1, 10, 31)),
        "personen": demo["personen"],
        "antragsdaten": demo["antragsdaten"],
        "profile": profiles,
        "bewilligungszeitraum": {
            "bewilligungszeitraum_von": day(ymd(y, 1, 1)),
            "bewilligungszeitraum_bis": day(ymd(y, 12, 31)),
            "verwendungsnachweis_bis": day(ymd(y + 1, 6, 30)),
        },
        "rundschreiben": rundschreiben,
        "raa_umwandlung": {
            "eingeleitet": day(ymd(y - 1, 8, 1)),
            "foerderung_alter_form_bis": day(ymd(y - 1, 12, 31)),
            "abschluss": abschluss,
        },
        "antraege": antraege,
        "mittelabrufe": groups,
        "verwendungsnachweise": proofs,
    }))
}

/// Days from the notice to recording its Bestandskraft: the Klagefrist
/// (three days by post, one month, moved past weekends and holidays) has
/// run out by then.
const FINAL_AFTER: i64 = 45;

/// A German test IBAN for the n-th application (valid check digits).
fn iban(n: usize) -> String {
    let bban = format!("44050199{:010}", 1_000_000 + n);
    // ISO 13616: BBAN + "DE00" as digits (D=13, E=14), mod 97.
    let digits = format!("{bban}131400");
    let rest = digits
        .bytes()
        .fold(0u64, |acc, b| (acc * 10 + u64::from(b - b'0')) % 97);
    format!("DE{:02}{bban}", 98 - rest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_year_and_another_seed_another() {
        let p = Params {
            applications: 60,
            municipalities: 10,
            circulars: 3,
            ..Params::default()
        };
        let a = generate(&p).unwrap();
        assert_eq!(a, generate(&p).unwrap());
        let b = generate(&Params {
            seed: 2,
            ..p.clone()
        })
        .unwrap();
        assert_ne!(a["antraege"], b["antraege"]);
        assert_eq!(a["antraege"].as_array().unwrap().len(), 60);
        assert_eq!(a["rundschreiben"].as_array().unwrap().len(), 3);
        // Every grant has three calls and a proof of use; one is short.
        let groups = a["mittelabrufe"].as_array().unwrap();
        assert!(
            groups
                .iter()
                .all(|g| g["abrufe"].as_array().unwrap().len() == 3)
        );
        let proofs = a["verwendungsnachweise"].as_array().unwrap();
        assert_eq!(proofs.len(), groups.len());
        assert!(proofs.iter().any(|v| !v["minder_verwaltung"].is_null()));
        // The first call never comes before the notice is final.
        for g in groups {
            let first = g["abrufe"][0]["eingang"].as_str().unwrap();
            if let Some(waived) = g["rechtsbehelfsverzicht"].as_str() {
                assert!(first > waived, "{g}");
            }
        }
    }

    #[test]
    fn the_municipalities_are_those_of_the_list_and_bounded() {
        let p = Params {
            municipalities: 54,
            ..Params::default()
        };
        let e = generate(&p).unwrap_err().to_string();
        assert!(e.contains("--municipalities 54"), "{e}");
        let p = Params {
            year: 2014,
            ..Params::default()
        };
        assert!(
            generate(&p)
                .unwrap_err()
                .to_string()
                .contains("--year 2014")
        );
    }

    #[test]
    fn test_ibans_have_valid_check_digits() {
        for n in [0, 1, 77, 1059] {
            let iban = iban(n);
            assert_eq!(iban.len(), 22);
            // Move the first four characters to the end; mod 97 must be 1.
            let moved = format!("{}{}", &iban[4..], &iban[..4]);
            let digits: String = moved
                .chars()
                .map(|c| match c {
                    'A'..='Z' => (c as u32 - 'A' as u32 + 10).to_string(),
                    _ => c.to_string(),
                })
                .collect();
            let rest = digits
                .bytes()
                .fold(0u64, |acc, b| (acc * 10 + u64::from(b - b'0')) % 97);
            assert_eq!(rest, 1, "{iban}");
        }
    }
}
