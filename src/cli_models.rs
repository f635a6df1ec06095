//! `infill models list | pull NAME | rm NAME`: the catalogue and the Hugging Face cache.

use std::path::Path;

use anyhow::bail;
use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use infill::models::{HubFile, ModelRef, catalogue, hub};

#[derive(Args)]
pub struct ModelsArgs {
    #[command(subcommand)]
    command: ModelsCommand,
}

#[derive(Subcommand)]
enum ModelsCommand {
    /// The catalogue's models, their sizes and licences, and which are downloaded.
    List,
    /// Download a model: a catalogue name, hf:OWNER/REPO[:QUANT] or hf:OWNER/REPO/FILE.gguf.
    Pull { name: String },
    /// Delete a downloaded model from the Hugging Face cache.
    Rm { name: String },
}

pub fn run(args: ModelsArgs) -> anyhow::Result<()> {
    match args.command {
        ModelsCommand::List => {
            list();
            Ok(())
        }
        ModelsCommand::Pull { name } => pull(Path::new(&name)).map(|_| ()),
        ModelsCommand::Rm { name } => rm(&name),
    }
}

fn list() {
    println!("{:<22} {:>8}  {:<10} {:<20} where", "NAME", "SIZE", "FAMILY", "LICENCE");
    for entry in catalogue::ENTRIES {
        let file = HubFile { repo: entry.repo.into(), file: entry.file.into() };
        let place = match hub::cached_unchecked(&file) {
            Some(path) => format!("downloaded: {}", path.display()),
            None => format!("hf:{file}"),
        };
        let default = if entry.name == catalogue::DEFAULT { " (default)" } else { "" };
        println!(
            "{:<22} {:>8}  {:<10} {:<20} {place}{default}",
            entry.name,
            catalogue::human_size(entry.size),
            entry.family,
            entry.licence,
        );
    }
    println!("\nModels go into the Hugging Face cache: {}", hub::cache_dir().display());
}

/// Downloads what `value` names unless it is a path or downloaded already; returns the file.
pub fn pull(value: &Path) -> anyhow::Result<std::path::PathBuf> {
    let model = ModelRef::parse(value).map_err(anyhow::Error::msg)?;
    if let ModelRef::Path(path) = &model {
        bail!("{} is a path, not a model name: nothing to download", path.display());
    }
    if let Some(path) = model.check_local() {
        eprintln!("infill: {} is downloaded: {}", value.display(), path.display());
        return Ok(path);
    }
    let Some(file) = model.hub_file()? else { unreachable!("a path returned above") };
    let size = catalogue::ENTRIES
        .iter()
        .find(|e| e.repo == file.repo && e.file == file.file)
        .map(|e| format!(" (about {})", catalogue::human_size(e.size)))
        .unwrap_or_default();
    eprintln!(
        "infill: downloading {file}{size} from {} into {}",
        hub::endpoint(),
        hub::cache_dir().display()
    );
    let path = hub::download(&file, Bar::new())?;
    eprintln!("infill: {} is ready: {}", value.display(), path.display());
    Ok(path)
}

fn rm(name: &str) -> anyhow::Result<()> {
    let model = ModelRef::parse(Path::new(name)).map_err(anyhow::Error::msg)?;
    let file = match &model {
        ModelRef::Path(path) => bail!("{} is a path, not a model name", path.display()),
        ModelRef::File(file) => file.clone(),
        // The cached file's name stands in for the hub's list: no network to delete.
        ModelRef::Repo { repo, .. } => match model.on_disk() {
            Some(path) => HubFile {
                repo: repo.clone(),
                file: path.file_name().unwrap_or_default().to_string_lossy().into_owned(),
            },
            None => bail!("{name} is not downloaded"),
        },
    };
    match hub::remove(&file)? {
        Some(bytes) => {
            println!("removed {file} ({})", catalogue::human_size(bytes));
            Ok(())
        }
        None => bail!("{name} is not downloaded"),
    }
}

/// hf-hub's progress reports drawn as an indicatif bar on stderr.
struct Bar(ProgressBar);

impl Bar {
    fn new() -> Self {
        let bar = ProgressBar::new(0);
        bar.set_style(
            ProgressStyle::with_template(
                "{bar:40} {percent:>3}% {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
            )
            .expect("a valid template"),
        );
        Self(bar)
    }
}

impl hf_hub::api::Progress for Bar {
    fn init(&mut self, size: usize, _filename: &str) {
        // Called again when a download resumes, followed by the bytes already there.
        self.0.set_length(size as u64);
        self.0.set_position(0);
    }

    fn update(&mut self, size: usize) {
        self.0.inc(size as u64);
    }

    fn finish(&mut self) {
        self.0.finish_and_clear();
    }
}
