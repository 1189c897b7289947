//! The municipalities amtspost corresponds with: the Kreise, the
//! StädteRegion and the kreisfreie Städte of `workflows/data/kommunen.json`
//! (the built-in file in a folder without `workflows/`). The circular's
//! distribution list, its Landkreistag members (`lkt_mitglied`), is read by
//! the `rundschreiben` workflow itself (`recipients` of `verteilen`).

use std::path::Path;

use serde::Deserialize;

use crate::assets::WORKFLOWS;
use crate::domain::PartyRef;

/// Why the municipality list could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {reason}")]
pub struct DirectoryError {
    pub file: String,
    pub reason: String,
}

/// One municipality as the data file describes it.
#[derive(Debug, Clone, Deserialize)]
pub struct Municipality {
    pub name: String,
    pub art: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub address: Vec<String>,
    /// Member of the Landkreistag NRW (Kreise and StädteRegion).
    #[serde(default)]
    pub lkt_mitglied: bool,
    /// The administrative court of its seat (§ 52 Nr. 3 VwGO, § 17 JustG NRW).
    #[serde(default)]
    pub verwaltungsgericht: Option<String>,
}

impl Municipality {
    /// The party letters and mails go to.
    pub fn party(&self) -> Result<PartyRef, DirectoryError> {
        serde_json::from_value(serde_json::json!({
            "name": self.name, "email": self.email, "address": self.address,
        }))
        .map_err(|e| DirectoryError {
            file: "kommunen.json".into(),
            reason: format!("{}: {e}", self.name),
        })
    }
}

#[derive(Deserialize)]
struct File {
    #[serde(default)]
    kommunen: Vec<Municipality>,
    #[serde(default)]
    weitere_antragsteller: Vec<Municipality>,
}

/// All municipalities, in the file's order.
#[derive(Debug, Clone, Default)]
pub struct Directory {
    all: Vec<Municipality>,
}

impl Directory {
    /// `<workflows_dir>/data/kommunen.json`, the built-in one if the folder
    /// does not exist, or an empty directory if the folder has no such file.
    pub fn load(workflows_dir: &Path) -> Result<Directory, DirectoryError> {
        let (file, text) = if workflows_dir.exists() {
            let path = workflows_dir.join("data/kommunen.json");
            match std::fs::read_to_string(&path) {
                Ok(t) => (path.display().to_string(), t),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return Ok(Directory::default());
                }
                Err(e) => {
                    return Err(DirectoryError {
                        file: path.display().to_string(),
                        reason: e.to_string(),
                    });
                }
            }
        } else {
            let f = WORKFLOWS
                .get_file("data/kommunen.json")
                .and_then(|f| f.contents_utf8())
                .unwrap_or("{}");
            (
                "workflows/data/kommunen.json (built in)".to_string(),
                f.to_string(),
            )
        };
        let parsed: File = serde_json::from_str(&text).map_err(|e| DirectoryError {
            file: file.clone(),
            reason: e.to_string(),
        })?;
        let mut all = parsed.kommunen;
        all.extend(parsed.weitere_antragsteller);
        Ok(Directory { all })
    }

    pub fn all(&self) -> &[Municipality] {
        &self.all
    }

    pub fn get(&self, name: &str) -> Option<&Municipality> {
        self.all.iter().find(|m| m.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_list_has_the_31_landkreistag_members_with_addresses() {
        let d = Directory::load(Path::new("/nonexistent-workflows")).unwrap();
        let members: Vec<_> = d.all().iter().filter(|m| m.lkt_mitglied).collect();
        assert_eq!(members.len(), 31);
        assert!(members.iter().all(|m| m.party().unwrap().email.is_some()));
        assert_eq!(
            d.get("Kreis Unna")
                .and_then(|m| m.verwaltungsgericht.as_deref())
                .map(|c| c.starts_with("Verwaltungsgericht Gelsenkirchen")),
            Some(true)
        );
    }
}
