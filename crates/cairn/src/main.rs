//! The cairn binary: `cairn serve` runs the registry; `cairn admin` manages it.

use anyhow::Context;
use cairn_server::{auth, App, Config};
use clap::{Args, Parser, Subcommand};
use std::io::Read;
use std::path::PathBuf;

/// cairn: one registry for container images and language packages.
#[derive(Parser)]
#[command(version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the registry server (blobs on disk and SQLite metadata under the data directory by default).
    Serve(ServeArgs),
    /// Administrative tasks that work directly on the configured stores.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Users and their grants (PATTERN:ACTIONS, e.g. 'team/**:read,publish').
    #[command(subcommand)]
    User(UserCommand),
    /// Groups: grants shared by their members.
    #[command(subcommand)]
    Group(GroupCommand),
    /// API tokens: random, shown once, stored hashed, scoped, expiring, revocable.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Trusted publishers: OIDC identities allowed to publish to one repository.
    #[command(subcommand)]
    Publisher(PublisherCommand),
    /// Pull back or restore a package version: yank, unyank, deprecate,
    /// undeprecate, unpublish (within the repository's policy unless --force).
    Package {
        #[command(subcommand)]
        action: PackageAction,
    },
    /// Go modules: store a version from a git tag or a module zip.
    #[command(subcommand)]
    Go(GoCommand),
    /// Maven staging repositories: list, close (validate), release (promote) or drop.
    #[command(subcommand)]
    Maven(MavenCommand),
    /// Query the audit log (newest first). It is append-only: nothing can change it.
    Audit {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long)]
        actor: Option<String>,
        #[arg(long)]
        repository: Option<String>,
        /// e.g. manifest.put, tag.move, tag.delete, blob.delete, token.create, auth.failed
        #[arg(long)]
        action: Option<String>,
        /// Only entries older than this id (to page backwards).
        #[arg(long)]
        before: Option<i64>,
        #[arg(long, default_value_t = 50)]
        limit: u32,
        /// One JSON object per line instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args)]
struct VersionArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// npm, pypi, cargo, go or maven
    #[arg(long)]
    format: String,
    /// The repository (the <repo> of /npm/<repo>/, /pypi/<repo>/, /cargo/<repo>/, /go/<repo>/, /maven/<repo>/)
    #[arg(long)]
    repository: String,
    package: String,
    version: String,
}

#[derive(Subcommand)]
enum PackageAction {
    /// Not chosen by resolvers for new dependencies; still downloadable by exact pin.
    Yank {
        #[command(flatten)]
        version: VersionArgs,
        #[arg(long)]
        reason: Option<String>,
    },
    Unyank {
        #[command(flatten)]
        version: VersionArgs,
    },
    /// Still installable; clients show the message.
    Deprecate {
        #[command(flatten)]
        version: VersionArgs,
        #[arg(long)]
        message: String,
    },
    Undeprecate {
        #[command(flatten)]
        version: VersionArgs,
    },
    /// Stop serving the bytes; the version can never be published again.
    Unpublish {
        #[command(flatten)]
        version: VersionArgs,
        /// Override the policy (window, dependents, disabled). Audited as an override.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user with a random password (printed once) and its grants.
    Create {
        #[command(flatten)]
        common: CommonArgs,
        name: String,
        /// A grant, PATTERN:ACTIONS (actions: read, publish, yank, delete, admin). Repeatable.
        #[arg(long = "grant")]
        grants: Vec<String>,
    },
    /// Replace a user's grants.
    Grant {
        #[command(flatten)]
        common: CommonArgs,
        name: String,
        #[arg(long = "grant")]
        grants: Vec<String>,
    },
}

#[derive(Subcommand)]
enum GroupCommand {
    /// Create a group (or replace its grants).
    Create {
        #[command(flatten)]
        common: CommonArgs,
        name: String,
        #[arg(long = "grant")]
        grants: Vec<String>,
    },
    /// Add a user to a group.
    AddMember {
        #[command(flatten)]
        common: CommonArgs,
        group: String,
        user: String,
    },
}

#[derive(Args)]
struct GoVersionArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// The repository (the <repo> of /go/<repo>/)
    #[arg(long)]
    repository: String,
    /// The module path, e.g. example.com/lib
    #[arg(long)]
    module: String,
    /// The version, e.g. v1.2.3
    #[arg(long)]
    version: String,
}

#[derive(Subcommand)]
enum GoCommand {
    /// Store MODULE@VERSION from the tag VERSION (or --tag) of a git repository
    /// (any URL git fetches: https://, ssh://, file://). A stored version never changes.
    Publish {
        #[command(flatten)]
        version: GoVersionArgs,
        #[arg(long)]
        git: String,
        /// The tag (default: the version, or DIR/VERSION with --dir)
        #[arg(long)]
        tag: Option<String>,
        /// The module's directory in the repository (default: the root)
        #[arg(long)]
        dir: Option<String>,
    },
    /// Store MODULE@VERSION from a module zip (files under MODULE@VERSION/).
    Upload {
        #[command(flatten)]
        version: GoVersionArgs,
        zip: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum MavenCommand {
    /// Staging repositories of a Maven repository (deployed to /maven/<repo>/-/staging/<id>/).
    Staging {
        #[command(flatten)]
        common: CommonArgs,
        /// The repository the staging repository releases into
        #[arg(long)]
        repository: String,
        /// list, close, release or drop
        action: String,
        /// The staging id (not for list)
        id: Option<String>,
    },
}

#[derive(Subcommand)]
enum PublisherCommand {
    /// Register a trusted publisher for a repository (e.g. team/app, or
    /// npm/default for a package repository).
    Add {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long)]
        repository: String,
        /// Limit the publisher to one package of a package repository.
        #[arg(long)]
        package: Option<String>,
        /// The OIDC issuer, e.g. https://token.actions.githubusercontent.com
        #[arg(long)]
        issuer: String,
        /// The audience the CI job requests its token for.
        #[arg(long)]
        audience: String,
        /// A claim the token must carry exactly, NAME=VALUE (e.g. repository=org/app,
        /// job_workflow_ref=org/app/.github/workflows/release.yml@refs/heads/main). Repeatable.
        #[arg(long = "claim")]
        claims: Vec<String>,
    },
    /// List a repository's trusted publishers.
    List {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long)]
        repository: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token for a user; it can never do more than the user.
    Create {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long)]
        user: String,
        /// A scope, PATTERN:ACTIONS. Repeatable; at least one.
        #[arg(long = "scope", required = true)]
        scopes: Vec<String>,
        /// Days until it expires (never, if omitted).
        #[arg(long)]
        expires_in_days: Option<u64>,
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List tokens (never their secrets).
    List {
        #[command(flatten)]
        common: CommonArgs,
        #[arg(long)]
        user: Option<String>,
    },
    /// Revoke a token by id.
    Revoke {
        #[command(flatten)]
        common: CommonArgs,
        id: String,
    },
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

#[derive(Args)]
struct ServeArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Address to listen on [env: CAIRN_LISTEN] [default: 127.0.0.1:5000]
    #[arg(long)]
    listen: Option<String>,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Replace the admin credential with a new random secret (printed once), or with one read from stdin.
    ResetPassword {
        #[command(flatten)]
        common: CommonArgs,
        /// Read the new secret from standard input instead of generating one (at least 16 characters).
        #[arg(long)]
        password_stdin: bool,
    },
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

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CAIRN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let config = load_config(&args.common, args.listen.as_ref())?;
    init_logging(&config.log_format);
    let listen = config.listen.clone();
    let data_dir = config.data_dir.clone();
    let app = App::build(config).await?;
    if let Some(secret) = &app.new_admin_secret {
        println!(
            "cairn: created the admin credential (shown only this once)\n  user: {}\n  password: {secret}\n\
             To replace it: cairn admin reset-password --data-dir {} (see docs/auth.md)",
            auth::ADMIN_USER,
            data_dir.display()
        );
    }
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("binding {listen}"))?;
    tracing::info!(address = %listener.local_addr()?, data_dir = %data_dir.display(), "cairn listening");
    cairn_server::run(listener, app, shutdown_signal()).await
}

async fn reset_password(common: CommonArgs, password_stdin: bool) -> anyhow::Result<()> {
    let config = load_config(&common, None)?;
    let (_, meta) = cairn_store::open(
        &config.data_dir,
        &config.storage,
        config.database_url.as_deref(),
    )
    .await?;
    let secret = if password_stdin {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        let s = s.trim_end_matches(['\n', '\r']).to_string();
        anyhow::ensure!(
            s.chars().count() >= 16,
            "the secret must have at least 16 characters"
        );
        s
    } else {
        auth::generate_secret()
    };
    meta.put_user(auth::ADMIN_USER, &auth::hash_secret(&secret), &cli_actor())
        .await?;
    if password_stdin {
        println!("cairn: admin credential replaced");
    } else {
        println!(
            "cairn: new admin credential (shown only this once)\n  user: {}\n  password: {secret}",
            auth::ADMIN_USER
        );
    }
    Ok(())
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

/// Changes made from the command line are audited as the local OS user.
fn cli_actor() -> cairn_store::Actor {
    let user = std::env::var("USER").unwrap_or_else(|_| "unknown".to_string());
    cairn_store::Actor::local(&format!("cli:{user}"))
}

fn check_grants(grants: &[String]) -> anyhow::Result<()> {
    auth::parse_grants(grants)?;
    Ok(())
}

async fn user_command(cmd: UserCommand) -> anyhow::Result<()> {
    match cmd {
        UserCommand::Create {
            common,
            name,
            grants,
        } => {
            check_grants(&grants)?;
            let meta = open_meta(&common).await?;
            anyhow::ensure!(meta.user(&name).await?.is_none(), "user {name:?} exists");
            let secret = auth::generate_secret();
            meta.put_user(&name, &auth::hash_secret(&secret), &cli_actor())
                .await?;
            meta.set_user_grants(&name, &grants, &cli_actor()).await?;
            println!(
                "cairn: created user {name} (password shown only this once)\n  password: {secret}"
            );
        }
        UserCommand::Grant {
            common,
            name,
            grants,
        } => {
            check_grants(&grants)?;
            let meta = open_meta(&common).await?;
            anyhow::ensure!(
                meta.set_user_grants(&name, &grants, &cli_actor()).await?,
                "no user {name:?}"
            );
            println!("cairn: {name} now has: {}", grants.join(" "));
        }
    }
    Ok(())
}

async fn group_command(cmd: GroupCommand) -> anyhow::Result<()> {
    match cmd {
        GroupCommand::Create {
            common,
            name,
            grants,
        } => {
            check_grants(&grants)?;
            open_meta(&common)
                .await?
                .put_group(&name, &grants, &cli_actor())
                .await?;
            println!("cairn: group {name} has: {}", grants.join(" "));
        }
        GroupCommand::AddMember {
            common,
            group,
            user,
        } => {
            let meta = open_meta(&common).await?;
            anyhow::ensure!(meta.user(&user).await?.is_some(), "no user {user:?}");
            meta.add_group_member(&group, &user, &cli_actor()).await?;
            println!("cairn: {user} is in {group}");
        }
    }
    Ok(())
}

async fn token_command(cmd: TokenCommand) -> anyhow::Result<()> {
    match cmd {
        TokenCommand::Create {
            common,
            user,
            scopes,
            expires_in_days,
            description,
        } => {
            let meta = open_meta(&common).await?;
            let ttl = expires_in_days.map(|d| d * 86_400);
            let (record, token) =
                auth::create_api_token(&*meta, &user, &description, &scopes, ttl, &cli_actor())
                    .await?;
            println!(
                "cairn: token {} for {user} (shown only this once)\n  token: {token}",
                record.id
            );
        }
        TokenCommand::List { common, user } => {
            let meta = open_meta(&common).await?;
            println!(
                "{:<18} {:<12} {:<8} {:<12} {:<12} scopes",
                "id", "user", "state", "created", "expires"
            );
            for t in meta.list_tokens(user.as_deref()).await? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                let expires = t
                    .expires_at
                    .map(|e| e.to_string())
                    .unwrap_or_else(|| "never".into());
                println!(
                    "{:<18} {:<12} {:<8} {:<12} {:<12} {}",
                    t.id,
                    t.user,
                    state,
                    t.created_at,
                    expires,
                    t.scopes.join(" ")
                );
            }
        }
        TokenCommand::Revoke { common, id } => {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)?
                .as_secs() as i64;
            anyhow::ensure!(
                open_meta(&common)
                    .await?
                    .revoke_token(&id, now, &cli_actor())
                    .await?,
                "no live token {id:?}"
            );
            println!("cairn: token {id} revoked");
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve(args) => serve(args).await,
        Command::Admin(AdminCommand::ResetPassword {
            common,
            password_stdin,
        }) => reset_password(common, password_stdin).await,
        Command::User(cmd) => user_command(cmd).await,
        Command::Group(cmd) => group_command(cmd).await,
        Command::Token(cmd) => token_command(cmd).await,
        Command::Publisher(cmd) => publisher_command(cmd).await,
        Command::Package { action } => package_command(action).await,
        Command::Go(cmd) => go_command(cmd).await,
        Command::Maven(cmd) => maven_command(cmd).await,
        Command::Audit {
            common,
            actor,
            repository,
            action,
            before,
            limit,
            json,
        } => {
            let filter = cairn_store::AuditFilter {
                actor,
                repository,
                action,
                before_id: before,
                limit,
            };
            print_audit(&*open_meta(&common).await?, &filter, json).await
        }
    }
}

async fn publisher_command(cmd: PublisherCommand) -> anyhow::Result<()> {
    match cmd {
        PublisherCommand::Add {
            common,
            repository,
            package,
            issuer,
            audience,
            claims,
        } => {
            let claims = claims
                .iter()
                .map(|c| {
                    c.split_once('=')
                        .map(|(k, v)| (k.to_string(), v.to_string()))
                })
                .collect::<Option<std::collections::BTreeMap<_, _>>>()
                .ok_or_else(|| anyhow::anyhow!("a claim is NAME=VALUE"))?;
            let record =
                cairn_server::oidc::new_publisher(repository, package, issuer, audience, claims)
                    .map_err(anyhow::Error::msg)?;
            open_meta(&common)
                .await?
                .add_publisher(&record, &cli_actor())
                .await?;
            println!(
                "cairn: trusted publisher {} for {}",
                record.id, record.repository
            );
        }
        PublisherCommand::List { common, repository } => {
            for p in open_meta(&common).await?.publishers(&repository).await? {
                println!(
                    "{} {} package={} aud={} {}",
                    p.id,
                    p.issuer,
                    p.package.as_deref().unwrap_or("*"),
                    p.audience,
                    serde_json::to_string(&p.claims)?
                );
            }
        }
    }
    Ok(())
}

async fn print_audit(
    meta: &dyn cairn_store::MetaStore,
    filter: &cairn_store::AuditFilter,
    json: bool,
) -> anyhow::Result<()> {
    for e in meta.audit_log(filter).await? {
        if json {
            println!("{}", serde_json::to_string(&e)?);
        } else {
            println!(
                "{:>6} {} {:<14} {:<16} {:<18} {:<20} {} {}{}",
                e.id,
                e.at,
                e.actor,
                e.source.as_deref().unwrap_or("-"),
                e.action,
                e.repository.as_deref().unwrap_or("-"),
                e.artifact.as_deref().unwrap_or("-"),
                e.outcome,
                e.detail.map(|d| format!(" ({d})")).unwrap_or_default(),
            );
        }
    }
    Ok(())
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
        std::sync::Arc::new(cairn_store::Blobs::new(blob_store)),
        meta,
        config.packages.compile(Default::default())?,
    ))
}

async fn go_command(cmd: GoCommand) -> anyhow::Result<()> {
    let (args, published) = match cmd {
        GoCommand::Publish {
            version,
            git,
            tag,
            dir,
        } => {
            let packages = open_packages(&version.common).await?;
            let published = cairn_go::publish_from_git(
                &packages,
                &cli_actor(),
                &version.repository,
                &version.module,
                &version.version,
                &cairn_go::GitSource { git, tag, dir },
                &cairn_packages::GitSources::operator(),
            )
            .await;
            (version, published)
        }
        GoCommand::Upload { version, zip } => {
            let packages = open_packages(&version.common).await?;
            let bytes = std::fs::read(&zip)?;
            let files = cairn_go::modzip::read(&version.module, &version.version, &bytes)?;
            let published = cairn_go::publish_files(
                &packages,
                &cli_actor(),
                &version.repository,
                &version.module,
                &version.version,
                files,
                serde_json::json!({"upload": true}),
            )
            .await;
            (version, published)
        }
    };
    let (what, h1, go_mod_h1) = match published.map_err(|e| anyhow::anyhow!("{e}"))? {
        cairn_go::Published::New { h1, go_mod_h1 } => ("stored", h1, go_mod_h1),
        cairn_go::Published::Identical { h1, go_mod_h1 } => ("already stored", h1, go_mod_h1),
    };
    println!(
        "go/{}: {}@{} {what}\n{} {} {h1}\n{} {}/go.mod {go_mod_h1}",
        args.repository,
        args.module,
        args.version,
        args.module,
        args.version,
        args.module,
        args.version
    );
    Ok(())
}

async fn maven_command(cmd: MavenCommand) -> anyhow::Result<()> {
    let MavenCommand::Staging {
        common,
        repository,
        action,
        id,
    } = cmd;
    let packages = open_packages(&common).await?;
    let actor = cli_actor();
    use cairn_maven::staging;
    let id = || {
        id.clone()
            .ok_or_else(|| anyhow::anyhow!("{action} needs a staging id"))
    };
    let done = match action.as_str() {
        "list" => {
            for s in staging::list(&packages, &repository).await? {
                println!("{}", staging::to_json(&s));
            }
            return Ok(());
        }
        "close" => staging::close(&packages, &actor, &repository, &id()?).await,
        "release" => staging::release(&packages, &actor, &repository, &id()?).await,
        "drop" => staging::drop(&packages, &actor, &repository, &id()?).await,
        other => anyhow::bail!("unknown action {other:?}: list, close, release or drop"),
    };
    let done = done.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("{}", staging::to_json(&done));
    Ok(())
}

async fn package_command(action: PackageAction) -> anyhow::Result<()> {
    let (verb, args, reason, message, force) = match action {
        PackageAction::Yank { version, reason } => ("yank", version, reason, None, false),
        PackageAction::Unyank { version } => ("unyank", version, None, None, false),
        PackageAction::Deprecate { version, message } => {
            ("deprecate", version, None, Some(message), false)
        }
        PackageAction::Undeprecate { version } => ("undeprecate", version, None, None, false),
        PackageAction::Unpublish { version, force } => ("unpublish", version, None, None, force),
    };
    let format = cairn_core::Format::parse(&args.format).ok_or_else(|| {
        anyhow::anyhow!(
            "unknown format {:?}: npm, pypi, cargo, go or maven",
            args.format
        )
    })?;
    let key = cairn_core::package_key(format, &args.package)?;
    let transition =
        cairn_server::transition_of(verb, reason, message).map_err(anyhow::Error::msg)?;
    let config = load_config(&args.common, None)?;
    let policy = config
        .packages
        .compile(Default::default())?
        .policy(format, &args.repository);
    let meta = open_meta(&args.common).await?;
    let state = meta
        .change_version(
            format,
            &args.repository,
            &key,
            &args.version,
            &transition,
            &policy,
            force,
            &cli_actor(),
        )
        .await?;
    println!(
        "{format}/{} {key}@{}: {state}",
        args.repository, args.version
    );
    Ok(())
}
