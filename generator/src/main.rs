//! The `mcpgen` command: arguments, files and exit codes; the library does the rest.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Generates MCP servers with OAuth from a YAML spec.
#[derive(Debug, Parser)]
#[command(name = "mcpgen", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check specs; exits 0 when all are valid, 1 when any is not, 2 when one cannot be read.
    Check {
        /// Spec files (YAML).
        #[arg(required = true)]
        specs: Vec<PathBuf>,
    },
    /// Print the JSON Schema of the spec format, for editors.
    Schema,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check { specs } => check(&specs),
        Command::Schema => {
            println!("{}", mcpgen::schema_text().trim_end());
            ExitCode::SUCCESS
        }
    }
}

fn check(paths: &[PathBuf]) -> ExitCode {
    let mut invalid = false;
    let mut unreadable = false;
    for path in paths {
        let name = path.display().to_string();
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("error: cannot read `{name}`: {e}");
                unreadable = true;
                continue;
            }
        };
        match mcpgen::check(&name, &bytes) {
            Ok(model) => println!(
                "{name}: ok ({} tool{})",
                model.tools.len(),
                if model.tools.len() == 1 { "" } else { "s" }
            ),
            Err(report) => {
                eprint!("{report}");
                invalid = true;
            }
        }
    }
    if unreadable {
        ExitCode::from(2)
    } else if invalid {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}
