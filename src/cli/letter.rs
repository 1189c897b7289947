//! `amtspost letter`: preview a letter from a template and a data file.

use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Subcommand;
use serde_json::json;

use super::Ctx;
use crate::letter::RenderRequest;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render a template with data from a JSON file to a PDF
    Render {
        /// Template name, e.g. zuwendungsbescheid
        template: String,
        /// The template's data (see templates/README.md and templates/examples/)
        #[arg(long, value_name = "FILE")]
        data: PathBuf,
        /// Where to write the PDF
        #[arg(short, long, value_name = "OUT.pdf")]
        output: PathBuf,
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
            output,
            date,
        } => {
            let text = std::fs::read_to_string(&data)
                .with_context(|| format!("reading {}", data.display()))?;
            let value: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not valid JSON", data.display()))?;
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
    }
    Ok(())
}
