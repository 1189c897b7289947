//! `amtspost letter`: preview a letter from a template and a data file.

use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use clap::Subcommand;
use serde_json::json;

use super::Ctx;
use crate::letter::series::{self, RowError};
use crate::letter::{LetterEngine, RenderRequest};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render a template to a PDF: one letter from --data, or a Serienbrief (one letter per row) from --rows
    Render {
        /// Template name, e.g. zuwendungsbescheid
        template: String,
        /// The template's data (see templates/README.md and templates/examples/); with --rows, what every letter shares (each row goes over it)
        #[arg(long, value_name = "FILE", required_unless_present = "rows")]
        data: Option<PathBuf>,
        /// Where to write the PDF (with --data)
        #[arg(short, long, value_name = "OUT.pdf")]
        output: Option<PathBuf>,
        /// Rows for a Serienbrief: JSON Lines, or CSV (.csv; UTF-8, `;` or `,`, header `a.b` for nested keys)
        #[arg(long, value_name = "FILE", requires = "out_dir")]
        rows: Option<PathBuf>,
        /// Where the Serienbrief's letters go, one PDF per row
        #[arg(long, value_name = "DIR")]
        out_dir: Option<PathBuf>,
        /// Also write all letters as one PDF, each on a new page (for printing)
        #[arg(long, value_name = "OUT.pdf", requires = "rows")]
        combine: Option<PathBuf>,
        /// Name each letter's file after this field (e.g. reference.ours) [default: the row's line number]
        #[arg(long, value_name = "FIELD", requires = "rows")]
        name_by: Option<String>,
        /// Stop at the first row that fails (the rows already rendered are kept)
        #[arg(long, requires = "rows")]
        fail_fast: bool,
        /// Letter date [default: today]
        #[arg(long, value_name = "YYYY-MM-DD")]
        date: Option<chrono::NaiveDate>,
    },
    /// List the letter templates
    List,
}

pub async fn run(ctx: &Ctx, cmd: Command) -> Result<()> {
    let letters = ctx.letters()?;
    match cmd {
        Command::List => {
            let names = letters.templates();
            ctx.print(&names, || names.iter().map(|n| format!("{n}\n")).collect());
        }
        Command::Render {
            template,
            data,
            rows: Some(rows),
            out_dir: Some(out_dir),
            combine,
            name_by,
            fail_fast,
            date,
            ..
        } => {
            let date = date.unwrap_or_else(|| ctx.clock.today());
            let base = match &data {
                Some(path) => read_json(path)?,
                None => serde_json::Value::Object(Default::default()),
            };
            let batch = Batch {
                template,
                base,
                rows,
                out_dir,
                combine,
                name_by,
                fail_fast,
                date,
                author: ctx.config.office.name.clone(),
            };
            let summary = tokio::task::spawn_blocking(move || batch.run(&letters)).await??;
            ctx.print(&summary, || summary.text());
            if summary.failed > 0 {
                bail!(
                    "{} of {} rows failed (listed above); {} letters were written",
                    summary.failed,
                    summary.rows,
                    summary.written
                );
            }
        }
        Command::Render {
            template,
            data: Some(data),
            output: Some(output),
            date,
            ..
        } => {
            let value = read_json(&data)?;
            let date = date.unwrap_or_else(|| ctx.clock.today());
            let author = ctx.config.office.name.clone();
            let rendered = tokio::task::spawn_blocking(move || {
                letters.render(&RenderRequest {
                    template: &template,
                    data: &value,
                    date,
                    title: &template,
                    author: &author,
                })
            })
            .await??;
            std::fs::write(&output, &rendered.pdf)
                .with_context(|| format!("writing {}", output.display()))?;
            let info =
                json!({"output": output, "pages": rendered.pages, "sha256": rendered.sha256});
            ctx.print(&info, || {
                format!(
                    "wrote {} ({} page(s), sha256 {})\n",
                    output.display(),
                    rendered.pages,
                    rendered.sha256
                )
            });
        }
        Command::Render { .. } => {
            bail!("give --data FILE -o OUT.pdf, or --rows FILE --out-dir DIR")
        }
    }
    Ok(())
}

fn read_json(path: &std::path::Path) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// A Serienbrief to render.
struct Batch {
    template: String,
    /// What every letter shares; each row goes over it.
    base: serde_json::Value,
    rows: PathBuf,
    out_dir: PathBuf,
    combine: Option<PathBuf>,
    name_by: Option<String>,
    fail_fast: bool,
    date: chrono::NaiveDate,
    author: String,
}

/// What a Serienbrief did.
#[derive(serde::Serialize)]
struct Summary {
    rows: usize,
    written: usize,
    failed: usize,
    /// Rows not rendered because --fail-fast stopped the series.
    skipped: usize,
    /// One line per failed row: `FILE:LINE: message`.
    errors: Vec<String>,
    out_dir: PathBuf,
    combined: Option<PathBuf>,
    seconds: f64,
}

impl Summary {
    fn text(&self) -> String {
        let mut s = String::new();
        for e in &self.errors {
            s.push_str(&format!("error: {e}\n"));
        }
        s.push_str(&format!(
            "{} of {} letters written to {} in {:.1} s ({:.0}/s)",
            self.written,
            self.rows,
            self.out_dir.display(),
            self.seconds,
            self.written as f64 / self.seconds.max(1e-9)
        ));
        if self.failed > 0 {
            s.push_str(&format!(", {} failed", self.failed));
        }
        if self.skipped > 0 {
            s.push_str(&format!(", {} not rendered (--fail-fast)", self.skipped));
        }
        if let Some(c) = &self.combined {
            s.push_str(&format!("; all in one: {}", c.display()));
        }
        s.push('\n');
        s
    }
}

impl Batch {
    /// Reads the rows, renders them on all cores with a progress bar on a
    /// terminal, writes one PDF per row (and the combined one).
    fn run(self, letters: &LetterEngine) -> Result<Summary> {
        let start = std::time::Instant::now();
        let file = self.rows.display().to_string();
        let text = std::fs::read_to_string(&self.rows)
            .with_context(|| format!("cannot read {file} (it must be UTF-8 text)"))?;
        let parsed = series::parse_rows(&file, &text)?;
        let total = parsed.len();
        let mut errors: Vec<RowError> = Vec::new();
        let mut rows = Vec::new();
        for r in parsed {
            match r {
                Ok(mut row) => {
                    row.data = series::merged(&self.base, &row.data);
                    rows.push(row);
                }
                Err(e) => errors.push(e),
            }
        }
        // Names first: a clash is the row's error, not an overwritten letter.
        let mut names = std::collections::BTreeMap::<String, usize>::new();
        let mut named = Vec::new();
        for row in rows {
            let stem = match &self.name_by {
                None => format!("{:05}", row.line),
                Some(field) => {
                    match series::field_text(&row.data, field).map(|v| series::file_stem(&v)) {
                        Some(stem) if !stem.is_empty() => stem,
                        _ => {
                            errors.push(RowError {
                                line: row.line,
                                message: format!(
                                    "--name-by {field}: the row has no text or number there"
                                ),
                            });
                            continue;
                        }
                    }
                }
            };
            if let Some(first) = names.insert(stem.clone(), row.line) {
                errors.push(RowError {
                    line: row.line,
                    message: format!("--name-by: {stem}.pdf is already the letter of line {first}"),
                });
                continue;
            }
            named.push((stem, row));
        }
        // --fail-fast stops at the first bad row in file order: the letters
        // before it are written, none after it (however far the other
        // cores got), so the result does not depend on timing.
        if self.fail_fast
            && let Some(first) = errors.iter().map(|e| e.line).min()
        {
            named.retain(|(_, r)| r.line < first);
        }
        std::fs::create_dir_all(&self.out_dir)
            .with_context(|| format!("cannot create {}", self.out_dir.display()))?;
        let bar = indicatif::ProgressBar::new(named.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} Briefe  {per_sec}  noch {eta}",
            )
            .expect("a valid progress template"),
        );
        let rows: Vec<series::Row> = named.iter().map(|(_, r)| r.clone()).collect();
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let progress = || bar.inc(1);
        let results = series::render_all(
            letters,
            &series::Series {
                template: &self.template,
                date: self.date,
                author: &self.author,
                fail_fast: self.fail_fast,
                progress: &progress,
            },
            &rows,
            workers,
        );
        bar.finish_and_clear();
        let first_failed = results
            .iter()
            .position(|r| matches!(r, Some(Err(_))))
            .filter(|_| self.fail_fast);
        let mut written = Vec::new();
        for (i, ((stem, _), result)) in named.iter().zip(results).enumerate() {
            if first_failed.is_some_and(|f| i > f) {
                continue;
            }
            match result {
                Some(Ok(letter)) => {
                    let path = self.out_dir.join(format!("{stem}.pdf"));
                    std::fs::write(&path, &letter.pdf)
                        .with_context(|| format!("cannot write {}", path.display()))?;
                    written.push(letter.pdf);
                }
                Some(Err(e)) => errors.push(e),
                // Not started: --fail-fast stopped the series.
                None => {}
            }
        }
        let combined = match &self.combine {
            Some(path) if !written.is_empty() => {
                let parts: Vec<&[u8]> = written.iter().map(Vec::as_slice).collect();
                let pdf = series::combine(&parts)?;
                std::fs::write(path, pdf)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                Some(path.clone())
            }
            _ => None,
        };
        errors.sort_by_key(|e| e.line);
        Ok(Summary {
            rows: total,
            written: written.len(),
            failed: errors.len(),
            skipped: total.saturating_sub(written.len() + errors.len()),
            errors: errors
                .iter()
                .map(|e| format!("{file}:{}: {}", e.line, e.message))
                .collect(),
            out_dir: self.out_dir,
            combined,
            seconds: start.elapsed().as_secs_f64(),
        })
    }
}
