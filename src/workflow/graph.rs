//! Renders a workflow's state machine as Graphviz DOT or Mermaid, for review
//! meetings and documentation.

use std::fmt::Write;

use super::definition::Definition;

/// Output language of `workflow graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

pub fn render_graph(def: &Definition, format: GraphFormat) -> String {
    let mut out = String::new();
    match format {
        GraphFormat::Dot => {
            let _ = writeln!(out, "digraph \"{}\" {{", esc(&def.id));
            let _ = writeln!(out, "  label=\"{} (v{})\";", esc(&def.title), def.version);
            let _ = writeln!(out, "  rankdir=LR;");
            for s in &def.states {
                let shape = if s.is_final { "doublecircle" } else { "circle" };
                let style = if s.initial { ", style=bold" } else { "" };
                let _ = writeln!(out, "  \"{}\" [shape={shape}{style}];", esc(&s.name));
            }
            for t in &def.transitions {
                for from in &t.from {
                    let _ = writeln!(
                        out,
                        "  \"{}\" -> \"{}\" [label=\"{}\\n[{}]\"];",
                        esc(from),
                        esc(t.to.as_deref().unwrap_or(from)),
                        esc(&t.name),
                        esc(&t.roles.join(", "))
                    );
                }
            }
            out.push_str("}\n");
        }
        GraphFormat::Mermaid => {
            out.push_str("stateDiagram-v2\n");
            let initial = def.initial_state();
            let _ = writeln!(out, "  [*] --> {}", initial.name);
            for t in &def.transitions {
                for from in &t.from {
                    let to = t.to.as_deref().unwrap_or(from);
                    let _ = writeln!(out, "  {from} --> {to}: {}", t.name);
                }
            }
            for s in def.states.iter().filter(|s| s.is_final) {
                let _ = writeln!(out, "  {} --> [*]", s.name);
            }
        }
    }
    out
}

fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}
