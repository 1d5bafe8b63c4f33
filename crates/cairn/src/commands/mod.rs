//! The subcommands, one file each; this module holds the command line's
//! shape, the arguments every command shares and the stores they open.

mod admin;
mod attestation;
mod audit;
mod backup;
mod client;
#[cfg(test)]
mod coverage;
mod drill;
mod explain;
mod gc;
mod go;
mod image;
mod job;
mod login;
mod maven;
mod npm;
mod package;
mod policy;
mod publisher;
mod quarantine;
mod repository;
mod retention;
mod sbom;
mod search;
mod serve;
mod storage;
mod token;
mod user;
mod vuln;
mod warm;

use cairn_server::identity::Identity;
use cairn_server::Config;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// cairn: one registry for container images and language packages.
#[derive(Parser)]
#[command(version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How commands print what they answer: `table` (text for people) or
    /// `json` (for scripts; also each command's own `--json`).
    #[arg(long, global = true, value_enum, default_value_t = Output::Table)]
    output: Output,
}

/// How commands print what they answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Output {
    Table,
    Json,
}

static OUTPUT: std::sync::OnceLock<Output> = std::sync::OnceLock::new();

/// Prints what a command did: `json` under `--output json`, else `text`.
pub(crate) fn report(json: serde_json::Value, text: impl FnOnce() -> String) {
    if json_output(false) {
        println!("{json}");
    } else {
        println!("{}", text());
    }
}

/// A progress bar on standard error for a long job of `len` steps, named
/// `what`. It is hidden when standard error is no terminal; commands then
/// print their progress as lines (`ProgressBar::is_hidden`).
pub(crate) fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{prefix} {bar:40} {pos}/{len} {msg} [{elapsed_precise}, {eta} left]",
        )
        .expect("a valid template"),
    );
    bar.set_prefix(what.to_string());
    bar
}

/// Whether a command prints JSON: `--output json`, or its own `--json`.
pub(crate) fn json_output(flag: bool) -> bool {
    flag || OUTPUT.get() == Some(&Output::Json)
}

#[derive(Subcommand)]
enum Command {
    /// Run the registry server (blobs on disk and SQLite metadata under the data directory by default).
    Serve(serve::ServeArgs),
    /// Sign in to a running cairn as a person (password, and a one-time
    /// password when enrolled); later commands that talk to it use the session.
    Login(login::LoginArgs),
    /// End the session `cairn login` kept for a server.
    Logout(login::LogoutArgs),
    /// Who a running cairn takes your credential for: user, administrator
    /// or not, second factor.
    Whoami(login::WhoamiArgs),
    /// Find artifacts on a running cairn across every format and repository
    /// you may read: by name, digest prefix, purl, version or key=value.
    Search(search::SearchArgs),
    /// Images on a running cairn: what one is (platforms, layers, tags, who
    /// pushed it, signers, referrers), deleting a tag.
    #[command(subcommand)]
    Image(image::ImageCommand),
    /// The repositories a running cairn serves (hosted, proxy, virtual).
    #[command(subcommand, visible_alias = "repo")]
    Repository(repository::RepositoryCommand),
    /// Proxy repositories on a running cairn: what one caches; dropping an entry.
    #[command(subcommand)]
    Proxy(repository::ProxyCommand),
    /// Virtual repositories on a running cairn: owners' exceptions to name
    /// ownership and exemptions from the cooldown (see also `cairn explain`).
    #[command(subcommand)]
    Virtual(repository::VirtualCommand),
    /// Maintenance jobs on a running cairn (gc, retention, fsck, backup):
    /// start, follow with a progress bar, list, cancel.
    #[command(subcommand)]
    Job(job::JobCommand),
    /// What secret scanning holds back on a running cairn; releasing it.
    #[command(subcommand)]
    Quarantine(quarantine::QuarantineCommand),
    /// cairn's publish attestations of a package version, and the keys that
    /// verify them.
    #[command(subcommand)]
    Attestation(attestation::AttestationCommand),
    /// Administrative tasks that work directly on the configured stores.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Users and their grants (PATTERN:ACTIONS, e.g. 'team/**:read,publish').
    #[command(subcommand)]
    User(user::UserCommand),
    /// Groups: grants shared by their members.
    #[command(subcommand)]
    Group(user::GroupCommand),
    /// API tokens: random, shown once, stored hashed, scoped, expiring, revocable.
    #[command(subcommand)]
    Token(token::TokenCommand),
    /// Trusted publishers: OIDC identities allowed to publish to one repository.
    #[command(subcommand)]
    Publisher(publisher::PublisherCommand),
    /// Pull back or restore a package version: yank, unyank, deprecate,
    /// undeprecate, unpublish (within the repository's policy unless --force).
    Package {
        #[command(subcommand)]
        action: package::PackageAction,
    },
    /// npm: rotate the registry's signing key (dist.signatures, /-/npm/v1/keys).
    #[command(subcommand)]
    Npm(npm::NpmCommand),
    /// Go modules: store a version from a git tag or a module zip.
    #[command(subcommand)]
    Go(go::GoCommand),
    /// Maven staging repositories: list, close (validate), release (promote) or drop.
    #[command(subcommand)]
    Maven(maven::MavenCommand),
    /// Query the audit log (newest first). It is append-only: nothing can change it.
    Audit(audit::AuditArgs),
    /// Fetch everything lockfiles name through a proxy or virtual repository of a
    /// running cairn, checking their hashes: the cache then holds it before the
    /// upstream is needed.
    Warm(warm::WarmArgs),
    /// Where a package (and version) would come from through a virtual
    /// repository of a running cairn, and why (name ownership, cooldown).
    Explain(explain::ExplainArgs),
    /// SBOMs on a running cairn: which artifacts contain a package (by purl
    /// and version range), a subject's SBOMs, attaching one to a package version.
    #[command(subcommand)]
    Sbom(sbom::SbomCommand),
    /// Signature policies on a running cairn: why a pull of an image would
    /// be served or refused.
    #[command(subcommand)]
    Policy(policy::PolicyCommand),
    /// Vulnerability data offline: import OSV advisories into the stores;
    /// ask a running cairn what an advisory affects and what affects an artifact.
    #[command(subcommand)]
    Vuln(vuln::VulnCommand),
    /// Collect garbage once: finish interrupted deletions, expire idle
    /// uploads, delete blobs nothing references any more. Safe beside
    /// running servers; Ctrl-C stops it at the next step. `cairn gc status`
    /// and `cairn gc run` ask a running cairn instead.
    #[command(args_conflicts_with_subcommands = true)]
    Gc(gc::GcArgs),
    /// Check metadata and blob storage against each other: rows whose blob
    /// is missing, references to blobs being deleted, blobs nothing accounts
    /// for; with --rehash, every blob's bytes. Exits non-zero on findings.
    Fsck(gc::FsckArgs),
    /// Backups: consistent metadata snapshots taken while serving; the blobs
    /// they reference are kept by the collector until released.
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Rebuild the registry's metadata from a backup (over the same or a
    /// copied blob store). Stop the servers first.
    Restore(backup::RestoreArgs),
    /// Prove a backup restores: restore it into a scratch database, serve
    /// it with a second cairn on the registry's blob store (reads only),
    /// fetch a sample of every format through it checking every digest, and
    /// print the recovery time and any gap. Safe beside running servers.
    DrDrill(drill::DrillArgs),
    /// Retention policies ([[retention]]): preview what they would delete
    /// and why, or apply them now.
    #[command(subcommand)]
    Retention(retention::RetentionCommand),
    /// Where the bytes are: logical, unique and exclusive bytes per
    /// repository, per namespace or for a prefix.
    Storage(storage::StorageArgs),
    /// Quotas on a namespace's or repository's unique bytes: a write that
    /// would pass one is refused with the protocol's own error.
    #[command(subcommand)]
    Quota(storage::QuotaCommand),
    /// Print a shell completion script: `cairn completions bash >
    /// /etc/bash_completion.d/cairn` (also zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
}

impl Cli {
    /// Runs the chosen command.
    pub async fn run(self) -> anyhow::Result<()> {
        let _ = OUTPUT.set(self.output);
        match self.command {
            Command::Serve(args) => serve::serve(args).await,
            Command::Login(args) => login::login(args).await,
            Command::Completions { shell } => {
                use clap::CommandFactory;
                use std::io::Write;
                let mut script = Vec::new();
                clap_complete::generate(shell, &mut Cli::command(), "cairn", &mut script);
                match std::io::stdout().write_all(&script) {
                    // `cairn completions bash | head` is not a failure.
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                    r => Ok(r?),
                }
            }
            Command::Logout(args) => login::logout(args).await,
            Command::Whoami(args) => login::whoami(args).await,
            Command::Search(args) => search::search(args).await,
            Command::Image(cmd) => image::image_command(cmd).await,
            Command::Repository(cmd) => repository::repository_command(cmd).await,
            Command::Proxy(cmd) => repository::proxy_command(cmd).await,
            Command::Virtual(cmd) => repository::virtual_command(cmd).await,
            Command::Job(cmd) => job::job_command(cmd).await,
            Command::Quarantine(cmd) => quarantine::quarantine_command(cmd).await,
            Command::Attestation(cmd) => attestation::attestation_command(cmd).await,
            Command::Admin(admin::AdminCommand::ResetPassword {
                common,
                password_stdin,
            }) => admin::reset_password(common, password_stdin).await,
            Command::User(cmd) => user::user_command(cmd).await,
            Command::Group(cmd) => user::group_command(cmd).await,
            Command::Token(cmd) => token::token_command(cmd).await,
            Command::Publisher(cmd) => publisher::publisher_command(cmd).await,
            Command::Package { action } => package::package_command(action).await,
            Command::Go(cmd) => go::go_command(cmd).await,
            Command::Npm(cmd) => npm::npm_command(cmd).await,
            Command::Maven(cmd) => maven::maven_command(cmd).await,
            Command::Audit(args) => audit::audit(args).await,
            Command::Warm(args) => warm::warm(args).await,
            Command::Explain(args) => explain::explain(args).await,
            Command::Sbom(cmd) => sbom::sbom_command(cmd).await,
            Command::Vuln(cmd) => vuln::vuln_command(cmd).await,
            Command::Policy(cmd) => policy::policy_command(cmd).await,
            Command::Gc(args) => gc::gc(args).await,
            Command::Fsck(args) => gc::fsck_command(args).await,
            Command::Backup(cmd) => backup::backup_command(cmd).await,
            Command::Restore(args) => backup::restore(args).await,
            Command::DrDrill(args) => drill::dr_drill(args).await,
            Command::Retention(cmd) => retention::retention_command(cmd).await,
            Command::Storage(args) => storage::storage(args).await,
            Command::Quota(cmd) => storage::quota_command(cmd).await,
        }
    }
}

#[derive(Args)]
struct CommonArgs {
    /// TOML configuration file. Every option can also be set with CAIRN_* environment variables.
    #[arg(long, short, env = "CAIRN_CONFIG")]
    config: Option<PathBuf>,
    /// Data directory for blobs and the embedded database [env: CAIRN_DATA_DIR] [default: ./cairn-data]
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

fn load_config(common: &CommonArgs, listen: Option<&String>) -> anyhow::Result<Config> {
    // Flags win over the environment, which wins over the file.
    let mut env: Vec<(String, String)> = std::env::vars().collect();
    if let Some(dir) = &common.data_dir {
        env.push((
            "CAIRN_DATA_DIR".into(),
            toml_string(&dir.display().to_string()),
        ));
    }
    if let Some(listen) = listen {
        env.push(("CAIRN_LISTEN".into(), toml_string(listen)));
    }
    Config::load(common.config.as_deref(), env)
}

/// Quotes a value so it is read as a TOML string whatever it contains
/// (Rust's debug quoting is a valid TOML basic string for these values).
fn toml_string(s: &str) -> String {
    format!("{s:?}")
}

async fn open_meta(
    common: &CommonArgs,
) -> anyhow::Result<std::sync::Arc<dyn cairn_store::MetaStore>> {
    let config = load_config(common, None)?;
    let (_, meta) = cairn_store::open(
        &config.data_dir,
        &config.storage,
        config.database_url.as_deref(),
    )
    .await?;
    Ok(meta)
}

async fn open_identity(common: &CommonArgs) -> anyhow::Result<Identity> {
    Ok(Identity::operator(open_meta(common).await?))
}

/// The package service over the configured stores, for commands that store files.
async fn open_packages(common: &CommonArgs) -> anyhow::Result<cairn_packages::Packages> {
    let config = load_config(common, None)?;
    let (blob_store, meta) = cairn_store::open(
        &config.data_dir,
        &config.storage,
        config.database_url.as_deref(),
    )
    .await?;
    Ok(cairn_packages::Packages::new(
        std::sync::Arc::new(cairn_store::Blobs::new(blob_store, meta.clone())),
        meta,
        config.packages.compile(Default::default())?,
    ))
}

/// Changes made from the command line are audited as the local OS user.
fn cli_actor() -> cairn_store::Actor {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_string());
    cairn_store::Actor::local(&format!("cli:{user}"))
}

#[cfg(test)]
mod tests {
    use super::Cli;
    use clap::CommandFactory;

    /// Every subcommand and argument is well-formed (clap checks names,
    /// conflicts and defaults only when asked).
    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }

    /// A subcommand's field named like the global `--output` made clap
    /// panic when that subcommand ran (debug_assert does not see it):
    /// parsing the commands that take a file argument proves they do not.
    #[test]
    fn no_argument_collides_with_the_global_output() {
        use clap::FromArgMatches;
        for line in [
            "cairn sbom get npm main p 1.0.0 -o f.json --url http://127.0.0.1:1",
            "cairn --output json sbom get npm main p 1.0.0 --out f.json --url http://127.0.0.1:1",
            "cairn token list --output json",
        ] {
            let matches = Cli::command()
                .try_get_matches_from(line.split_whitespace())
                .unwrap_or_else(|e| panic!("{line}: {e}"));
            Cli::from_arg_matches(&matches).unwrap_or_else(|e| panic!("{line}: {e}"));
        }
    }

    /// The completion scripts name the subcommands, nested ones included.
    #[test]
    fn completions_cover_every_command() {
        for shell in [clap_complete::Shell::Bash, clap_complete::Shell::Zsh] {
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "cairn", &mut script);
            let script = String::from_utf8(script).unwrap();
            for word in ["serve", "login", "totp", "recovery-codes", "retention"] {
                assert!(script.contains(word), "{shell}: {word} missing");
            }
        }
    }
}
