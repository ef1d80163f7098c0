//! `boa-det completions SHELL` and `boa-det man`: shell completions
//! (clap_complete) and manual pages (clap_mangen), generated from the same
//! command definition that parses the arguments, so they never go stale.

use super::io_util::OutputFile;
use super::{CliError, exit};
use clap::CommandFactory;
use std::path::{Path, PathBuf};

#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// Write boa-det.1 and a page per command (boa-det-compress.1, ...) into
    /// DIR instead of printing boa-det.1 on standard output.
    #[arg(short = 'o', long = "output", value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Replace pages that exist in DIR.
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// Prints the completion script for `shell` on standard output.
pub fn completions(args: CompletionsArgs) -> Result<(), CliError> {
    let mut cmd = super::Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "boa-det", &mut script);
    super::write_stdout(format_args!("{}", String::from_utf8_lossy(&script)), false)
}

/// Prints boa-det.1, or writes every page into a folder.
pub fn man(args: ManArgs) -> Result<(), CliError> {
    let cmd = super::Cli::command();
    let Some(dir) = args.dir else {
        let page = render(cmd)?;
        return super::write_stdout(format_args!("{}", String::from_utf8_lossy(&page)), false);
    };
    let mut pages = vec![("boa-det".to_string(), render(cmd.clone())?)];
    for sub in cmd.get_subcommands() {
        let name = format!("boa-det-{}", sub.get_name());
        // A sub-page's title and usage name the full command.
        let sub = sub
            .clone()
            .name(name.clone())
            .bin_name(format!("boa-det {}", sub.get_name()));
        pages.push((name, render(sub)?));
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::new(exit::IO, format!("{}: cannot create: {e}", dir.display())))?;
    for (name, page) in pages {
        write_page(&dir.join(format!("{name}.1")), &page, args.force)?;
    }
    Ok(())
}

fn render(cmd: clap::Command) -> Result<Vec<u8>, CliError> {
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut page)
        .map_err(|e| CliError::new(exit::IO, format!("cannot render the manual page: {e}")))?;
    Ok(page)
}

/// Writes a page as every output is written: whole or not at all, an
/// existing file replaced only with `force`.
fn write_page(path: &Path, page: &[u8], force: bool) -> Result<(), CliError> {
    let mut out = OutputFile::create(path, force, None)?;
    out.writer()
        .write_all(page)
        .map_err(|e| CliError::new(exit::IO, format!("{}: cannot write: {e}", path.display())))?;
    out.commit().map(|_| ())
}
