//! `amtspost deadline`: compute a legal deadline with its reasoning; list holidays.

use anyhow::Result;
use clap::Subcommand;

use super::Ctx;
use crate::deadline::{self, DeadlineSpec, Period, Region};

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Compute the end of a deadline (§§ 187-193 BGB, § 31 VwVfG) and explain it
    Compute {
        /// Event day (or posting day with --by-post), YYYY-MM-DD
        #[arg(long)]
        from: chrono::NaiveDate,
        /// Period: 14D, 4W, 1M, 1Y
        #[arg(long)]
        period: Period,
        /// German state (or a municipality with local holidays, e.g. BY-AUGSBURG) [default: from config]
        #[arg(long)]
        region: Option<Region>,
        /// Count from notification by post (§ 41 Abs. 2 VwVfG)
        #[arg(long)]
        by_post: bool,
        /// The end does not move off weekends and holidays
        #[arg(long)]
        fixed: bool,
        /// A court deadline such as the Klagefrist (§ 57 Abs. 2 VwGO, § 222 ZPO)
        #[arg(long)]
        court: bool,
    },
    /// List the public holidays of a year
    Holidays {
        #[arg(long)]
        year: i32,
        /// German state [default: from config]
        #[arg(long)]
        region: Option<Region>,
    },
}

pub async fn run(ctx: &Ctx, cmd: Command) -> Result<()> {
    match cmd {
        Command::Compute {
            from,
            period,
            region,
            by_post,
            fixed,
            court,
        } => {
            let basis = if court {
                deadline::Basis::Court
            } else {
                deadline::Basis::Authority
            };
            let computed = deadline::compute_as(
                &DeadlineSpec {
                    event: from,
                    period,
                    region: region.unwrap_or(ctx.config.region),
                    by_post,
                    moves: !fixed,
                },
                basis,
            )?;
            ctx.print(&computed, || format!("{computed}\n"));
        }
        Command::Holidays { year, region } => {
            let region = region.unwrap_or(ctx.config.region);
            let list = deadline::holidays(year, region)?;
            ctx.print(&list, || {
                list.iter()
                    .map(|h| format!("{}  {}\n", h.date.format("%d.%m.%Y"), h.name))
                    .collect()
            });
        }
    }
    Ok(())
}
