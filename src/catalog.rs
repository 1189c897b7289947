//! The catalogue of procedures: reads the workflow files, publishes each
//! version to the store (refusing silent edits of versions in use) and keeps
//! parsed definitions by `(id, version)` so that a case always runs on the
//! version it was opened with.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use crate::store::{Store, StoreError};
use crate::workflow::{self, DataFiles, Definition, Diagnostic};

/// Why workflows could not be loaded or published.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// A workflow file or folder could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Workflow files have problems; one line per problem with file:line:column.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
    /// No workflow with this id.
    #[error("no workflow `{id}`; known workflows: {}", .known.join(", "))]
    Unknown { id: String, known: Vec<String> },
    /// A stored version no longer parses (the templates it names are gone).
    #[error("stored workflow `{id}` version {version} no longer loads:\n{problems}")]
    Stale {
        id: String,
        version: i64,
        problems: String,
    },
    /// The store refused.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Loaded workflow definitions.
pub struct Catalog {
    /// The version in each file, by workflow id: what new cases are opened on.
    current: BTreeMap<String, (PathBuf, Arc<Definition>)>,
    /// Every version seen, including those only in the database.
    versions: RwLock<HashMap<(String, i64), Arc<Definition>>>,
    templates: BTreeSet<String>,
    /// The data files `[lookups]` read (`data/*.json` of the workflow folder).
    data: DataFiles,
}

/// The `data/*.json` files of a workflow folder, by path relative to it.
fn data_files(dir: &Path) -> Result<DataFiles, CatalogError> {
    let data = dir.join("data");
    let mut out = DataFiles::new();
    if !data.is_dir() {
        return Ok(out);
    }
    let read = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CatalogError::Read { path, source }
    };
    for entry in std::fs::read_dir(&data).map_err(read(&data))? {
        let path = entry.map_err(read(&data))?.path();
        if path.extension().is_some_and(|x| x == "json") {
            let text = std::fs::read_to_string(&path).map_err(read(&path))?;
            let name = path.file_name().expect("a file").to_string_lossy();
            out.insert(format!("data/{name}"), text);
        }
    }
    Ok(out)
}

impl Catalog {
    /// Reads and validates the given files and folders (`*.toml` inside
    /// folders); collects the problems of all files before failing.
    pub fn load(paths: &[PathBuf], templates: BTreeSet<String>) -> Result<Catalog, CatalogError> {
        let mut files = Vec::new();
        let mut data = DataFiles::new();
        for p in paths {
            let folder = if p.is_dir() {
                p.as_path()
            } else {
                p.parent().unwrap_or(Path::new("."))
            };
            data.extend(data_files(folder)?);
            if p.is_dir() {
                let entries = std::fs::read_dir(p).map_err(|source| CatalogError::Read {
                    path: p.clone(),
                    source,
                })?;
                let mut found: Vec<PathBuf> = entries
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| f.extension().is_some_and(|x| x == "toml"))
                    .collect();
                found.sort();
                files.extend(found);
            } else {
                files.push(p.clone());
            }
        }
        let mut sources = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|source| CatalogError::Read {
                path: f.clone(),
                source,
            })?;
            sources.push((f, text));
        }
        Self::from_sources_with_data(sources, templates, data)
    }

    /// The workflows built into the binary, for a folder without `workflows/`.
    pub fn embedded(templates: BTreeSet<String>) -> Result<Catalog, CatalogError> {
        let mut sources: Vec<(PathBuf, String)> = crate::assets::WORKFLOWS
            .files()
            .filter(|f| f.path().extension().is_some_and(|x| x == "toml"))
            .filter_map(|f| {
                let text = f.contents_utf8()?.to_string();
                Some((Path::new("(built in) workflows").join(f.path()), text))
            })
            .collect();
        sources.sort();
        let data = crate::assets::WORKFLOWS
            .get_dir("data")
            .into_iter()
            .flat_map(|d| d.files())
            .filter(|f| f.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|f| {
                let name = f.path().file_name()?.to_string_lossy().into_owned();
                Some((format!("data/{name}"), f.contents_utf8()?.to_string()))
            })
            .collect();
        Self::from_sources_with_data(sources, templates, data)
    }

    /// Validates workflow texts, collecting the problems of all of them.
    pub fn from_sources(
        sources: Vec<(PathBuf, String)>,
        templates: BTreeSet<String>,
    ) -> Result<Catalog, CatalogError> {
        Self::from_sources_with_data(sources, templates, DataFiles::new())
    }

    /// [`Catalog::from_sources`] with the data files `[lookups]` read.
    pub fn from_sources_with_data(
        sources: Vec<(PathBuf, String)>,
        templates: BTreeSet<String>,
        data: DataFiles,
    ) -> Result<Catalog, CatalogError> {
        let mut problems = Vec::new();
        let mut current: BTreeMap<String, (PathBuf, Arc<Definition>)> = BTreeMap::new();
        for (f, text) in sources {
            match workflow::load_with_data(&f, &text, &templates, &data) {
                Ok(def) => {
                    if let Some((other, _)) = current.get(&def.id) {
                        problems.push(Diagnostic {
                            file: f.clone(),
                            line: 1,
                            column: 1,
                            message: format!(
                                "workflow id `{}` is already used by {}",
                                def.id,
                                other.display()
                            ),
                            hint: Some("each workflow file needs its own id".into()),
                        });
                    } else {
                        current.insert(def.id.clone(), (f, Arc::new(def)));
                    }
                }
                Err(mut d) => problems.append(&mut d),
            }
        }
        // `[links]` name other workflows: they must be here, with the fields named.
        for (f, def) in current.values() {
            for link in &def.links {
                let fields = current.get(&link.workflow).map(|(_, d)| &d.fields);
                let missing: Vec<&str> = link
                    .same
                    .values()
                    .chain(link.take.values())
                    .filter(|name| fields.is_some_and(|fs| !fs.contains_key(*name)))
                    .map(String::as_str)
                    .collect();
                let message = match fields {
                    None => format!(
                        "link `{}` names workflow `{}`, which is not loaded",
                        link.name, link.workflow
                    ),
                    Some(_) if !missing.is_empty() => format!(
                        "link `{}`: workflow `{}` declares no field {}",
                        link.name,
                        link.workflow,
                        missing.join(", ")
                    ),
                    Some(_) => continue,
                };
                problems.push(Diagnostic {
                    file: f.clone(),
                    line: 1,
                    column: 1,
                    message,
                    hint: None,
                });
            }
        }
        // A link's `start` names the linked workflow's date field, states
        // and parties.
        for (f, def) in current.values() {
            for link in &def.links {
                let (Some(start), Some((_, there))) = (&link.start, current.get(&link.workflow))
                else {
                    continue;
                };
                let mut wrong = Vec::new();
                match there.fields.get(&start.after) {
                    Some(field) if field.kind == crate::workflow::FieldKind::Date => {}
                    _ => wrong.push(format!("no date field `{}`", start.after)),
                }
                for state in &start.states {
                    if there.state(state).is_none() {
                        wrong.push(format!("no state `{state}`"));
                    }
                }
                for party in start.parties.values() {
                    if !there.parties.contains_key(party) {
                        wrong.push(format!("no party `{party}`"));
                    }
                }
                if !wrong.is_empty() {
                    problems.push(Diagnostic {
                        file: f.clone(),
                        line: 1,
                        column: 1,
                        message: format!(
                            "link `{}` start: workflow `{}` has {}",
                            link.name,
                            link.workflow,
                            wrong.join(", ")
                        ),
                        hint: None,
                    });
                }
            }
        }
        // Accounts across workflows: what a link takes from an account and
        // what bookings count on it must name lines the account declares.
        for (f, def) in current.values() {
            for (link, lines) in account_lines_used(def) {
                let target = current.get(&link.workflow).map(|(_, d)| d);
                let message = match target.map(|d| d.account.as_ref()) {
                    None => continue,
                    Some(None) => format!(
                        "link `{}`: workflow `{}` declares no [account]",
                        link.name, link.workflow
                    ),
                    Some(Some(account)) => {
                        let unknown: Vec<&str> = lines
                            .iter()
                            .filter(|l| !account.lines.iter().any(|a| a.name == **l))
                            .map(String::as_str)
                            .collect();
                        if unknown.is_empty() {
                            continue;
                        }
                        format!(
                            "link `{}`: the account of `{}` has no line {} (lines: {})",
                            link.name,
                            link.workflow,
                            unknown.join(", "),
                            account
                                .lines
                                .iter()
                                .map(|l| l.name.as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    }
                };
                problems.push(Diagnostic {
                    file: f.clone(),
                    line: 1,
                    column: 1,
                    message,
                    hint: None,
                });
            }
        }
        // `[controlling]` reads the proofs of use of another workflow.
        for (f, def) in current.values() {
            let Some(c) = &def.controlling else { continue };
            if let Some(message) = controlling_problem(def, c, &current) {
                problems.push(Diagnostic {
                    file: f.clone(),
                    line: 1,
                    column: 1,
                    message,
                    hint: None,
                });
            }
        }
        if !problems.is_empty() {
            return Err(CatalogError::Invalid(problems));
        }
        // Versions are filled from the store as cases ask for them: a case
        // runs on the content stored when its version was published, even
        // if the file was edited since without raising its version.
        Ok(Catalog {
            current,
            versions: RwLock::new(HashMap::new()),
            templates,
            data,
        })
    }

    /// All current definitions, by id.
    pub fn definitions(&self) -> impl Iterator<Item = (&Path, &Arc<Definition>)> {
        self.current.values().map(|(p, d)| (p.as_path(), d))
    }

    /// The current version of a workflow, for opening cases.
    pub fn current(&self, id: &str) -> Result<Arc<Definition>, CatalogError> {
        self.current
            .get(id)
            .map(|(_, d)| d.clone())
            .ok_or_else(|| CatalogError::Unknown {
                id: id.into(),
                known: self.current.keys().cloned().collect(),
            })
    }

    /// Records every current version in the store.
    pub async fn publish(&self, store: &Store, now: &str) -> Result<(), CatalogError> {
        for id in self.current.keys() {
            self.publish_one(store, id, now).await?;
        }
        Ok(())
    }

    /// Records the current version of one workflow in the store (refusing
    /// a changed file under a version that cases use).
    pub async fn publish_one(
        &self,
        store: &Store,
        id: &str,
        now: &str,
    ) -> Result<(), CatalogError> {
        let Some((path, def)) = self.current.get(id) else {
            return Err(CatalogError::Unknown {
                id: id.into(),
                known: self.current.keys().cloned().collect(),
            });
        };
        store
            .register_definition(
                &def.id,
                def.version,
                &def.content_hash,
                &def.source,
                &path.display().to_string(),
                now,
            )
            .await?;
        Ok(())
    }

    /// A workflow version from its published source (e.g. the one an Akte
    /// brings), read with this catalog's templates and data files.
    pub fn parse(&self, path: &str, source: &str) -> Result<Definition, CatalogError> {
        workflow::load_with_data(Path::new(path), source, &self.templates, &self.data)
            .map_err(CatalogError::Invalid)
    }

    /// The definition a case runs on: the content stored when its version
    /// was published (the file's, if the file still has that content).
    pub async fn version(
        &self,
        store: &Store,
        id: &str,
        version: i64,
    ) -> Result<Arc<Definition>, CatalogError> {
        let key = (id.to_string(), version);
        if let Some(d) = self.versions.read().expect("catalog lock").get(&key) {
            return Ok(d.clone());
        }
        let row = store
            .definition(id, version)
            .await?
            .ok_or_else(|| CatalogError::Unknown {
                id: format!("{id} version {version}"),
                known: self.current.keys().cloned().collect(),
            })?;
        let same_as_file = self
            .current
            .get(id)
            .filter(|(_, d)| d.version == version && d.content_hash == row.content_hash)
            .map(|(_, d)| d.clone());
        if let Some(def) = same_as_file {
            self.versions
                .write()
                .expect("catalog lock")
                .insert(key, def.clone());
            return Ok(def);
        }
        let def = workflow::load_with_data(
            Path::new(&row.path),
            &row.source,
            &self.templates,
            &self.data,
        )
        .map_err(|d| CatalogError::Stale {
            id: id.into(),
            version,
            problems: d
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        })?;
        let def = Arc::new(def);
        self.versions
            .write()
            .expect("catalog lock")
            .insert(key, def.clone());
        Ok(def)
    }
}

/// For each link of `def` that uses its target's account (through
/// `[bookings]` or the link's `account` map), the account lines it names.
fn account_lines_used(def: &Definition) -> Vec<(&crate::workflow::Link, Vec<String>)> {
    def.links
        .iter()
        .filter_map(|link| {
            let mut lines: Vec<String> = link
                .account
                .values()
                .filter_map(|p| crate::workflow::split_path(p).and_then(|(_, l)| l))
                .map(str::to_string)
                .collect();
            let booked = def.bookings.as_ref().filter(|b| b.link == link.name);
            if let Some(b) = booked {
                lines.extend(b.amounts.keys().cloned());
            }
            (booked.is_some() || !link.account.is_empty()).then_some((link, lines))
        })
        .collect()
}

/// What is wrong with `[controlling]` of `def`, checked against its proof
/// workflow: linked to `def`, with the money and number fields it names.
fn controlling_problem(
    def: &Definition,
    c: &crate::workflow::Controlling,
    current: &BTreeMap<String, (PathBuf, Arc<Definition>)>,
) -> Option<String> {
    use crate::workflow::FieldKind;
    let Some((_, proofs)) = current.get(&c.proofs) else {
        return Some(format!(
            "controlling: workflow `{}` is not loaded",
            c.proofs
        ));
    };
    if !proofs.links.iter().any(|l| l.workflow == def.id) {
        return Some(format!(
            "controlling: workflow `{}` has no link to `{}`",
            c.proofs, def.id
        ));
    }
    let kind = |name: &str| proofs.fields.get(name).map(|f| f.kind.clone());
    for money in [&c.proven, &c.repaid] {
        if kind(money) != Some(FieldKind::Money) {
            return Some(format!(
                "controlling: `{money}` is no money field of `{}`",
                c.proofs
            ));
        }
    }
    for i in &c.indicators {
        if !matches!(kind(i), Some(FieldKind::Number | FieldKind::Integer)) {
            return Some(format!(
                "controlling: indicator `{i}` is no number field of `{}`",
                c.proofs
            ));
        }
    }
    c.repaid_states
        .iter()
        .find(|s| proofs.state(s).is_none())
        .map(|s| format!("controlling: `{}` has no state `{s}`", c.proofs))
}
