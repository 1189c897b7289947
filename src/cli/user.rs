//! `amtspost user`: the people who log in to the web UI and the API.

use std::io::Read as _;

use anyhow::{Context as _, Result, bail};
use clap::Subcommand;

use super::Ctx;
use crate::identity::UserSpec;

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a user (roles: the workflows' roles, admin, municipality)
    Add {
        /// Login name
        name: String,
        /// A role; repeat for several (e.g. --role clerk --role approver)
        #[arg(long = "role", value_name = "ROLE", required = true)]
        roles: Vec<String>,
        /// The name shown in the UI, e.g. "Anna Becker"
        #[arg(long, value_name = "NAME")]
        display: Option<String>,
        /// For --role municipality: the municipality as in workflows/data/kommunen.json, e.g. "Kreis Unna"
        #[arg(long, value_name = "PARTY")]
        party: Option<String>,
        /// Read the password from standard input (first line)
        #[arg(long)]
        password_stdin: bool,
    },
    /// List users
    List,
    /// Disable a user and end their sessions and API tokens
    Disable {
        /// Login name
        name: String,
    },
    /// Print a new API token for a user (shown once; stored only as a hash)
    Token {
        /// Login name
        name: String,
    },
}

pub async fn run(ctx: &Ctx, cmd: Command) -> Result<()> {
    let app = ctx.app().await?;
    let identity = app.identity();
    match cmd {
        Command::Add {
            name,
            roles,
            display,
            party,
            password_stdin,
        } => {
            // The party is a municipality of the directory, spelled as there
            // (a workflows folder without kommunen.json has none to check).
            if let Some(p) = &party
                && !app.municipalities().all().is_empty()
                && app.municipalities().get(p).is_none()
            {
                let near: Vec<&str> = app
                    .municipalities()
                    .all()
                    .iter()
                    .map(|m| m.name.as_str())
                    .filter(|n| n.split(' ').any(|w| w.len() > 3 && p.contains(w)))
                    .collect();
                bail!(
                    "--party \"{p}\" is not a municipality of workflows/data/kommunen.json{}",
                    if near.is_empty() {
                        " (give the name as written there, e.g. \"Kreis Unna\")".to_string()
                    } else {
                        format!("; did you mean {}?", near.join(", "))
                    }
                );
            }
            let password = if password_stdin {
                let mut s = String::new();
                std::io::stdin()
                    .read_to_string(&mut s)
                    .context("reading the password from standard input")?;
                let line = s.lines().next().unwrap_or("").to_string();
                if line.is_empty() {
                    bail!("--password-stdin: standard input holds no password");
                }
                Some(line)
            } else {
                None
            };
            let user = identity
                .add_user(
                    UserSpec {
                        name,
                        display_name: display,
                        roles,
                        party,
                        password,
                    },
                    &app.known_roles(),
                )
                .await?;
            ctx.print(&user, || {
                format!(
                    "user {} ({}) created with roles {}{}\n",
                    user.name,
                    user.display_name,
                    user.roles.join(", "),
                    user.party
                        .as_ref()
                        .map(|p| format!(" for {p}"))
                        .unwrap_or_default()
                )
            });
        }
        Command::List => {
            let users = identity.users().await?;
            ctx.print(&users, || {
                let mut out = String::new();
                for u in &users {
                    out.push_str(&format!(
                        "{:<16} {:<24} {:<28} {}{}\n",
                        u.name,
                        u.display_name,
                        u.roles.join(","),
                        u.party.clone().unwrap_or_default(),
                        if u.disabled { " (disabled)" } else { "" }
                    ));
                }
                out
            });
        }
        Command::Disable { name } => {
            identity.disable(&name).await?;
            ctx.print(&serde_json::json!({"disabled": name}), || {
                format!("user {name} disabled; their sessions and tokens are ended\n")
            });
        }
        Command::Token { name } => {
            let token = identity.new_token(&name).await?;
            ctx.print(&serde_json::json!({"user": name, "token": token}), || {
                format!("{token}\n")
            });
        }
    }
    app.close().await;
    Ok(())
}
